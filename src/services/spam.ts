// The spam classifier as the API and the compat layer use it: training with raw messages and
// scoring one as the MX would, with the MX's own settings.
import { classify as scoreMessage } from '../inbound/classify.ts';
import { UNAUTHENTICATED } from '../dns/auth-verdict.ts';
import { domainOf } from '../inbound/message.ts';
import { parseHeaders } from '../mime/parsed-headers.ts';
import { bayesScorer, classify as bayes, isBayesScorer, train, type ClassifierOptions } from '../spam/classifier.ts';
import { headerRules } from '../spam/rules.ts';
import type { RspamdClient } from '../spam/rspamd.ts';
import type { SpamScorer } from '../spam/types.ts';
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
  const result = await scoreMessage(input, settings);
  // The verdict the Bayes scorer just scored, not a second classification of the same message.
  const scorer = settings.scorers.find(isBayesScorer);
  return { result, bayes: await (scorer ? scorer.verdict(input) : bayes(deps.store, raw, settings.bayes)) };
}
