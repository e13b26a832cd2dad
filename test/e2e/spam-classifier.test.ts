// The Bayesian classifier learns from real mail: the in-repo labelled spam and ham (Apache
// SpamAssassin's test messages, test/fixtures/spamassassin) in three folds by a hash of each path;
// each fold is classified by a model trained on the other two, through a real store and the same
// bulk-training batches the CLI uses, so every message is held out once. A message counts as caught
// when the classifier's points alone reach the default Junk threshold (5). The set is small (about
// 60 messages), so the model is allowed to decide with that little training; accuracy over the full
// shared corpus is a bench (bench/spam.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { loadCorpus, pct, rates, splitPoint, type Confusion, type Sample } from '../../bench/spam-corpus.ts';
import { classify, trainMany } from '../../src/spam/classifier.ts';
import { Store } from '../../src/store/index.ts';
import { SPAM_FIXTURES } from '../helpers/fixtures.ts';
import { tempDir } from '../helpers/tmp.ts';

const FOLDS = 3;
const JUNK_SCORE = 5;
const dir = tempDir('wrenmail-spam-classifier-');
const fold = (s: Sample): number => Math.floor(splitPoint(s.source) * FOLDS);
let samples: Sample[] = [];

test.before(async () => {
  samples = await loadCorpus(0, SPAM_FIXTURES);
});
test.after(() => dir.remove());

test('the fixtures are labelled real mail, below the default training minimum', async () => {
  const spam = samples.filter((s) => s.class === 'spam').length;
  const ham = samples.filter((s) => s.class === 'ham').length;
  assert.ok(spam >= 15 && ham >= 40, `${spam} spam, ${ham} ham`);
  for (let k = 0; k < FOLDS; k++)
    assert.ok(samples.filter((s) => fold(s) === k && s.class === 'spam').length >= 3, `spam in fold ${k}`);
  // With the defaults (200 of each) the classifier abstains rather than guess from so little.
  const store = await Store.open(join(dir.path, 'defaults'));
  await trainMany(
    store,
    samples.map((s) => ({ input: s.raw, class: s.class })),
  );
  const v = await classify(store, samples[0]!.raw);
  await store.close();
  assert.is(v.probability, null);
  assert.is(v.score, 0);
  assert.match(v.reason ?? '', `not enough training: ${spam} spam and ${ham} ham`);
});

test('held-out spam is junked and held-out ham is not (3-fold cross-validation)', async () => {
  const c: Confusion = { spam: 0, ham: 0, caught: 0, falsePositives: 0, unsureSpam: 0, unsureHam: 0 };
  const verdicts: { cls: Sample['class']; probability: number; source: string; score: number }[] = [];
  for (let k = 0; k < FOLDS; k++) {
    const training = samples.filter((s) => fold(s) !== k);
    const store = await Store.open(join(dir.path, `fold${k}`));
    await trainMany(
      store,
      training.map((s) => ({ input: s.raw, class: s.class })),
    );
    const minimum = {
      minSpam: training.filter((s) => s.class === 'spam').length,
      minHam: training.filter((s) => s.class === 'ham').length,
    };
    for (const s of samples.filter((x) => fold(x) === k)) {
      const v = await classify(store, s.raw, minimum);
      assert.ok(v.probability !== null, `${s.source}: ${v.reason}`);
      verdicts.push({ cls: s.class, probability: v.probability, source: s.source, score: v.score });
      const junk = v.score >= JUNK_SCORE;
      if (s.class === 'spam') {
        c.spam++;
        if (junk) c.caught++;
      } else {
        c.ham++;
        if (junk) c.falsePositives++;
      }
    }
    await store.close();
  }
  // Ranking quality: the chance a random held-out spam gets a higher probability than a random ham.
  let pairs = 0;
  let ordered = 0;
  for (const s of verdicts) {
    if (s.cls !== 'spam') continue;
    for (const h of verdicts) {
      if (h.cls !== 'ham') continue;
      pairs++;
      ordered += s.probability > h.probability ? 1 : s.probability === h.probability ? 0.5 : 0;
    }
  }
  const auc = ordered / pairs;
  const r = rates(c);
  console.log(
    `  held out: ${c.spam} spam, ${c.ham} ham; caught ${c.caught} (${pct(r.catchRate)}), ham junked ${c.falsePositives} (${pct(r.falsePositiveRate)}), ROC AUC ${auc.toFixed(3)}`,
  );
  for (const v of verdicts)
    if (v.score >= JUNK_SCORE !== (v.cls === 'spam'))
      console.log(`    wrong: ${v.source} p=${v.probability.toFixed(3)} score ${v.score}`);
  // Measured at 0.87, 11 of 19 caught, 2 of 43 ham junked: the bounds leave room for tokenizer
  // changes, and a model that learned nothing (AUC near 0.5) or backwards fails them.
  assert.ok(auc >= 0.8, `ROC AUC ${auc.toFixed(3)}`);
  assert.ok(r.catchRate >= 0.45, `spam caught ${pct(r.catchRate)}`);
  assert.ok(r.falsePositiveRate <= 0.08, `ham junked ${pct(r.falsePositiveRate)}`);
});

test.run();
