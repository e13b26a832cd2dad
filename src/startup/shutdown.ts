// The order a running server stops in: listeners first (no new work; sessions get up to the
// shutdown timeout to finish), then the background services (the queue lets attempts in flight finish
// and record, so a restart never delivers twice), then the store, which everything before writes to.
import type { ListenerSet } from '../listeners.ts';

export interface ShutdownPlan {
  listeners: ListenerSet;
  /** How long listeners may take to finish their sessions (server.shutdown_timeout_ms). */
  timeoutMs: number;
  /** Stopped one after another, in this order, whether or not the listeners finished in time. */
  background: (() => Promise<void> | void)[];
  store: { close(): Promise<void> };
}

export async function shutdown(plan: ShutdownPlan): Promise<void> {
  await plan.listeners.close(plan.timeoutMs);
  for (const stop of plan.background) await stop();
  await plan.store.close();
}
