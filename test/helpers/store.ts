import { Store } from '../../src/store/index.ts';
import { tempDir } from './tmp.ts';

/** Runs `run` with a store opened in a fresh temp directory, then closes and removes it. */
export async function withTempStore(run: (store: Store) => Promise<void>): Promise<void> {
  const dir = tempDir();
  const store = await Store.open(dir.path);
  try {
    await run(store);
  } finally {
    await store.close();
    dir.remove();
  }
}
