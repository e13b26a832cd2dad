// The data directory holds mail, keys and secrets: nobody but the server's user may read any of it,
// whatever the umask the process was started with and whoever created the directory first.
import { chmodSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** New files 0600, new directories 0700 (LevelDB creates its files with the process umask). */
export const PRIVATE_UMASK = 0o077;

/** Makes `dir` and every directory under it 0700 and every file 0600; symbolic links are left alone. */
export function restrictTree(dir: string): void {
  const st = lstatSync(dir);
  if (st.isSymbolicLink()) return;
  const mode = st.isDirectory() ? 0o700 : 0o600;
  if ((st.mode & 0o777) !== mode) chmodSync(dir, mode);
  if (st.isDirectory()) for (const name of readdirSync(dir)) restrictTree(join(dir, name));
}
