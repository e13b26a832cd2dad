// Engine reads per inbound message on the MX, by key family: what each delivery still asks of LevelDB
// (or PostgreSQL) once the directory is in memory (issue 17). One mailbox with an alias and a sieve
// script; a first message warms up, then the next ones are counted. Run: node bench/mx-reads.ts [messages]
import nodemailer from 'nodemailer';
import { Store, Tx } from '../src/store/index.ts';
import { sieveScripts } from '../src/store/sieve.ts';
import { startMx } from '../test/helpers/smtp.ts';
import { CountingEngine } from '../test/helpers/store.ts';

const count = Number(process.argv[2] ?? 20);
let engine!: CountingEngine;
const mx = await startMx({
  openStore: async (dir) => Store.open(dir, { engine: (engine = await CountingEngine.open(dir)) }),
});
try {
  const { store } = mx;
  const team = await store.teams.create('bench');
  await store.domains.create(team.id, 'reads.test');
  const account = await store.accounts.create({ teamId: team.id, address: 'ann@reads.test' });
  const tx = new Tx();
  store.addresses.putAccountAlias(tx, 'sales@reads.test', account.id, team.id);
  await store.kv.commit(tx);
  await sieveScripts(store.kv).put({ accountId: account.id, script: 'keep;', active: true, updatedAt: Date.now() });
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: mx.port, secure: false, ignoreTLS: true });
  const send = (i: number) =>
    transport.sendMail({
      from: 'someone@elsewhere.test',
      to: i % 2 ? 'ann@reads.test' : 'sales@reads.test',
      subject: `Message ${i}`,
      text: `Body ${i}\n`,
    });
  await send(0);
  engine.reads = 0;
  engine.families.clear();
  for (let i = 1; i <= count; i++) await send(i);
  transport.close();
  const families = [...engine.families].sort((a, b) => b[1] - a[1]);
  console.log(`${(engine.reads / count).toFixed(1)} engine reads per message (${count} messages)`);
  for (const [family, n] of families) console.log(`  ${family}/: ${(n / count).toFixed(2)} keys per message`);
} finally {
  await mx.close();
}
