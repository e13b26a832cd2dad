// Threads for the mailbox API (docs/API.md §12.2): the messages of a mailbox linked by
// Message-ID, In-Reply-To and References, across folders. There is no stored thread index yet, so a
// request groups the whole mailbox from the small header-fields records (no message bytes read).
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { HeaderFields } from '../../store/blobs.ts';
import type { Account, Folder, Message } from '../../store/index.ts';
import type { StoreView } from '../../store/view.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { defineRoute, type Route } from '../registry.ts';
import { loadMessage, requiredMailbox, messageId, messageSummaries, messageSummarySchema } from '../views/messages.ts';

interface Entry {
  folder: Folder;
  message: Message;
  fields: HeaderFields;
}

interface Thread {
  id: string;
  entries: Entry[];
}

const MAX_MESSAGES = 100;

/** Union-find over message keys and the Message-IDs they mention. */
class Links {
  readonly parent = new Map<string, string>();
  find(x: string): string {
    let root = x;
    while (this.parent.has(root) && this.parent.get(root) !== root) root = this.parent.get(root)!;
    this.parent.set(x, root);
    return root;
  }
  union(a: string, b: string): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent.set(ra, rb);
  }
}

const sentAt = (e: Entry): number => e.fields.date ?? e.message.internalDate;

/**
 * Every thread of the account. A thread's id hashes the conversation root as its oldest message names
 * it (first References entry, else In-Reply-To, else its own Message-ID), so replies keep the id.
 */
async function threadsOf(deps: ApiDeps, account: Account, view: StoreView): Promise<Thread[]> {
  const entries: Entry[] = [];
  for (const folder of deps.store.folders.list(account.id)) {
    const messages = await view.list(folder.id);
    for (let i = 0; i < messages.length; i += 500) {
      const chunk = messages.slice(i, i + 500);
      const fields = await view.headerFields(chunk.map((m) => m.blob));
      chunk.forEach((message, j) => entries.push({ folder, message, fields: fields[j]! }));
    }
  }
  const links = new Links();
  const own = (e: Entry) => `#${messageId(e.folder.id, e.message.uid)}`;
  for (const e of entries) {
    for (const ref of [e.fields.messageId, e.fields.inReplyTo, ...e.fields.references])
      if (ref) links.union(own(e), ref);
    links.find(own(e));
  }
  const groups = new Map<string, Entry[]>();
  for (const e of entries) {
    const root = links.find(own(e));
    groups.set(root, [...(groups.get(root) ?? []), e]);
  }
  return [...groups.values()].map((group) => {
    // Same instant (no Date field, delivered in one millisecond): a reply carries more references than
    // what it answers, so it sorts after it.
    group.sort(
      (a, b) =>
        sentAt(a) - sentAt(b) ||
        a.message.internalDate - b.message.internalDate ||
        a.fields.references.length - b.fields.references.length,
    );
    const first = group[0]!;
    const root = first.fields.references[0] ?? first.fields.inReplyTo ?? first.fields.messageId ?? own(first);
    return {
      id: `thr_${createHash('sha256').update(`${account.id}\n${root}`).digest('hex').slice(0, 16)}`,
      entries: group,
    };
  });
}

export const threadRoutes = (deps: ApiDeps): Route[] => [
  defineRoute({
    method: 'GET',
    path: '/mailbox/threads/{id}',
    summary: 'A conversation: by thread id (thr_…) or by the id of one of its messages',
    tag: 'Mailbox',
    permission: 'mailbox.read',
    query: z.object({ mailbox_id: z.string().max(40).optional() }).strict(),
    response: z.object({
      id: z.string(),
      subject: z.string().describe('of the oldest message'),
      message_ids: z.array(z.string()).describe('every message, oldest first'),
      messages: z.array(messageSummarySchema).describe(`the oldest ${MAX_MESSAGES}`),
    }),
    handler: async ({ key, params, query }) => {
      const account = await requiredMailbox(deps, key, query.mailbox_id);
      const byMessage = params.id!.startsWith('msg_');
      // The whole mailbox's records and header fields from one view: no expunge in between.
      return deps.store.withView(async (view) => {
        if (byMessage) await loadMessage(deps, account, params.id!, view);
        const thread = (await threadsOf(deps, account, view)).find((t) =>
          byMessage ? t.entries.some((e) => messageId(e.folder.id, e.message.uid) === params.id) : t.id === params.id,
        );
        if (!thread) throw new ApiError('not_found', `no thread ${params.id!.slice(0, 64)}`, 'id');
        const shown = thread.entries.slice(0, MAX_MESSAGES);
        const messages = [];
        for (const e of shown) messages.push(...(await messageSummaries(deps, e.folder, [e.message], view)));
        return {
          data: {
            id: thread.id,
            subject: thread.entries[0]!.fields.subject,
            message_ids: thread.entries.map((e) => messageId(e.folder.id, e.message.uid)),
            messages,
          },
        };
      });
    },
  }),
];
