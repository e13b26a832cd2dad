// Package inbound implements delivery of received mail; this file is the pipeline: authenticate →
// classify → route (+ Sieve) → deliver (+ events), docs/ARCHITECTURE.md §5, §11.1. The MX session calls
// processMessage() at end of DATA and answers with what it returns or throws (DeliveryRefused carries
// the SMTP reply). Invariant: when it resolves, every recipient's copy with its event, and every
// forward on the queue, is on disk, so the 250 that follows is a promise kept. May import the other
// pipelines (spam, sieve), foundation and base; never a protocol.
import { metrics } from '../metrics/registry.ts';
import type { DnsResolver } from '../dns/resolver.ts';
import { releaseMessage } from '../mime/message-caches.ts';
import { indexPrepended, prependFields } from '../mime/prepend.ts';
import { autoLearnClass, type AutoLearner } from '../spam/autolearn.ts';
import { isBayesScorer } from '../spam/classifier.ts';
import { messageIndex } from '../spam/normalize.ts';
import { headerRules } from '../spam/rules.ts';
import type { SpamInput, SpamScorer } from '../spam/types.ts';
import type { Store } from '../store/index.ts';
import type { SendingLimits } from '../store/sends.ts';
import { FORWARD_LIMIT_DEFAULTS, reserveForward } from './forward-budget.ts';
import { authenticate } from './authenticate.ts';
import { classify, fromHostedDomain, spamInputOf, type SpamThresholds } from './classify.ts';
import { greylist, type GreylistOptions } from './greylist.ts';
import { deliver, DeliveryRefused, type Delivered } from './deliver.ts';
import { domainOf, type InboundMessage } from './message.ts';
import { parseHeaders } from '../mime/parsed-headers.ts';
import { planDelivery, resolveRecipient, type Forward, type RecipientRoute } from './route.ts';
import { srsRewrite } from './srs.ts';
import { planSieve, sendSieveReplies } from '../sieve/apply.ts';
import { junkKeywords } from '../spam/keywords.ts';

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
  /** Secret for SRS-rewriting the envelope sender of forwarded mail; without it the sender is kept. */
  srsSecret?: string;
  /** Learns the mail the rules are sure of into the Bayes model (`[spam] auto_learn`); absent: off. */
  autoLearn?: AutoLearner;
  /** Each forwarder's budget of outside recipients (src/inbound/forward-budget.ts; default FORWARD_LIMIT_DEFAULTS). */
  forwardLimits?: SendingLimits;
  /** Greylisting of mail that scores below Junk but not clean (`[spam] greylist`); absent: off. */
  greylist?: GreylistOptions;
  logger?: Logger;
}

export interface PipelineResult {
  delivered: Delivered[];
  forwards: Forward[];
  score: number;
  verdict: 'ham' | 'junk';
}

export async function processMessage(
  msg: InboundMessage,
  routes: RecipientRoute[],
  options: PipelineOptions,
): Promise<PipelineResult> {
  // The Buffers the message was read from; once it is delivered or refused, nothing reads their parses again.
  const read = [msg.raw];
  try {
    return await accept(msg, routes, options, read);
  } finally {
    releaseMessage(...read);
  }
}

