// Durable deliveries per second (4 KB messages) into one folder and into 100 folders, with 1, 10 and
// 100 concurrent writers, group commit on and off; and this disk's raw fsyncs per second as the ceiling.
// Each run is bounded: at most MAX_MESSAGES deliveries or MAX_SECONDS, whichever comes first.
// TEST_STORE_ENGINE=postgres runs it on a private PostgreSQL cluster (test/helpers/postgres.ts) instead of LevelDB.
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Folder } from '../src/store/index.ts';
import { openTestStore, TEST_ENGINE } from '../test/helpers/store.ts';
import { makeMessage, tempDir } from '../test/helpers/tmp.ts';

const MAX_MESSAGES = Number(process.env.BENCH_MESSAGES ?? 3000);
const MAX_SECONDS = Number(process.env.BENCH_SECONDS ?? 5);

function fsyncsPerSecond(dir: string): number {
  const fd = openSync(join(dir, 'fsync-probe'), 'w');
  const block = Buffer.alloc(4096, 1);
  const started = performance.now();
  let n = 0;
  while (performance.now() - started < 2000 && n < 20_000) {
    writeSync(fd, block);
    fsyncSync(fd);
    n++;
  }
  closeSync(fd);
  return n / ((performance.now() - started) / 1000);
}

async function run(
  groupCommit: boolean,
  writers: number,
  folderCount: number,
): Promise<{ rate: number; fsyncs: number; n: number }> {
  const dir = tempDir('wrenmail-bench-');
  const store = await openTestStore(dir.path, { groupCommit });
  const team = await store.teams.create('bench');
  const folders: Folder[] = [];
  for (let i = 0; folders.length < folderCount; i++) {
    const account = await store.accounts.create({ teamId: team.id, address: `u${i}@bench.test` });
    folders.push(...store.folders.list(account.id));
  }
  folders.length = folderCount;
  const messages = Array.from({ length: 200 }, (_, i) =>
    makeMessage({ bytes: 4096, subject: `bench ${i}`, id: `${i}@bench` }),
  );
  const batchesBefore = store.kv.committer.stats.batches;
  let sent = 0;
  const started = performance.now();
  const deadline = started + MAX_SECONDS * 1000;
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      while (sent < MAX_MESSAGES && performance.now() < deadline) {
        const i = sent++;
        // distinct content per delivery: dedup would otherwise skip the blob write
        const raw = Buffer.concat([messages[i % messages.length]!, Buffer.from(`\r\n${w}-${i}\r\n`)]);
        await store.deliver(raw, [{ folder: folders[i % folders.length]! }]);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const fsyncs = store.kv.committer.stats.batches - batchesBefore;
  await store.close();
  dir.remove();
  return { rate: sent / seconds, fsyncs: fsyncs / seconds, n: sent };
}

const probe = tempDir('wrenmail-fsync-');
const ceiling = fsyncsPerSecond(probe.path);
probe.remove();
console.log(`engine: ${TEST_ENGINE}`);
console.log(`disk: ${ceiling.toFixed(0)} fsyncs/s (4 KB append + fsync, 2 s)`);
console.log('group commit | folders | writers | deliveries/s | fsyncs/s | messages');
for (const groupCommit of [true, false]) {
  for (const folders of [1, 100]) {
    for (const writers of [1, 10, 100]) {
      const r = await run(groupCommit, writers, folders);
      console.log(
        `${groupCommit ? 'on ' : 'off'}          | ${String(folders).padStart(7)} | ${String(writers).padStart(7)} | ${r.rate.toFixed(0).padStart(12)} | ${r.fsyncs.toFixed(0).padStart(8)} | ${r.n}`,
      );
    }
  }
}
