// imapflow's own cost for a given reply, with the server taken out: a stub IMAP server answers
// imapflow's session set-up and replays a recorded FETCH reply (imapflow-client.ts BENCH_SAVE=DIR
// writes them) byte for byte in WRITE-byte writes, and imapflow's time to consume it is taken
// REPEATS times per file, the files alternating. Same bytes, same client, same pacing: what
// differs between two files is what their format costs the client.
// Usage: npx node bench/compare/imapflow-replay.ts REPEATS FILE.raw... (BENCH_WRITE, default 65536)
import { readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { basename } from 'node:path';
import { benchImapFlow, machineLine, startCpuProfile } from './common.ts';
import { imapStub } from './imap-stub.ts';

const [repeatsArg, ...files] = process.argv.slice(2);
const REPEATS = Number(repeatsArg ?? 5);
const WRITE = Number(process.env.BENCH_WRITE ?? 65536);

/** The untagged FETCH responses of a recorded reply (the lines before the first FETCH and the tagged line dropped). */
function untagged(raw: Buffer): { body: Buffer; exists: number } {
  const start = raw.indexOf('\r\n* 1 FETCH ') + 2;
  const end = raw.lastIndexOf('\r\n', raw.length - 3) + 2;
  const body = raw.subarray(start, end);
  const last = /\* (\d+) FETCH [^\r\n]*$/.exec(body.subarray(Math.max(0, body.length - 200_000)).toString('latin1'));
  const counted = body.toString('latin1').match(/\r\n\* (\d+) FETCH /g)?.length ?? 0;
  return { body, exists: Math.max(Number(last?.[1] ?? 0), counted + 1, 10_000) };
}

function stub(reply: { body: Buffer; exists: number }, socket: Socket): void {
  imapStub(
    socket,
    () => reply.exists,
    (verb, tag) => {
      if (verb !== 'FETCH' && verb !== 'UID') return false;
      for (let at = 0; at < reply.body.length; at += WRITE) socket.write(reply.body.subarray(at, at + WRITE));
      socket.write(`${tag} OK done\r\n`);
      return true;
    },
  );
}

const replies = files.map((f) => ({ name: basename(f), reply: untagged(readFileSync(f)) }));
let current = replies[0]!.reply;
const server = createServer((s) => stub(current, s));
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = (server.address() as { port: number }).port;
console.log(`before: ${machineLine()}`);
const times = new Map<string, number[]>();
const stop = await startCpuProfile(`imapflow-replay-${process.pid}`);
for (let i = 0; i < REPEATS; i++) {
  for (const { name, reply } of i % 2 ? [...replies].reverse() : replies) {
    current = reply;
    const c = benchImapFlow(port, 'u', 'p');
    await c.connect();
    await c.mailboxOpen('INBOX');
    let n = 0;
    const t = performance.now();
    for await (const m of c.fetch('1:*', { uid: true, flags: true, envelope: true, bodyStructure: true, source: true }))
      if (m.seq) n++;
    const ms = performance.now() - t;
    times.set(name, [...(times.get(name) ?? []), ms]);
    await c.logout().catch(() => c.close());
    if (i === 0) console.log(`  ${name}: ${n} messages, ${reply.body.length} bytes`);
  }
}
await stop();
server.close();
for (const [name, ms] of times) {
  const sorted = [...ms].sort((a, b) => a - b);
  console.log(
    `  ${name.padEnd(24)} median ${sorted[sorted.length >> 1]!.toFixed(0)} ms  (${ms.map((t) => t.toFixed(0)).join(' ')})`,
  );
}
console.log(`after: ${machineLine()}`);
