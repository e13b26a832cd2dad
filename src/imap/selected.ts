// The mailbox a session has selected: the UID list behind sequence numbers, changes from other
// sessions waiting to be announced, and the flags this session has shown. Its own module so that
// SELECT (select.ts) can build one without importing the session, which imports every command.
import { SYSTEM_FLAGS, type Folder, type FolderChange, type Message } from '../store/index.ts';
import type { SearchContext } from './search-context.ts';
import type { UidList } from './uid-lists.ts';

/** The mailbox a session has selected, as this session has announced it to the client. */
export class Selected {
  readonly folder: Folder;
  readonly readOnly: boolean;
  /** UIDs in sequence-number order; shared with other sessions (uid-lists.ts), so replaced, never changed. */
  uids: UidList;
  /** Changes from the store not yet applied to `uids` / announced. */
  pending: FolderChange[] = [];
  /** UIDs expunged in the store whose EXPUNGE may not be sent yet (during FETCH/STORE/SEARCH). */
  expunged = new Set<number>();
  /** MODSEQs of flag changes this session made and reported itself. */
  ownModseqs = new Set<number>();
  /** UIDs that are \Recent in this session (IMAP4rev1 only; see recent.ts). */
  recent = new Set<number>();
  /** Live SEARCH/SORT results (RETURN (UPDATE), RFC 5267). */
  contexts: SearchContext[] = [];
  /** Keywords announced in FLAGS so far, by lower-case name (flags compare case-insensitively). */
  keywords = new Map<string, string>();

  constructor(folder: Folder, readOnly: boolean, uids: UidList) {
    this.folder = folder;
    this.readOnly = readOnly;
    this.uids = uids;
  }

  /** A message's parenthesised flag list as this session shows it, \Recent included. */
  flagList(message: Message): string {
    return `(${(this.recent.has(message.uid) ? [...message.flags, '\\Recent'] : message.flags).join(' ')})`;
  }

  /** The untagged FLAGS and PERMANENTFLAGS responses for the keywords known so far (RFC 3501 7.2.6, 7.1). */
  flagsResponses(maxKeywords: number): string[] {
    const flags = [...SYSTEM_FLAGS, ...this.keywords.values()].join(' ');
    // \* (new keywords allowed) only while the mailbox is under its keyword cap (store-flags.ts).
    const more = this.keywords.size < maxKeywords ? ' \\*' : '';
    return [`* FLAGS (${flags})`, `* OK [PERMANENTFLAGS (${this.readOnly ? '' : `${flags}${more}`})] Flags permitted`];
  }

  /** Adds the messages' keywords; true when one was new (the client must get a fresh FLAGS first). */
  learnKeywords(messages: Iterable<Message>): boolean {
    let added = false;
    for (const m of messages) {
      for (const f of m.flags) {
        if (f.startsWith('\\') || this.keywords.has(f.toLowerCase())) continue;
        this.keywords.set(f.toLowerCase(), f);
        added = true;
      }
    }
    return added;
  }

  seqOf(uid: number): number {
    let lo = 0;
    let hi = this.uids.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.uids[mid]!;
      if (v === uid) return mid + 1;
      if (v < uid) lo = mid + 1;
      else hi = mid - 1;
    }
    return 0;
  }
}
