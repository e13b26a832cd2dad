// The shared corpus (../shared/corpus beside the repo, see its README.md) is not part of the repo:
// the benches that run over it look for it here and, when it is absent, say so and measure nothing.
import { existsSync } from 'node:fs';

export const SHARED_CORPUS = new URL('../../../shared/corpus', import.meta.url).pathname;

/** Ends the bench with a plain message (exit status 1) unless every path exists. */
export function requireCorpus(envVar: string, ...paths: string[]): void {
  const missing = paths.filter((p) => !existsSync(p));
  if (missing.length === 0) return;
  console.log(`corpus not found at ${missing.join(', ')}: nothing measured (set ${envVar} to where it is)`);
  process.exit(1);
}