async function accept(
  msg: InboundMessage,
  routes: RecipientRoute[],
  options: PipelineOptions,
  read: Buffer[],
): Promise<PipelineResult> {
  const { store } = options;
  const log = options.logger ?? silentLogger;
  // Whether the From domain is hosted here is read beside the SPF/DKIM/DMARC checks, not after them
  // (one store round trip less before the 250): authenticate() strips trace fields, never From.
  const fromHosted = fromHostedDomain(store, parseHeaders(msg.raw));
  fromHosted.catch(() => undefined); // awaited below; this only keeps a refusal before then from leaving it unhandled
  const auth = await authenticate(msg, { resolver: options.resolver, hostname: options.hostname });
  read.push(auth.raw);
  if (auth.verdict.action === 'reject') {
    throw new DeliveryRefused({
      code: 550,
      enhanced: '5.7.1',
      text: `Rejected by the DMARC policy of ${auth.verdict.dmarc.domain}`,
    });
  }
  const headers = parseHeaders(auth.raw);
  const scorers = options.spam?.scorers ?? [headerRules];
  const accountIds = [...new Set(routes.flatMap((r) => r.accounts.map((a) => a.account.id)))];
  const input = spamInputOf(msg, auth, headers, await fromHosted, accountIds);
  const spam = await classify(input, {
    scorers,
    junkScore: options.spam?.junkScore,
    rejectScore: options.spam?.rejectScore,
  });
  const learnAs = await autoLearnVerdict(input, spam.hits, scorers, options.autoLearn);
  // One recipient account: its own model learns too (when per-account models are on), as classify reads it.
  const learnFor = input.accountIds.length === 1 ? input.accountIds[0] : undefined;
  if (spam.verdict === 'reject') {
    // Refused mail is the surest spam; nobody can move it later, so its received bytes are learned.
    if (learnAs === 'spam') options.autoLearn?.offer(auth.raw, 'spam', learnFor);
    throw new DeliveryRefused({ code: 550, enhanced: '5.7.1', text: `Message refused as spam (score ${spam.score})` });
  }
  await greylist(msg, auth.verdict, spam, options.greylist);
  // Into the room readMessage left before the message, when it did (no copy of the whole message).
  const raw = prependFields(auth.traceHeaders + spam.headers, auth.raw);
  read.push(raw);
  // The message is parsed once: the store's index is spam's (same Buffer) shifted past the trace fields.
  const index = indexPrepended(raw, raw.length - auth.raw.length, messageIndex(auth.raw), auth.raw);
  const plan = planDelivery(store, routes, headers, spam.verdict === 'junk' ? junkKeywords(spam.hits) : null);
  const sieveInput = {
    raw,
    mailFrom: msg.mailFrom,
    spam: { score: spam.score, junkScore: spam.junkScore, junk: spam.verdict === 'junk' },
    hostname: options.hostname,
    forwardLimits: options.forwardLimits,
    log: (o: object, m: string) => log.info({ id: msg.id, ...o }, m),
  };
  const sieve = await planSieve(store, plan, sieveInput);
  if (sieve.refuseAll) throw new DeliveryRefused({ code: 550, enhanced: '5.7.1', text: sieve.refuseAll.reason });
  const meta = {
    messageId: headers.messageId,
    from: msg.mailFrom,
    subject: headers.subject,
    spamScore: spam.score,
    junk: spam.verdict === 'junk',
  };
  await reserveForwarders(store, plan.forwards, options.forwardLimits);
  const delivered = await deliver(store, raw, plan, meta, {
    index,
    onQuotaOvershoot: (accountId) =>
      log.warn({ id: msg.id, accountId }, 'mailbox filled during delivery; delivered over quota'),
  });
  metrics.delivery('inbound', spam.verdict === 'junk' ? 'junk' : 'delivered', delivered.length);
  // The stored bytes: a user's later move into or out of Junk trains the same content hash and so
  // moves these counts instead of adding its own.
  if (learnAs && delivered.length) options.autoLearn?.offer(raw, learnAs, learnFor);
  await enqueueForwards(store, raw, msg.mailFrom, plan.forwards, meta, options.srsSecret);
  await sendSieveReplies(store, sieve, sieveInput);
  for (const d of plan.discarded) log.info({ id: msg.id, ...d }, 'discarded by mailbox filter');
  log.info(
    {
      id: msg.id,
      from: msg.mailFrom,
      rcpts: msg.rcptTo.length,
      delivered: delivered.length,
      score: spam.score,
      verdict: spam.verdict,
      spf: auth.verdict.spf.result,
      dmarc: auth.verdict.dmarc.result,
    },
    'message accepted',
  );
  return { delivered, forwards: plan.forwards, score: spam.score, verdict: spam.verdict };
}

/** The class auto-learning takes the message as, or null (off, no Bayes scorer, or not sure enough). */
async function autoLearnVerdict(
  input: SpamInput,
  hits: { rule: string; score: number }[],
  scorers: SpamScorer[],
  learner: AutoLearner | undefined,
): Promise<'spam' | 'ham' | null> {
  const bayes = learner && scorers.find(isBayesScorer);
  if (!bayes) return null;
  // The verdict the scorer just gave (computed once per input), not a second classification.
  // A verdict that failed (BAYES_FAILED among the hits) learns nothing.
  const verdict = await bayes.verdict(input).catch(() => null);
  return verdict && autoLearnClass(hits, verdict.probability, verdict.trained);
}

