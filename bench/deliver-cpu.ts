// CPU per durable delivery of one large message into the store alone (no sockets, no DNS, no spam):
// the commit part of `bench/compare/smtp.ts` at 100 KB and one connection (issue 17). Deliveries go
// one after the other (one writer, fsync each) into ten INBOXes, with the MIME index computed before
// timing as the MX hands it over; then the full-text word runs those deliveries scheduled are built
// (`fulltext.catchUp`) and timed apart. CPU is this process's, all threads (LevelDB's own included).
// The message is what Postfix's smtp-source sends (79-character lines of "X" after a counter digit),
// as in bench/mx-stages.ts.
//   node bench/deliver-cpu.ts [KB (100)] [messages (300)] [rounds (2)]
//   BENCH_BEFORE=DIR: the same from another checkout (`git worktree add DIR main`), alternating.
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const KB = Number(process.argv[2] ?? 100);
const N = Number(process.argv[3] ?? 300);
const ROUNDS = Number(process.argv[4] ?? 2);
const roots = [
  ...(process.env.BENCH_BEFORE ? [['before', process.env.BENCH_BEFORE]] : []),
  ['this', new URL('..', import.meta.url).pathname],
] as const;

function message(n: number): Buffer {
  const lines: string[] = [];
  for (let i = 0, size = 0; size < KB * 1024; i++, size += 81) lines.push(`${i % 10}${'X'.repeat(78)}`);
  return Buffer.from(
    `From: <ann@sender.test>\r\nTo: <u0@wren.test>\r\nDate: Sun,  6 Dec 2026 20:24:06 +0000 (UTC)\r\n` +
      `Message-Id: <${n}.0003.0000@client.sender.test>\r\n\r\n${lines.join('\r\n')}\r\n`,
  );
}

const cpuMs = (since: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
};

async function run(root: string): Promise<string> {
  const { Store } = (await import(join(root, 'src/store/index.ts'))) as typeof import('../src/store/index.ts');
  const { indexMessage } = (await import(join(root, 'src/mime/index.ts'))) as typeof import('../src/mime/index.ts');
  const dir = await mkdtemp(join(tmpdir(), 'wren-deliver-cpu-'));
  const store = await Store.open(dir);
  try {
    const team = await store.teams.create('bench');
    await store.domains.create(team.id, 'wren.test');
    const account = await store.accounts.create({ teamId: team.id, address: 'u0@wren.test' });
    const inbox = store.folders.byName(account.id, 'INBOX')!;
    const raws = Array.from({ length: N }, (_, n) => message(n));
    const indexes = raws.map((raw) => indexMessage(raw));
    const started = performance.now();
    const cpu = process.cpuUsage();
    for (let n = 0; n < N; n++) await store.deliver(raws[n]!, [{ folder: inbox }], { index: indexes[n] });
    const deliverMs = cpuMs(cpu);
    const seconds = (performance.now() - started) / 1000;
    const runsCpu = process.cpuUsage();
    await store.fulltext.catchUp(inbox.id);
    const runsMs = cpuMs(runsCpu);
    return `${(deliverMs / N).toFixed(2)} ms CPU/delivery, ${(N / seconds).toFixed(0)} deliveries/s; word runs left ${(runsMs / N).toFixed(2)} ms CPU/message; sum ${((deliverMs + runsMs) / N).toFixed(2)}`;
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(
  `${N} deliveries of ${KB} KB per run, one writer; load ${(await import('node:os')).loadavg()[0]!.toFixed(2)}`,
);
for (let round = 1; round <= ROUNDS; round++)
  for (const [name, root] of roots) console.log(`round ${round} ${name.padEnd(6)} ${await run(root)}`);
