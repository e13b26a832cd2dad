// The Bayesian classifier on the shared corpus (../shared/corpus): trained on 60% of the spam and
// ham, tested on the other 40% (a fixed split by a hash of each file's path), through a real store
// and the same bulk-training batches the CLI uses. A message counts as caught when the classifier's
// points alone reach the default Junk threshold (5).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CORPUS_DIR, corpusAvailable, loadCorpus, pct, rates, type Confusion } from '../../bench/spam-corpus.ts';
import { classify, trainMany } from '../../src/spam/classifier.ts';
import { Store } from '../../src/store/index.ts';

const TEST_SHARE = 0.4;
const JUNK_SCORE = 5;
const tmp = mkdtempSync(join(tmpdir(), 'wrenmail-spam-corpus-'));

test('corpus: false positives under 1%, over 90% of spam caught', async () => {
  assert.ok(corpusAvailable(), `corpus at ${CORPUS_DIR}`);
  const samples = await loadCorpus(TEST_SHARE);
  const training = samples.filter((s) => !s.test);
  const testing = samples.filter((s) => s.test);
  assert.ok(testing.length >= 1000 && training.length >= 1000, `split ${training.length}/${testing.length}`);
  const store = await Store.open(join(tmp, 'db'));
  let started = Date.now();
  for (let i = 0; i < training.length; i += 200) {
    await trainMany(store, training.slice(i, i + 200).map((s) => ({ input: s.raw, class: s.class })));
  }
  const trainMs = Date.now() - started;
  const c: Confusion = { spam: 0, ham: 0, caught: 0, falsePositives: 0, unsureSpam: 0, unsureHam: 0 };
  const bySource = new Map<string, { n: number; wrong: number }>();
  started = Date.now();
  for (const s of testing) {
    const v = await classify(store, s.raw);
    assert.ok(v.probability !== null, 'trained past the minimum');
    const junk = v.score >= JUNK_SCORE;
    if (s.class === 'spam') {
      c.spam++;
      if (junk) c.caught++;
    } else {
      c.ham++;
      if (junk) c.falsePositives++;
    }
    if (v.score === 0) s.class === 'spam' ? c.unsureSpam++ : c.unsureHam++;
    const source = `${s.source.split('/').slice(0, 2).join('/')}`;
    const entry = bySource.get(source) ?? { n: 0, wrong: 0 };
    entry.n++;
    if (junk !== (s.class === 'spam')) entry.wrong++;
    bySource.set(source, entry);
  }
  const classifyMs = Date.now() - started;
  await store.close();
  const r = rates(c);
  console.log(`\n  spam corpus: trained ${training.length} (${trainMs} ms), tested ${testing.length} (${(classifyMs / testing.length).toFixed(2)} ms each)`);
  console.log(`  test: ${c.spam} spam, ${c.ham} ham; accuracy ${pct(r.accuracy)}, false positives ${pct(r.falsePositiveRate)} (${c.falsePositives} ham junked), false negatives ${pct(r.falseNegativeRate)}, caught ${pct(r.catchRate)}; unsure (0 points): ${c.unsureSpam} spam, ${c.unsureHam} ham`);
  for (const [source, e] of bySource) console.log(`    ${source.padEnd(40)} ${String(e.n).padStart(5)} messages, ${pct(e.wrong / e.n)} wrong`);
  assert.ok(r.falsePositiveRate < 0.01, `false-positive rate ${pct(r.falsePositiveRate)}`);
  assert.ok(r.catchRate > 0.9, `spam catch rate ${pct(r.catchRate)}`);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
