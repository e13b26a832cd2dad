// POST /api/v1/spam/train/{spam|ham} and /spam/classify: training changes the model (once per message),
// classification names the rules that fired, and keys without spam.* permissions are refused.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startApi, type ApiFixture } from '../helpers/api.ts';
import { makeMessage } from '../helpers/tmp.ts';

let api: ApiFixture;
test.before(async () => {
  api = await startApi();
});
test.after(() => api.close());

const spammy = makeMessage({
  subject: 'FREE MONEY WAITING FOR YOU NOW',
  body: 'Click http://cheap.example/ for qwertyprize\r\n',
}).toString();

test('train as spam, again (no double count), then as ham (moved)', async () => {
  const first = await api.call('POST', '/spam/train/spam', { body: { message: spammy } });
  assert.is(first.status, 200, first.text);
  assert.equal(first.body.data, {
    class: 'spam',
    trained: true,
    moved: false,
    unchanged: false,
    totals: { spam: 1, ham: 0 },
  });
  const again = await api.call('POST', '/spam/train/spam', { body: { message: spammy } });
  assert.equal(again.body.data.totals, { spam: 1, ham: 0 });
  assert.is(again.body.data.unchanged, true);
  const ham = await api.call('POST', '/spam/train/ham', { body: { message: spammy } });
  assert.equal(ham.body.data, {
    class: 'ham',
    trained: false,
    moved: true,
    unchanged: false,
    totals: { spam: 0, ham: 1 },
  });
});

test('classify: score, verdict and the rules that fired; the Bayes part abstains while untrained', async () => {
  const reply = await api.call('POST', '/spam/classify', { body: { message: spammy } });
  assert.is(reply.status, 200, reply.text);
  const rules = reply.body.data.rules.map((r: { rule: string }) => r.rule);
  assert.ok(rules.includes('SUBJECT_ALL_CAPS'), rules.join(','));
  assert.is(reply.body.data.bayes_probability, null);
  const gtube = await api.call('POST', '/spam/classify', {
    body: {
      message: makeMessage({
        body: 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n',
      }).toString(),
    },
  });
  assert.is(gtube.body.data.verdict, 'reject');
});

test('errors: unknown class, missing message, a key without spam permissions', async () => {
  assert.is((await api.call('POST', '/spam/train/maybe', { body: { message: spammy } })).status, 404);
  const missing = await api.call('POST', '/spam/classify', { body: {} });
  assert.is(missing.status, 400);
  const readOnly = await api.makeKey(['domain.read']);
  const denied = await api.call('POST', '/spam/train/spam', { key: readOnly, body: { message: spammy } });
  assert.is(denied.status, 403);
  assert.is(denied.body.error.code, 'insufficient_permissions');
});

test.run();
