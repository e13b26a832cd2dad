// The SSE mailbox stream (docs/API.md §11): `GET /mailbox/events`. Events are replayed from the stored log
// after Last-Event-ID, then followed live; one ordered, duplicate-free sequence because live events
// that arrive during the replay wait in a buffer and every frame must have a higher seq than the last.
import { z } from 'zod';
import { canonicalType, eventPayload, typeMatches } from '../../events/types.ts';
import { sessionRegistry } from '../../security/sessions.ts';
import { eventSeq } from '../../store/events.ts';
import type { Account, StoredEvent } from '../../store/index.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { defineRoute, type Route } from '../registry.ts';
import { bodyText, mailboxScope, messageSummaries } from '../views/messages.ts';

/** Options of eventRoutes (defaults suit the server). */
export interface EventStreamOptions {
  /** Concurrent streams per key; more → 429. */
  maxStreamsPerKey?: number;
  /** Cap of the body text snapshot in message frames (bytes of UTF-8). */
  bodySnapshotBytes?: number;
}

const SSE_TYPES = [
  'message.received',
  'message.received.spam',
  'message.queued',
  'message.sent',
  'message.delivered',
  'message.deferred',
  'message.delivery_delayed',
  'message.bounced',
  'message.failed',
  'mailbox.quota_warning',
];
const DEFAULT_TYPES = ['message.received', 'message.received.spam'];
const REPLAY_PAGE = 500;

const query = z
  .object({
    event_types: z
      .string()
      .max(500)
      .optional()
      .describe(`comma list of ${SSE_TYPES.join(', ')}; default ${DEFAULT_TYPES.join(',')}`),
    ping: z.coerce.number().int().min(10).max(300).default(30).describe('seconds between ": ping" comments'),
    close_after: z.coerce
      .number()
      .int()
      .min(30)
      .max(3600)
      .optional()
      .describe('seconds; the server ends the stream then'),
    last_event_id: z.string().max(40).optional().describe('resume after this event (the Last-Event-ID header wins)'),
    mailbox_id: z.string().max(40).optional().describe('root keys: one mailbox (default: the whole team)'),
  })
  .strict();

