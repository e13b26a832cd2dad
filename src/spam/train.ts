// Bulk training from files, for `wrenmail spam train --spam DIR --ham DIR`: directories (Maildir's
// cur/new or any tree of one-message files) and mbox files, read as a stream and trained in batches
// of durable writes.
import { splitMbox } from '../mime/mbox.ts';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Store } from '../store/index.ts';
import type { SpamClass, TrainingResult } from '../store/spam.ts';
import { trainMany, type MessageOptions } from './classifier.ts';

export interface BulkTrainOptions extends MessageOptions {
  /** Messages per durable write (default 200). */
  batchSize?: number;
  /** Messages larger than this are skipped (default 10 MiB): their tokens are capped anyway. */
  maxMessageBytes?: number;
  onProgress?: (progress: { spam: number; ham: number }) => void;
}

export interface BulkTrainResult {
  spam: TrainingResult;
  ham: TrainingResult;
  /** Files or mbox entries not trained, and why. */
  skipped: { source: string; reason: string }[];
}

const LF = 0x0a;
const emptyResult = (): TrainingResult => ({ trained: 0, moved: 0, unchanged: 0, untrained: 0 });

/** Trains every message found under the spam paths as spam and under the ham paths as ham. */
export async function trainFromPaths(
  store: Store,
  paths: { spam?: string[]; ham?: string[] },
  options: BulkTrainOptions = {},
): Promise<BulkTrainResult> {
  const batchSize = options.batchSize ?? 200;
  const maxBytes = options.maxMessageBytes ?? 10 * 1024 * 1024;
  const result: BulkTrainResult = { spam: emptyResult(), ham: emptyResult(), skipped: [] };
  const progress = { spam: 0, ham: 0 };
  for (const cls of ['spam', 'ham'] as SpamClass[]) {
    let batch: Buffer[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      const r = await trainMany(
        store,
        batch.map((input) => ({ input, class: cls })),
        options,
      );
      for (const key of Object.keys(r) as (keyof TrainingResult)[]) result[cls][key] += r[key];
      progress[cls] += batch.length;
      batch = [];
      options.onProgress?.({ ...progress });
    };
    for (const path of paths[cls] ?? []) {
      for await (const { source, raw } of readMessages(path)) {
        if (raw.length > maxBytes) result.skipped.push({ source, reason: `larger than ${maxBytes} bytes` });
        else batch.push(raw);
        if (batch.length >= batchSize) await flush();
      }
    }
    await flush();
  }
  return result;
}

/** Every message under `path`: a file (one message or an mbox) or a directory tree of them. */
export async function* readMessages(path: string): AsyncGenerator<{ source: string; raw: Buffer }> {
  const info = await stat(path);
  if (info.isDirectory()) {
    const entries = (await readdir(path, { withFileTypes: true })).filter((e) => !e.name.startsWith('.'));
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.isDirectory() || entry.isFile()) yield* readMessages(join(path, entry.name));
    }
    return;
  }
  if (!info.isFile()) return;
  let n = 0;
  for await (const raw of mboxEntries(path)) {
    n++;
    yield { source: n === 1 ? path : `${path}#${n}`, raw: normalizeMessage(raw) };
  }
}

/** One Buffer per message of a file (mbox or single message). */
async function* mboxEntries(path: string): AsyncGenerator<Buffer> {
  for await (const { lines } of splitMbox(path)) yield Buffer.concat(lines);
}

const HEADER_LINE = /^[\x21-\x39\x3b-\x7e]+[ \t]*:/;

/**
 * Mail as the tokenizer expects it. Files that are not RFC 5322 (Enron-Spam: a "Subject:" line and
 * then the body, no blank line between) become a message with that subject and the rest as its body;
 * text with no header at all becomes a body with an empty header.
 */
export function normalizeMessage(raw: Buffer): Buffer {
  const firstEnd = raw.indexOf(LF);
  const first = raw.toString('latin1', 0, firstEnd === -1 ? raw.length : firstEnd);
  if (!HEADER_LINE.test(first)) return Buffer.concat([Buffer.from('\r\n'), raw]);
  if (firstEnd === -1) return raw;
  const secondEnd = raw.indexOf(LF, firstEnd + 1);
  const second = raw.toString('latin1', firstEnd + 1, secondEnd === -1 ? raw.length : secondEnd).replace(/\r$/, '');
  if (second === '' || second[0] === ' ' || second[0] === '\t' || HEADER_LINE.test(second)) return raw;
  return Buffer.concat([raw.subarray(0, firstEnd + 1), Buffer.from('\n'), raw.subarray(firstEnd + 1)]);
}
