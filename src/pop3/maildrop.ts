// The maildrop of one POP3 session (RFC 1939): INBOX as it was at login, numbered 1..n, with the
// deletions and retrievals the session made. Nothing reaches the store before QUIT (the UPDATE
// state); a dropped connection changes nothing.
import type { Folder, Message, Store } from '../store/index.ts';

export class Maildrop {
  readonly folder: Folder;
  private readonly messages: Message[];
  private readonly deleted = new Set<number>();
  private readonly retrieved = new Set<number>();

  constructor(folder: Folder, messages: Message[]) {
    this.folder = folder;
    this.messages = messages;
  }

  static async open(store: Store, accountId: string): Promise<Maildrop | null> {
    const inbox = store.folders.byName(accountId, 'INBOX');
    return inbox ? new Maildrop(inbox, await store.messages.list(inbox.id)) : null;
  }

  /** Message `n` (1-based) unless it does not exist or is marked deleted. */
  get(n: number): Message | undefined {
    return this.deleted.has(n) ? undefined : this.messages[n - 1];
  }

  /** Message numbers not marked deleted, in order. */
  *numbers(): Generator<number> {
    for (let n = 1; n <= this.messages.length; n++) if (!this.deleted.has(n)) yield n;
  }

  stat(): { count: number; bytes: number } {
    let count = 0;
    let bytes = 0;
    for (const n of this.numbers()) {
      count++;
      bytes += this.messages[n - 1]!.size;
    }
    return { count, bytes };
  }

  /** Unique-id listing (RFC 1939 7): stable across sessions while INBOX keeps its UIDVALIDITY. */
  uniqueId(n: number): string {
    return `${this.folder.uidValidity}.${this.messages[n - 1]!.uid}`;
  }

  delete(n: number): void {
    this.deleted.add(n);
  }

  retrievedOne(n: number): void {
    this.retrieved.add(n);
  }

  reset(): void {
    this.deleted.clear();
  }

  /** UPDATE state: messages retrieved and kept become \Seen (as IMAP clients then show them), deleted ones are expunged. */
  async commit(store: Store): Promise<{ removed: number }> {
    const uidsOf = (numbers: Iterable<number>) =>
      [...numbers].map((n) => this.messages[n - 1]!.uid).sort((a, b) => a - b);
    const seen = uidsOf(
      [...this.retrieved].filter((n) => !this.deleted.has(n) && !this.messages[n - 1]!.flags.includes('\\Seen')),
    );
    if (seen.length) await store.messages.updateFlags(this.folder.id, seen, 'add', ['\\Seen']);
    const gone = uidsOf(this.deleted);
    const removed = gone.length ? await store.messages.expunge(this.folder.id, gone) : [];
    return { removed: removed.length };
  }
}
