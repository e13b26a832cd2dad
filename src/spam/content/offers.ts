// Advertising: its stock phrases, shouted money, and what bulk mail sells (potency and diets, a stock tip, the
// advance-fee letter, pharmacies, software, loans, insurance, casinos, adult sites, diplomas, work at home,
// replicas), and the form of personal details it asks to fill in.
import type { Hits, Message } from './context.ts';
import type { FeatureName } from './features.ts';
import { matchesUpTo } from './matches.ts';
import { countPhrases, PHRASES } from './phrases.ts';

// What potency and diet offers sell (SpamAssassin's DRUGS_ERECTILE and DIET_1 name the same goods): counted, as
// a text that names them twice is about them, and the euphemisms count (SpamAssassin public corpus 7.7% of spam,
// 1 of 2768 ham; trec07p 13.0%, no ham).
export const HEALTH_WORDS =
  /\b(?:viagra|cialis|levitra|erections?|erectile|impotence|penis|ejaculat\w*|libido|sexual\s+(?:performance|stamina|desire)|male\s+enhancement|weight[\s-]?loss|(?:lose|lost|losing|shed|drop)\s+(?:up\s+to\s+)?(?:\d+(?:[.,-]\d+)?\s*(?:pounds|lbs|kg)|weight|inches|fat)|burn(?:s|ing)?\s+(?:\w+\s+)?fat|fat[\s-]burn\w*|(?:without|no)\s+(?:exercis(?:e|ing)|dieting)|appetite\s+suppress\w*|diet\s+pills?|(?:extra|excess|superfluous|redundant)\s+(?:body\s+)?(?:weight|pounds|kilos|kilograms|fat)|body\s+(?:fat|kilos|kilograms)|(?:pounds?|kilos?|weight|fat)\s+(?:melting|melts?\s+away)|dick\s+size)\b/gi;
// The words HEALTH_WORDS' alternatives start with, each a whole word there (found in index.ts' word walk): the
// pattern is tried only where one is, so an alternative added to it needs its first word here.
export const HEALTH_STARTS =
  'viagra cialis levitra erection erections erectile impotence penis ejaculat\\w* libido sexual male weight weightloss lose lost losing shed drop burn burns burning fat without no appetite diet extra excess superfluous redundant body pound pounds kilo kilos dick';
