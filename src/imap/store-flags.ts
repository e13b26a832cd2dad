// STORE (RFC 3501 6.4.6) with UNCHANGEDSINCE (RFC 7162 3.1.3).
import { Args, BadArguments, tokenText } from './args.ts';
import { defineCommand, ImapError, type Reply, SELECTED } from './command.ts';
import { uidsOf } from './messages.ts';
import { formatSequenceSet, type Range } from './sequence.ts';
import type { Session } from './session.ts';

export interface StoreArgs {
  ranges: Range[];
  unchangedSince: number | null;
  operation: 'set' | 'add' | 'remove';
  silent: boolean;
  flags: string[];
}

const FLAG = /^(\\?[^\s()\\{"%*\]\x00-\x1f\x7f]+)$/;

/**
 * A STORE or APPEND flag list. \Recent is the server's session flag (RFC 3501 2.3.2) and the `flag`
 * grammar excludes it (RFC 3501 9): a tagged BAD, as Dovecot answers ("Invalid system flag").
 */
export function checkFlags(flags: string[]): string[] {
  for (const flag of flags) {
    if (!FLAG.test(flag)) throw new BadArguments('Invalid flag');
    if (flag.toLowerCase() === '\\recent')
      throw new BadArguments(`Invalid system flag ${flag}: \\Recent is set by the server only`);
  }
  return flags;
}

const isKeyword = (flag: string): boolean => !flag.startsWith('\\');

/** The keywords the folder's messages carry (lower case: flags compare case-insensitively). */
export async function folderKeywords(session: Session, folderId: number): Promise<Set<string>> {
  const keywords = new Set<string>();
  for (const m of await session.ctx.store.messages.listShared(folderId))
    for (const f of m.flags) if (isKeyword(f)) keywords.add(f.toLowerCase());
  return keywords;
}

/**
 * Keywords are state every client of the mailbox downloads (FLAGS, PERMANENTFLAGS): a mailbox holds
 * at most limits.maxKeywordsPerMailbox (Cyrus caps user flags at 128 per mailbox), and so does each
 * message. Adding a new one past the cap is NO [LIMIT] (RFC 5530 3).
 */
export async function checkKeywordLimit(session: Session, folderId: number, flags: string[]): Promise<void> {
  const adding = flags.filter(isKeyword).map((f) => f.toLowerCase());
  if (!adding.length) return;
  const keywords = await folderKeywords(session, folderId);
  for (const k of adding) keywords.add(k);
  const max = session.ctx.limits.maxKeywordsPerMailbox;
  if (keywords.size > max) throw new ImapError('NO', `A mailbox may hold at most ${max} keywords`, 'LIMIT');
}

export function parseStore(args: Args): StoreArgs {
  const ranges = args.sequenceSet();
  let unchangedSince: number | null = null;
  if (args.peek()?.kind === 'list') {
    const modifiers = new Args(args.list());
    while (modifiers.remaining) {
      const name = modifiers.atom('store modifier').toUpperCase();
      if (name !== 'UNCHANGEDSINCE') throw new BadArguments(`Unknown store modifier ${name}`);
      unchangedSince = modifiers.number('mod-sequence');
    }
  }
  const m = /^([+-]?)FLAGS(\.SILENT)?$/i.exec(args.atom('store item'));
  if (!m) throw new BadArguments('Expected FLAGS, +FLAGS or -FLAGS');
  const flags: string[] = [];
  while (args.remaining) for (const t of args.listOrOne('flags')) flags.push(tokenText(t, 'flag'));
  checkFlags(flags);
  return {
    ranges,
    unchangedSince,
    operation: m[1] === '+' ? 'add' : m[1] === '-' ? 'remove' : 'set',
    silent: !!m[2],
    flags,
  };
}

export async function store(session: Session, args: StoreArgs, byUid: boolean): Promise<Reply> {
  const selected = session.selected!;
  if (selected.readOnly) throw new ImapError('NO', 'Mailbox is read-only', 'READ-ONLY');
  if (args.unchangedSince !== null) session.useCondstore();
  const flags = args.flags;
  const uids = uidsOf(selected, args.ranges, byUid).filter((uid) => !selected.expunged.has(uid));
  if (!uids.length) return {};
  if (args.operation !== 'remove') await checkKeywordLimit(session, selected.folder.id, flags);
  const result = await session.ctx.store.messages.updateFlags(
    selected.folder.id,
    uids,
    args.operation,
    flags,
    args.unchangedSince ?? undefined,
  );
  for (const m of result.updated) selected.ownModseqs.add(m.modseq);
  if (result.gained.size) session.ctx.onFlagsGained?.(session.account!.id, selected.folder, result.gained);
  const report = [...result.updated, ...(args.silent ? [] : result.unchanged)].sort((a, b) => a.uid - b.uid);
  // Unchanged messages are shown too, with keywords another session may have added (RFC 3501 7.2.6).
  session.announceKeywords(report);
  for (const message of report) {
    const items: string[] = [];
    if (byUid || session.qresync) items.push(`UID ${message.uid}`);
    // .SILENT still reports the new MODSEQ to a client that asked for conditional stores
    if (!args.silent) items.push(`FLAGS ${selected.flagList(message)}`);
    if (session.condstore) items.push(`MODSEQ (${message.modseq})`);
    if (items.length > (byUid || session.qresync ? 1 : 0))
      session.send(`* ${selected.seqOf(message.uid)} FETCH (${items.join(' ')})`);
  }
  if (result.conflicts.length) {
    const numbers = byUid ? result.conflicts : result.conflicts.map((uid) => selected.seqOf(uid));
    return { code: `MODIFIED ${formatSequenceSet(numbers)}`, text: 'Some messages were modified' };
  }
  return {};
}

export const storeCommand = (byUid: boolean) =>
  defineCommand({
    states: SELECTED,
    holdsExpunges: true,
    parse: parseStore,
    run: (session, args: StoreArgs) => store(session, args, byUid),
  });
