// Mailbox sync for apps and agents (docs/API.md §12.2): which message ids were created, updated or
// destroyed since a state token. The token is the per-folder position in the store's change log
// (the records IMAP CONDSTORE/QRESYNC read), so changes made over IMAP and over this API both show.
import { z } from 'zod';
import type { Change, Folder } from '../../store/index.ts';
import { ranges } from '../../store/keys.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { defineRoute, type Route } from '../registry.ts';
import { messageId, requiredMailbox } from '../views/messages.ts';

/** folder id → [uidValidity, last modseq seen]. */
type SyncState = Map<number, [number, number]>;

const encodeState = (state: SyncState): string =>
  Buffer.from(JSON.stringify([...state].sort((a, b) => a[0] - b[0]).map(([id, [v, m]]) => [id, v, m]))).toString(
    'base64url',
  );

function decodeState(token: string): SyncState {
  try {
    const rows: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (!Array.isArray(rows) || rows.length > 10_000) throw new Error('shape');
    const state: SyncState = new Map();
    for (const row of rows) {
      if (!Array.isArray(row) || row.length !== 3 || !row.every((n) => Number.isSafeInteger(n) && n >= 0))
        throw new Error('shape');
      state.set(row[0], [row[1], row[2]]);
    }
    return state;
  } catch {
    throw new ApiError('invalid_parameter', 'since is not a state token this server issued', 'since');
  }
}

/**
 * The state of every folder as the durable change log has it now: its last record, not the in-memory
 * highestModSeq, which runs ahead while a change is being written (a state past it would skip it).
 */
async function currentState(deps: ApiDeps, folders: Folder[]): Promise<SyncState> {
  const state: SyncState = new Map();
  for (const folder of folders) {
    const [last] = await deps.store.kv.values<Change>({
      ...ranges.folderChanges(folder.id, 0),
      reverse: true,
      limit: 1,
    });
    state.set(folder.id, [folder.uidValidity, last?.modseq ?? 0]);
  }
  return state;
}

/** Net effect of change records on message ids: a message created and destroyed in the window never shows. */
class Delta {
  readonly created = new Set<string>();
  readonly updated = new Set<string>();
  readonly destroyed = new Set<string>();
  apply(folderId: number, change: Change): void {
    for (const uid of change.uids) {
      const id = messageId(folderId, uid);
      if (change.kind === 'add') this.created.add(id);
      else if (change.kind === 'flags') {
        if (!this.created.has(id)) this.updated.add(id);
      } else if (!this.created.delete(id)) {
        this.updated.delete(id);
        this.destroyed.add(id);
      }
    }
  }
}

const changesSchema = z.object({
  old_state: z.string(),
  new_state: z.string().describe('pass as since next time'),
  has_more: z.boolean().describe('more changes wait: call again with new_state'),
  created: z.array(z.string()),
  updated: z.array(z.string()).describe('flags or keywords changed'),
  destroyed: z.array(z.string()).describe('expunged, or moved away (the moved copy is in created)'),
  sync_required: z
    .boolean()
    .describe(
      'the state cannot be followed (a folder was deleted or its UIDVALIDITY changed): reload everything, then use new_state',
    ),
});

export const syncRoutes = (deps: ApiDeps): Route[] => [
  defineRoute({
    method: 'GET',
    path: '/mailbox/changes',
    summary: 'Message ids created, updated and destroyed since a state token',
    tag: 'Mailbox',
    permission: 'mailbox.read',
    query: z
      .object({
        mailbox_id: z.string().max(40).optional(),
        since: z
          .string()
          .max(400_000)
          .optional()
          .describe('new_state of an earlier call; absent: the current state, no changes'),
        limit: z.coerce
          .number()
          .int()
          .min(1)
          .max(500)
          .default(500)
          .describe('ids per reply (a single change record larger than this comes whole)'),
      })
      .strict(),
    response: changesSchema,
    handler: async ({ key, query }) => {
      const account = await requiredMailbox(deps, key, query.mailbox_id);
      const folders = deps.store.folders.list(account.id).sort((a, b) => a.id - b.id);
      const empty = { has_more: false, created: [], updated: [], destroyed: [] };
      if (query.since === undefined) {
        const now = encodeState(await currentState(deps, folders));
        return { data: { old_state: now, new_state: now, ...empty, sync_required: false } };
      }
      const since = decodeState(query.since);
      const live = new Map(folders.map((f) => [f.id, f]));
      const broken = [...since].some(([id, [validity]]) => live.get(id)?.uidValidity !== validity);
      if (broken)
        return {
          data: {
            old_state: query.since,
            new_state: encodeState(await currentState(deps, folders)),
            ...empty,
            sync_required: true,
          },
        };

      const delta = new Delta();
      const next: SyncState = new Map();
      let used = 0;
      let hasMore = false;
      for (const folder of folders) {
        let reached = since.get(folder.id)?.[1] ?? 0;
        if (!hasMore) {
          for (const change of await deps.store.messages.changesSince(folder.id, reached)) {
            if (used > 0 && used + change.uids.length > query.limit) {
              hasMore = true;
              break;
            }
            delta.apply(folder.id, change);
            used += change.uids.length;
            reached = change.modseq;
          }
        }
        next.set(folder.id, [folder.uidValidity, reached]);
      }
      return {
        data: {
          old_state: query.since,
          new_state: encodeState(next),
          has_more: hasMore,
          created: [...delta.created],
          updated: [...delta.updated],
          destroyed: [...delta.destroyed],
          sync_required: false,
        },
      };
    },
  }),
];
