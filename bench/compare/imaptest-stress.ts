// Dovecot's imaptest in stress mode against Wren and against Dovecot in the same run (issue 17's
// "imaptest stress" row): the same mbox (test/fixtures/stress, unique Message-IDs), the same clients
// and seconds, each server starting from an empty INBOX that imaptest fills by APPEND. Per server: the
// commands completed in all and per command, imaptest's error lines, the mean time a client waited per
// command (clients × seconds ÷ commands: each client sends its next command when the last is answered)
// and the servers' CPU time per 1,000 commands (Dovecot: master, login and imap processes, the ones
// that exited counted through their parent). Servers run one after the other, Wren first, and the
// order is printed. Needs the imaptest binary (`npm run test:setup`) and Debian's dovecot-imapd.
//   npx node bench/compare/imaptest-stress.ts            (BENCH_CLIENTS=10, BENCH_SECONDS=30, BENCH_ROUNDS=1)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runImaptestStress, writeStressMbox } from '../../test/helpers/imaptest-stress.ts';
import { benchRun, machineLine, printTable, processTree, ratio } from './common.ts';
import { startDovecot } from './dovecot.ts';
import { startWren } from './imap-wren.ts';

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 10);
const SECONDS = Math.min(300, Number(process.env.BENCH_SECONDS ?? 30));
const ROUNDS = Math.min(5, Number(process.env.BENCH_ROUNDS ?? 1));
const USER = 'stress@bench.test';
const PASSWORD = 'stress bench password';

/** user + system CPU (ms) of the processes in `pids`, with their exited children (cutime/cstime). */
function cpuMs(pids: number[]): number {
  const tick = 100; // USER_HZ on Linux
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    } catch {
      // exited meanwhile
    }
  }
  return (ticks * 1000) / tick;
}

/** imaptest's last "Totals:" block: a line of command names, then (after a line of percentages) the counts. */
function perCommand(output: string): Map<string, number> {
  const at = output.lastIndexOf('Totals:');
  const lines = at < 0 ? [] : output.slice(at).split('\n').slice(1);
  const names = (lines.find((l) => /[A-Za-z]/.test(l)) ?? '').trim().split(/\s+/);
  const counts = (lines.find((l) => /^\s*\d+(\s+\d+)+\s*$/.test(l)) ?? '').trim().split(/\s+/).map(Number);
  return new Map(names.map((name, i) => [name, counts[i] ?? 0]));
}

interface Round {
  commands: number;
  errors: number;
  cpuMs: number;
  byCommand: Map<string, number>;
}

async function stress(port: number, pids: () => number[], mbox: string, dir: string): Promise<Round> {
  const before = cpuMs(pids());
  const result = await runImaptestStress({
    port,
    user: USER,
    pass: PASSWORD,
    mbox,
    dir,
    clients: CLIENTS,
    secs: SECONDS,
  });
  const used = cpuMs(pids()) - before;
  if (result.commands === 0)
    throw new Error(`imaptest did no work (exit ${result.exitCode}):\n${result.output.slice(-2000)}`);
  return { commands: result.commands, errors: result.errors.length, cpuMs: used, byCommand: perCommand(result.output) };
}

const root = benchRun('wren-compare-imaptest-');
try {
  console.log(
    `imaptest stress side by side: ${CLIENTS} clients, ${SECONDS} s, ${ROUNDS} round(s) per server, Wren first`,
  );
  console.log(`before: ${machineLine()}`);
  const mbox = join(root.path, 'stress.mbox');
  console.log(`mbox: ${writeStressMbox(mbox)} messages from test/fixtures/stress`);
  const wren = await startWren(USER, PASSWORD, 0, CLIENTS * 4);
  root.stops.push(wren.stop);
  const dovecot = await startDovecot(join(root.path, 'dovecot'), {
    users: [{ user: USER, password: PASSWORD }],
    maxImapConnections: CLIENTS * 4,
  });
  root.stops.push(dovecot.stop);
  const servers = [
    { name: 'Wren', port: wren.port, pids: wren.pids },
    { name: 'Dovecot', port: dovecot.imapPort, pids: () => processTree(dovecot.pid) },
  ];
  const rounds = new Map<string, Round[]>(servers.map((s) => [s.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const server of servers) {
      const r = await stress(server.port, server.pids, mbox, root.path);
      rounds.get(server.name)!.push(r);
      console.log(
        `  round ${round + 1} ${server.name.padEnd(7)} ${r.commands} commands, ${r.errors} error lines, CPU ${r.cpuMs.toFixed(0)} ms`,
      );
    }
  }
  // The median round by commands completed.
  const median = (name: string): Round => {
    const sorted = [...rounds.get(name)!].sort((a, b) => a.commands - b.commands);
    return sorted[Math.floor(sorted.length / 2)]!;
  };
  const w = median('Wren');
  const d = median('Dovecot');
  const waitMs = (r: Round) => (CLIENTS * SECONDS * 1000) / r.commands;
  const cpuPer1000 = (r: Round) => (r.cpuMs * 1000) / r.commands;
  printTable(
    ['', 'Wren', 'Dovecot', 'ratio'],
    [
      ['commands completed', String(w.commands), String(d.commands), ratio(w.commands, d.commands, true)],
      ['mean wait per command (ms)', waitMs(w).toFixed(1), waitMs(d).toFixed(1), ratio(waitMs(w), waitMs(d), false)],
      [
        'server CPU per 1,000 commands (ms)',
        cpuPer1000(w).toFixed(0),
        cpuPer1000(d).toFixed(0),
        ratio(cpuPer1000(w), cpuPer1000(d), false),
      ],
      ['imaptest error lines', String(w.errors), String(d.errors), ''],
    ],
  );
  const names = [...new Set([...w.byCommand.keys(), ...d.byCommand.keys()])];
  console.log('per command (median round):');
  printTable(
    ['command', 'Wren', 'Dovecot'],
    names.map((n) => [n, String(w.byCommand.get(n) ?? 0), String(d.byCommand.get(n) ?? 0)]),
  );
  console.log(`after: ${machineLine()}`);
} finally {
  await root.cleanup();
}
