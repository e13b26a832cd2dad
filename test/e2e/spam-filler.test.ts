// Spam padded with filler (issue 18): a pitch, then prose Bayes knows from ham. Over HTTP, through a server
// whose model was trained through the API, the filler buys the pitch no ham points, while a letter whose first
// lines read as ham keeps them (bayesVerdict's head, tokenize.ts HEAD_WORDS).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { bootstrapKeyPath } from '../../src/bootstrap.ts';
import { startInstance, type Instance } from '../helpers/instance.ts';
import { makeMessage } from '../helpers/tmp.ts';

let instance: Instance;
let key: string;

test.before(async () => {
  instance = await startInstance({ overrides: { spam: { bayes_min_spam: 10, bayes_min_ham: 10 } } });
  key = readFileSync(bootstrapKeyPath(instance.config.data_dir), 'utf8').trim();
});
test.after(() => instance?.stop());

async function post(path: string, message: string): Promise<Record<string, unknown>> {
  const r = await fetch(`http://127.0.0.1:${instance.port('http')}/api/v1${path}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ message }),
  });
  assert.is(r.status, 200, await r.clone().text());
  return ((await r.json()) as { data: Record<string, unknown> }).data;
}

const PITCH = 'Symbol ZXQT shares rising fast, strong buy this week, huge promotion, target price doubles soon';
const PROSE = [
  'The sheep trucks and horse trailers came up the mountain road in the early morning light',
  'Ennis looked across the valley at the herd grazing below the ridge near the creek',
  'They fended off the night for a while with the fire and the bottle between them',
  'Jack came lagging in late one evening with the mule and a torn saddle blanket',
  'During the day the wind moved through the pines and the dogs slept under the wagon',
];

test('filler after a pitch buys it no ham points; a letter that reads as ham from its first lines keeps them', async () => {
  for (let i = 0; i < 12; i++) {
    await post('/spam/train/spam', makeMessage({ subject: `Stock alert ${i}`, body: `${PITCH} ${i}\r\n` }).toString());
    await post(
      '/spam/train/ham',
      makeMessage({
        subject: `Chapter ${i}`,
        body: `${PROSE[i % PROSE.length]} ${i}\r\n${PROSE.join('. ')}\r\n`,
      }).toString(),
    );
  }
  const bayesOf = (data: Record<string, unknown>) => {
    const hit = (data.rules as { rule: string; score: number }[]).find((r) => r.rule.startsWith('BAYES_'));
    assert.ok(hit, JSON.stringify(data));
    return { p: data.bayes_probability as number, points: hit!.score };
  };
  const filler = `${PROSE.join('. ')}.\r\n`.repeat(4);
  const padded = bayesOf(
    await post('/spam/classify', makeMessage({ subject: 'Hot tip', body: `${PITCH}\r\n\r\n${filler}` }).toString()),
  );
  assert.ok(padded.p < 0.2, `the filler reads as ham to Bayes: ${padded.p}`);
  assert.is(padded.points, 0, 'but its head (the pitch) does not, so no ham points');
  const letter = bayesOf(
    await post('/spam/classify', makeMessage({ subject: 'Hot tip', body: `${filler}\r\n${PITCH}\r\n` }).toString()),
  );
  assert.ok(letter.p < 0.2, `${letter.p}`);
  assert.ok(letter.points < 0, `a letter whose first lines read as ham keeps its ham points: ${letter.points}`);
});

test.run();
