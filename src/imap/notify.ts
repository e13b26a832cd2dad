// NOTIFY (RFC 5465): which mailboxes' events a session hears about without asking. Message events of
// the selected mailbox are announced as they happen (SELECTED-DELAYED keeps expunges for a command
// that may carry them); those of other mailboxes come as STATUS; mailbox creation, deletion, renaming
// and (un)subscription made over IMAP come as LIST.
import { Args, BadArguments, tokenText } from './args.ts';
import { ImapError } from './command.ts';
import type { Token } from './parser.ts';
import { DELIMITER, statusItems } from './mailboxes.ts';
import type { Session } from './session.ts';
import type { Folder, FolderChange } from '../store/index.ts';

const EVENTS = ['MESSAGENEW', 'MESSAGEEXPUNGE', 'FLAGCHANGE', 'MAILBOXNAME', 'SUBSCRIPTIONCHANGE'] as const;
type Event = (typeof EVENTS)[number];
const SUPPORTED = '(MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)';

interface Filter {
  kind: 'SELECTED' | 'SELECTED-DELAYED' | 'INBOXES' | 'PERSONAL' | 'SUBSCRIBED' | 'SUBTREE' | 'MAILBOXES';
  names: string[];
  events: Set<Event>;
}

export interface NotifySettings {
  filters: Filter[];
  status: boolean;
}

/** NOTIFY NONE | NOTIFY SET [STATUS] (filter events)... */
export function parseNotify(args: Args, session: Session): NotifySettings | null {
  if (args.accept('NONE')) return null;
  if (!args.accept('SET')) throw new BadArguments('Expected SET or NONE');
  const status = args.accept('STATUS');
  const filters: Filter[] = [];
  while (args.remaining) {
    const group = new Args(args.list('event group'));
    const kind = group.atom('filter').toUpperCase() as Filter['kind'];
    let names: string[] = [];
    if (kind === 'SUBTREE' || kind === 'MAILBOXES') {
      const t = group.next('mailboxes');
      names = (t.kind === 'list' ? t.items : [t]).map((m: Token) => session.parseMailboxName(tokenText(m, 'mailbox')));
    } else if (!['SELECTED', 'SELECTED-DELAYED', 'INBOXES', 'PERSONAL', 'SUBSCRIBED'].includes(kind)) {
      throw new BadArguments(`Unknown filter ${kind.slice(0, 30)}`);
    }
    const events = new Set<Event>();
    if (!group.accept('NONE')) {
      const list = new Args(group.list('events'));
      while (list.remaining) {
        const name = list.atom('event').toUpperCase();
        if (!EVENTS.includes(name as Event))
          throw new ImapError('NO', `Unsupported event ${name.slice(0, 30)}`, `BADEVENT ${SUPPORTED}`);
        if (name === 'MESSAGENEW' && list.peek()?.kind === 'list') list.list(); // fetch attributes: the client FETCHes itself
        events.add(name as Event);
      }
    }
    group.end();
    filters.push({ kind, names, events });
  }
  if (!filters.length) throw new BadArguments('Missing event groups');
  return { filters, status };
}

/** The events a folder other than the selected one is watched for. */
function eventsFor(settings: NotifySettings, folder: Folder): Set<Event> | null {
  for (const f of settings.filters) {
    const hit =
      f.kind === 'PERSONAL' ||
      (f.kind === 'INBOXES' && folder.name === 'INBOX') ||
      (f.kind === 'SUBSCRIBED' && folder.subscribed) ||
      (f.kind === 'MAILBOXES' && f.names.includes(folder.name)) ||
      (f.kind === 'SUBTREE' && f.names.some((n) => folder.name === n || folder.name.startsWith(n + DELIMITER)));
    if (hit) return f.events;
  }
  return null;
}

function selectedFilter(settings: NotifySettings | null): Filter | undefined {
  return settings?.filters.find((f) => f.kind === 'SELECTED' || f.kind === 'SELECTED-DELAYED');
}

/** STATUS items that tell a client of the events it watches (RFC 5465 5.2-5.4). */
function statusFor(events: Set<Event>): string[] {
  const items: string[] = [];
  if (events.has('MESSAGENEW') || events.has('MESSAGEEXPUNGE')) items.push('MESSAGES');
  if (events.has('MESSAGENEW')) items.push('UIDNEXT');
  if (events.has('MESSAGENEW') || events.has('FLAGCHANGE')) items.push('UIDVALIDITY');
  if (events.has('FLAGCHANGE')) items.push('HIGHESTMODSEQ');
  return items;
}

async function sendStatus(session: Session, folder: Folder, events: Set<Event>): Promise<void> {
  const items = statusFor(events);
  if (items.length)
    session.send(`* STATUS ${session.mailboxName(folder.name)} ${await statusItems(session, folder, items)}`);
}

/** Takes the new settings; with STATUS, the current state of each watched mailbox first. */
export async function applyNotify(session: Session, settings: NotifySettings | null): Promise<void> {
  session.notify = settings;
  if (!settings?.status) return;
  for (const folder of session.ctx.store.folders.list(session.account!.id)) {
    if (folder.id === session.selected?.folder.id) continue;
    const events = eventsFor(settings, folder);
    if (events) await sendStatus(session, folder, events);
  }
}

/** A message change in one of the account's folders, for a session with NOTIFY set. */
export async function notifyChange(session: Session, change: FolderChange): Promise<void> {
  const settings = session.notify;
  if (!settings) return;
  if (change.folderId === session.selected?.folder.id) {
    const filter = selectedFilter(settings);
    const event: Event =
      change.kind === 'add' ? 'MESSAGENEW' : change.kind === 'expunge' ? 'MESSAGEEXPUNGE' : 'FLAGCHANGE';
    if (filter?.events.has(event)) await session.announce(filter.kind === 'SELECTED');
    return;
  }
  const folder = session.ctx.store.folders.get(change.folderId);
  if (!folder) return;
  const events = eventsFor(settings, folder);
  const event: Event =
    change.kind === 'add' ? 'MESSAGENEW' : change.kind === 'expunge' ? 'MESSAGEEXPUNGE' : 'FLAGCHANGE';
  if (events?.has(event)) await sendStatus(session, folder, new Set([event]));
}

/** A mailbox created, deleted, renamed or (un)subscribed over IMAP, for the account's other sessions. */
export interface MailboxEvent {
  kind: 'name' | 'subscription';
  name: string;
  /** For a rename: the old name. */
  oldName?: string;
  deleted?: boolean;
  subscribed?: boolean;
}

export function notifyMailbox(session: Session, e: MailboxEvent): void {
  const settings = session.notify;
  if (!settings) return;
  const wanted: Event = e.kind === 'name' ? 'MAILBOXNAME' : 'SUBSCRIPTIONCHANGE';
  const folder = session.ctx.store.folders.byName(session.account!.id, e.name);
  // a deleted mailbox is matched by name, as a stand-in record
  const subject = folder ?? ({ name: e.name, subscribed: false } as Folder);
  if (
    !settings.filters.some((f) => f.kind !== 'SELECTED' && f.kind !== 'SELECTED-DELAYED' && f.events.has(wanted)) ||
    !eventsFor(settings, subject)?.has(wanted)
  )
    return;
  const attributes = e.deleted ? '\\NonExistent' : e.subscribed ? '\\Subscribed' : '';
  const oldName = e.oldName ? ` ("OLDNAME" (${session.mailboxName(e.oldName)}))` : '';
  session.send(`* LIST (${attributes}) "${DELIMITER}" ${session.mailboxName(e.name)}${oldName}`);
}
