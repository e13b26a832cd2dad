// What the mailbox API and the SSE stream show of folders and messages, and which mailbox a key
// reaches. Message ids name the folder and UID (`msg_<folder><uid>`, hex), as IMAP does: a move
// gives the message a new id in its new folder.
import libmime from 'libmime';
import { z } from 'zod';
import type { Address } from '../../mime/types.ts';
import type { Account, ApiKey, Folder, Message } from '../../store/index.ts';
import { collapseBlanks } from '../../store/blobs.ts';
import type { StoreView } from '../../store/view.ts';
import { hex } from '../../store/keys.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { iso, timestamp } from '../schemas.ts';

export const messageId = (folderId: number, uid: number): string => `msg_${hex(folderId, 8)}${hex(uid, 8)}`;
export const folderPublicId = (folderId: number): string => `fld_${hex(folderId, 8)}`;

export function parseMessageId(value: string, param = 'id'): { folderId: number; uid: number } {
  const match = /^msg_([0-9a-f]{8})([0-9a-f]{8})$/.exec(value);
  if (!match) throw new ApiError('not_found', `no message ${JSON.stringify(value.slice(0, 64))}`, param);
  return { folderId: parseInt(match[1]!, 16), uid: parseInt(match[2]!, 16) };
}

export function parseFolderId(value: string, param = 'folder_id'): number {
  const match = /^fld_([0-9a-f]{8})$/.exec(value);
  if (!match) throw new ApiError('not_found', `no folder ${JSON.stringify(value.slice(0, 64))}`, param);
  return parseInt(match[1]!, 16);
}

/**
 * The mailbox a request is about: a mailbox key's own (another `mailbox_id` is 403); a root key's
 * `mailbox_id` in its team, or none (null) when `required` is false; sending keys reach none.
 */
export async function mailboxScope(
  deps: ApiDeps,
  key: ApiKey,
  mailboxId: string | undefined,
  required: boolean,
): Promise<Account | null> {
  if (key.accountId) {
    if (mailboxId !== undefined && mailboxId !== `mbx_${key.accountId}`)
      throw new ApiError('insufficient_permissions', 'this key reaches only its own mailbox', 'mailbox_id');
    const own = await deps.store.accounts.get(key.accountId);
    if (!own) throw new ApiError('authentication_required', "the key's mailbox no longer exists");
    return own;
  }
  if (key.type !== 'root')
    throw new ApiError('insufficient_permissions', 'a mailbox key (or a root key with mailbox_id) is required');
  if (mailboxId === undefined) {
    if (required) throw new ApiError('missing_parameter', 'mailbox_id is required with a root key', 'mailbox_id');
    return null;
  }
  const account = /^mbx_/.test(mailboxId) ? await deps.store.accounts.get(mailboxId.slice(4)) : undefined;
  if (!account || account.teamId !== key.teamId)
    throw new ApiError('not_found', `no mailbox ${JSON.stringify(mailboxId.slice(0, 64))}`, 'mailbox_id');
  return account;
}

/** The mailbox a request is about, which it must name (see mailboxScope). */
export const requiredMailbox = async (deps: ApiDeps, key: ApiKey, mailboxId: string | undefined): Promise<Account> =>
  (await mailboxScope(deps, key, mailboxId, true))!;

/** A folder of this account by public id, else 404. */
export function loadFolder(deps: ApiDeps, account: Account, id: string, param = 'folder_id'): Folder {
  const folder = deps.store.folders.get(parseFolderId(id, param));
  if (!folder || folder.accountId !== account.id) throw new ApiError('not_found', `no folder ${id}`, param);
  return folder;
}

/**
 * A message of this account by public id, else 404. Routes that go on to read its content pass a
 * `view` (store.withView) and read the content from it too: an expunge in between then cannot free
 * the blob under them (no "missing chunks" 500), the message is either whole or a 404.
 */
export async function loadMessage(
  deps: ApiDeps,
  account: Account,
  id: string,
  view?: StoreView,
): Promise<{ folder: Folder; message: Message }> {
  const { folderId, uid } = parseMessageId(id);
  const folder = deps.store.folders.get(folderId);
  const owned = folder && folder.accountId === account.id;
  const message = !owned
    ? undefined
    : view
      ? (await view.getMany(folderId, [uid]))[0]
      : await deps.store.messages.get(folderId, uid);
  if (!folder || !message) throw new ApiError('not_found', `no message ${id}`, 'id');
  return { folder, message };
}

export const folderSchema = z.object({
  id: z.string(),
  name: z.string(),
  role: z.string().nullable().describe('inbox, drafts, sent, junk, trash, archive'),
  total: z.number().int(),
  unread: z.number().int(),
  size_bytes: z.number().int(),
  subscribed: z.boolean(),
  state: z.string().describe('changes whenever the folder changes (its highest modseq)'),
});

export const folderView = (f: Folder): z.infer<typeof folderSchema> => ({
  id: folderPublicId(f.id),
  name: f.name,
  role: f.name === 'INBOX' ? 'inbox' : f.specialUse ? f.specialUse.slice(1).toLowerCase() : null,
  total: f.exists,
  unread: f.unseen,
  size_bytes: f.size,
  subscribed: f.subscribed,
  state: `${f.uidValidity}.${f.highestModSeq}`,
});

