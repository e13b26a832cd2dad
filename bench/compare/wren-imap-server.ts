// Wren Mail's IMAP server in a process of its own for bench/compare/imap.ts, so that its memory and
// CPU are measured apart from the load client (as Dovecot's are). Delivers the bench corpus into one
// account's INBOX through store.deliver (parsed and indexed there, fsync'd), then listens on
// 127.0.0.1 and prints one JSON line: {"port", "messages", "loadMs"}. SIGTERM: close and clean up.
// Usage (by imap.ts): node wren-imap-server.ts <user> <password> <messages> <max connections>
// BENCH_CPU_PROF=<dir>: a CPU profile of the serving phase only (from listening to SIGTERM, the
// deliveries left out) is written there as wren-imap-<pid>.cpuprofile (bench/compare/cpuprofile.ts reads it).
import { writeFileSync } from 'node:fs';
import { Session as Inspector } from 'node:inspector/promises';
import { join } from 'node:path';
import { createImapServer } from '../../src/imap/server.ts';
import { LoginService } from '../../src/security/login.ts';
import { hashPassword } from '../../src/security/passwords.ts';
import { Store } from '../../src/store/index.ts';
import { makeSelfSigned } from '../../src/tls/certificates.ts';
import { benchDir } from './common.ts';
import { loadCorpus } from './corpus.ts';

const [user, password, count, maxConnections] = process.argv.slice(2) as [string, string, string, string];
const dir = benchDir('wren-compare-imap-');
const store = await Store.open(dir.path);
const team = await store.teams.create('bench');
await store.domains.create(team.id, user.split('@')[1]!);
const account = await store.accounts.create({
  teamId: team.id,
  address: user,
  passwordHash: await hashPassword(password),
});
const inbox = store.folders.byName(account.id, 'INBOX')!;

const started = performance.now();
// One delivery at a time, so UIDs follow the corpus order as Dovecot's do (its maildir names sort so).
for (const raw of loadCorpus(Number(count))) await store.deliver(raw, [{ folder: inbox }]);
const loadMs = performance.now() - started;

const limit = Number(maxConnections);
const server = createImapServer({
  store,
  login: new LoginService(store),
  tls: await makeSelfSigned('imap.wren.test'),
  hostname: 'imap.wren.test',
  allowPlainAuthWithoutTls: true, // loopback only, as Dovecot here runs with ssl = no
  limits: { maxConnectionsPerIp: limit, maxConnectionsPerAccount: limit },
});
const { port } = await server.listen(0, '127.0.0.1', false);
const profileDir = process.env.BENCH_CPU_PROF;
const inspector = profileDir ? new Inspector() : null;
if (inspector) {
  inspector.connect();
  await inspector.post('Profiler.enable');
  await inspector.post('Profiler.setSamplingInterval', { interval: 200 });
  await inspector.post('Profiler.start');
}
console.log(JSON.stringify({ port, messages: store.folders.get(inbox.id)!.exists, loadMs }));

process.once('SIGTERM', () => {
  void (async () => {
    if (inspector) {
      const { profile } = await inspector.post('Profiler.stop');
      const file = join(profileDir!, `wren-imap-${process.pid}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));
      console.error(`CPU profile written to ${file}`);
    }
    await server.close();
    await store.close();
    dir.remove();
    process.exit(0);
  })();
});
