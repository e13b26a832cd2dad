// Package events implements what apps hear of the event log (docs/ARCHITECTURE.md §9, docs/API.md §11):
// type names (this file), webhook fan-out and delivery, signatures and the SSRF guard. Invariant: each
// event is written in the batch of the change it reports (`webhook.failing` here, with the subscription);
// the fan-out cursor and delivery records are durable: no event is lost or fanned out twice, and
// each delivery is POSTed at least once. Events are stored and sent under their stored name; filters
// also accept the Sendmux names as aliases. May import foundation and base.
import { publicId } from '../store/public-ids.ts';
import type { StoredEvent } from '../store/index.ts';

export const EVENT_TYPES = [
  'message.received',
  'message.received.spam',
  'message.queued',
  'message.delivered',
  'message.deferred',
  'message.bounced',
  'message.failed',
  'message.rejected',
  'message.complained',
  'domain.verified',
  'domain.verification_failed',
  'mailbox.quota_warning',
  'webhook.failing',
  'test',
] as const;

/** Sendmux name → stored name. */
export const EVENT_ALIASES: Record<string, string> = {
  'message.sent': 'message.queued',
  'message.delivery_delayed': 'message.deferred',
  'sendmux.test': 'test',
};

export const FILTER_TYPES = [...EVENT_TYPES, ...Object.keys(EVENT_ALIASES)];

export const canonicalType = (type: string): string => EVENT_ALIASES[type] ?? type;

/** Does a filter list (stored names or aliases; "*" for all) take this event type? */
export const typeMatches = (filter: string[], type: string): boolean =>
  filter.includes('*') || filter.some((t) => canonicalType(t) === type);

/** The JSON an app receives for an event (webhook body, and the envelope of an SSE frame). */
export function eventPayload(event: StoredEvent, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: event.id,
    type: event.type,
    created_at: new Date(event.time).toISOString(),
    team_id: publicId('team', event.teamId),
    mailbox_id: event.accountId ? publicId('mbx', event.accountId) : null,
    data: event.data,
    ...extra,
  };
}
