import { createImapServer } from '../../src/imap/server.ts';
import { LoginService } from '../../src/security/login.ts';
import { hashPassword } from '../../src/security/passwords.ts';
import type { LevelEngine } from '../../src/store/engines/leveldb.ts';
import { Store } from '../../src/store/index.ts';
import { makeSelfSigned } from '../../src/tls/certificates.ts';
import { benchDir, startCpuProfile } from './common.ts';
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
// 0: an empty INBOX, and no corpus needed (imaptest-stress.ts fills it by APPEND).
for (const raw of Number(count) ? loadCorpus(Number(count)) : []) await store.deliver(raw, [{ folder: inbox }]);
// The full-text runs the deliveries scheduled are built before timing, as Dovecot's index is
// (`doveadm index` in imap.ts), so no command is timed against this process's own background work.
await store.fulltext.catchUp(inbox.id);
const loadMs = performance.now() - started;
// LevelDB goes on compacting for seconds after a bulk load (seek compactions then start on the first
// reads), so the first command timed would share the cores with it. BENCH_SETTLE=0 skips this (a
// server as a burst of deliveries leaves it); otherwise every level is compacted now, as Dovecot's
// maildir is complete and indexed before timing. The caller then waits for the CPU to go quiet.
let compactMs = 0;
if (process.env.BENCH_SETTLE !== '0' && Number(count)) {
  const t = performance.now();
  // classic-level's compactRange, which `level`'s types leave out; the range covers every UTF-8 key.
  const raw = (store.kv.engine as LevelEngine).raw as unknown as { compactRange(a: string, b: string): Promise<void> };
  await raw.compactRange('\0', '\u{10ffff}');
  compactMs = performance.now() - t;
}

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
const stopProfile = await startCpuProfile(`wren-imap-${process.pid}`);
console.log(JSON.stringify({ port, messages: store.folders.get(inbox.id)!.exists, loadMs, compactMs }));

process.once('SIGTERM', () => {
  void (async () => {
    await stopProfile();
    await server.close();
    await store.close();
    dir.remove();
    process.exit(0);
  })();
});
