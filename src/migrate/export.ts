// Writes every folder of a mailbox into a Maildir++ tree, flags in the file names and each file's
// mtime set to the internal date; a second export into the same tree writes only what changed.
import type { Progress } from '../client/progress.ts';
import { MaildirWriter } from './maildir.ts';
import type { Target } from './target.ts';

/** Messages fetched per round: bounds memory whatever the folder's size. */
const BATCH = 100;

export async function exportMaildir(target: Target, root: string, progress: Progress, hostname: string): Promise<void> {
  const client = target.client;
  const folders = (await client.list({ statusQuery: { messages: true } })).filter(
    (f) => !f.flags.has('\\Noselect') && !f.flags.has('\\NonExistent'),
  );
  progress.total = folders.reduce((sum, f) => sum + (f.status?.messages ?? 0), 0);
  for (const folder of folders) {
    progress.stage(folder.path);
    const writer = await MaildirWriter.open(root, folder.path);
    const box = await client.mailboxOpen(folder.path, { readOnly: true });
    const uids = box.exists > 0 ? (await client.search({ all: true }, { uid: true })) || [] : [];
    for (let i = 0; i < uids.length; i += BATCH) {
      for await (const m of client.fetch(
        uids.slice(i, i + BATCH).join(','),
        { uid: true, flags: true, internalDate: true, source: true },
        { uid: true },
      )) {
        const written = await writer.write(
          `W${box.uidValidity}U${m.uid}`,
          m.source!,
          [...(m.flags ?? [])],
          new Date(m.internalDate!),
          hostname,
        );
        progress.add(written ? 'copied' : 'skipped', m.source!.length);
      }
    }
    await writer.close();
    await client.mailboxClose();
  }
}
