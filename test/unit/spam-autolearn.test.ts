// Auto-learning's decision (src/spam/autolearn.ts): SpamAssassin's thresholds with header and body
// points apart, ham only when Bayes agrees, and rspamd's balance between the classes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { metrics } from '../../src/metrics/registry.ts';
import { autoLearnClass, createAutoLearner } from '../../src/spam/autolearn.ts';
import { FEATURES } from '../../src/spam/content/features.ts';
import { BODY_RULES } from '../../src/spam/rules.ts';
import { Store } from '../../src/store/index.ts';
import { SERVER_SCOPE } from '../../src/store/spam.ts';
import { makeMessage } from '../helpers/tmp.ts';

const balanced = { spam: 500, ham: 500 };
const hit = (rule: string, score: number) => ({ rule, score });
// 6.5 header points (rules.ts) and 6 body points (content features).
const sure = [
  hit('FAKE_REPLY', 2),
  hit('MUA_FORGED_OUTLOOK', 2.5),
  hit('MSGID_INVALID', 2),
  hit('URI_TEXT_MISMATCH', 3),
  hit('HTML_HIDDEN_TEXT', 1.5),
  hit('OBFUSCATED_WORDS', 2.5),
];

test('body points: the content features and the rules marked as reading the text; the rest read the header', () => {
  for (const rule of [...Object.keys(FEATURES), 'GTUBE', 'GREETS_RECIPIENT_ADDRESS', 'GREETS_RECIPIENT_DOMAIN_USER'])
    assert.ok(BODY_RULES.has(rule), rule);
  for (const rule of ['SPF_FAIL', 'FAKE_REPLY', 'SUBJECT_NAMES_RECIPIENT', 'MUA_OUTLOOK_BARE_TO'])
    assert.not.ok(BODY_RULES.has(rule), rule);
  // 14.5 points, all of rules that read the text and none of the header: not sure enough to learn.
  const bodyOnly = [hit('GREETS_RECIPIENT_ADDRESS', 1.5), hit('GREETS_RECIPIENT_DOMAIN_USER', 1.5), ...sure.slice(3)];
  assert.is(
    autoLearnClass([...bodyOnly, hit('URI_IP_HOST', 2), hit('HTML_IMAGE_LEADS_TEXT', 2.5)], 0.5, balanced),
    null,
  );
});

test('spam: 12 points without Bayes, 3 of them header and 3 body', () => {
  assert.is(autoLearnClass(sure, 0.5, balanced), 'spam');
  // The Bayes hit is not counted: 11.5 rule points and a BAYES_99 are not enough.
  const short = [...sure.slice(0, 5), hit('BAYES_99', 5.5)];
  assert.is(autoLearnClass(short, 0.995, balanced), null);
  // 13 header points and no body points: SpamAssassin's 3 body points are missing.
  assert.is(
    autoLearnClass(
      [hit('SPF_FAIL', 3.5), hit('DMARC_FAIL', 3.5), hit('FAKE_REPLY', 2), hit('MSGID_INVALID', 4)],
      0.5,
      balanced,
    ),
    null,
  );
  // Body points alone: no header points.
  assert.is(autoLearnClass([hit('GTUBE', 1000)], 0.5, balanced), null);
});

test('ham: at most 0.1 points without Bayes, and Bayes speaks and says at most 0.2', () => {
  assert.is(autoLearnClass([], 0.05, balanced), 'ham');
  assert.is(autoLearnClass([hit('BAYES_00', -3)], 0.001, balanced), 'ham');
  // Spam the rules miss: Bayes is unsure or leans spam, so it is not learned as ham.
  assert.is(autoLearnClass([], 0.35, balanced), null);
  assert.is(autoLearnClass([], null, balanced), null, 'Bayes abstained');
  assert.is(autoLearnClass([hit('MISSING_DATE', 1)], 0.01, balanced), null);
});

test('balance: a class is not learned while the model holds more than (other + 1) / 0.9 of it', () => {
  assert.is(autoLearnClass([], 0.01, { spam: 1265, ham: 2769 }), null, 'ham outnumbers spam');
  assert.is(autoLearnClass(sure, 0.5, { spam: 2769, ham: 1265 }), null, 'spam outnumbers ham');
  assert.is(autoLearnClass(sure, 0.5, { spam: 1265, ham: 2769 }), 'spam', 'the smaller class is learned');
  assert.is(autoLearnClass([], 0.01, { spam: 100, ham: 112 }), 'ham', 'within the ratio');
  assert.is(autoLearnClass(sure, 0.5, { spam: 0, ham: 0 }), 'spam', 'a new model learns');
});

test('the learner writes a batch after its delay, and flush writes what is queued', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wrenmail-autolearn-'));
  const store = await Store.open(dir);
  try {
    const errors: unknown[] = [];
    const learner = createAutoLearner(store, {}, (err) => errors.push(err), 20);
    learner.offer(makeMessage({ subject: 'qwzx offer', body: 'qwzx pills\r\n' }), 'spam');
    learner.offer(makeMessage({ subject: 'meeting notes', body: 'see you at ten\r\n' }), 'ham');
    const model = await store.spam.model(SERVER_SCOPE);
    assert.equal(model.totals, { spam: 0, ham: 0 }, 'nothing written on offer');
    // Written by the timer alone (no flush); a loaded machine may take longer than the 20 ms delay.
    for (let waited = 0; model.totals.spam + model.totals.ham < 2 && waited < 5000; waited += 20)
      await new Promise((r) => setTimeout(r, 20));
    assert.equal(model.totals, { spam: 1, ham: 1 }, 'one batch after the delay');
    learner.offer(makeMessage({ subject: 'another qwzx', body: 'qwzx again\r\n' }), 'spam');
    await learner.flush();
    assert.equal(model.totals, { spam: 2, ham: 1 });
    assert.equal(errors, []);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the learner holds at most its limit of offers; the rest are dropped and counted', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wrenmail-autolearn-'));
  const store = await Store.open(dir);
  try {
    const dropped = async () =>
      (await metrics.registry.getSingleMetric('wrenmail_spam_autolearn_total')!.get()).values.find(
        (v) => v.labels.class === 'spam' && v.labels.outcome === 'dropped',
      )?.value ?? 0;
    const before = await dropped();
    const learner = createAutoLearner(store, {}, () => {}, 10_000, 3);
    for (let i = 0; i < 5; i++) learner.offer(makeMessage({ subject: `offer ${i}`, body: `qwzx ${i}\r\n` }), 'spam');
    assert.is((await dropped()) - before, 2, 'two over the limit of three');
    await learner.flush();
    assert.equal((await store.spam.model(SERVER_SCOPE)).totals, { spam: 3, ham: 0 });
    learner.offer(makeMessage({ subject: 'after the write', body: 'qwzx\r\n' }), 'spam');
    await learner.flush();
    assert.is((await store.spam.model(SERVER_SCOPE)).totals.spam, 4, 'room again once written');
    assert.is((await dropped()) - before, 2);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