// The potency pill in the subject is the offer, whatever prose pads the body against filters (trec07p: 14
// more spam named, 4 more caught left out). Not the anatomy: news headlines name it (an RSS digest's ham).
const POTENCY_SUBJECT = /\b(?:viagra|cialis|levitra|erectile|impotence|male\s+enhancement)\b/i;
// A line that is a personal detail's label and a blank to fill ("Phone Number: ____", "3. Your Age:"); three
// of them make a form (SpamAssassin public corpus 5.9% of spam, no ham; trec07p 1 spam, no ham). Only the
// label on its line: "Name: Jo Bloggs" in a signature or a bug report is filled in already.
const FORM_LINE =
  /^[ \t>*#-]*(?:\d{1,2}[.)][ \t]*)?(?:your[ \t]+)?(?:(?:full|first|last|company|business|home|work|daytime|evening|cell|mobile|mailing|street|current|e-?mail|contact|best)[ \t]+)?(?:name|address|phone(?:[ \t]+(?:number|no\.?|#))?|telephone|tel|e-?mail(?:[ \t]+address)?|city|state|province|zip(?:[ \t]*code)?|postal[ \t]+code|country|fax|age|sex|gender|occupation|profession|(?:date[ \t]+of[ \t]+)?birth(?:[ \t]*date)?|marital[ \t]+status|(?:monthly[ \t]+|annual[ \t]+)?income|employer|time[ \t]+to[ \t]+call|(?:loan[ \t]+)?amount(?:[ \t]+needed)?|credit(?:[ \t]+rating)?|property[ \t]+value|bank(?:[ \t]+name)?|account(?:[ \t]+number)?|nationality|passport)[ \t]*[:=][ \t]*(?:[_.*-]{2,}[ \t]*)?$/gim;

// What a pump-and-dump tip says of the penny stock it talks up: its ticker, a target price, "strong buy", the
// over-the-counter market it trades on. Two different ones make a tip (SpamAssassin public corpus 1.4% of spam,
// trec07p 1.9%, no ham of either; most of trec07p's tips are images).
export const STOCK_WORDS =
  /\b(?:(?:stock\s+)?(?:symbol|ticker)\s*:\s*\$?[a-z]{2,5}\b|strong\s+buy|(?:\d+[- ]day|short[- ]term|long[- ]term|price)\s+target|target\s+price|(?:current|recent|opening)\s+price\s*:|otc\s*bb|pink\s+sheets|(?:otc|pk)\s*:\s*[a-z]{3,5}\b|investor\s+alert|stock\s+(?:alert|pick|profile)|explosive\s+(?:growth|pick))/gi;
// The words STOCK_WORDS' alternatives start with: whole words there but "otcbb" (no \b after it). As for HEALTH_STARTS,
// an alternative added to the pattern needs its first word here.
export const STOCK_STARTS =
  'stock symbol ticker strong \\d+ short long price target current recent opening otc otcbb\\w* pink pk investor explosive';
// The advance-fee fraud: millions named, and two more of its topics (SpamAssassin public corpus 44 spam, 3.5%;
// Enron-Spam 55; trec07p none; no ham of any source). Each topic a pattern of its own
// that starts with a word, not a digit: one alternation of them all, tried at every position of 64 KB of text,
// took 2.9 ms.
const MILLIONS = /million/i;
const ADVANCE_FEE_TOPICS = [
  /next\s+of\s+kin|beneficiar(?:y|ies)|inheritance|(?:late|deceased)\s+(?:husband|father|client|president|wife)/i,
  /transfer\s+(?:of\s+)?(?:the\s+|this\s+)?(?:funds?|money|sum)|foreign\s+(?:partner|account)|dormant\s+account|unclaimed\s+(?:funds?|sum)/i,
  /strictly\s+confidential|(?:utmost|absolute)\s+(?:confidentiality|secrecy|discretion)/i,
  /(?:share|percentage|commission)\s+of\s+(?:the\s+)?(?:total\s+)?(?:sum|funds?)|%\s+of\s+the\s+(?:total\s+)?(?:sum|funds?|money)/i,
  /consignment|diplomat(?:ic)?\s+(?:courier|bag|agent)|security\s+(?:company|firm)|bank\s+draft|barrister|claims?\s+(?:agent|officer)/i,
  /risk[\s-]?free|100\s?%\s+(?:safe|secure|legal)/i,
  /nigeria|lagos|abidjan|accra/i,
];
/** Millions named and at least two more advance-fee topics. */
function advanceFee(text: string): boolean {
  if (!MILLIONS.test(text)) return false;
  let topics = 0;
  for (const topic of ADVANCE_FEE_TOPICS) if (topic.test(text) && ++topics === 2) return true;
  return false;
}
// What bulk mail sells beyond potency pills, diets, stock tips and the 419 letter, in the words of its trade
// (SpamAssassin's DRUGS_*, OEM software, mortgage, casino, adult, diploma and work-at-home rules
// name the same goods). Each offer is two different of its words in the text's head, or, where the subject's
// word is the trade's own (a drug, "casino", "refinance"), that word in the subject of mail not from a list.
// Figures: spam / ham hit on all of SpamAssassin public, then trec07p (bench/RESULTS.md, branch spamoffer).
export interface Offer {
  feature: FeatureName;
  /** The words (regex pieces) each alternative of `words` starts with, as a whole word of the text. */
  starts: string;
  words: RegExp;
  subject: RegExp | null;
}
export const OFFERS: readonly Offer[] = [
  {
    // Prescription drugs sold without a doctor (not the potency drugs: HEALTH_OFFER), and the pharmacy. 20 / 1 (a
    // news item's subject, not junked), 50 / 0.
    feature: 'PHARMACY_OFFER',
    starts:
      'valium xanax phentermine tramadol ambien vicodin hydrocodone oxycontin oxycodone meridia adipex propecia xenical ultram diazepam alprazolam lorazepam ativan codeine online canadian internet discount pharmacy no without prescription generic cheap per \\d+ meds pills',
    words:
      /\b(?:valium|xanax|phentermine|tramadol|ambien|vicodin|hydrocodone|oxycontin|oxycodone|meridia|adipex|propecia|xenical|ultram|diazepam|alprazolam|lorazepam|ativan|codeine|online\s+(?:pharmacy|drugstore|meds)|(?:canadian|internet|discount)\s+(?:pharmacy|drugs?|meds)|pharmacy\s+online|(?:no|without(?:\s+a)?)\s+(?:prior\s+)?prescriptions?(?:\s+(?:needed|required))?|no\s+doctor|prescription\s+(?:drugs|medications?|meds)|(?:generic|cheap|discount)\s+(?:drugs|meds|pills|medications?)|per\s+(?:pill|dose|tablet)|\d+\s+(?:pills|tablets|caps)|meds|pills)\b/i,
    subject:
      /\b(?:valium|xanax|phentermine|tramadol|ambien|vicodin|hydrocodone|meridia|adipex|propecia|xenical|pharmacy|meds)\b/i,
  },
  {
    // 2 / 0, 22 / 0. A product name with a price within 40 characters is bounded: no run of the text is read twice.
    feature: 'SOFTWARE_OFFER',
    starts:
      'oem cheap discount discounted genuine original software adobe microsoft macromedia autodesk symantec corel instant immediate windows office photoshop acrobat',
    words:
      /\b(?:oem\s+(?:software|versions?|cds?|programs?)|(?:cheap|discount(?:ed)?|genuine|original)\s+software|software\s+(?:at\s+)?(?:low|cheap|discount|wholesale)\s+prices?|(?:adobe|microsoft|macromedia|autodesk|symantec|corel)\s+[a-z0-9 .]{2,40}?\$\s?\d+|(?:instant|immediate)\s+download|windows\s+xp\s+pro(?:fessional)?|office\s+(?:xp|2003|2007)\s+pro(?:fessional)?|photoshop\s+cs\d?|acrobat\s+\d)\b/i,
    // Not "OEM" in the subject: a newsletter's "Save money with OEM software" is trec07p ham.
    subject: null,
  },
  {
    // 106 / 0, 12 / 0. Not "interest rates", nor a company's "poor credit rating": lists and a trader's news say them.
    // The credit card for bad credit and the car loan too (2007's "unsecured gold mastercard", "any credit auto loans").
    feature: 'LOAN_OFFER',
    starts:
      'refinanc\\w* low lower fixed adjustable mortgage home consolidate eliminate reduce cut debt bad poor no any damaged less imperfect credit pre preapproved lender lenders cash payday unsecured guaranteed instant auto car',
    words:
      /\b(?:refinanc\w*|(?:low|lower|fixed|adjustable)[\s-]+(?:interest\s+)?rate\s+mortgages?|mortgage\s+(?:rates?|payments?|loans?|approval|quotes?)|home\s+(?:loans?|equity\s+loans?)|(?:consolidate|eliminate|reduce|cut)\s+(?:your\s+)?(?:credit\s+card\s+)?debts?|debt\s+(?:consolidation|relief|free)|bad\s+credit|(?:poor|no|any|damaged)\s+credit\b(?!\s+ratings?)|(?:less\s+than\s+perfect|imperfect)\s+credit|credit\s+(?:repair|problems)|pre[\s-]?approved|(?:lower|reduce)\s+(?:your\s+)?(?:monthly|house|home|mortgage)\s+payments?|lenders?\s+compete|cash\s+advance|payday\s+loans?|unsecured\s+(?:[a-z]+\s+){0,2}?(?:credit\s+cards?|mastercard|visa|loans?)|(?:guaranteed|instant)\s+(?:credit\s+|loan\s+)?approval|(?:auto|car)\s+loans?)\b/i,
    subject: /\b(?:refinanc\w*|mortgage|pre[\s-]?approved|debt\s+consolidation|bad\s+credit)\b/i,
  },
  {
    // 8 / 0, 12 / 0.
    feature: 'CASINO_OFFER',
    starts:
      'online internet vegas free casino casinos sign signup welcome deposit match bonus jackpot jackpots sportsbook',
    words:
      /\b(?:(?:online|internet|vegas|free)\s+(?:casinos?|gambling|poker|slots?|blackjack|roulette)|casinos?|free\s+chips|(?:sign[\s-]?up|welcome|deposit|match)\s+bonus|bonus\s+(?:on\s+your\s+)?(?:first\s+)?deposit|jackpots?|sportsbook)\b/i,
    subject: /\b(?:casinos?|poker|slots|blackjack|roulette|jackpot|gambling)\b/i,
  },
  {
    // 23 / 0, 2 / 0. Not "xxx" (the placeholder of redacted fixtures), "webcam" or "porn" in the text (lists
    // discuss them).
    feature: 'ADULT_OFFER',
    starts: 'hardcore hot lonely horny naughty live adult xxx nude naked sex erotic amateur teen hidden one',
    words:
      /\b(?:hardcore|hot\s+(?:singles|girls|babes|teens)|(?:lonely|horny|naughty)\s+(?:wives|women|girls|housewives|singles)|live\s+(?:web)?cams?|adult\s+(?:dvds?|videos?|movies?|sites?|entertainment)|xxx\s+(?:dvds?|videos?|movies?|pics|sites?)|nude|naked|sex\s+(?:videos?|movies?|pics|dates?)|erotic|amateur\s+(?:girls|videos?|pics)|teen\s+(?:sex|girls|pics)|hidden\s+cams?|one[\s-]night\s+stands?)\b/i,
    subject: /\b(?:xxx|porn\w*|nude|naked|horny|hot\s+singles|lonely\s+(?:wives|women|housewives))\b/i,
  },
  {
    // 12 / 0, 1 / 0: 2007's spam hardly sold diplomas; no ham of any source.
    feature: 'DIPLOMA_OFFER',
    starts:
      'university college bachelor bachelors master masters mba phd doctorate diploma diplomas degree degrees life no non nonaccredited prestigious get obtain receive earn',
    words:
      /\b(?:(?:university|college|bachelors?|masters?|mba|phd|doctorate)\s+(?:diplomas?|degrees?)|diplomas?|degrees?\s+(?:based\s+on|for)\s+(?:your\s+)?(?:life|work)\s+experience|life\s+experience|no\s+(?:exams?|tests?|classes|books|study(?:ing)?|required\s+tests)|non[\s-]?accredited|prestigious\s+(?:non[\s-]?accredited\s+)?universit(?:y|ies)|(?:get|obtain|receive|earn)\s+(?:a|your)\s+(?:university\s+|college\s+)?(?:degree|diploma))\b/i,
    subject: /\b(?:diplomas?|university\s+degree)\b/i,
  },
  {
    // 66 / 0, 1 / 0: 2007's spam hardly sold this either. An amount of money and then its period: the digits are
    // read once from the one "make" or "earn" before them.
    feature: 'WORK_AT_HOME_OFFER',
    starts:
      'work working home make earn making earning be fire extra residual passive full financial no business network multi multilevel mlm',
    words:
      /\b(?:work(?:ing)?\s+(?:from|at)\s+home|home[\s-]based\s+business|(?:make|earn|making|earning)\s+(?:up\s+to\s+|over\s+)?\$\s?\d[\d,]*(?:\.\d+)?\s*(?:(?:a|per|each|every)\s+(?:week|month|day|year)|weekly|monthly|daily)|be\s+your\s+own\s+boss|fire\s+your\s+boss|(?:extra|residual|passive|full[\s-]time)\s+income|financial\s+(?:freedom|independence)|no\s+(?:experience|selling)\s+(?:necessary|needed|required)|business\s+opportunity|network\s+marketing|multi[\s-]?level\s+marketing|mlm)\b/i,
    subject: /\b(?:work(?:ing)?\s+(?:from|at)\s+home|be\s+your\s+own\s+boss|extra\s+income|business\s+opportunity)\b/i,
  },
  {
    // Fakes of luxury brands: 2 / 0 (2002's "designer labels ... designer replicas"), 8 / 0, Enron-Spam 38 / 0. Not
    // "replicate" or "replication" (lists discuss them), nor "omega" or "watches" alone (a letter, a verb).
    feature: 'REPLICA_OFFER',
    starts:
      'replica replicas rolex rolexes cartier breitling patek tag louis gucci prada chanel swiss luxury designer brand brandname',
    words:
      /\b(?:replicas?|rolex(?:es)?|cartier|breitling|patek\s+philippe|tag\s+heuer|louis\s+vuitton|gucci|prada|chanel|(?:swiss|luxury|designer|brand[\s-]?name)\s+(?:watch(?:es)?|handbags?|bags|labels|replicas?|goods)|(?:replica|designer)\s+(?:watch(?:es)?|handbags?|bags|goods))\b/i,
    subject: /\b(?:replicas?|rolex(?:es)?)\b/i,
  },
  {
    // Insurance and warranties sold to whoever reads: term life quotes, car warranties "about to expire", Medicare
    // and final-expense plans (SpamAssassin public corpus 2002: 71 spam, no ham; trec07p 2007: none of either; a
    // staple of bulk mail again since). Not "health insurance" or "insurance" alone: people and lists discuss them.
    feature: 'INSURANCE_OFFER',
    starts:
      'term life auto car health home medical dental insurance free instant extended vehicle warranty annuity annuities medicare final',
    words:
      /\b(?:term\s+life(?:\s+insurance)?|life\s+insurance\s+(?:quotes?|polic(?:y|ies)|rates?|coverage)|(?:auto|car|health|home|medical|dental)\s+insurance\s+(?:quotes?|rates|plans?)|insurance\s+(?:quotes?|rates)|(?:free|instant)\s+(?:insurance\s+)?quotes?|extended\s+(?:auto\s+|car\s+|vehicle\s+)?warrant(?:y|ies)|(?:vehicle|car)(?:'s)?\s+(?:extended\s+)?warrant(?:y|ies)|warranty\s+(?:coverage|protection|expir\w*)|annuity|annuities|medicare\s+(?:advantage|supplement)|final\s+expense)\b/i,
    subject:
      /\b(?:term\s+life|life\s+insurance|insurance\s+quotes?|(?:extended|vehicle|car)\s+warranty|annuit(?:y|ies))\b/i,
  },
];
/** A match read as a word: lower case, one space, a ticker's value dropped, without an ending ("casinos", "refinancing"). */
const matchKey = (match: string) =>
  match
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .replace(/:.*/, ':')
    .replace(/(?:es|ed|e|s|ing)$/, '');
/**
 * The matches of `sticky` (flag y) a global search of the text finds, looked for only at `starts` (ascending): sound
 * when every match starts at one of them, as each does at a start word of its pattern found by index.ts' walk.
 */
function* matchesAt(sticky: RegExp, text: string, starts: number[]): Generator<RegExpExecArray> {
  let end = 0;
  for (const start of starts) {
    if (start < end) continue;
    sticky.lastIndex = start;
    const m = sticky.exec(text);
    if (!m) continue;
    end = start + m[0].length;
    yield m;
  }
}
/** How many matches of `sticky` (at `starts`) the text has, counted up to `max`. */
const countAt = (sticky: RegExp, text: string, starts: number[], max: number) => {
  let count = 0;
  for (const _ of matchesAt(sticky, text, starts)) if (++count === max) break;
  return count;
};
/**
 * How many different matches of `sticky` (at `starts`) the text has, counted up to `max`, each read by matchKey
 * ("casino" and "casinos", "refinance" and "refinancing" in a digest are one word said twice).
 */
const distinctAt = (sticky: RegExp, text: string, starts: number[], max: number) => {
  const seen = new Set<string>();
  for (const m of matchesAt(sticky, text, starts)) if (seen.add(matchKey(m[0])).size === max) break;
  return seen.size;
};
// The offers' words in one pattern, a group each (their own groups do not capture), tried only where the text has
// a word one of them starts with, found in the walk that finds PHRASES' guards (index.ts wordPlaces): searched for at every
// word, the pattern took 1.7-2.6 times as long over the corpus texts (p99 0.37-0.46 ms against 0.16-0.29 ms), and a
// pass per offer twice that. Sound because every alternative starts with \b and one of its offer's `starts` as a
// whole word, and a match is looked for only after the last one ends, as a global search does.
const OFFER_AT = new RegExp(OFFERS.map((o) => `(${o.words.source})`).join('|'), 'iy');
/** The offers whose words the text names, two different ones each; `starts`: the places of their start words. */
function offersNamed(text: string, starts: number[]): Set<FeatureName> {
  const seen = OFFERS.map(() => new Set<string>());
  const named = new Set<FeatureName>();
  for (const m of matchesAt(OFFER_AT, text, starts)) {
    const i = m.findIndex((group, n) => n > 0 && group !== undefined) - 1;
    if (seen[i]!.add(matchKey(m[0])).size === 2) named.add(OFFERS[i]!.feature);
  }
  return named;
}
const HEALTH_AT = new RegExp(HEALTH_WORDS.source, 'iy');
const STOCK_AT = new RegExp(STOCK_WORDS.source, 'iy');
/**
 * The word lists whose places index.ts' walk finds in the first OFFER_SCAN characters of the text (Message
 * offerStarts): the start words of the offers, of HEALTH_WORDS and of STOCK_WORDS.
 */
export const OFFER_START_WORDS: Record<string, string[]> = {
  offers: [...new Set(OFFERS.flatMap((o) => o.starts.split(' ')))],
  health: HEALTH_STARTS.split(' '),
  stock: STOCK_STARTS.split(' '),
};

export const OFFER_SCAN = 16 * 1024;

/** Advertising phrases, shouted money and the offers. */
export function offerFeatures({ text, subject, all, guards, offerStarts, throughList }: Message, hits: Hits): void {
  // Counted up to 5: no more can change the rules.
  const phrases = countPhrases(all, guards, PHRASES, 5);
  if (phrases >= 5) hits.add('SPAM_PHRASES_MANY');
  else if (phrases >= 3) hits.add('SPAM_PHRASES');
  if (/\$\s?\d[\d,.]*[^\n]{0,40}!|!\s*\$\s?\d/.test(all) && (all.match(/!/g) ?? []).length >= 3)
    hits.add('MONEY_SHOUTING');
  // What is on offer is said at the start: the offers are looked for in the first 16 KB (their patterns over
  // 64 KB of plain text took 0.7 ms, most of the features stage's p99).
  const offer = all.slice(0, OFFER_SCAN);
  if (countAt(HEALTH_AT, offer, offerStarts.health!, 2) === 2 || (POTENCY_SUBJECT.test(subject) && !throughList()))
    hits.add('HEALTH_OFFER');
  if (matchesUpTo(FORM_LINE, text.slice(0, OFFER_SCAN), 3) === 3) hits.add('FILL_FORM');
  if (distinctAt(STOCK_AT, offer, offerStarts.stock!, 2) >= 2) hits.add('STOCK_TIP');
  if (advanceFee(offer)) hits.add('ADVANCE_FEE');
  const named = offersNamed(offer, offerStarts.offers!);
  for (const { feature, subject: word } of OFFERS)
    if (named.has(feature) || (word?.test(subject) && !throughList())) hits.add(feature);
}
