// CPU per message of the MX pipeline's content stages on one large message, without sockets or disk:
// what `bench/compare/smtp.ts` at 100 KB and one connection spends outside the commit (issue 17). The
// message is what Postfix's smtp-source sends there (no MIME, 79-character lines of "X" after a
// counter digit); each stage runs on fresh copies, so no per-Buffer cache helps.
//   node bench/mx-stages.ts [KB] [messages] [rounds]
//   BENCH_BEFORE=DIR: the same stages from another checkout (`git worktree add DIR main`), alternating.
import { authenticate as mailauth } from 'mailauth';

const KB = Number(process.argv[2] ?? 100);
const N = Number(process.argv[3] ?? 200);
const ROUNDS = Number(process.argv[4] ?? 2);
const roots = [
  ...(process.env.BENCH_BEFORE ? [['before', process.env.BENCH_BEFORE]] : []),
  ['this', new URL('..', import.meta.url).pathname],
];

const lines: string[] = [];
for (let i = 0, size = 0; size < KB * 1024; i++, size += 81) lines.push(`${i % 10}${'X'.repeat(78)}`);
const message = Buffer.from(
  'From: <ann@sender.test>\r\nTo: <u0@wren.test>\r\nDate: Sun,  6 Dec 2026 20:24:06 +0000 (UTC)\r\n' +
    `Message-Id: <36e5.0003.0000@client.sender.test>\r\n\r\n${lines.join('\r\n')}\r\n`,
);
const noDns = async () => {
  throw Object.assign(new Error('no such name'), { code: 'ENOTFOUND' });
};
const authOptions = {
  ip: '127.0.0.1',
  helo: 'client.sender.test',
  sender: 'ann@sender.test',
  mta: 'mx',
  resolver: noDns,
};

async function cpu(fn: () => unknown): Promise<number> {
  const start = process.cpuUsage();
  await fn();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000 / N;
}

const stages = await Promise.all(
  roots.map(async ([name, root]) => {
    const { indexMessage } = await import(`${root}/src/mime/index.ts`);
    const { contentFeatures } = await import(`${root}/src/spam/content.ts`);
    const { fulltextText } = await import(`${root}/src/mime/fulltext-text.ts`);
    const auth = await import(`${root}/src/inbound/authenticate.ts`);
    // Older checkouts give mailauth the whole message.
    const authInput: (raw: Buffer) => Buffer = auth.authInput ?? ((raw: Buffer) => raw);
    return { name, indexMessage, contentFeatures, fulltextText, authInput };
  }),
);

console.log(`${KB} KB message (${message.length} bytes), ${N} copies per stage, CPU ms per message`);
for (let round = 0; round < ROUNDS; round++) {
  for (const s of stages) {
    const copies = Array.from({ length: N }, () => Buffer.from(message));
    const auth = await cpu(async () => {
      for (const c of copies) await mailauth(s.authInput(c), authOptions);
    });
    const indexes: { root: unknown }[] = [];
    const index = await cpu(() => copies.forEach((c) => indexes.push(s.indexMessage(c))));
    const features = await cpu(() => copies.forEach((c, i) => s.contentFeatures(c, indexes[i])));
    const fulltext = await cpu(() => copies.forEach((c, i) => s.fulltextText(c, indexes[i]!.root)));
    const total = auth + index + features + fulltext;
    console.log(
      `${s.name.padEnd(6)} mailauth ${auth.toFixed(3)}  index ${index.toFixed(3)}  features ${features.toFixed(3)}  fulltextText ${fulltext.toFixed(3)}  = ${total.toFixed(3)}`,
    );
  }
}
