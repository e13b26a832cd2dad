// Package metrics implements the process-wide Prometheus metrics served at /metrics. May import store
// (for gauges read at scrape time) and base.
//
// Process-wide Prometheus metrics (prom-client). Protocol and pipeline code records what happens
// through the small functions of `metrics`; values that live in the store (queue depth, size on
// disk) are read when /metrics is scraped (store-gauges.ts), never kept up to date by hand.
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

/** Listener families; a fixed set so that label values stay bounded. */
export type Protocol = 'smtp-mx' | 'smtp-submission' | 'imap' | 'pop3' | 'http';
export type DeliveryDirection = 'inbound' | 'outbound';
/** inbound: delivered | junk | rejected; outbound (per recipient attempt): delivered | deferred | bounced | failed. */
export type DeliveryOutcome = 'delivered' | 'junk' | 'rejected' | 'deferred' | 'bounced' | 'failed';
/** One webhook POST: success (2xx), failure (non-2xx, network error, timeout), gave_up (retries exhausted). */
export type WebhookOutcome = 'success' | 'failure' | 'gave_up';
export type LoginOutcome = 'ok' | 'invalid' | 'suspended' | 'throttled' | 'authzid';
/** An external spam scanner's answer: ok, or why Wren's own verdict stood alone (timeout, error). */
export type ScannerOutcome = 'ok' | 'timeout' | 'error';
/** What became of a message auto-learning took: written, dropped (the queue was full), or its write failed. */
export type AutoLearnOutcome = 'learned' | 'dropped' | 'failed';

export class Metrics {
  readonly registry = new Registry();
  private defaultsOn = false;
  private readonly connectionsTotal: Counter<'protocol'>;
  private readonly connectionsOpen: Gauge<'protocol'>;
  private readonly commands: Counter<'protocol' | 'command'>;
  private readonly logins: Counter<'protocol' | 'outcome'>;
  private readonly deliveries: Counter<'direction' | 'outcome'>;
  private readonly webhooks: Counter<'outcome'>;
  private readonly scanners: Counter<'scanner' | 'request' | 'outcome'>;
  private readonly judged: Counter<'class' | 'outcome'>;
  private readonly greylists: Counter<'outcome'>;
  private readonly autoLearned: Counter<'class' | 'outcome'>;
  private readonly dnsbls: Counter<'list' | 'outcome'>;

  constructor() {
    const registers = [this.registry];
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
      new Counter<L>({ name, help, labelNames, registers });
    this.connectionsTotal = counter('wrenmail_connections_total', 'Connections accepted, by protocol', ['protocol']);
    this.connectionsOpen = new Gauge({
      name: 'wrenmail_connections_open',
      help: 'Connections open now, by protocol',
      labelNames: ['protocol'],
      registers,
    });
    this.commands = counter('wrenmail_commands_total', 'Protocol commands handled, by protocol and command', [
      'protocol',
      'command',
    ]);
    this.logins = counter('wrenmail_logins_total', 'Password logins, by protocol and outcome', ['protocol', 'outcome']);
    this.deliveries = counter('wrenmail_deliveries_total', 'Message deliveries, by direction and outcome', [
      'direction',
      'outcome',
    ]);
    this.webhooks = counter('wrenmail_webhook_deliveries_total', 'Webhook delivery attempts, by outcome', ['outcome']);
    this.scanners = counter(
      'wrenmail_spam_scanner_requests_total',
      'Requests to external spam scanners (rspamd), by scanner, request (check, learn) and outcome; timeout and error mean Wren decided alone',
      ['scanner', 'request', 'outcome'],
    );
    this.judged = counter(
      'wrenmail_spam_user_judgements_total',
      'Messages users judged (a move into or out of Junk, $Junk, $Phishing or $NotJunk set; IMAP or the mailbox API), trained into Bayes, by class and outcome',
      ['class', 'outcome'],
    );
    this.greylists = counter(
      'wrenmail_greylist_total',
      'Suspect inbound mail greylisted (RFC 6647), by outcome: deferred (451), retried (its retry passed), known (a source that retried before)',
      ['outcome'],
    );
    this.dnsbls = counter(
      'wrenmail_dnsbl_queries_total',
      "DNS blocklist queries, by list (a configured zone) and outcome: listed, clean, refused (the list's refusal code: a public resolver, over its limit) or failed (a timeout)",
      ['list', 'outcome'],
    );
    this.autoLearned = counter(
      'wrenmail_spam_autolearn_total',
      'Messages the classify stage was sure of, offered to the Bayes model ([spam] auto_learn), by class and outcome',
      ['class', 'outcome'],
    );
  }

  /** Node's process metrics (CPU, memory, GC, handles, event-loop lag); once, when /metrics is first served. */
  enableProcessMetrics(): void {
    if (this.defaultsOn) return;
    this.defaultsOn = true;
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 });
  }

  /** Counts a new connection and returns the function to call (once) when it closes. */
  connectionOpened(protocol: Protocol): () => void {
    this.connectionsTotal.inc({ protocol });
    this.connectionsOpen.inc({ protocol });
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      this.connectionsOpen.dec({ protocol });
    };
  }

  /** `command` must come from the protocol's command table (unknown input → "unknown"), never raw client text. */
  command(protocol: Protocol, command: string): void {
    this.commands.inc({ protocol, command });
  }

  login(protocol: Protocol, outcome: LoginOutcome): void {
    this.logins.inc({ protocol, outcome });
  }

  delivery(direction: DeliveryDirection, outcome: DeliveryOutcome, count = 1): void {
    this.deliveries.inc({ direction, outcome }, count);
  }

  webhook(outcome: WebhookOutcome): void {
    this.webhooks.inc({ outcome });
  }

  spamScanner(scanner: 'rspamd', request: 'check' | 'learn', outcome: ScannerOutcome): void {
    this.scanners.inc({ scanner, request, outcome });
  }

  /** A message a user judged was trained, or its training failed. */
  userJudgement(cls: 'spam' | 'ham', outcome: 'learned' | 'failed'): void {
    this.judged.inc({ class: cls, outcome });
  }

  /** A suspect message's greylisting: deferred, passed on its retry, or passed as a known source. */
  greylisted(outcome: 'deferred' | 'retried' | 'known'): void {
    this.greylists.inc({ outcome });
  }

  /** `list`: a zone from the configuration, never a name read from a message. */
  dnsbl(list: string, outcome: 'listed' | 'clean' | 'refused' | 'failed'): void {
    this.dnsbls.inc({ list, outcome });
  }

  autoLearn(cls: 'spam' | 'ham', outcome: AutoLearnOutcome, count = 1): void {
    this.autoLearned.inc({ class: cls, outcome }, count);
  }
}

/** The process's metrics: import it and call its methods; /metrics serves it. */
export const metrics = new Metrics();
