// Fast replay of the leave-one-source-out splits in memory, for trying classifier changes: each
// message is tokenized and rule-scored once, counts are kept in a Map rather than the store, and the
// Bayes options given are swept over the same tokens. Same splits, same score (rules + Bayes curve)
// and same summary as bench/spam-loso.ts, which stays the figure of record (it goes the API's way).
//
//   node bench/spam-sweep.ts [--only NAME] [--clues N] [--show PATH] [--fp] ['{"maxDiscriminators":50}' ...]
//     each JSON argument is one set of Bayes options (merged over the defaults); none: the defaults
//     '{"drop":"^url:"}': a token-family ablation, the matching tokens neither trained nor classified
//   --clues N: the strongest clues of the N spam Bayes called hammiest and the N ham it called spammiest
//   --show PATH: every clue of the test messages whose path ends so ("00514.7e91be47b3ec2e2cafef70e325fe51df"),
//     each with its training counts [spam/ham], to see whether a verdict rests on tokens seen once or twice
//   --fp: the ham junked
//   --fn: the spam missed, with its Bayes clue count
//   --short: each split also reported on its short messages alone (spam-corpus.ts isShort: under 60 words of visible
//     body text), how many of each class that is; --fp and --fn then list short mail only
//   --train-cap N: every split also trained on at most N spam and N ham of its training sources (the path-hash
//     pick of spam-autolearn.ts), as the private held-out run is trained; each variant is reported under both
import { join } from 'node:path';
import { DEFAULT_BAYES, tokenProbability, type BayesOptions } from '../src/spam/bayes.ts';
import { countedHits } from '../src/inbound/classify.ts';
import { bayesVerdict } from '../src/spam/classifier.ts';
import { requireCorpus } from './lib/corpus.ts';
import {
  BODY_ONLY_SOURCES,
  CORPUS_DIR,
  cappedTraining,
  isShort,
  losoSplits,
  pct,
  prepareCorpus,
  sourceOf,
  splitPoint,
  summary,
} from './spam-corpus.ts';

const args = process.argv.slice(2);
const only = args.includes('--only') ? args[args.indexOf('--only') + 1]! : '';
const cluesOf = args.includes('--clues') ? Number(args[args.indexOf('--clues') + 1]) : 0;
const trainCap = args.includes('--train-cap') ? Number(args[args.indexOf('--train-cap') + 1]) : Infinity;
const shown = args.flatMap((a, i) => (args[i - 1] === '--show' ? [a] : []));
// ruleScale (sweep only): the rule points multiplied by this before the Bayes points are added.
// ruleScores (sweep only): points for the named rules instead of theirs.
// drop (sweep only): a regex; tokens it matches are neither trained nor classified (token-family ablations).
type Variant = Partial<BayesOptions> & { ruleScale?: number; ruleScores?: Record<string, number>; drop?: string };
const variants: Variant[] = args.filter((a) => a.startsWith('{')).map((a) => JSON.parse(a) as Variant);
if (variants.length === 0) variants.push({});
const JUNK = 5;

