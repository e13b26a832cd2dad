// Phrases of bulk advertising and of phishing, found through their guard words.
import { BRANDS } from './brands.ts';

// Stock phrases of bulk advertising, through the years (SpamAssassin's body rules name many of them).
// Each with the words it cannot match without: a word of each "|" group, as a whole word of the text
// (a run of [a-z0-9_], as \b sees them). Most texts lack most phrases: one pass of GUARDS finds the
// words there are, far cheaper than running each regex, or finding each short word as a substring
// ("no", "fee", "meet" are in most texts) (issues 17, 18). The commonest words (the, to, your) are left
// out of the guards: every match of one costs that pass more than it spares. Sound because the regexes' /i folds ASCII
// letters only to ASCII letters, and each guard word stands between \b or \s and \b, \s or "-" in its regex.
// A match starts at a word of the first group, so the regex is tried only where the pass found one (sticky), not
// over the whole text: common words ("no", "best", "now") are in most long texts (issue 18). A third element
// says otherwise: the regex to try there, or null (search the whole text).
export type Phrase = [string[][], RegExp, RegExp | null];
const phrases = (list: readonly (readonly [string, RegExp, (RegExp | null)?])[]): Phrase[] =>
  list.map(([guard, re, sticky]) => [
    guard.split(' ').map((group) => group.split('|')),
    re,
    sticky === undefined ? new RegExp(re.source, 'iy') : sticky,
  ]);
// Not the words an offer rule counts (prescription drugs, work at home, extra income, mortgage rates, casinos, replicas):
// those would earn their points twice.
export const PHRASES = phrases([
  ['click here', /\bclick\s+here\b/i],
  ['100 free|guaranteed|satisfaction', /\b100%\s+(free|guaranteed|satisfaction)\b/i],
  ['act now', /\bact\s+now\b/i],
  ['limited time', /\blimited\s+time\b/i],
  ['money back', /\bmoney[-\s]back\b/i],
  ['no cost|obligation|credit|risk', /\bno\s+(cost|obligation|credit\s+check|risk)\b/i],
  ['risk free', /\brisk[-\s]free\b/i],
  ['special offer|promotion', /\bspecial\s+(offer|promotion)\b/i],
  [
    'remove|removed list|mailings',
    /\b(to\s+be\s+)?removed?\s+from\s+(our|this|the|future)\s+(mailing\s+)?(list|mailings)\b/i,
    // Matches wherever "removed..." does: tried there without the optional head.
    /\bremoved?\s+from\s+(our|this|the|future)\s+(mailing\s+)?(list|mailings)\b/iy,
  ],
  ['spam', /\bthis\s+is\s+not\s+spam\b/i, null], // starts at no guard word: the whole text is searched
  ['unsolicited', /\bunsolicited\b/i],
  ['lowest|best price|rate|rates', /\b(lowest|best)\s+(price|rates?)\b/i],
  ['free gift|trial|quote|consultation|info', /\bfree\s+(gift|trial|quote|consultation|info)\b/i],
  ['once lifetime', /\bonce\s+in\s+a\s+lifetime\b/i],
  ['earn|make', /\b(earn|make)\s+(\$|money|extra|cash)/i],
  ['lose|losing weight', /\b(lose|losing)\s+weight\b/i],
  ['credit card debt', /\bcredit\s+card\s+debt\b/i],
  ['dear friend|sir|madam|valued|customer', /\bdear\s+(friend|sir|madam|valued|customer)\b/i],
  ['order now|today', /\border\s+(now|today)\b/i],
  ['call now|today|toll', /\bcall\s+(now|today|toll[-\s]free)\b/i],
  ['viagra|cialis|levitra', /\b(viagra|cialis|levitra)\b/i],
  ['guarantee|guaranteed', /\bguaranteed?\b/i],
  ['apply now|online', /\bapply\s+(now|online)\b/i],
  ['increase', /\bincrease\s+your\b/i],
  ['satisfaction guaranteed', /\bsatisfaction\s+guaranteed\b/i],
  ['double', /\bdouble\s+your\b/i],
  ['million|millions', /\bmillions?\s+of\s+(dollars|people|email)/i],
  ['buy|shop now|online', /\b(buy|shop)\s+(now|online)\b/i],
  ['no hidden|setup fee|fees', /\bno\s+(hidden|setup)\s+fees?\b/i],
  ['while supplies|stock|stocks last', /\bwhile\s+(supplies|stocks?)\s+last\b/i],
  ['opt|optin', /\bopt[-\s]?in\b/i],
  ['meet singles|hot|local', /\bmeet\s+(singles|hot|local)\b/i],
  ['stock|share|shares', /\b(stock|shares?)\s+(alert|pick|to\s+watch)\b/i],
  ['unsubscribe', /\bunsubscribe\b/i],
  ['discount', /\bdiscount\b/i],
  ['save', /\bsave\s+(up\s+to\s+)?\d+%/i],
  // Bulk mail's own words: the lead form, the ad that says it is one, the list to take yourself off (SpamAssassin
  // public corpus spam 107, 34, 44; trec07p spam 1, 9, 2; ham of either 0, 0, 1).
  [
    'fill out form',
    /\bfill\s+out\s+(our|the|this)\s+(free\s+|short\s+|simple\s+|quick\s+|brief\s+)?(online\s+)?form\b/i,
  ],
  ['advertisement', /\bthis\s+(e-?mail\s+|message\s+)?(is\s+an\s+)?advertisement\b/i, null],
  ['remove yourself', /\bremove\s+yourself\s+from\b/i],
]);

