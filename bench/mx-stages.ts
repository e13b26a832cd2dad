// CPU per message of the MX pipeline's content stages on one large message, without sockets or disk:
// what `bench/compare/smtp.ts` at 100 KB and one connection spends outside the commit (issue 17). The
// message is what Postfix's smtp-source sends there (no MIME, 79-character lines of "X" after a
// counter digit); each stage runs on fresh copies, so no per-Buffer cache helps. The first stage,
// "DATA", is the bytes as they come off the socket (64 KB reads) through smtp-server's parser and
// readMessage to the Buffer the store gets, trace fields prepended.
//   node bench/mx-stages.ts [KB] [messages] [rounds]
//   BENCH_BEFORE=DIR: the same stages from another checkout (`git worktree add DIR main`), alternating.
import { authenticate as mailauth } from 'mailauth';
import { SMTPStream } from 'smtp-server/lib/smtp-stream.js';

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
// On the wire: dot-stuffed (RFC 5321 §4.5.2), then the "." line.
const wire = Buffer.from(`${message.toString('latin1').replace(/^\./gm, '..')}.\r\n`, 'latin1');
const TRACE =
  'Received: from client.sender.test (client.sender.test [127.0.0.1])\r\n\tby mx.wren.test (Wren Mail) with ESMTP id a.1\r\n\tfor <u0@wren.test>; Sun, 6 Dec 2026 20:24:06 +0000\r\n' +
  'Authentication-Results: mx.wren.test; spf=pass smtp.mailfrom=sender.test; dkim=none; dmarc=pass header.from=sender.test\r\n' +
  'X-Spam-Score: 0.0\r\n';
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
    // Checkouts from before src/spam/content/ (branch spamsplit) have the features in one file.
    const { contentFeatures } = await import(`${root}/src/spam/content/index.ts`).catch(
      () => import(`${root}/src/spam/content.ts`),
    );
    const { fulltextText } = await import(`${root}/src/mime/fulltext-text.ts`);
    const auth = await import(`${root}/src/inbound/authenticate.ts`);
    // Older checkouts give mailauth the whole message, read DATA with smtp-server's own loop and copy
    // the message after the trace fields.
    const authInput: (raw: Buffer) => Buffer = auth.authInput ?? ((raw: Buffer) => raw);
    const server = await import(`${root}/src/smtp/server.ts`);
    const prepend = await import(`${root}/src/mime/prepend.ts`);
    const fastDataStream: <T>(parser: T) => T = server.fastDataStream ?? ((parser) => parser);
    const prependFields: (fields: string, raw: Buffer) => Buffer =
      prepend.prependFields ?? ((fields, raw) => Buffer.concat([Buffer.from(fields, 'utf8'), raw]));
    const readData = async (): Promise<Buffer> => {
      const parser = fastDataStream(new SMTPStream());
      parser.oncommand = () => undefined;
      const reading = server.readMessage(parser.startDataMode(Infinity), 1 << 30, 4096); // mx.ts's room
      for (let at = 0; at < wire.length; at += 65536) {
        const chunk = wire.subarray(at, at + 65536);
        // The last write waits for continue() (the reply), which the MX sends after storing.
        if (at + 65536 >= wire.length) parser._write(chunk, 'buffer', () => undefined);
        else await new Promise((resolve) => parser._write(chunk, 'buffer', resolve));
      }
      return prependFields(TRACE, (await reading).raw);
    };
    return { name, indexMessage, contentFeatures, fulltextText, authInput, readData };
  }),
);

console.log(`${KB} KB message (${message.length} bytes), ${N} copies per stage, CPU ms per message`);
for (let round = 0; round < ROUNDS; round++) {
  for (const s of stages) {
    const data = await cpu(async () => {
      for (let i = 0; i < N; i++) await s.readData();
    });
    const copies = Array.from({ length: N }, () => Buffer.from(message));
    const auth = await cpu(async () => {
      for (const c of copies) await mailauth(s.authInput(c), authOptions);
    });
    const indexes: { root: unknown }[] = [];
    const index = await cpu(() => copies.forEach((c) => indexes.push(s.indexMessage(c))));
    const features = await cpu(() => copies.forEach((c, i) => s.contentFeatures(c, indexes[i])));
    const fulltext = await cpu(() => copies.forEach((c, i) => s.fulltextText(c, indexes[i]!.root)));
    const total = data + auth + index + features + fulltext;
    console.log(
      `${s.name.padEnd(6)} DATA ${data.toFixed(3)}  mailauth ${auth.toFixed(3)}  index ${index.toFixed(3)}  features ${features.toFixed(3)}  fulltextText ${fulltext.toFixed(3)}  = ${total.toFixed(3)}`,
    );
  }
}
