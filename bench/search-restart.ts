// The first SEARCH TEXT index lookup after a restart (issue 17): opens a store kept by bench/search.ts
// (BENCH_STORE=DIR), starts the background read of the runs as the server does after opening
// (`Fulltext.preload`, when this checkout has it), waits BENCH_DELAY ms (0: a client at once), then
// times `candidates()` for each string; BENCH_REPS (3) times, each a fresh open. Wall and process CPU.
// Usage: BENCH_STORE=DIR [BENCH_DELAY=3000] npx node bench/search-restart.ts für money
import { Store } from '../src/store/index.ts';
import { machineLine } from './compare/common.ts';

const dir = process.env.BENCH_STORE;
if (!dir) throw new Error('set BENCH_STORE to a store made by bench/search.ts');
const delay = Number(process.env.BENCH_DELAY ?? 0);
const terms = process.argv.length > 2 ? process.argv.slice(2) : ['für', 'money'];
console.log(`first index lookup after opening ${dir}, ${delay} ms after the open; ${machineLine()}`);
for (let rep = 0; rep < Number(process.env.BENCH_REPS ?? 3); rep++) {
  const store = await Store.open(dir);
  const account = (await store.accounts.byAddress('bench@wren.test'))!;
  const inbox = store.folders.byName(account.id, 'INBOX')!;
  void (store.fulltext as { preload?: () => Promise<void> }).preload?.(); // absent before this existed
  await new Promise((resolve) => setTimeout(resolve, delay));
  const out: string[] = [];
  for (const term of terms) {
    const t = performance.now();
    const cpu = process.cpuUsage();
    await store.fulltext.candidates(inbox.id, [term]);
    const used = process.cpuUsage(cpu);
    out.push(
      `${term} ${(performance.now() - t).toFixed(0)} ms (CPU ${((used.user + used.system) / 1000).toFixed(0)} ms)`,
    );
  }
  console.log(`${inbox.exists} messages: ${out.join(', ')}`);
  await store.close();
}
