// SEARCH TEXT side by side (issue 17): Wren and Dovecot hold the same INBOX (bench/compare/corpus.ts,
// the order of imap.ts), and for each term this times UID SEARCH TEXT on both (first and repeat run,
// imapflow client) and lists the messages one server found and the other did not, each with where the
// term occurs in it (raw header block, decoded headers, each decoded leaf part by type, a part's MIME
// header, or nowhere decoded), so that a difference in semantics can be read off.
// Needs root and bench/compare/setup.sh. Usage: npx node bench/compare/search-text.ts [term ...]
// Environment: BENCH_MESSAGES (10000), BENCH_SHOW (differing messages described per term, 10).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { relative } from 'node:path';
import type { ImapFlow } from 'imapflow';
import libmime from 'libmime';
import { benchImapFlow, benchRun, machineLine, printTable, sleep, stopAtCleanup } from './common.ts';
import { CORPUS_DIR, corpusPaths, loadCorpus, requireImapCorpus } from './corpus.ts';
import { fillInbox, startDovecot } from './dovecot.ts';
import { indexMessage } from '../../src/mime/index.ts';
import { decodeCharset, decodeTransfer } from '../../src/mime/decode.ts';
import type { MimeNode } from '../../src/mime/types.ts';

requireImapCorpus();
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 10_000);
const SHOW = Number(process.env.BENCH_SHOW ?? 10);
const TERMS = process.argv.length > 2 ? process.argv.slice(2) : ['meeting', 'money', 'für', 'ab'];
const TIMEOUT_MS = 120_000;
const USER = 'bench@wren.test';
const PASSWORD = randomBytes(12).toString('hex');

const client = (port: number): ImapFlow => benchImapFlow(port, USER, PASSWORD, { socketTimeout: TIMEOUT_MS });

