import type { Blobs, FetchItems, HeaderFields, MessageStructure, StoredSearchFields } from './blobs.ts';
import type { Fulltext } from './fulltext.ts';
import type { Snapshot } from './db.ts';
import type { Messages } from './messages.ts';
import type { Message } from './types.ts';
import type { SearchFields } from '../mime/types.ts';

/**
 * Reads of message records and their content that all see one instant. A record read here always
 * has its blob (chunks, index, search fields) here too, even if another session expunges the
 * message and frees the blob meanwhile: the free is a later commit the snapshot does not see.
 * Hold one for the length of a command at most, and close() it (finally).
 */
export class StoreView {
  private readonly snapshot: Snapshot;
  private readonly messages: Messages;
  private readonly blobs: Blobs;
  private readonly fulltexts: Fulltext;

  constructor(snapshot: Snapshot, messages: Messages, blobs: Blobs, fulltext: Fulltext) {
    this.snapshot = snapshot;
    this.messages = messages;
    this.blobs = blobs;
    this.fulltexts = fulltext;
  }

  getMany(folderId: number, uids: number[]): Promise<(Message | undefined)[]> {
    return this.messages.getMany(folderId, uids, this.snapshot);
  }

  range(folderId: number, fromUid: number, toUid: number): Promise<Message[]> {
    return this.messages.range(folderId, fromUid, toUid, this.snapshot);
  }

  /** Every message of the folder in UID order, as of the view. */
  list(folderId: number): Promise<Message[]> {
    return this.messages.range(folderId, 1, 0xffffffff, this.snapshot);
  }

  structures(shas: string[]): Promise<MessageStructure[]> {
    return this.blobs.structures(shas, this.snapshot);
  }

  /** As structures(), with undefined for a blob this view does not have (its message is gone here too). */
  structuresIfPresent(shas: string[]): Promise<(MessageStructure | undefined)[]> {
    return this.blobs.structuresIfPresent(shas, this.snapshot);
  }

  /** ENVELOPE and BODYSTRUCTURE formatted at delivery; undefined where this view has no record (Blobs.fetchItems). */
  fetchItems(shas: string[]): Promise<(FetchItems | undefined)[]> {
    return this.blobs.fetchItems(shas, this.snapshot);
  }

  /** Whole messages of at most one blob chunk, in one read; undefined where this view has no blob. */
  readSmall(messages: Message[]): Promise<(Buffer | undefined)[]> {
    return this.blobs.readSmall(
      messages.map((m) => ({ sha: m.blob, size: m.size })),
      this.snapshot,
    );
  }

  searchFields(shas: string[]): Promise<SearchFields[]> {
    return this.blobs.searchFields(shas, this.snapshot);
  }

  /** Search fields with the body text possibly cut to its start (Blobs.summaryFields): for previews. */
  summaryFields(shas: string[]): Promise<StoredSearchFields[]> {
    return this.blobs.summaryFields(shas, this.snapshot);
  }

  headerFields(shas: string[]): Promise<HeaderFields[]> {
    return this.blobs.headerFields(shas, this.snapshot);
  }

  /** The full-text index's stored text of each message (SEARCH BODY/TEXT, mailbox search). */
  fulltext(messages: Message[]): Promise<Buffer[]> {
    return this.fulltexts.texts(messages, this.snapshot);
  }

  /** Raw bytes of a message read through this view, or a byte range of it. */
  read(message: Message, start = 0, end = message.size): Promise<Buffer> {
    return this.blobs.read(message.blob, message.size, start, end, this.snapshot);
  }

  close(): Promise<void> {
    return this.snapshot.close();
  }
}
