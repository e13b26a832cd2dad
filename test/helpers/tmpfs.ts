// A real small tmpfs for tests that need a disk that fills up (ENOSPC): mounted on a temporary
// directory (needs root), filled by a filler file, freed by removing it.
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './tmp.ts';

export interface Tmpfs {
  path: string;
  /** Writes a filler file until the disk answers ENOSPC. */
  fill(): void;
  /** Removes the filler: space returns. */
  free(): void;
  /** Unmounts and removes the directory. */
  remove(): void;
}

export function mountTmpfs(sizeMiB: number, prefix = 'wren-tmpfs-'): Tmpfs {
  const mount = tempDir(prefix);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m`, 'tmpfs', mount.path], { stdio: 'pipe' });
  } catch (err) {
    mount.remove();
    throw new Error(`this test needs a small tmpfs (run as root): mount -t tmpfs failed: ${(err as Error).message}`);
  }
  const filler = join(mount.path, 'filler');
  return {
    path: mount.path,
    fill() {
      const fd = openSync(filler, 'w');
      const block = Buffer.alloc(64 * 1024, 1);
      try {
        for (;;) writeSync(fd, block);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      } finally {
        closeSync(fd);
      }
    },
    free: () => rmSync(filler, { force: true }),
    remove() {
      rmSync(filler, { force: true });
      try {
        execFileSync('umount', [mount.path], { stdio: 'pipe' });
      } finally {
        mount.remove();
      }
    },
  };
}
