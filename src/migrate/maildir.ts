// Maildir++ as Dovecot and Courier lay it out: the top directory is INBOX, ".Sub.Folder" is the folder
// Sub/Folder (names in modified UTF-7), flags are the letters after ":2," (keywords as a-z, listed in
// dovecot-keywords), and a file's mtime is the message's internal date.
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeMutf7, encodeMutf7 } from '../mime/mutf7.ts';
import type { SourceMessage } from './files.ts';

const LETTER_FLAGS: Record<string, string> = {
  D: '\\Draft',
  F: '\\Flagged',
  P: '$Forwarded',
  R: '\\Answered',
  S: '\\Seen',
  T: '\\Deleted',
};
const FLAG_LETTERS = new Map(Object.entries(LETTER_FLAGS).map(([letter, flag]) => [flag.toLowerCase(), letter]));
const KEYWORD_LETTERS = 'abcdefghijklmnopqrstuvwxyz';

const isMaildir = (dir: string): boolean => existsSync(join(dir, 'cur')) || existsSync(join(dir, 'new'));

/** Every folder under a Maildir++ root: its IMAP path ("INBOX", "Sub/Folder") and directory. */
export async function maildirFolders(root: string): Promise<{ path: string; dir: string }[]> {
  const folders = isMaildir(root) ? [{ path: 'INBOX', dir: root }] : [];
  const entries = await readdir(root, { withFileTypes: true });
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (!entry.isDirectory() || !entry.name.startsWith('.') || entry.name === '.' || entry.name === '..') continue;
    const dir = join(root, entry.name);
    if (!isMaildir(dir)) continue;
    folders.push({ path: entry.name.slice(1).split('.').map(decodeMutf7).join('/'), dir });
  }
  return folders;
}

/** The directory of an IMAP folder under a Maildir++ root. */
export const folderDir = (root: string, path: string): string =>
  path.toUpperCase() === 'INBOX' ? root : join(root, `.${path.split('/').map(encodeMutf7).join('.')}`);

/** Keyword index → name, from the folder's dovecot-keywords file ("0 $Label1" per line). */
async function readKeywords(dir: string): Promise<string[]> {
  const keywords: string[] = [];
  try {
    for (const line of (await readFile(join(dir, 'dovecot-keywords'), 'utf8')).split('\n')) {
      const match = /^(\d+) (\S+)$/.exec(line.trim());
      if (match) keywords[Number(match[1])] = match[2]!;
    }
  } catch {
    // no keywords in this folder
  }
  return keywords;
}

/** The flags of a Maildir file name ("…:2,FRS" and keyword letters); new/ messages are unseen. */
export function flagsOfName(name: string, keywords: string[]): string[] {
  const info = /:2,([^:]*)$/.exec(name)?.[1] ?? '';
  const flags: string[] = [];
  for (const c of info) {
    if (LETTER_FLAGS[c]) flags.push(LETTER_FLAGS[c]);
    const keyword = keywords[KEYWORD_LETTERS.indexOf(c)];
    if (KEYWORD_LETTERS.includes(c) && keyword) flags.push(keyword);
  }
  return flags;
}

/** The messages of one Maildir folder (new/ and cur/), oldest file name first. */
export async function* maildirMessages(dir: string): AsyncGenerator<SourceMessage> {
  const keywords = await readKeywords(dir);
  for (const sub of ['new', 'cur']) {
    let names: string[];
    try {
      names = (await readdir(join(dir, sub))).filter((n) => !n.startsWith('.'));
    } catch {
      continue;
    }
    for (const name of names.sort()) {
      const file = join(dir, sub, name);
      const info = await stat(file);
      if (!info.isFile()) continue;
      yield { raw: await readFile(file), flags: flagsOfName(name, keywords), internalDate: info.mtime };
    }
  }
}

/** Writes messages of one folder into a Maildir (cur/), named stably so a second export rewrites nothing. */
export class MaildirWriter {
  readonly dir: string;
  readonly #existing = new Map<string, string>();
  readonly #keywords: string[] = [];
  #keywordsChanged = false;

  private constructor(dir: string) {
    this.dir = dir;
  }

  static async open(root: string, path: string): Promise<MaildirWriter> {
    const writer = new MaildirWriter(folderDir(root, path));
    for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(writer.dir, sub), { recursive: true, mode: 0o700 });
    if (writer.dir !== root) await writeFile(join(writer.dir, 'maildirfolder'), '');
    for (const name of await readdir(join(writer.dir, 'cur')))
      writer.#existing.set(name.replace(/:2,[^:]*$/, ''), name);
    writer.#keywords.push(...(await readKeywords(writer.dir)));
    return writer;
  }

  #letters(flags: string[]): string {
    const letters = new Set<string>();
    for (const flag of flags) {
      const system = FLAG_LETTERS.get(flag.toLowerCase());
      if (system) {
        letters.add(system);
        continue;
      }
      if (flag.startsWith('\\')) continue; // \Recent and other server-side flags
      let index = this.#keywords.indexOf(flag);
      if (index === -1 && this.#keywords.length < KEYWORD_LETTERS.length) {
        index = this.#keywords.push(flag) - 1;
        this.#keywordsChanged = true;
      }
      if (index !== -1) letters.add(KEYWORD_LETTERS[index]!);
    }
    return [...letters].sort().join('');
  }

  /**
   * One message; `id` is unique and stable within the folder (UIDVALIDITY and UID). Returns false
   * when the same message with the same flags is already there.
   */
  async write(id: string, raw: Buffer, flags: string[], internalDate: Date, hostname: string): Promise<boolean> {
    const base = `${Math.floor(internalDate.getTime() / 1000)}.${id}.${hostname},S=${raw.length}`;
    const name = `${base}:2,${this.#letters(flags)}`;
    const file = join(this.dir, 'cur', name);
    const old = this.#existing.get(base);
    if (old === name) return false;
    if (old) await rename(join(this.dir, 'cur', old), file);
    else {
      const temporary = join(this.dir, 'tmp', base);
      await writeFile(temporary, raw, { mode: 0o600 });
      await utimes(temporary, internalDate, internalDate);
      await rename(temporary, file);
    }
    this.#existing.set(base, name);
    return true;
  }

  async close(): Promise<void> {
    if (!this.#keywordsChanged) return;
    await writeFile(join(this.dir, 'dovecot-keywords'), this.#keywords.map((k, i) => `${i} ${k}\n`).join(''));
  }
}
