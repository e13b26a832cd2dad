// SEARCH TEXT on a large folder, Wren alone (issue 17): BENCH_MESSAGES (100,000) messages from the
// shared corpus (../shared/corpus ham+spam, the order of bench/compare/corpus.ts, repeated as needed,
// each copy made distinct by an X-Bench-Copy header so every message has its own blob and text) are
// stored in one INBOX with appendMany (1,000 per durable batch); the full-text index's runs are built
// meanwhile, after each batch's commit, and what is left of that is timed apart. Then, over IMAP
// (imapflow, in this process, server in this process too): UID SEARCH TEXT for a few strings, the
// first run and the median of the 3 after it, with the hit count and how many of them the index
// left to their texts; and the index's size on disk. Beside each, "imapflow alone": the same client
// reading the same answer from a stub server (bench/compare/imap-stub.ts), the client's own share;
// and "Wren alone": the same command over a raw socket, its answer not parsed, the server's share.
// Bounded: loading stops after BENCH_LOAD_SECONDS (900) with what was stored; 60 s per command.
// BENCH_STORE=DIR keeps the store in DIR (not removed) and, when DIR already holds one, reuses it
// without loading: the same 100,000 messages measured under two commits, or an older store migrated.
// Usage: npx node bench/search.ts [string ...]
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import type { ImapFlow } from 'imapflow';
import { createImapServer } from '../src/imap/server.ts';
import { LoginService } from '../src/security/login.ts';
import { hashPassword } from '../src/security/passwords.ts';
import { formatSequenceSet } from '../src/imap/sequence.ts';
import { Store } from '../src/store/index.ts';
import type { LevelEngine } from '../src/store/engines/leveldb.ts';
import { makeSelfSigned } from '../src/tls/certificates.ts';
import { benchDir, benchImapFlow, machineLine, printTable, startCpuProfile } from './compare/common.ts';
import { loadCorpus, requireImapCorpus } from './compare/corpus.ts';
import { imapStub } from './compare/imap-stub.ts';
import { RawImap } from './compare/raw-imap.ts';

requireImapCorpus();
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 100_000);
const LOAD_SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 900);
const TERMS = process.argv.length > 2 ? process.argv.slice(2) : ['meeting', 'money', 'für', 'unsubscribe', 'the', 'zq'];
const RUNS = 3;
const USER = 'bench@wren.test';
const KEEP = process.env.BENCH_STORE;
const reused = !!KEEP && existsSync(`${KEEP}/CURRENT`);
const PASSWORD = KEEP ? 'bench-search-store' : randomBytes(12).toString('hex');

if (KEEP) mkdirSync(KEEP, { recursive: true });
const dir = KEEP ? { path: KEEP, remove: () => {} } : benchDir('wren-bench-search-');
const store = await Store.open(dir.path);
let server: ReturnType<typeof createImapServer> | undefined;
let client: ImapFlow | undefined;
let stubServer: Server | undefined;
let stubClient: ImapFlow | undefined;
let raw: RawImap | undefined;
async function cleanup(): Promise<void> {
  raw?.close();
  await client?.logout().catch(() => client?.close());
  await stubClient?.logout().catch(() => stubClient?.close());
  stubServer?.close();
  await server?.close();
  await store.close();
  dir.remove();
}
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => void cleanup().finally(() => process.exit(130)));

