// Modern ham through the classifier as the held-out run trains it (issue 18): 1,200 spam and 1,200 ham of the
// shared corpus' real sources (a path-hash pick, as bench/spam-autolearn.ts --train-cap takes it), then every
// message of the shared MIME corpus (../shared/corpus/mime: mail libraries' test mail, much of it DKIM- or
// ARC-signed, mbox files split) scored as POST /spam/classify scores it: header and content rules with
// authentication "none", Bayes, counted as classify.ts counts them. None of it is spam, so each message
// junked is listed with why: its rules and points, the Bayes probability, the number of clues and the
// strongest of them with their training counts [spam/ham].
//
//   WRENMAIL_SPAM_CORPUS=/work/shared/corpus npx node bench/spam-modern-ham.ts [--clues N] [--list-real] ['{"fullStrengthClues":1}' ...]
//     each JSON argument is one set of Bayes options (merged over the defaults), as bench/spam-sweep.ts takes them
//   "whole messages" are those with a Date and a Message-ID; the rest are parser fixtures cut to a header or two.
//   "real" whole messages (`realMail` below) are those a real mail program, provider or list wrote and sent: the
//   modern ham of the held-out set is that kind of mail, and junking a parser's hand-made fixture says little.
import { join } from 'node:path';
import type { ParsedHeaders } from '../src/mime/parsed-headers.ts';
import { countedHits } from '../src/inbound/classify.ts';
import { DEFAULT_BAYES, tokenProbability, type BayesOptions } from '../src/spam/bayes.ts';
import { bayesVerdict } from '../src/spam/classifier.ts';
import { headerRules } from '../src/spam/rules.ts';
import { headLength, tokenize } from '../src/spam/tokenize.ts';
import type { SpamClass } from '../src/store/spam.ts';
import { loadMessages } from '../test/helpers/mime-check.ts';
import { argOption, args } from './lib/args.ts';
import { requireCorpus } from './lib/corpus.ts';
import {
  BODY_ONLY_SOURCES,
  CORPUS_DIR,
  prepareCorpus,
  sourceOf,
  splitPoint,
  unauthenticatedInput,
} from './spam-corpus.ts';

const TRAIN_EACH = 1200;
const JUNK = 5;
const cluesShown = Number(argOption('--clues', '8'));
const variants = args.filter((a) => a.startsWith('{')).map((a) => JSON.parse(a) as Partial<BayesOptions>);
if (variants.length === 0) variants.push({});

const MIME_DIR = join(CORPUS_DIR, 'mime');
requireCorpus('WRENMAIL_SPAM_CORPUS', join(CORPUS_DIR, 'spam'), join(CORPUS_DIR, 'ham'), MIME_DIR);

const real = (await prepareCorpus()).filter((s) => !BODY_ONLY_SOURCES.has(sourceOf(s)));
const pick = (cls: SpamClass) =>
  real
    .filter((s) => s.class === cls)
    .sort((a, b) => splitPoint(`cap:${a.source}`) - splitPoint(`cap:${b.source}`))
    .slice(0, TRAIN_EACH);
const train = [...pick('spam'), ...pick('ham')];
const totals = { spam: 0, ham: 0 };
const counts = new Map<string, [number, number]>();
for (const s of train) {
  totals[s.class]++;
  for (const t of s.tokens) {
    const c = counts.get(t) ?? [0, 0];
    c[s.class === 'spam' ? 0 : 1]++;
    counts.set(t, c);
  }
}

