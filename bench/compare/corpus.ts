// The messages both IMAP servers hold: real mail from ../shared/corpus/{ham,spam}, the same bytes for
// each server. Deterministic: sorted paths, then a fixed shuffle.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireCorpus, SHARED_CORPUS } from '../lib/corpus.ts';

export const CORPUS_DIR = process.env.BENCH_CORPUS ?? SHARED_CORPUS;

/** Ends the bench with a plain message when the corpus is not there. */
export const requireImapCorpus = (): void =>
  requireCorpus('BENCH_CORPUS', join(CORPUS_DIR, 'ham'), join(CORPUS_DIR, 'spam'));

function files(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...files(path));
    else if (entry.isFile() && !entry.name.endsWith('.md')) out.push(path);
  }
  return out;
}

/**
 * Mail as a server stores it: the mbox "From " line of the SpamAssassin and TREC files dropped,
 * line ends made CRLF (IMAP sends CRLF, and Dovecot's maildir W= size then equals the file size).
 */
export function normalise(raw: Buffer): Buffer {
  let text = raw.toString('latin1');
  if (text.startsWith('From ')) text = text.slice(text.indexOf('\n') + 1);
  text = text.replace(/\r?\n/g, '\r\n');
  if (!text.endsWith('\r\n')) text += '\r\n';
  return Buffer.from(text, 'latin1');
}

/**
 * `count` messages (fewer if the corpus has fewer), the same list on every call. Whole RFC 5322
 * messages come first; the Enron-Spam files (a Subject line and a body only) fill up the rest.
 */
export function loadCorpus(count: number): Buffer[] {
  return corpusPaths(count).map((p) => normalise(readFileSync(p)));
}

/** The files loadCorpus reads, in its order (to name the messages a comparison found different). */
export function corpusPaths(count: number): string[] {
  const all = [...files(join(CORPUS_DIR, 'ham')), ...files(join(CORPUS_DIR, 'spam'))].sort();
  const enron = (p: string) => p.includes('/enron-spam/');
  const paths = [...all.filter((p) => !enron(p)), ...all.filter(enron)].slice(0, count);
  // Park–Miller LCG: a fixed, portable shuffle (Fisher–Yates), so sources are mixed in UID order.
  let seed = 20240611;
  const next = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
  for (let i = paths.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [paths[i], paths[j]] = [paths[j]!, paths[i]!];
  }
  return paths;
}
