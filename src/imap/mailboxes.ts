// Folder names as IMAP sees them: lookups with the right error codes, LIST pattern matching,
// hierarchy attributes and STATUS items (shared by STATUS and LIST-STATUS).
import type { Folder } from '../store/index.ts';
import { ImapError } from './command.ts';
import type { Session } from './session.ts';

export const DELIMITER = '/';

export function findFolder(session: Session, rawName: string): Folder {
  const folder = session.ctx.store.folders.byName(session.account!.id, session.parseMailboxName(rawName));
  if (!folder) throw new ImapError('NO', 'No such mailbox', 'NONEXISTENT');
  return folder;
}

/** Target of APPEND/COPY/MOVE: a missing one answers [TRYCREATE]. */
export function findTarget(session: Session, rawName: string): Folder {
  const folder = session.ctx.store.folders.byName(session.account!.id, session.parseMailboxName(rawName));
  if (!folder) throw new ImapError('NO', 'Mailbox does not exist', 'TRYCREATE');
  return folder;
}

/** "*" matches anything, "%" anything but the delimiter; the INBOX prefix is case-insensitive. */
export function patternMatcher(pattern: string): (name: string) => boolean {
  if (/^inbox(?=$|[/*%])/i.test(pattern)) pattern = `INBOX${pattern.slice(5)}`;
  const source = pattern
    .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/%/g, `[^${DELIMITER}]*`);
  const re = new RegExp(`^${source}$`, 'su');
  return (name) => re.test(name);
}

export interface ListEntry {
  name: string;
  folder: Folder | null; // null: a parent that only exists because it has children
  hasChildren: boolean;
}

/** Every folder plus the parents its name implies, in name order; `extra` names (subscriptions without a folder) too. */
export function hierarchy(folders: Folder[], extra: Iterable<string> = []): ListEntry[] {
  const byName = new Map<string, ListEntry>();
  for (const folder of folders) byName.set(folder.name, { name: folder.name, folder, hasChildren: false });
  for (const name of extra) if (!byName.has(name)) byName.set(name, { name, folder: null, hasChildren: false });
  for (const name of [...byName.keys()]) {
    const parts = name.split(DELIMITER);
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join(DELIMITER);
      const entry = byName.get(parent) ?? { name: parent, folder: null, hasChildren: false };
      entry.hasChildren = true;
      byName.set(parent, entry);
    }
  }
  return [...byName.values()].sort((a, b) =>
    a.name === 'INBOX' ? -1 : b.name === 'INBOX' ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
}

export const STATUS_ITEMS = new Set([
  'MESSAGES',
  'RECENT',
  'UIDNEXT',
  'UIDVALIDITY',
  'UNSEEN',
  'SIZE',
  'HIGHESTMODSEQ',
  'DELETED',
  'APPENDLIMIT',
]);

/** The parenthesised STATUS attribute list for a folder. */
export async function statusItems(session: Session, folder: Folder, items: string[]): Promise<string> {
  const out: string[] = [];
  for (const item of items) {
    switch (item) {
      case 'MESSAGES':
        out.push(`MESSAGES ${folder.exists}`);
        break;
      case 'RECENT': {
        const from = await session.ctx.recent.unclaimedFrom(folder.id);
        out.push(
          `RECENT ${from === null ? 0 : (await session.ctx.store.messages.listShared(folder.id)).filter((m) => m.uid >= from).length}`,
        );
        break;
      }
      case 'UIDNEXT':
        out.push(`UIDNEXT ${folder.uidNext}`);
        break;
      case 'UIDVALIDITY':
        out.push(`UIDVALIDITY ${folder.uidValidity}`);
        break;
      case 'UNSEEN':
        out.push(`UNSEEN ${folder.unseen}`);
        break;
      case 'SIZE':
        out.push(`SIZE ${folder.size}`);
        break;
      case 'HIGHESTMODSEQ':
        out.push(`HIGHESTMODSEQ ${folder.highestModSeq}`);
        break;
      case 'APPENDLIMIT':
        out.push(`APPENDLIMIT ${session.ctx.limits.maxLiteralBytes}`);
        break;
      case 'DELETED': {
        const messages = await session.ctx.store.messages.listShared(folder.id);
        out.push(`DELETED ${messages.filter((m) => m.flags.includes('\\Deleted')).length}`);
        break;
      }
    }
  }
  return `(${out.join(' ')})`;
}
