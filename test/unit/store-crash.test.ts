import { spawn } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Store } from '../../src/store/index.ts';
import { tempDir } from '../helpers/tmp.ts';

test('kill -9 mid-load: every acknowledged delivery survives and counters are consistent', async () => {
  const dir = tempDir();
  const acked = new Map<number, Set<number>>();
  let accountId = '';
  const child = spawn(process.execPath, [new URL('../helpers/store-load.ts', import.meta.url).pathname, dir.path], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let buffer = '';
  let total = 0;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('child never reached 1500 acks')), 60_000);
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop()!;
      for (const line of lines) {
        const [kind, a, b] = line.split(' ');
        if (kind === 'ready') accountId = a!;
        if (kind !== 'ack') continue;
        const folder = Number(a);
        if (!acked.has(folder)) acked.set(folder, new Set());
        acked.get(folder)!.add(Number(b));
        if (++total === 1500) {
          child.kill('SIGKILL');
          clearTimeout(timer);
          resolve();
        }
      }
    });
    child.on('exit', () => resolve());
  });
  await new Promise((r) => child.once('exit', r).once('close', r));
  assert.ok(total >= 1500, `the child acknowledged ${total} deliveries before it was killed`);

  const store = await Store.open(dir.path);
  try {
    let stored = 0;
    const refs = new Map<string, number>();
    for (const folder of store.folders.list(accountId)) {
      const messages = await store.messages.list(folder.id);
      stored += messages.length;
      const uids = new Set(messages.map((m) => m.uid));
      for (const uid of acked.get(folder.id) ?? [])
        assert.ok(uids.has(uid), `acknowledged UID ${uid} in ${folder.name} is missing`);
      assert.is(folder.exists, messages.length, `${folder.name}: EXISTS matches the stored messages`);
      assert.is(
        folder.size,
        messages.reduce((n, m) => n + m.size, 0),
      );
      const maxUid = Math.max(0, ...messages.map((m) => m.uid));
      assert.ok(folder.uidNext > maxUid, `${folder.name}: UIDNEXT ${folder.uidNext} above every UID (${maxUid})`);
      assert.ok(folder.highestModSeq >= Math.max(0, ...messages.map((m) => m.modseq)));
      for (const m of messages) refs.set(m.blob, (refs.get(m.blob) ?? 0) + 1);
    }
    for (const [sha, count] of refs) {
      assert.is(await store.blobs.load(sha), count, `refcount of ${sha.slice(0, 8)} matches its references`);
      assert.ok((await store.kv.getBytes(`b/${sha}/0000`)) !== undefined, 'every referenced blob is there');
    }
    assert.ok(stored >= total, `stored ${stored} >= acknowledged ${total}`);
  } finally {
    await store.close();
    dir.remove();
  }
});

test.run();
