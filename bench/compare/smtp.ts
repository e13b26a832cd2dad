// Side by side: messages per second accepted and durably stored by Wren Mail's MX and by Postfix
// handing mail to Dovecot over LMTP, under the same load client (Postfix's smtp-source), on loopback.
// Wren runs in this process with every check on (SPF, DKIM, DMARC against a loopback DNS server,
// spam rules, routing, events; 250 only after fsync). Postfix counts as stored once the message is
// in the Dovecot maildir (Postfix's 250 only means "in my queue").
// Each run sends BENCH_MESSAGES (1000) messages or stops after BENCH_SECONDS (15) s, then waits at
// most 30 s for Postfix's queue to drain. Needs root and bench/compare/setup.sh.
// BENCH_CPU_PROF=DIR: a CPU profile of each of Wren's runs (Wren is in this process).
// Usage: npx node bench/compare/smtp.ts
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Folder } from '../../src/store/index.ts';
import { startMx } from '../../test/helpers/smtp.ts';
import { benchRun, machineLine, profiled, printTable, ratio, waitUntil, withCpu } from './common.ts';
import { startDovecot } from './dovecot.ts';
import { startPostfix } from './postfix.ts';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 1000);
const TIME_LIMIT_MS = Number(process.env.BENCH_SECONDS ?? 15) * 1000;
const DRAIN_LIMIT_MS = 30_000;
// Counting maildir files costs a readdir per mailbox: often enough for the timing, rarely enough not
// to take CPU from the servers.
const POLL_MS = 50;
// BENCH_SIZES=100 (KB) and BENCH_CONNECTIONS=1,50 narrow the runs while iterating.
const SIZES = (process.env.BENCH_SIZES ?? '4,100').split(',').map((kb) => Number(kb) * 1024);
const CONNECTIONS = (process.env.BENCH_CONNECTIONS ?? '1,10,50').split(',').map(Number);
const DOMAIN = 'wren.test';
const SENDER = 'ann@sender.test';
const RECIPIENTS = Array.from({ length: 10 }, (_, i) => `u${i}@${DOMAIN}`);

interface Result {
  accepted: number;
  stored: number;
  acceptedPerSecond: number;
  storedPerSecond: number;
  timedOut: boolean;
  errors: string[];
}

/**
 * One run: `connections` smtp-source processes of one session each (recipients spread over the ten
 * mailboxes), every session sending its share over one connection (-d). `stored()` counts messages
 * on the server's disk; it is polled to find when the last one landed.
 */
async function load(port: number, size: number, connections: number, stored: () => number): Promise<Result> {
  const base = stored();
  const started = performance.now();
  let lastStoredAt = started;
  let lastCount = 0;
  const poll = setInterval(() => {
    const n = stored() - base;
    if (n > lastCount) [lastCount, lastStoredAt] = [n, performance.now()];
  }, POLL_MS);
  // One shell starts every smtp-source: spawning 50 processes from here would block this process's
  // event loop (Wren's) for a large part of a second, a cost of the bench, not of the server.
  const dir = mkdtempSync(join(root.path, 'load-'));
  const commands = Array.from({ length: connections }, (_, i) => {
    const share = Math.floor(MESSAGES / connections) + (i < MESSAGES % connections ? 1 : 0);
    const args = [
      ...['-c', '-d', '-s', '1', '-m', String(share), '-l', String(size), '-M', 'client.sender.test'],
      ...['-f', SENDER, '-t', RECIPIENTS[i % RECIPIENTS.length]!, `127.0.0.1:${port}`],
    ];
    // timeout's status 124 says the time limit stopped it.
    return `(timeout ${TIME_LIMIT_MS / 1000} /usr/sbin/smtp-source ${args.join(' ')} >${dir}/${i}.out 2>${dir}/${i}.err; echo $? >${dir}/${i}.rc) &`;
  });
  const shell = spawn('/bin/sh', ['-c', `${commands.join('\n')}\nwait`], { stdio: 'ignore' });
  await new Promise((resolve) => shell.once('close', resolve));
  const read = (i: number, ext: string) => readFileSync(join(dir, `${i}.${ext}`), 'latin1').trim();
  const errors = Array.from({ length: connections }, (_, i) => read(i, 'err')).filter(Boolean);
  const timedOut = Array.from({ length: connections }, (_, i) => read(i, 'rc')).some((rc) => rc === '124');
  // -c prints "1\r2\r3\r…": the last number is the count of completed DATA commands.
  const counters = Array.from({ length: connections }, (_, i) =>
    Number(read(i, 'out').split('\r').filter(Boolean).pop() ?? 0),
  );
  const sentAt = performance.now();
  const accepted = counters.reduce((a, b) => a + b, 0);
  await waitUntil(() => stored() - base >= accepted, DRAIN_LIMIT_MS, POLL_MS);
  clearInterval(poll);
  const n = stored() - base;
  if (n > lastCount) [lastCount, lastStoredAt] = [n, performance.now()];
  return {
    accepted,
    stored: n,
    acceptedPerSecond: accepted / ((sentAt - started) / 1000),
    storedPerSecond: n / ((lastStoredAt - started) / 1000),
    timedOut,
    errors: [...new Set(errors)].slice(0, 3),
  };
}

