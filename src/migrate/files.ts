// Imports messages read from files (mbox, Maildir) into one folder of a target mailbox, skipping
// those the folder already holds, so running the same import twice copies nothing twice.
import type { Progress } from '../client/progress.ts';
import { messageIdOf, messageKey, toCrlf } from './identity.ts';
import type { Target } from './target.ts';

export interface SourceMessage {
  raw: Buffer;
  flags: string[];
  internalDate: Date;
}

export async function importMessages(
  target: Target,
  folder: string,
  messages: AsyncIterable<SourceMessage>,
  progress: Progress,
): Promise<void> {
  progress.stage(folder);
  await target.ensureFolder(folder);
  const { index } = await target.index(folder);
  for await (const message of messages) {
    // Stored as IMAP serves it (CRLF), so sizes and bytes compare across a round trip.
    const raw = toCrlf(message.raw);
    const date = new Date(Math.floor(message.internalDate.getTime() / 1000) * 1000);
    if (index.take(messageKey(messageIdOf(raw), date, raw.length))) {
      progress.add('skipped');
      continue;
    }
    await target.append(folder, raw, message.flags, date);
    progress.add('copied', raw.length);
  }
}