// Fixture groups that are not real mail by their origin (mime/SOURCES.md), whatever their headers say.
const NOT_REAL_BY_ORIGIN: [RegExp, string][] = [
  [/^mikel-mail\/error_emails\//, "the mail gem's parse-error cases: spam samples and mail broken on purpose"],
  [/^mikel-mail\/rfc2822\/|^stalwart-mail-parser\/rfc\//, 'examples copied from the RFCs'],
  [/^stalwart-mail-parser\/malformed\//, 'malformed on purpose'],
  [/^(zbateson\/m\d|stalwart-mail-parser\/legacy\/)/, "Hunny Software's MIME samples: one author's test mail of 2000"],
  [/^cpython\//, "Python's email tests: 2001-2004 mail edited into test cases (aperson@dom.ain)"],
  [/^imaptest\//, "Dovecot's IMAP test mailboxes, written for the tests"],
  [/^autocrypt-protected-headers\//, "the header-protection draft's sample messages, written for the draft"],
  [
    /(^|[/_-])(bad|illegal|invalid|broken|malformed|messed|mixed-up)[_.-]/,
    'named for a defect: damaged or picked for it',
  ],
];
// Names a person writes in place of an address: the reserved names of RFC 2606 and RFC 6761 (.example, .test,
// .invalid, localhost, example.com/net/org), .local, addresses masked with x's, and the placeholders issue reports use.
const PLACEHOLDER_HOST =
  /(^|\.)(example|test|invalid|localhost|local|nowhere|dom)$|(^|\.)ex[ae]mple\.(com|net|org)$|^[x.]+$|^(company\d*|domain)\./;
// A real message carries a trace of the program or path that made it: a Received field (RFC 5321 §4.4), a DKIM or
// ARC signature, or the writing program's name.
const TRACE_FIELDS = new Set(['received', 'dkim-signature', 'arc-seal', 'x-mailer', 'user-agent']);

// Fixtures with the same From and Date are one message edited into variants for a test: the first counts.
const variantsSeen = new Set<string>();

function realMail(name: string, headers: ParsedHeaders): boolean {
  if (NOT_REAL_BY_ORIGIN.some(([path]) => path.test(name))) return false;
  const variant = `${headers.from.join(',')} ${headers.get('date')}`;
  if (variantsSeen.has(variant)) return false;
  const hosts = headers.from.map((a) => a.slice(a.lastIndexOf('@') + 1));
  if (hosts.length === 0 || hosts.some((h) => PLACEHOLDER_HOST.test(h))) return false;
  if (!headers.fields.some((f) => TRACE_FIELDS.has(f.name))) return false;
  variantsSeen.add(variant);
  return true;
}

const messages = loadMessages(MIME_DIR).samples.map(({ name, raw }) => {
  const input = unauthenticatedInput(raw);
  const whole = input.headers.get('date') !== null && input.headers.get('message-id') !== null;
  return {
    name,
    whole,
    real: whole && realMail(name, input.headers),
    tokens: tokenize(raw),
    head: headLength(raw),
    hits: headerRules.score(input) as { rule: string; score: number; description: string }[],
  };
});
console.log(
  `trained ${totals.spam} spam + ${totals.ham} ham of ${[...new Set(train.map(sourceOf))].join(', ')}; ` +
    `${messages.length} MIME corpus messages, ${messages.filter((m) => m.whole).length} whole, ` +
    `${messages.filter((m) => m.real).length} of them real mail`,
);

if (args.includes('--list-real')) for (const m of messages) if (m.real) console.log(`  real ${m.name}`);

for (const v of variants) {
  const o = { ...DEFAULT_BAYES, ...v };
  const probabilityOf = (t: string) => tokenProbability(...(counts.get(t) ?? [0, 0]), totals.spam, totals.ham, o);
  const junked = messages.flatMap((m) => {
    const verdict = bayesVerdict(m.tokens, probabilityOf, o, m.head);
    const { score, hits } = countedHits([
      ...m.hits,
      {
        rule: 'BAYES',
        score: verdict.score,
        scoreAlone: verdict.scoreAlone,
        notCorroboratedBy: verdict.echoedRules,
        description: '',
      },
    ]);
    return score >= JUNK ? [{ m, score, hits, verdict }] : [];
  });
  if (variants.length === 1 || cluesShown > 0)
    for (const { m, score, hits, verdict } of junked)
      console.log(
        `  ${score.toFixed(1).padStart(5)} p=${verdict.probability.toFixed(3)} clues=${verdict.clues.length} ${m.real ? 'real ' : m.whole ? 'whole' : 'part '} ${m.name}  ` +
          `${hits.map((h) => `${h.rule}=${Math.round(h.score * 10) / 10}`).join(' ')}\n        ${verdict.clues
            .slice(0, cluesShown)
            .map((c) => `${c.token}=${c.probability.toFixed(2)}[${(counts.get(c.token) ?? [0, 0]).join('/')}]`)
            .join('  ')}`,
      );
  const byRule = new Map<string, number>();
  for (const { hits } of junked)
    for (const h of hits) if (h.score > 0) byRule.set(h.rule, (byRule.get(h.rule) ?? 0) + 1);
  const whole = junked.filter((j) => j.m.whole).length;
  const real = junked.filter((j) => j.m.real).length;
  console.log(
    `${JSON.stringify(v).slice(0, 60).padEnd(60)} junked ${junked.length} of ${messages.length} (whole messages ${whole} of ${messages.filter((m) => m.whole).length}, ` +
      `real mail ${real} of ${messages.filter((m) => m.real).length}); ` +
      `Bayes alone ${junked.filter((j) => j.hits.every((h) => h.rule === 'BAYES' || h.score <= 0)).length}; ` +
      `rules among them: ${[...byRule]
        .filter(([rule]) => rule !== 'BAYES')
        .sort((a, b) => b[1] - a[1])
        .map(([rule, n]) => `${rule} ${n}`)
        .join(', ')}`,
  );
}