export const eventRoutes = (deps: ApiDeps, options: EventStreamOptions = {}): Route[] => {
  const maxStreams = options.maxStreamsPerKey ?? 5;
  const snapshotBytes = options.bodySnapshotBytes ?? 16_384;
  const open = new Map<string, number>();

  /** The frame's JSON: the event, and for mail that landed in a folder the message summary and body snapshot. */
  async function frameData(event: StoredEvent): Promise<Record<string, unknown>> {
    const { folder: name, uid } = event.data as { folder?: unknown; uid?: unknown };
    if (!event.accountId || typeof name !== 'string' || typeof uid !== 'number') return eventPayload(event);
    const folder = deps.store.folders.byName(event.accountId, name);
    if (!folder) return eventPayload(event, { message: null });
    // One view for the record and its content: a message expunged meanwhile is `message: null`.
    return deps.store.withView(async (view) => {
      const [message] = await view.getMany(folder.id, [uid]);
      const [summary] = message ? await messageSummaries(deps, folder, [message], view) : [];
      if (!message || !summary) return eventPayload(event, { message: null });
      return eventPayload(event, { message: { ...summary, body: await bodyText(view, message, snapshotBytes) } });
    });
  }

  return [
    defineRoute({
      method: 'GET',
      path: '/mailbox/events',
      summary: 'Server-sent events of a mailbox (resumable with Last-Event-ID)',
      tag: 'Mailbox',
      permission: 'mailbox.read',
      query,
      raw: 'text/event-stream',
      errors: ['not_found', 'missing_parameter'],
      handler: async ({ ctx, key, query }) => {
        const account: Account | null = await mailboxScope(deps, key, query.mailbox_id, false);
        const types = query.event_types
          ? query.event_types
              .split(',')
              .map((t) => t.trim())
              .filter(Boolean)
          : DEFAULT_TYPES;
        const unknown = types.find((t) => !SSE_TYPES.includes(t));
        if (unknown !== undefined || types.length === 0)
          throw new ApiError(
            'invalid_parameter',
            `event_types: unknown type ${JSON.stringify(unknown ?? '')}`,
            'event_types',
          );
        const lastId = ctx.get('last-event-id') || query.last_event_id;
        const afterSeq = lastId ? eventSeq(lastId) : null;
        if (lastId && afterSeq === null)
          throw new ApiError('invalid_parameter', 'Last-Event-ID is not an event id (evt_…)', 'last_event_id');
        if ((open.get(key.id) ?? 0) >= maxStreams) {
          throw new ApiError('rate_limit_exceeded', `at most ${maxStreams} event streams per key`, null, {
            headers: { 'Retry-After': '30' },
          });
        }
        open.set(key.id, (open.get(key.id) ?? 0) + 1);

        const wanted = types.map(canonicalType);
        const matches = (e: StoredEvent) =>
          e.teamId === key.teamId && (!account || e.accountId === account.id) && typeMatches(wanted, e.type);
        // The stream is written to the socket directly (Koa stays out of it): a client that goes away
        // is the normal end of a stream, not an error to report.
        ctx.respond = false;
        const stream = ctx.res;
        stream.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'X-Accel-Buffering': 'no' });
        let lastSent = afterSeq ?? deps.store.events.latest();
        let live = false;
        const buffered: StoredEvent[] = [];
        let chain = Promise.resolve();
        const send = (event: StoredEvent) => {
          chain = chain
            .then(async () => {
              if (event.seq <= lastSent || stream.destroyed) return;
              lastSent = event.seq;
              if (!matches(event)) return;
              stream.write(
                `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(await frameData(event))}\n\n`,
              );
            })
            .catch((err: Error) => {
              deps.logger.error({ err }, 'event stream frame failed');
              stream.end();
            });
        };
        const onEvent = (event: StoredEvent) => (live ? send(event) : buffered.push(event));
        deps.store.notifier.on('event', onEvent);
        const ping = setInterval(() => stream.write(': ping\n\n'), query.ping * 1000);
        const closer = query.close_after ? setTimeout(() => stream.end(), query.close_after * 1000) : null;
        // A revoked key (or a suspended mailbox) ends the stream, with a frame that says why.
        // A root key's stream for one mailbox is that mailbox's session too: it ends when the mailbox is
        // suspended or deleted, like the mailbox's own sessions.
        const unregister = sessionRegistry(deps.store).register({
          protocol: 'sse',
          accountId: key.accountId ?? account?.id ?? null,
          credential: key.id,
          expiresAt: key.expiresAt,
          end: (reason) => {
            if (!stream.destroyed) stream.end(`event: session_ended\ndata: ${JSON.stringify({ reason })}\n\n`);
          },
        });
        let cleaned = false;
        const cleanup = () => {
          if (cleaned) return;
          cleaned = true;
          unregister();
          deps.store.notifier.off('event', onEvent);
          clearInterval(ping);
          if (closer) clearTimeout(closer);
          const n = (open.get(key.id) ?? 1) - 1;
          if (n > 0) open.set(key.id, n);
          else open.delete(key.id);
          if (!stream.destroyed) stream.end();
        };
        stream.once('close', cleanup);
        ctx.req.socket.setTimeout(0);
        ctx.req.socket.setNoDelay(true);
        stream.write(': connected\nretry: 3000\n\n');

        void (async () => {
          if (afterSeq !== null) {
            const oldest = await deps.store.events.oldestSeq();
            const pruned = oldest === 0 ? deps.store.events.latest() > afterSeq : oldest > afterSeq + 1;
            if (pruned) {
              // The missed events are gone: the client must resync its state, then follows live.
              lastSent = deps.store.events.latest();
              stream.write(
                `event: sync_required\ndata: ${JSON.stringify({ reason: 'last_event_id is older than the retained events', last_event_id: lastId })}\n\n`,
              );
            } else {
              for (let after = afterSeq; ; ) {
                const page = await deps.store.events.list({
                  afterSeq: after,
                  limit: REPLAY_PAGE,
                  ...(account ? { accountId: account.id } : { teamId: key.teamId }),
                });
                for (const event of page) send(event);
                if (page.length < REPLAY_PAGE) break;
                after = page.at(-1)!.seq;
              }
            }
          }
          live = true;
          for (const event of buffered.splice(0)) send(event);
        })().catch((err: Error) => {
          deps.logger.error({ err }, 'event stream replay failed');
          stream.end();
        });
        return { raw: '', contentType: 'text/event-stream; charset=utf-8' };
      },
    }),
  ];
};
