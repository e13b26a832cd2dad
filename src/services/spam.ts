// The spam classifier as the API and the compat layer use it: training with raw messages and
// scoring one as the MX would, with the MX's own settings.
import { fromHostedDomain, classify as scoreMessage, spamInputOf } from '../inbound/classify.ts';
import { UNAUTHENTICATED } from '../dns/auth-verdict.ts';
import type { DnsResolver } from '../dns/resolver.ts';
import { authenticate } from '../inbound/authenticate.ts';
import { releaseMessage } from '../mime/message-caches.ts';
import { parseHeaders } from '../mime/parsed-headers.ts';
import { bayesScorer, classify as bayes, isBayesScorer, train, type ClassifierOptions } from '../spam/classifier.ts';
import { judgementOfMove, judgementsOfKeywords, learnJudgement, type Judgement } from '../spam/feedback.ts';
import { headerRules } from '../spam/rules.ts';
import type { RspamdClient } from '../spam/rspamd.ts';
import type { SpamInput, SpamScorer } from '../spam/types.ts';
import type { Logger } from '../log.ts';
import { saveDate, type Folder, type Store } from '../store/index.ts';
import type { ServiceDeps } from './index.ts';

/** The server's spam settings, as the MX uses them (scorers, thresholds, Bayes options). */
export interface SpamSettings {
  scorers: SpamScorer[];
  junkScore: number;
  rejectScore: number;
  bayes: ClassifierOptions;
  /** The operator's rspamd, taught what the API is taught. */
  rspamd?: RspamdClient;
}

/** The MX's spam settings, or the defaults when the server gave none. */
export const spamSettings = (deps: Pick<ServiceDeps, 'store'> & { spam?: SpamSettings | undefined }): SpamSettings =>
  deps.spam ?? { scorers: [headerRules, bayesScorer(deps.store)], junkScore: 5, rejectScore: 15, bayes: {} };

/** Trains the server model (and `accountId`'s own, when per-mailbox models are on) with one raw message. */
export async function trainMessage(
  deps: Pick<ServiceDeps, 'store'>,
  settings: SpamSettings,
  raw: Buffer,
  cls: 'spam' | 'ham',
  accountId?: string,
) {
  const result = await train(deps.store, raw, cls, { ...settings.bayes, accountId });
  await settings.rspamd?.learn(raw, cls);
  const model = await deps.store.spam.model('s');
  return {
    class: cls,
    trained: result.trained > 0,
    moved: result.moved > 0,
    unchanged: result.unchanged > 0,
    totals: { ...model.totals },
  };
}

type TrainerDeps = Pick<ServiceDeps, 'store'> & { logger: Logger };

/**
 * Teaches the classifier (and rspamd) what users judged. In the background: the IMAP reply or the API answer
 * does not wait for training; a failure is logged and the user's change stands.
 */
function learnInBackground(deps: TrainerDeps, settings: SpamSettings, judgements: Judgement[]): void {
  for (const judgement of judgements)
    learnJudgement(deps.store, judgement, { ...settings.bayes, rspamd: settings.rspamd }).catch((err: Error) =>
      deps.logger.error(
        { err, accountId: judgement.accountId },
        `spam training (${judgement.verdict}) from a user's change failed`,
      ),
    );
}

/** A user moved or copied messages (now `targetUids` in `target`): into Junk is spam, out of Junk is ham. */
export function learnFromMove(
  deps: TrainerDeps,
  settings: SpamSettings,
  accountId: string,
  source: Folder,
  target: Folder,
  targetUids: number[],
): void {
  const judgement = judgementOfMove(accountId, source, target, targetUids);
  if (judgement) learnInBackground(deps, settings, [judgement]);
}

/** A user set flags (UID → the flags each message gained): $Junk is spam, $NotJunk ham. */
export function learnFromFlags(
  deps: TrainerDeps,
  settings: SpamSettings,
  accountId: string,
  folder: Folder,
  gained: Map<number, string[]>,
): void {
  learnInBackground(deps, settings, judgementsOfKeywords(accountId, folder, gained));
}

/**
 * The SMTP session a dry run scores the message as received in, as Stalwart's classify and rspamd's checkv2 take
 * it: SPF, DKIM, DMARC and ARC are checked against DNS, and the client's address, PTR name and HELO reach the
 * rules and DNS lists that read them.
 */