const root = benchRun('wren-compare-smtp-');
const { stops, cleanup } = root;

try {
  const wren = await startMx({
    zone: {
      'sender.test': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] },
      'client.sender.test': { A: ['127.0.0.1'] },
      '_dmarc.sender.test': { TXT: ['v=DMARC1; p=none'] },
    },
    mx: { limits: { maxConnectionsPerIp: 100, messagesPerIpPerMinute: 1_000_000 } },
  });
  stops.push(() => wren.close());
  const dovecot = await startDovecot(`${root.path}/dovecot`, {
    users: RECIPIENTS.map((user) => ({ user, password: 'unused' })),
  });
  stops.push(dovecot.stop);
  const postfix = await startPostfix(`${root.path}/postfix`, {
    domain: DOMAIN,
    recipients: RECIPIENTS,
    lmtpSocket: dovecot.lmtpSocket,
  });
  stops.push(postfix.stop);

  const team = await wren.store.teams.create('bench');
  await wren.store.domains.create(team.id, DOMAIN);
  const folders: Folder[] = [];
  for (const address of RECIPIENTS) {
    const account = await wren.store.accounts.create({ teamId: team.id, address });
    folders.push(
      wren.store.folders.byName(account.id, 'INBOX')!,
      wren.store.folders.bySpecialUse(account.id, '\\Junk')!,
    );
  }
  const wrenStored = () => folders.reduce((n, f) => n + wren.store.folders.get(f.id)!.exists, 0);
  const postfixStored = () => RECIPIENTS.reduce((n, r) => n + dovecot.count(r), 0);

  console.log(
    `SMTP side by side: ${MESSAGES} messages per run (or ${TIME_LIMIT_MS / 1000} s), smtp-source (one session per connection, -d) against each server, 10 mailboxes`,
  );
  console.log(
    `Wren: MX in-process, SPF+DKIM+DMARC (loopback DNS)+spam rules+routing+events, 250 after fsync (group commit)`,
  );
  console.log(
    `Postfix ${postfix.smtpPort} -> Dovecot LMTP (unix socket), defaults: no SPF/DKIM/DMARC, queue fsync, mail_fsync=optimized; stored = file in maildir`,
  );
  console.log(`before: ${machineLine()}`);
  const rows: string[][] = [];
  for (const size of SIZES) {
    for (const connections of CONNECTIONS) {
      // Wren's CPU per stored message moves less with the machine's load than its rate does.
      const { result: w, cpuMs } = await withCpu(() =>
        profiled(`smtp-${size / 1024}k-${connections}c`, () => load(wren.port, size, connections, wrenStored)),
      );
      const p = await load(postfix.smtpPort, size, connections, postfixStored);
      if (p.stored < p.accepted)
        console.log(
          `  postfix: ${p.accepted - p.stored} accepted but not in the maildir after ${DRAIN_LIMIT_MS / 1000} s (deferred: ${postfix.deferred()})\n${postfix.logTail(5)}`,
        );
      for (const [name, r] of [
        ['wren', w],
        ['postfix', p],
      ] as const)
        if (r.errors.length) console.log(`  ${name} smtp-source: ${r.errors.join(' | ')}`);
      const mark = (r: Result) => (r.timedOut ? '*' : '');
      rows.push([
        `${size / 1024} KB`,
        String(connections),
        `${w.stored}${mark(w)}`,
        w.storedPerSecond.toFixed(0),
        `${p.stored}${mark(p)}`,
        p.acceptedPerSecond.toFixed(0),
        p.storedPerSecond.toFixed(0),
        ratio(w.storedPerSecond, p.storedPerSecond, true),
        (cpuMs / Math.max(w.stored, 1)).toFixed(1),
      ]);
      console.log(`  ${rows.at(-1)!.join('  ')}`);
    }
  }
  console.log();
  printTable(
    [
      ...['size', 'conns', 'Wren stored', 'Wren msg/s', 'P+D stored', 'P+D accepted/s', 'P+D stored/s', 'Wren/P+D'],
      'Wren CPU ms/msg',
    ],
    rows,
  );
  console.log(
    '(* = stopped at the time limit; msg/s = stored messages / time until the last one was stored; Wren CPU = this process while Wren ran)',
  );
  console.log(`after: ${machineLine()}`);
} finally {
  await cleanup();
}
