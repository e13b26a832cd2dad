// The inbound pipeline: authenticate → classify → route → deliver (+ events). The MX session calls
// processMessage() at end of DATA and answers with what it returns or throws.
import type { DnsResolver } from '../dns/resolver.ts';
import { headerRules } from '../spam/rules.ts';
import type { SpamScorer } from '../spam/types.ts';
import type { Store } from '../store/index.ts';
import { authenticate } from './authenticate.ts';
import { classify, type SpamThresholds } from './classify.ts';
import { deliver, DeliveryRefused, type Delivered } from './deliver.ts';
import { domainOf, parseHeaders, type InboundMessage } from './message.ts';
import { planDelivery, type Forward, type RecipientRoute } from './route.ts';

/** pino-compatible subset. */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };

export interface PipelineOptions {
  store: Store;
  resolver: DnsResolver;
  hostname: string;
  spam?: SpamThresholds & { scorers?: SpamScorer[] };
  logger?: Logger;
}

export interface PipelineResult {
  delivered: Delivered[];
  forwards: Forward[];
  score: number;
  verdict: 'ham' | 'junk';
}

export async function processMessage(msg: InboundMessage, routes: RecipientRoute[], options: PipelineOptions): Promise<PipelineResult> {
  const { store } = options;
  const log = options.logger ?? silentLogger;
  const auth = await authenticate(msg, { resolver: options.resolver, hostname: options.hostname });
  if (auth.verdict.action === 'reject') {
    throw new DeliveryRefused({ code: 550, enhanced: '5.7.1', text: `Rejected by the DMARC policy of ${auth.verdict.dmarc.domain}` });
  }
  const headers = parseHeaders(auth.raw);
  const fromDomain = headers.from.length === 1 ? domainOf(headers.from[0]!) : null;
  const spam = await classify(
    {
      raw: auth.raw,
      headers,
      auth: auth.verdict,
      mailFrom: msg.mailFrom,
      fromHosted: fromDomain !== null && !!(await store.domains.get(fromDomain)),
      accountIds: [...new Set(routes.flatMap((r) => r.accounts.map((a) => a.account.id)))],
    },
    { scorers: options.spam?.scorers ?? [headerRules], junkScore: options.spam?.junkScore, rejectScore: options.spam?.rejectScore },
  );
  if (spam.verdict === 'reject') {
    throw new DeliveryRefused({ code: 550, enhanced: '5.7.1', text: `Message refused as spam (score ${spam.score})` });
  }
  const raw = Buffer.concat([Buffer.from(auth.traceHeaders + spam.headers, 'utf8'), auth.raw]);
  const plan = planDelivery(store, routes, headers, spam.verdict === 'junk');
  const meta = { messageId: headers.messageId, from: msg.mailFrom, subject: headers.subject, spamScore: spam.score, junk: spam.verdict === 'junk' };
  const delivered = await deliver(store, raw, plan, meta, {
    onQuotaOvershoot: (accountId) => log.warn({ id: msg.id, accountId }, 'mailbox filled during delivery; delivered over quota'),
  });
  // No outbound queue yet: a forward is recorded as a durable event for the queue to take over.
  for (const forward of plan.forwards) {
    await store.emit({
      type: 'message.forward.pending',
      teamId: forward.teamId,
      data: { message_id: meta.messageId, from: msg.mailFrom, to: forward.rcpt, forward_to: forward.targets, subject: meta.subject, size: raw.length },
    });
  }
  for (const d of plan.discarded) log.info({ id: msg.id, ...d }, 'discarded by mailbox filter');
  log.info({ id: msg.id, from: msg.mailFrom, rcpts: msg.rcptTo.length, delivered: delivered.length, score: spam.score, verdict: spam.verdict, spf: auth.verdict.spf.result, dmarc: auth.verdict.dmarc.result }, 'message accepted');
  return { delivered, forwards: plan.forwards, score: spam.score, verdict: spam.verdict };
}