export interface ClassifyEnvelope {
  remoteIp: string;
  helo?: string;
  /** MAIL FROM; "" or absent: the null sender. */
  mailFrom?: string;
  rcptTo?: string[];
  /** The SMTP AUTH user, for scanners that take it (rspamd). */
  user?: string;
}

/** A dry run's session: its envelope, the DNS its checks ask, and the host name they run as (Authentication-Results). */
export interface ClassifySession {
  envelope: ClassifyEnvelope;
  resolver: DnsResolver;
  hostname: string;
}

/**
 * Scores `raw` as the MX would: with a session, as received in it (sender authentication first, and a
 * DMARC policy of reject is the verdict the MX gives: refused); without one, the message alone (no SMTP session:
 * only content rules and Bayes speak).
 */
export async function classifyMessage(
  deps: Pick<ServiceDeps, 'store'>,
  settings: SpamSettings,
  received: Buffer,
  session?: ClassifySession,
) {
  const input = session ? await receivedIn(deps, received, session) : await alone(deps, received);
  try {
    const scored = await scoreMessage(input, settings);
    const result = input.auth.action === 'reject' ? { ...scored, verdict: 'reject' as const } : scored;
    // The verdict the Bayes scorer just scored, not a second classification of the same message.
    const scorer = settings.scorers.find(isBayesScorer);
    const verdict = await (scorer ? scorer.verdict(input) : bayes(deps.store, input.raw, settings.bayes));
    return { result, bayes: verdict, authentication: session ? input.auth : null };
  } finally {
    releaseMessage(input.raw, received); // its verdict is given: nothing reads its parse again
  }
}

/** The message alone: no SMTP session, so only content rules and Bayes speak. */
async function alone(deps: Pick<ServiceDeps, 'store'>, raw: Buffer): Promise<SpamInput> {
  const headers = parseHeaders(raw);
  const fromHosted = await fromHostedDomain(deps.store, headers);
  return { raw, headers, auth: UNAUTHENTICATED, mailFrom: '', fromHosted, accountIds: [] };
}

/**
 * The message as the MX would read it, received in `session`: authenticated (forged Authentication-Results for our
 * host and incoming X-Spam-* fields stripped), the client's PTR name looked up as the MX's session does.
 */
async function receivedIn(
  deps: Pick<ServiceDeps, 'store'>,
  raw: Buffer,
  { envelope, resolver, hostname }: ClassifySession,
): Promise<SpamInput> {
  const ptr = (await resolver.ptr(envelope.remoteIp).catch(() => []))[0] ?? null;
  const msg = {
    id: 'classify',
    raw,
    mailFrom: envelope.mailFrom ?? '',
    rcptTo: envelope.rcptTo ?? [],
    client: { ip: envelope.remoteIp, helo: envelope.helo ?? '', hostname: ptr, protocol: 'ESMTP' },
    receivedAt: Date.now(),
  };
  const auth = await authenticate(msg, { resolver, hostname });
  const headers = parseHeaders(auth.raw);
  const input = spamInputOf(msg, auth, headers, await fromHostedDomain(deps.store, headers), []);
  return envelope.user ? { ...input, envelope: { ...input.envelope!, user: envelope.user } } : input;
}

/**
 * Expunges what has lain in every account's Junk since before `before` (ms since the epoch): users need
 * not empty Junk, and spam does not fill their quota (Gmail keeps it 30 days; the default of
 * `spam.junk_retention_days`). Time in Junk is counted from the save date (RFC 8514), as Dovecot's
 * autoexpunge counts it: an old message a user has just moved to Junk to teach the filter stays its
 * full term. IMAP sessions with Junk selected are told as for any expunge.
 */
export async function expungeOldJunk(store: Store, before: number): Promise<number> {
  let expunged = 0;
  for (const team of await store.teams.list())
    for (const account of await store.accounts.listForTeam(team.id)) {
      const junk = store.folders.bySpecialUse(account.id, '\\Junk');
      if (!junk) continue;
      const old = (await store.messages.listShared(junk.id)).filter((m) => saveDate(m) < before).map((m) => m.uid);
      if (old.length) expunged += (await store.messages.expunge(junk.id, old)).length;
    }
  return expunged;
}
