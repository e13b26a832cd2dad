// The spam classifier as the API and the compat layer use it: training with raw messages and
// scoring one as the MX would, with the MX's own settings.
import { classify as scoreMessage } from '../inbound/classify.ts';
import { UNAUTHENTICATED } from '../dns/auth-verdict.ts';
import { domainOf } from '../inbound/message.ts';
import { releaseMessage } from '../mime/message-caches.ts';
import { parseHeaders } from '../mime/parsed-headers.ts';
import { bayesScorer, classify as bayes, isBayesScorer, train, type ClassifierOptions } from '../spam/classifier.ts';
import { judgementOfMove, judgementsOfKeywords, learnJudgement, type Judgement } from '../spam/feedback.ts';
import { headerRules } from '../spam/rules.ts';
import type { RspamdClient } from '../spam/rspamd.ts';
import type { SpamScorer } from '../spam/types.ts';
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

/** Scores a raw message as the MX would, minus the SMTP session (authentication results "none"). */
export async function classifyMessage(deps: Pick<ServiceDeps, 'store'>, settings: SpamSettings, raw: Buffer) {
  const headers = parseHeaders(raw);
  const fromDomain = headers.from.length === 1 ? domainOf(headers.from[0]!) : null;
  const input = {
    raw,
    headers,
    auth: UNAUTHENTICATED, // no SMTP session: only content rules and Bayes speak
    mailFrom: '',
    fromHosted: fromDomain !== null && !!(await deps.store.domains.get(fromDomain)),
    accountIds: [],
  };
  try {
    const result = await scoreMessage(input, settings);
    // The verdict the Bayes scorer just scored, not a second classification of the same message.
    const scorer = settings.scorers.find(isBayesScorer);
    return { result, bayes: await (scorer ? scorer.verdict(input) : bayes(deps.store, raw, settings.bayes)) };
  } finally {
    releaseMessage(raw); // its verdict is given: nothing reads its parse again
  }
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