requireCorpus('WRENMAIL_SPAM_CORPUS', join(CORPUS_DIR, 'spam'), join(CORPUS_DIR, 'ham'));
const t0 = performance.now();
const samples = await prepareCorpus();
console.log(`tokenized ${samples.length} messages in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
const short = args.includes('--short') ? new Set(samples.filter((s) => isShort(s.raw))) : null;

// Besides the splits: the real sources mixed, a third (by path hash) tested, as a held-out third of
// the same sources would be: a change that helps across sources must not cost this.
const real = samples.filter((s) => !BODY_ONLY_SOURCES.has(sourceOf(s)));
const mixed = {
  name: 'mixed real sources (1/3 test)',
  train: real.filter((s) => splitPoint(s.source) >= 1 / 3),
  test: real.filter((s) => splitPoint(s.source) < 1 / 3),
};
const trainings = (split: { name: string; train: typeof samples; test: typeof samples }) =>
  Number.isFinite(trainCap)
    ? [split, { ...split, name: `${split.name} cap`, train: cappedTraining(split.train, trainCap) }]
    : [split];
for (const split of [...losoSplits(samples), mixed].flatMap(trainings)) {
  if (only && !split.name.includes(only)) continue;
  const totals = { spam: 0, ham: 0 };
  for (const s of split.train) totals[s.class]++;
  const countsBy = new Map<string, Map<string, [number, number]>>();
  const countsFor = (drop = '') => {
    let counts = countsBy.get(drop);
    if (counts) return counts;
    counts = new Map();
    const dropped = drop ? new RegExp(drop) : null;
    for (const s of split.train) {
      const k = s.class === 'spam' ? 0 : 1;
      for (const t of s.tokens) {
        if (dropped?.test(t)) continue;
        const c = counts.get(t) ?? [0, 0];
        c[k]++;
        counts.set(t, c);
      }
    }
    countsBy.set(drop, counts);
    return counts;
  };
  for (const v of variants) {
    const o = { ...DEFAULT_BAYES, ...v };
    const counts = countsFor(v.drop);
    const dropped = v.drop ? new RegExp(v.drop) : null;
    const tokensOf = (s: { tokens: string[] }) => (dropped ? s.tokens.filter((t) => !dropped.test(t)) : s.tokens);
    // The head's length among the tokens kept (tokenize.ts headLength).
    const headOf = (s: { tokens: string[]; head: number }) => tokensOf({ tokens: s.tokens.slice(0, s.head) }).length;
    const probabilityOf = (t: string) => tokenProbability(...(counts.get(t) ?? [0, 0]), totals.spam, totals.ham, o);
    const scored = split.test.map((s) => {
      const verdict = bayesVerdict(tokensOf(s), probabilityOf, o, headOf(s));
      return {
        spam: s.class === 'spam',
        score: countedHits([
          ...s.hits.map((h) => ({
            rule: h.rule,
            score: (v.ruleScores?.[h.rule] ?? h.score) * (v.ruleScale ?? 1),
            description: '',
          })),
          {
            rule: 'BAYES',
            score: verdict.score,
            scoreAlone: verdict.scoreAlone,
            notCorroboratedBy: verdict.echoedRules,
            description: '',
          },
        ]).score,
        p: verdict.probability ?? 0.5,
        clues: verdict.clues.length,
      };
    });
    const describe = (s: (typeof split.test)[number], v: ReturnType<typeof bayesVerdict>, clues: number) =>
      `  ${s.class} p=${v.probability.toFixed(3)} rules=${rulePoints(s.hits)} ${s.source}\n     ${v.clues
        .slice(0, clues)
        .map((c) => `${c.token}=${c.probability.toFixed(2)}[${(counts.get(c.token) ?? [0, 0]).join('/')}]`)
        .join('  ')}`;
    for (const s of split.test)
      if (shown.some((suffix) => s.source.endsWith(suffix)))
        console.log(describe(s, bayesVerdict(tokensOf(s), probabilityOf, o), o.maxDiscriminators));
    if (cluesOf) {
      // The strongest clues of the spam Bayes called hammiest and the ham it called spammiest.
      const worst = (cls: 'spam' | 'ham') =>
        split.test
          .filter((s) => s.class === cls)
          .map((s) => ({ s, v: bayesVerdict(tokensOf(s), probabilityOf, o) }))
          .sort((a, b) => (cls === 'spam' ? a.v.probability - b.v.probability : b.v.probability - a.v.probability))
          .slice(0, cluesOf);
      for (const cls of ['spam', 'ham'] as const) for (const { s, v } of worst(cls)) console.log(describe(s, v, 14));
    }
    for (const [i, x] of scored.entries()) {
      const s = split.test[i]!;
      if (short && !short.has(s)) continue;
      if (x.spam ? args.includes('--fn') && x.score < JUNK : args.includes('--fp') && x.score >= JUNK)
        console.log(
          `  ${s.class} ${x.score} p=${x.p.toFixed(3)} clues=${x.clues} ${s.source} ${s.hits.map((h) => h.rule).join(' ')}`,
        );
    }
    const r = summary(
      scored.map((x) => ({ spam: x.spam, score: x.score })),
      JUNK,
    );
    const b = summary(
      scored.map((x) => ({ spam: x.spam, score: x.p })),
      JUNK,
    );
    const row = (name: string, label: string, r: ReturnType<typeof summary>, b: ReturnType<typeof summary>) =>
      console.log(
        `${name.replace('spamassassin-publiccorpus', 'SA public').slice(0, 34).padEnd(34)} ${label.slice(0, 62).padEnd(62)} caught ${pct(r.caught).padStart(7)} ham ${pct(r.fp).padStart(6)} | ≤0.5%: ${pct(r.atTarget).padStart(7)} AUC ${r.auc.toFixed(4)} | bayes ≤0.5%: ${pct(b.atTarget).padStart(7)} AUC ${b.auc.toFixed(4)}`,
      );
    row(split.name, JSON.stringify(v), r, b);
    if (short) {
      const picked = scored.filter((_, i) => short.has(split.test[i]!));
      const spam = picked.filter((x) => x.spam).length;
      const label = `  short: ${spam} spam + ${picked.length - spam} ham`;
      row(
        split.name,
        label,
        summary(picked, JUNK),
        summary(
          picked.map((x) => ({ spam: x.spam, score: x.p })),
          JUNK,
        ),
      );
    }
  }
}

function rulePoints(hits: { rule: string; score: number }[], scores: Record<string, number> = {}): number {
  return hits.reduce((sum, h) => sum + (scores[h.rule] ?? h.score), 0);
}