try {
  console.log(`SEARCH TEXT on one folder of ${MESSAGES} messages (shared/corpus ham+spam repeated, CRLF), Wren alone`);
  console.log(`before: ${machineLine()}`);
  const team = reused ? null : await store.teams.create('bench');
  if (team) await store.domains.create(team.id, 'wren.test');
  const account = team
    ? await store.accounts.create({ teamId: team.id, address: USER, passwordHash: await hashPassword(PASSWORD) })
    : (await store.accounts.byAddress(USER))!;
  const inbox = store.folders.byName(account.id, 'INBOX')!;
  const corpus = reused ? [] : loadCorpus(Math.min(MESSAGES, 20_000));
  const started = performance.now();
  let stored = reused ? inbox.exists : 0;
  if (reused) console.log(`reusing the store in ${KEEP}: ${stored} messages`);
  while (!reused && stored < MESSAGES && performance.now() - started < LOAD_SECONDS * 1000) {
    const batch = Array.from({ length: Math.min(1000, MESSAGES - stored) }, (_, i) => {
      const n = stored + i;
      const raw = corpus[n % corpus.length]!;
      return { raw: n < corpus.length ? raw : Buffer.concat([Buffer.from(`X-Bench-Copy: ${n}\r\n`), raw]) };
    });
    await store.appendMany(inbox, batch);
    stored += batch.length;
  }
  const loadS = (performance.now() - started) / 1000;
  let t = performance.now();
  await store.fulltext.catchUp(inbox.id);
  const tailS = (performance.now() - t) / 1000;
  console.log(
    `stored ${stored} messages in ${loadS.toFixed(0)} s (appendMany, 1,000 per batch); index caught up ${tailS.toFixed(1)} s later`,
  );
  const size = (prefix: string) =>
    (
      (store.kv.engine as LevelEngine).raw as unknown as { approximateSize(a: string, b: string): Promise<number> }
    ).approximateSize(prefix, `${prefix}\xff`);
  const mib = (n: number) => `${(n / 1048576).toFixed(0)} MiB`;
  console.log(
    `on disk (LevelDB approximateSize, compressed): messages b/ ${mib(await size('b/'))}, texts ft/ ${mib(await size('ft/'))}, word index runs fr/ ${mib(await size('fr/'))} (trigram layout fq/ ${mib(await size('fq/'))} fu/ ${mib(await size('fu/'))})`,
  );

  server = createImapServer({
    store,
    login: new LoginService(store),
    tls: await makeSelfSigned('imap.wren.test'),
    hostname: 'imap.wren.test',
    allowPlainAuthWithoutTls: true,
  });
  const { port } = await server.listen(0, '127.0.0.1', false);
  const imapflow = (port: number) => benchImapFlow(port, USER, PASSWORD, { socketTimeout: 120_000 });
  client = imapflow(port);
  await client.connect();
  // imapflow alone: a stub answers UID SEARCH with the UIDs Wren found, in the form Wren answered
  // this client (imapflow enables IMAP4rev2: ESEARCH, ALL as a sequence set, RFC 4731/9051), made
  // before the command and written in 64 KiB pieces: what the client costs whatever server answers.
  let canned = Buffer.alloc(0);
  stubServer = createServer((socket) =>
    imapStub(
      socket,
      () => stored,
      (verb, tag) => {
        if (verb === 'ENABLE') socket.write(`* ENABLED IMAP4rev2\r\n${tag} OK done\r\n`);
        else if (verb === 'UID') {
          socket.write(`* ESEARCH (TAG "${tag}") UID ALL `);
          for (let at = 0; at < canned.length; at += 65536) socket.write(canned.subarray(at, at + 65536));
          socket.write(`\r\n${tag} OK done\r\n`);
        } else return false;
        return true;
      },
      'IMAP4rev2 ENABLE ESEARCH LITERAL+ AUTH=PLAIN',
    ),
  );
  await new Promise<void>((resolve) => stubServer!.listen(0, '127.0.0.1', resolve));
  stubClient = imapflow((stubServer.address() as { port: number }).port);
  await stubClient.connect();
  await stubClient.mailboxOpen('INBOX');
  // Wren alone: the same command over a raw socket (IMAP4rev2 enabled as imapflow does, so the same
  // ESEARCH answer), timed to its tagged line with nothing parsed: the server's share and loopback.
  raw = await RawImap.login(port, USER, PASSWORD);
  await raw.command('ENABLE IMAP4rev2');
  await raw.command('SELECT INBOX');
  t = performance.now();
  const box = await client.mailboxOpen('INBOX');
  console.log(`SELECT INBOX: ${box.exists} messages, ${(performance.now() - t).toFixed(0)} ms`);
  const rows: string[][] = [];
  const stopProfile = await startCpuProfile('wren-search'); // BENCH_CPU_PROF=DIR: the searches only
  /** A first run, then RUNS more: the first one's wall time, and the medians of the others' wall and process CPU. */
  const measure = async (run: () => Promise<void>) => {
    const walls: number[] = [];
    const cpus: number[] = [];
    for (let i = 0; i <= RUNS; i++) {
      const start = performance.now();
      const cpu = process.cpuUsage();
      await run();
      const used = process.cpuUsage(cpu);
      walls.push(performance.now() - start);
      cpus.push((used.user + used.system) / 1000);
    }
    const median = (list: number[]) => list.slice(1).sort((a, b) => a - b)[Math.floor(RUNS / 2)]!;
    return { first: walls[0]!, wall: median(walls), cpu: median(cpus) };
  };
  const ms = (n: number) => `${n.toFixed(0)} ms`;
  for (const term of TERMS) {
    let uids: number[] = [];
    const imap = await measure(async () => {
      const found = await client!.search({ text: term }, { uid: true });
      if (!found) throw new Error(`SEARCH TEXT ${term} failed`);
      uids = found;
    });
    const hits = uids.length;
    canned = Buffer.from(formatSequenceSet(uids));
    const alone = await measure(async () => {
      const again = await stubClient!.search({ text: term }, { uid: true });
      if (!again || again.length !== hits) throw new Error(`the stub's answer to ${term} was not read back`);
    });
    const wire = await measure(async () => {
      const r = await raw!.command(`UID SEARCH TEXT ${JSON.stringify(term)}`);
      if (r.status !== 'OK') throw new Error(`raw UID SEARCH TEXT ${term}: ${r.status}`);
    });
    t = performance.now();
    const candidates = await store.fulltext.candidates(inbox.id, [term]);
    const lookup = performance.now() - t;
    rows.push([
      `UID SEARCH TEXT "${term}"`,
      ms(imap.first),
      ms(imap.wall),
      ms(imap.cpu),
      `${ms(wire.wall)} / ${ms(wire.cpu)}`,
      `${ms(alone.wall)} / ${ms(alone.cpu)}`,
      String(hits),
      !candidates ? 'all' : candidates.exact ? 'none' : String(candidates.uids.size),
      `${lookup.toFixed(1)} ms`,
    ]);
    console.log(`  ${rows.at(-1)!.join('  ')}`);
  }
  await stopProfile();
  console.log();
  // CPU: this process's: server and client both over imapflow, the server's (and the raw client's, which
  // parses nothing) over the raw socket, imapflow's (and the stub's, which only writes) beside the stub.
  printTable(
    [
      'command',
      'first',
      `then, median of ${RUNS}`,
      'CPU (process, median)',
      'Wren alone (raw socket): wall / CPU',
      'imapflow alone (stub): wall / CPU',
      'hits',
      'texts read',
      'index lookup',
    ],
    rows,
  );
  console.log(`after: ${machineLine()}`);
} finally {
  await cleanup();
}