/**
 * Counts the forwarding addresses' outside recipients against their budgets before anything is
 * stored: a forwarder over its budget defers the whole message (451 4.7.1, the sender retries
 * later), so nothing is lost and no recipient gets it twice.
 */
async function reserveForwarders(store: Store, forwards: Forward[], limits = FORWARD_LIMIT_DEFAULTS): Promise<void> {
  const made: (() => Promise<void>)[] = [];
  for (const forward of forwards) {
    if (!forward.forwarder) continue;
    const r = await reserveForward(store, forward.forwarder, forward.targets.length, limits);
    if (!r.ok) {
      for (const release of made) await release();
      throw new DeliveryRefused({
        code: 451,
        enhanced: '4.7.1',
        text: `Forwarding limit of ${forward.rcpt} reached (${r.limit}); try again in ${r.retryAfterSeconds} s`,
      });
    }
    made.push(r.release);
  }
}

/** Forwards to external addresses go out through the durable queue (before the 250, like local copies). */
async function enqueueForwards(
  store: Store,
  raw: Buffer,
  sender: string,
  forwards: Forward[],
  meta: { messageId: string | null; subject: string },
  srsSecret?: string,
): Promise<void> {
  for (const forward of forwards) {
    const from = srsSecret ? srsRewrite(sender, domainOf(forward.rcpt), srsSecret) : sender;
    await store.queue.enqueue({
      teamId: forward.teamId,
      from,
      to: forward.targets,
      raw: forward.raw ?? raw,
      headerMessageId: meta.messageId,
      subject: meta.subject,
    });
  }
}

/** Thrown by deliverLocal for a recipient that cannot take the message; the queue bounces on >= 500. */
export class LocalDeliveryError extends Error {
  readonly responseCode: number;
  constructor(responseCode: number, message: string) {
    super(message);
    this.responseCode = responseCode;
  }
}

/**
 * Delivery of mail our own users sent to hosted addresses (the outbound queue's local path): the
 * same routing, filters, forwards and events as MX mail, without SPF/DKIM/spam checks on ourselves.
 */
export async function deliverLocal(
  raw: Buffer,
  envelope: { from: string; to: string[] },
  options: PipelineOptions,
): Promise<void> {
  const { store } = options;
  const routes: RecipientRoute[] = [];
  for (const rcpt of envelope.to) {
    const decision = await resolveRecipient(store, rcpt, raw.length, { srsSecret: options.srsSecret });
    if (!decision.ok)
      throw new LocalDeliveryError(
        decision.refusal.code,
        `${decision.refusal.code} ${decision.refusal.enhanced} ${decision.refusal.text}`,
      );
    routes.push(decision.route);
  }
  const headers = parseHeaders(raw);
  const plan = planDelivery(store, routes, headers, null);
  const log = options.logger ?? silentLogger;
  const sieveInput = {
    raw,
    mailFrom: envelope.from,
    spam: null,
    hostname: options.hostname,
    forwardLimits: options.forwardLimits,
    log: (o: object, m: string) => log.info(o, m),
  };
  const sieve = await planSieve(store, plan, sieveInput);
  const meta = {
    messageId: headers.messageId,
    from: envelope.from,
    subject: headers.subject,
    spamScore: 0,
    junk: false,
  };
  try {
    if (sieve.refuseAll) throw new DeliveryRefused({ code: 550, enhanced: '5.7.1', text: sieve.refuseAll.reason });
    await reserveForwarders(store, plan.forwards, options.forwardLimits);
    await deliver(store, raw, plan, meta);
  } catch (err) {
    if (err instanceof DeliveryRefused)
      throw new LocalDeliveryError(err.refusal.code, `${err.refusal.code} ${err.refusal.enhanced} ${err.refusal.text}`);
    throw err;
  }
  await enqueueForwards(store, raw, envelope.from, plan.forwards, meta, options.srsSecret);
  await sendSieveReplies(store, sieve, sieveInput);
}