// What phishing says to make the reader click now: the account threatened, the mailbox full, the password
// expiring, a document waiting (issue 18: modern phishing from a honeypot was caught at 75%). Guarded and
// tried as PHRASES are, in a pass of their own, only over mail with somewhere to click.
const SHARED: readonly [string, RegExp] = [
  'shared document|file|folder|pdf|spreadsheet|files',
  /\bshared\s+(a|an|the|\d+)\s+(document|file|folder|pdf|spreadsheet|files)\s+with\s+you\b/i,
];
export const URGENT_PHRASES = phrases([
  [
    'verify|confirm|validate|reconfirm|revalidate account|identity|email|mailbox|login|credentials',
    /\b(verify|confirm|validate|reconfirm|revalidate)\s+(your\s+)?(account|identity|email|mailbox|login|credentials)\b/i,
  ],
  [
    'account|mailbox suspended|closed|locked|deactivated|terminated|disabled|restricted|blocked|deleted|limited',
    /\b(account|mailbox)\s+(will\s+be|has\s+been|is\s+being|is)\s+(temporarily\s+|permanently\s+)?(suspended|closed|locked|deactivated|terminated|disabled|restricted|blocked|deleted|limited)\b/i,
  ],
  [
    'unusual|suspicious|unauthorized|unauthorised|unrecognized sign|signin|log|login|activity|access|attempt|attempts',
    /\b(unusual|suspicious|unauthori[sz]ed|unrecognized)\s+(sign-?\s?in|signin|log-?in|login|activity|access|attempts?)\b/i,
  ],
  [
    'storage|mailbox|inbox full|exceeded|over',
    /\b(storage|mailbox|inbox)\s+(is\s+|has\s+)?(almost\s+|nearly\s+)?(full|exceeded|over\s+(its\s+)?(limit|quota))\b/i,
  ],
  // "99% full", "95% of your storage": no guard word at its start, so searched in the whole text.
  ['full|used|storage|quota', /\b\d\d(\.\d+)?\s?%\s+(full|used|of\s+(your\s+)?(storage|quota))\b/i, null],
  ['storage|mailbox|email|disk quota', /\b(storage|mailbox|email|disk)\s+quota\b/i],
  ['quota exceeded|reached', /\bquota\s+(exceeded|reached)\b/i],
  [
    'password expires|expire|expired|expiring|expiration',
    /\bpassword\s+(expires|will\s+expire|has\s+expired|is\s+expiring|expired|expiration)\b/i,
  ],
  ['pending|undelivered messages|emails|mails', /\b(pending|undelivered)\s+(messages|e-?mails|mails)\b/i],
  SHARED,
  [
    'update payment|billing information|details|method|info',
    /\bupdate\s+(your\s+)?(payment|billing)\s+(information|details|method|info)\b/i,
  ],
  ['package|parcel|shipment hold', /\b(package|parcel|shipment)\s+(is\s+)?(currently\s+)?on\s+hold\b/i],
  ['within hours|hrs', /\bwithin\s+(24|48|72)\s+(hours|hrs)\b/i],
  ['failure verify|confirm|update|comply|validate', /\bfailure\s+to\s+(verify|confirm|update|comply|validate)\b/i],
  [
    'sign|signin|log|login view|access|review|read|download',
    /\b(sign|log)\s*-?\s*in\s+to\s+(view|access|review|read|download)\b/i,
  ],
  ['keep current|same|old password', /\bkeep\s+(using\s+)?(your\s+)?(current|same|old)\s+password\b/i],
  ['new voicemail|voice|fax', /\bnew\s+(voicemail|voice\s+message|fax)\b/i],
  ['secure|encrypted message', /\b(secure|encrypted)\s+message\b/i],
  ['restore|regain|recover account|access', /\b(restore|regain|recover)\s+(full\s+)?(your\s+)?(account|access)\b/i],
  [
    'release|retrieve|recover|restore held|blocked|incoming|suspended messages|message|mails|mail|emails|email',
    /\b(release|retrieve|recover|restore)\s+(your\s+|all\s+|the\s+)?(held|blocked|incoming|suspended)\s+(e-?mails?|messages?|mails)\b/i,
  ],
  [
    'avoid|prevent account|mailbox|email|mail suspension|deactivation|closure|termination|suspended|deactivated|closed|terminated|deleted|blocked|disabled',
    /\b(avoid|prevent)\s+(your\s+)?(account|mailbox|e-?mail)\s+(from\s+being\s+)?(suspension|deactivation|closure|termination|suspended|deactivated|closed|terminated|deleted|blocked|disabled)\b/i,
  ],
  ['deactivation|termination request', /\b(deactivation|termination)\s+request\b/i],
  // A kit knows the address, not the name: "Dear email user", "Dear valued member", "Dear PayPal customer".
  [
    `dear|hello|hi|attention valued|email|mail|webmail|mailbox|account|${BRANDS.join('|')} user|users|owner|owners|holder|holders|subscriber|subscribers|customer|customers|member|members|client|clients`,
    new RegExp(
      `\\b(dear|hello|hi|attention)[\\s:,]+(valued|e-?mail|web-?mail|mailbox|account|${BRANDS.join('|')})(\\s+(e-?mail|account|online))?\\s+(user|owner|holder|subscriber|customer|member|client)s?\\b`,
      'i',
    ),
  ],
  [
    'click here|below|link|button verify|validate|upgrade|retain|keep|reactivate|unlock|release|restore',
    /\bclick\s+(here|below|the\s+(link|button)(\s+below)?)\s+to\s+(verify|validate|upgrade|retain|keep|reactivate|unlock|release|restore)\b/i,
  ],
]);
// The guard words of both lists, found in one pass over the text rather than a pass per list (the 25 slowest test
// messages over 25 KB: features 1.54–1.64 → 1.44–1.57 ms), with the offers' start words (index.ts wordPlaces).
export const GUARD_WORDS = [...new Set([...PHRASES, ...URGENT_PHRASES].flatMap(([guard]) => guard.flat()))];
export const SHARED_PHRASE = URGENT_PHRASES.find(([, re]) => re === SHARED[1])!;

/**
 * How many of the phrases the text shows, counted up to `max`, of those `counts` lets through. A phrase's
 * regex is tried only when each of its guard groups has a word in `where` (index.ts wordPlaces): sticky, at the
 * places of its first word.
 */
export function countPhrases(
  all: string,
  where: Map<string, number[]>,
  list: Phrase[],
  max: number,
  counts?: (p: Phrase) => boolean,
) {
  const at = (sticky: RegExp, i: number) => {
    sticky.lastIndex = i;
    return sticky.test(all);
  };
  let n = 0;
  for (const phrase of list) {
    const [guard, re, sticky] = phrase;
    if (!guard.every((group) => group.some((w) => where.has(w)))) continue;
    if (counts && !counts(phrase)) continue;
    const shown = sticky ? guard[0]!.some((w) => where.get(w)?.some((i) => at(sticky, i))) : re.test(all);
    if (shown && ++n === max) break;
  }
  return n;
}
