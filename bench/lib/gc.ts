// V8's collections during a timed loop of messages: which messages they landed in, of what kind, how
// long, and what each message allocated (issue 18: is the classify p99 the messages' own CPU or the GC's?).
import { constants as perfConstants, PerformanceObserver } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';

export const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
export function spread(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const f = (x: number) => x.toFixed(2).padStart(6);
  return `p50 ${f(quantile(s, 0.5))}  p99 ${f(quantile(s, 0.99))}  max ${f(s[s.length - 1]!)} ms`;
}

export interface MessageRun {
  /** performance.now() at the call and at its end. */
  start: number;
  end: number;
  /** The process's CPU ms (all threads: the GC's helpers too) and the main thread's. */
  cpu: number;
  thread: number;
  /** Heap bytes in use after the call less before: what it allocated when no collection ran inside. */
  heap: number;
}

/** One call timed: wall, the process's and the main thread's CPU, and the heap it grew by. */
export async function timedRun<T>(fn: () => Promise<T>): Promise<{ value: T; run: MessageRun }> {
  const cpu0 = process.cpuUsage();
  const thread0 = process.threadCpuUsage();
  const heap0 = getHeapStatistics().used_heap_size;
  const start = performance.now();
  const value = await fn();
  const end = performance.now();
  const heap = getHeapStatistics().used_heap_size - heap0;
  const cpu = process.cpuUsage(cpu0);
  const thread = process.threadCpuUsage(thread0);
  const ms = (u: { user: number; system: number }) => (u.user + u.system) / 1000;
  return { value, run: { start, end, cpu: ms(cpu), thread: ms(thread), heap } };
}

export interface Collection {
  start: number;
  duration: number;
  kind: string;
}

const GC_KINDS: Record<number, string> = {
  [perfConstants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [perfConstants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact',
  [perfConstants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental marking',
  [perfConstants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak callbacks',
};

/** V8's collections from now until stop() (PerformanceObserver 'gc' entries, delivered after the fact). */
export function watchCollections(): { stop(): Promise<Collection[]> } {
  const seen: Collection[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as unknown as { detail?: { kind: number } }).detail?.kind ?? -1;
      seen.push({ start: e.startTime, duration: e.duration, kind: GC_KINDS[kind] ?? `kind ${kind}` });
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return {
    async stop() {
      await new Promise((resolve) => setTimeout(resolve, 50));
      observer.disconnect();
      return seen;
    },
  };
}

/**
 * Which of the slowest 1% had a collection inside them, of what kind and how long; the p99 without
 * them; the main thread's CPU beside the process's; what a message allocates (issue 18's p99).
 */
export function reportCollections(runs: MessageRun[], collections: Collection[]): void {
  const inside = (r: MessageRun) => collections.filter((c) => c.start >= r.start && c.start < r.end);
  const byKind = (cs: Collection[]) => {
    const kinds = new Map<string, number[]>();
    for (const c of cs) kinds.set(c.kind, [...(kinds.get(c.kind) ?? []), c.duration]);
    return [...kinds]
      .map(([kind, ds]) => `${ds.length} ${kind} (${ds.map((d) => d.toFixed(1)).join(' ')} ms)`)
      .join(', ');
  };
  const during = collections.filter((c) => c.start >= runs[0]!.start && c.start < runs[runs.length - 1]!.end);
  const inMessages = runs.flatMap(inside);
  console.log(
    `  collections during the loop: ${during.length}, ${inMessages.length} inside a message; by kind, wall ms: ${byKind(during) || 'none'}`,
  );
  const top = Math.ceil(runs.length / 100);
  for (const key of ['cpu', 'wall'] as const) {
    const time = (r: MessageRun) => (key === 'cpu' ? r.cpu : r.end - r.start);
    const slowest = [...runs].sort((a, b) => time(b) - time(a)).slice(0, top);
    const hit = slowest.filter((r) => inside(r).length > 0);
    console.log(
      `  slowest 1% by ${key} (${top}, ${time(slowest[top - 1]!).toFixed(2)} ms and over): ${hit.length} with a collection inside: ${byKind(hit.flatMap(inside)) || 'none'}`,
    );
  }
  const clean = runs.filter((r) => inside(r).length === 0);
  console.log(
    `  CPU of messages without a collection inside (${clean.length}): process ${spread(clean.map((r) => r.cpu))}; main thread ${spread(clean.map((r) => r.thread))}`,
  );
  console.log(`  main thread CPU, all messages: ${spread(runs.map((r) => r.thread))}`);
  const kb = clean.map((r) => r.heap / 1024).sort((a, b) => a - b);
  const mean = kb.reduce((a, b) => a + b, 0) / kb.length;
  console.log(
    `  allocated a message (heap in use after − before, messages without a collection): mean ${mean.toFixed(1)} KB, p50 ${quantile(kb, 0.5).toFixed(1)}, p99 ${quantile(kb, 0.99).toFixed(1)}, max ${kb[kb.length - 1]!.toFixed(1)} KB`,
  );
}