async function startWren(): Promise<{ port: number; loadMs: number; stop(): Promise<void> }> {
  const child: ChildProcess = spawn(
    process.execPath,
    [new URL('./wren-imap-server.ts', import.meta.url).pathname, USER, PASSWORD, String(MESSAGES), '10'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = await new Promise<{ port: number; loadMs: number }>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line) as { port: number; loadMs: number });
    });
    void exited.then(() => reject(new Error('wren-imap-server exited before listening')));
  });
  return {
    ...ready,
    async stop() {
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/** Sequence numbers matching TEXT term, and the time of a first and a repeated run. */
async function searchText(c: ImapFlow, term: string): Promise<{ hits: Set<number>; ms: number[] }> {
  const ms: number[] = [];
  let hits = new Set<number>();
  for (let i = 0; i < 2; i++) {
    const t = performance.now();
    const found = await c.search({ text: term });
    ms.push(performance.now() - t);
    if (!found) throw new Error(`SEARCH TEXT ${term} failed`);
    hits = new Set(found);
  }
  return { hits, ms };
}

const has = (text: string, term: string) => text.toLowerCase().includes(term);

/** Where the (lower-case) term occurs in a message, as Dovecot would decode it. */
function whereIs(raw: Buffer, term: string): string[] {
  const out: string[] = [];
  let root: MimeNode;
  try {
    root = indexMessage(raw).root;
  } catch {
    return ['unparseable'];
  }
  const rawHeader = raw.subarray(0, root.bodyStart).toString('utf8');
  if (has(rawHeader, term))
    out.push(
      /\r?\n[ \t]/.test(rawHeader) && !has(rawHeader.replace(/\r?\n([ \t])/g, '$1'), term)
        ? 'header (only folded)'
        : 'header (raw)',
    );
  else if (has(libmime.decodeWords(rawHeader.replace(/\r?\n([ \t])/g, '$1')), term)) out.push('header (encoded-word)');
  const walk = (node: MimeNode, inAlt: boolean, depth: number) => {
    if (depth > 0 && has(raw.subarray(node.start, node.bodyStart).toString('utf8'), term)) out.push('part MIME header');
    if (node.children)
      for (const child of node.children) walk(child, inAlt || node.subtype === 'alternative', depth + 1);
    else if (node.message) walk(node.message.node, inAlt, depth + 1);
    else {
      const body = raw.subarray(node.bodyStart, node.end);
      const decoded = decodeCharset(decodeTransfer(body, node.encoding), node.params.charset);
      const kind = `${node.type}/${node.subtype}${inAlt ? ' in alternative' : ''}${node.encoding.toLowerCase() === '7bit' || node.encoding.toLowerCase() === '8bit' ? '' : ` ${node.encoding.toLowerCase()}`}${node.params.charset && !/^(us-ascii|utf-8)$/i.test(node.params.charset) ? ` ${node.params.charset.toLowerCase()}` : ''}`;
      if (has(decoded, term)) out.push(kind);
      else if (has(body.toString('latin1'), term)) out.push(`${kind} (raw bytes only)`);
    }
  };
  walk(root, false, 0);
  return out.length ? out : ['nowhere decoded'];
}

const root = benchRun('wren-compare-search-');
const { stops, cleanup } = root;

try {
  console.log(
    `SEARCH TEXT side by side: ${MESSAGES} messages in INBOX (shared/corpus ham+spam, CRLF), imapflow client`,
  );
  console.log(`before: ${machineLine()}`);
  const wrenStarting = stopAtCleanup(stops, startWren());
  const dovecot = await startDovecot(`${root.path}/dovecot`, { users: [{ user: USER, password: PASSWORD }] });
  stops.push(dovecot.stop);
  const corpus = loadCorpus(MESSAGES);
  const paths = corpusPaths(MESSAGES);
  await fillInbox(dovecot, USER, corpus);
  const wren = await wrenStarting;
  const clients = { Wren: client(wren.port), Dovecot: client(dovecot.imapPort) };
  for (const c of Object.values(clients)) {
    await c.connect();
    await c.mailboxOpen('INBOX');
  }
  const rows: string[][] = [];
  for (const term of TERMS) {
    const w = await searchText(clients.Wren, term);
    const d = await searchText(clients.Dovecot, term);
    const onlyW = [...w.hits].filter((n) => !d.hits.has(n));
    const onlyD = [...d.hits].filter((n) => !w.hits.has(n));
    rows.push([
      `TEXT "${term}"`,
      `${w.ms[0]!.toFixed(0)} / ${w.ms[1]!.toFixed(0)} ms`,
      `${d.ms[0]!.toFixed(0)} / ${d.ms[1]!.toFixed(0)} ms`,
      String(w.hits.size),
      String(d.hits.size),
      String(onlyW.length),
      String(onlyD.length),
    ]);
    for (const [who, list] of [
      ['Wren only', onlyW],
      ['Dovecot only', onlyD],
    ] as const) {
      const causes = new Map<string, number>();
      for (const n of list) {
        const where = whereIs(corpus[n - 1]!, term.toLowerCase()).join(' + ');
        causes.set(where, (causes.get(where) ?? 0) + 1);
      }
      if (list.length) console.log(`"${term}", ${who}: ${list.length} messages; where the term is:`);
      for (const [where, count] of [...causes].sort((a, b) => b[1] - a[1]))
        console.log(`  ${String(count).padStart(5)}  ${where}`);
      for (const n of list.slice(0, SHOW))
        console.log(
          `    #${n} ${relative(CORPUS_DIR, paths[n - 1]!)}: ${whereIs(corpus[n - 1]!, term.toLowerCase()).join(' + ')}`,
        );
    }
  }
  for (const c of Object.values(clients)) await c.logout().catch(() => c.close());
  console.log();
  printTable(
    ['command', 'Wren 1st / 2nd', 'Dovecot 1st / 2nd', 'Wren hits', 'Dovecot hits', 'Wren only', 'Dovecot only'],
    rows,
  );
  console.log(`after: ${machineLine()}`);
} finally {
  await cleanup();
}