const addressSchema = z.object({ name: z.string().nullable(), email: z.string() });
export const messageSummarySchema = z.object({
  id: z.string(),
  folder_id: z.string(),
  folder: z.string(),
  uid: z.number().int(),
  subject: z.string(),
  from: z.array(addressSchema),
  to: z.array(addressSchema),
  cc: z.array(addressSchema),
  reply_to: z.array(addressSchema),
  message_id: z.string().nullable(),
  in_reply_to: z.string().nullable(),
  sent_at: timestamp.nullable(),
  received_at: timestamp,
  size_bytes: z.number().int(),
  seen: z.boolean(),
  flagged: z.boolean(),
  keywords: z.array(z.string()).describe('IMAP flags and keywords as stored'),
  has_attachments: z.boolean(),
  attachments: z.array(
    z.object({ filename: z.string().nullable(), content_type: z.string(), size_bytes: z.number().int() }),
  ),
  preview: z.string().describe('start of the body text'),
});
export type MessageSummary = z.infer<typeof messageSummarySchema>;

const addresses = (list: Address[] | null): { name: string | null; email: string }[] =>
  (list ?? [])
    .filter((a) => a.mailbox !== null && a.host !== null)
    .map((a) => ({ name: a.name ? libmime.decodeWords(a.name) : null, email: `${a.mailbox}@${a.host}` }));

/** Cuts text to at most `bytes` of UTF-8 without splitting a character. */
export function capUtf8(text: string, bytes: number): { text: string; truncated: boolean } {
  if (Buffer.byteLength(text) <= bytes) return { text, truncated: false };
  const cut = Buffer.from(text).subarray(0, bytes).toString('utf8');
  return { text: cut.endsWith('\ufffd') ? cut.slice(0, -1) : cut, truncated: true };
}

/** At most SEARCH_TEXT_PREFIX_BYTES (store/blobs.ts), so a preview of a cut text is the whole text's. */
const PREVIEW_BYTES = 256;

/**
 * Summaries of messages of one folder, from the parsed index stored at delivery (no message bytes
 * read). The records are read again through `view` (a view of its own when none is given), with
 * their indexes: a message expunged since the caller listed it is left out, never a 500.
 */
export async function messageSummaries(
  deps: ApiDeps,
  folder: Folder,
  listed: Message[],
  view?: StoreView,
): Promise<MessageSummary[]> {
  if (!view) return deps.store.withView((own) => messageSummaries(deps, folder, listed, own));
  const messages = (
    await view.getMany(
      folder.id,
      listed.map((m) => m.uid),
    )
  ).filter((m): m is Message => m !== undefined);
  const shas = messages.map((m) => m.blob);
  // The stored start of the body text is enough for the preview (PREVIEW_BYTES): no blob is read.
  const [structures, fields] = await Promise.all([view.structures(shas), view.summaryFields(shas)]);
  return messages.map((m, i) => {
    const env = structures[i]!.envelope;
    const f = fields[i]!;
    return {
      id: messageId(folder.id, m.uid),
      folder_id: folderPublicId(folder.id),
      folder: folder.name,
      uid: m.uid,
      subject: f.subject,
      from: addresses(env.from),
      to: addresses(env.to),
      cc: addresses(env.cc),
      reply_to: addresses(env.replyTo),
      message_id: f.messageId,
      in_reply_to: f.inReplyTo,
      sent_at: f.date === null ? null : iso(f.date),
      received_at: iso(m.internalDate),
      size_bytes: m.size,
      seen: m.flags.includes('\\Seen'),
      flagged: m.flags.includes('\\Flagged'),
      keywords: m.flags,
      has_attachments: f.attachments.length > 0,
      attachments: f.attachments.map((a) => ({
        filename: a.filename,
        content_type: a.contentType,
        size_bytes: a.size,
      })),
      preview: capUtf8(collapseBlanks(f.text), PREVIEW_BYTES).text,
    };
  });
}

/** The decoded body text of a message read from `view`, capped. */
export async function bodyText(
  view: StoreView,
  message: Message,
  maxBytes: number,
): Promise<{ text: string; truncated: boolean }> {
  const [fields] = await view.searchFields([message.blob]);
  return capUtf8(fields!.text, maxBytes);
}

export const KEYWORD = /^[^\s(){%*"\\\]\x00-\x1f\x7f]{1,100}$/;
export const keywordsSchema = z
  .record(
    z.string().regex(KEYWORD, 'an IMAP keyword (no spaces, parentheses, wildcards, quotes or backslash)'),
    z.boolean(),
  )
  .refine((k) => Object.keys(k).length <= 50, 'at most 50 keywords per update');

/** The flags a PATCH (or batch update) of seen/flagged/keywords adds and removes. */
/** The flags messages gained (by UID), keyed by their UIDs in the folder a move took them to. */
export function gainedAfterMove(gained: Map<number, string[]>, from: number[], to: number[]): Map<number, string[]> {
  const moved = new Map<number, string[]>();
  from.forEach((uid, i) => {
    const flags = gained.get(uid);
    if (flags && to[i] !== undefined) moved.set(to[i], flags);
  });
  return moved;
}

export function flagChanges(body: { seen?: boolean; flagged?: boolean; keywords?: Record<string, boolean> }): {
  add: string[];
  remove: string[];
} {
  const add: string[] = [];
  const remove: string[] = [];
  const want = (flag: string, on: boolean | undefined) => on !== undefined && (on ? add : remove).push(flag);
  want('\\Seen', body.seen);
  want('\\Flagged', body.flagged);
  for (const [name, on] of Object.entries(body.keywords ?? {})) want(name, on);
  return { add, remove };
}
