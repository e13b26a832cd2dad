// Where an IMAP import stands, per source folder, in a small JSON file rewritten atomically: a
// resumed run skips what is recorded and looks at the target only from `targetMark` on.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface FolderState {
  /** The source folder's UIDVALIDITY: when it changes, the UIDs below mean nothing any more. */
  uidValidity: string;
  /** Every source message up to this UID is in the target. */
  lastUid: number;
  target: string;
  targetUidValidity: string;
  /** Target messages below this UID are accounted for; those from it on may be copies made after the last save. */
  targetMark: number;
}

export interface ImportState {
  source: string;
  folders: Record<string, FolderState>;
}

export async function loadState(path: string, source: string): Promise<ImportState> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { source, folders: {} };
    throw err;
  }
  const state = JSON.parse(text) as ImportState;
  if (state.source !== source)
    throw new Error(`${path} records an import from ${state.source}, not ${source}: give another --state file`);
  return state;
}

/** Written to a temporary name and renamed over the old file, so a kill leaves one or the other. */
export async function saveState(path: string, state: ImportState): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.tmp`;
  await writeFile(temporary, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await rename(temporary, path);
}
