// Running a piece of work under an engine lease (docs/ARCHITECTURE.md §4.8), so that of several nodes on
// one database exactly one runs it: the outbound queue runner per attempt, the webhook dispatcher per
// delivery and for fan-out. The lease is renewed while the work runs; a node that dies stops renewing,
// and its leases are taken over once they expire.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { EngineLeases } from './engine.ts';

/** This process's owner id for leases: host, pid and a random part (a restarted process is another node). */
export const NODE_ID = `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;

/** A lease owner for one server of this process (NODE_ID and a random part). */
export const serverNodeId = (): string => `${NODE_ID}/${randomBytes(3).toString('hex')}`;

/** How long a lease lasts unless renewed: a dead node's work waits this long before another takes it. */
export const LEASE_MS = 60_000;

export interface LeaseOptions {
  leases: EngineLeases;
  /** Owner id (default NODE_ID). */
  owner?: string;
  /** Lease length; renewed every third of it while the work runs. */
  ttlMs?: number;
}

/**
 * Runs `work` holding the lease on `name`; resolves `{ ran: false }` without running it when another
 * owner holds that lease. The lease is released when `work` ends, whether it succeeded or threw.
 */
export async function withLease<T>(
  options: LeaseOptions,
  name: string,
  work: () => Promise<T>,
): Promise<{ ran: true; value: T } | { ran: false }> {
  const { leases } = options;
  const owner = options.owner ?? NODE_ID;
  const ttlMs = options.ttlMs ?? LEASE_MS;
  if (!(await leases.acquire(name, owner, ttlMs))) return { ran: false };
  const renew = setInterval(() => {
    leases.acquire(name, owner, ttlMs).catch(() => {}); // a missed renewal is retried at the next tick
  }, ttlMs / 3);
  renew.unref();
  try {
    return { ran: true, value: await work() };
  } finally {
    clearInterval(renew);
    await leases.release(name, owner).catch(() => {}); // unreleased, it expires
  }
}

/** Drops the entries of a "held elsewhere until" map whose time has come (the work may be gone by then). */
export function forgetLapsed(until: Map<string, number>): void {
  const now = Date.now();
  for (const [name, time] of until) if (time <= now) until.delete(name);
}
