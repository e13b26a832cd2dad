// Copies a whole IMAP account (every folder, flags, internal dates, exact bytes) into a mailbox of
// this server. Resumable and idempotent: per source folder the state file records UIDVALIDITY and the
// last UID handled, and each message is matched against what the target folder already holds
// (Message-ID + internal date + size), so neither a second run nor a resumed one copies twice.
import { ImapFlow, type FetchMessageObject, type ListResponse } from 'imapflow';
import type { Progress } from '../client/progress.ts';
import { messageIdOf, messageKey } from './identity.ts';
import { saveState, type ImportState } from './state.ts';
import type { Target } from './target.ts';

export interface ImapSource {
  host: string;
  port: number;
  /**
   * tls: implicit TLS (993); starttls: upgrade a plain connection or fail; auto: upgrade whenever the
   * server offers STARTTLS (as imapsync and mbsync do), else plain text; none: plain text.
   */
  security: 'tls' | 'starttls' | 'auto' | 'none';
  user: string;
  password: string;
  /** Accept any certificate (self-signed test servers). */
  insecure?: boolean;
}

export const sourceName = (s: ImapSource): string => `imap://${encodeURIComponent(s.user)}@${s.host}:${s.port}`;

export async function connectSource(s: ImapSource): Promise<ImapFlow> {
  const client = new ImapFlow({
    host: s.host,
    port: s.port,
    secure: s.security === 'tls',
    // undefined: imapflow upgrades when STARTTLS is advertised.
    doSTARTTLS: s.security === 'starttls' ? true : s.security === 'none' ? false : undefined,
    tls: { rejectUnauthorized: !s.insecure },
    auth: { user: s.user, pass: s.password },
    logger: false,
  });
  client.on('error', () => {}); // surfaces as the failing command's rejection
  try {
    await client.connect();
  } catch (err) {
    // RFC 9051 §6.2.3 / RFC 3501 §6.2.3: LOGINDISABLED forbids LOGIN on this connection; say so rather than "login refused".
    if (!client.secureConnection && client.capabilities?.has('LOGINDISABLED')) {
      throw new Error(
        `${s.host}:${s.port} refuses LOGIN on an unencrypted connection (it announces LOGINDISABLED) and offers no STARTTLS: use --tls (usually port 993)`,
        { cause: err },
      );
    }
    throw err;
  }
  return client;
}

export interface ImapImportOptions {
  statePath: string;
  state: ImportState;
  progress: Progress;
  /** Bodies fetched per round (default 100 messages or 20 MiB, whichever comes first). */
  batchMessages?: number;
  batchBytes?: number;
}

/** Flags a client may set on APPEND (\Recent is the server's own). */
const appendable = (flags: Set<string> | undefined): string[] =>
  [...(flags ?? [])].filter((f) => f.toLowerCase() !== '\\recent');

/** Where a source folder lands: the target's folder of the same special use, else the same path with "/". */
function targetPaths(sources: ListResponse[], targets: ListResponse[]): Map<string, string> {
  const bySpecialUse = new Map(targets.filter((t) => t.specialUse).map((t) => [t.specialUse!, t.path]));
  return new Map(
    sources.map((s) => {
      const path =
        s.path.toUpperCase() === 'INBOX' ? 'INBOX' : s.delimiter ? s.path.split(s.delimiter).join('/') : s.path;
      return [s.path, (s.specialUse && bySpecialUse.get(s.specialUse)) || path];
    }),
  );
}

export async function importImap(source: ImapFlow, target: Target, options: ImapImportOptions): Promise<void> {
  const { state, progress } = options;
  const batchMessages = options.batchMessages ?? 100;
  const batchBytes = options.batchBytes ?? 20 * 1024 * 1024;
  const folders = (await source.list({ statusQuery: { messages: true } })).filter(
    (f) => !f.flags.has('\\Noselect') && !f.flags.has('\\NonExistent'),
  );
  progress.total = folders.reduce((sum, f) => sum + (f.status?.messages ?? 0), 0);
  const destinations = targetPaths(folders, await target.folders());

  for (const folder of folders) {
    const to = destinations.get(folder.path)!;
    progress.stage(folder.path === to ? to : `${folder.path} → ${to}`);
    const box = await source.mailboxOpen(folder.path, { readOnly: true });
    const uidValidity = String(box.uidValidity);
    await target.ensureFolder(to);
    const saved = state.folders[folder.path];
    const resumable = saved && saved.uidValidity === uidValidity && saved.target === to ? saved : undefined;
    const scan = await target.index(
      to,
      resumable && { uidValidity: resumable.targetUidValidity, uid: resumable.targetMark },
    );
    let lastUid = scan.resumed ? resumable!.lastUid : 0;
    let appendMark = scan.uidNext;

    const metas: FetchMessageObject[] = [];
    if (box.exists > 0) {
      for await (const m of source.fetch(
        `${lastUid + 1}:*`,
        { uid: true, flags: true, internalDate: true, size: true, headers: ['message-id'] },
        { uid: true },
      )) {
        if (m.uid > lastUid) metas.push(m);
      }
    }
    metas.sort((a, b) => a.uid - b.uid);
    for (let n = box.exists - metas.length; n > 0; n--) progress.add('skipped'); // recorded as done by an earlier run

    for (let i = 0; i < metas.length; ) {
      // Decide a batch, fetch the bodies it needs in one go, then append in UID order.
      const batch: { meta: FetchMessageObject; copy: boolean }[] = [];
      let copies = 0;
      let size = 0;
      while (i < metas.length && copies < batchMessages && size < batchBytes) {
        const meta = metas[i++]!;
        const copy = !scan.index.take(
          messageKey(messageIdOf(meta.headers ?? Buffer.alloc(0)), new Date(meta.internalDate!), meta.size!),
        );
        batch.push({ meta, copy });
        if (copy) {
          copies++;
          size += meta.size ?? 0;
        }
      }
      const bodies = new Map<number, Buffer>();
      const wanted = batch.filter((b) => b.copy).map((b) => b.meta.uid);
      if (wanted.length)
        for await (const m of source.fetch(wanted.join(','), { uid: true, source: true }, { uid: true }))
          bodies.set(m.uid, m.source!);
      for (const { meta, copy } of batch) {
        const raw = copy ? bodies.get(meta.uid) : undefined;
        if (!copy) progress.add('skipped');
        else if (!raw)
          progress.note(`${folder.path}: UID ${meta.uid} was expunged on the source meanwhile; not copied`);
        else {
          const { uid } = await target.append(to, raw, appendable(meta.flags), new Date(meta.internalDate!));
          if (uid !== undefined) appendMark = Math.max(appendMark, uid + 1);
          progress.add('copied', raw.length);
        }
        lastUid = meta.uid;
      }
      // Only at batch ends: every match taken from the index is then for a message handled.
      const mark = Math.min(scan.index.lowestUnmatched() ?? Infinity, appendMark);
      state.folders[folder.path] = {
        uidValidity,
        lastUid,
        target: to,
        targetUidValidity: scan.uidValidity,
        targetMark: mark,
      };
      await saveState(options.statePath, state);
    }
    await source.mailboxClose();
  }
}
