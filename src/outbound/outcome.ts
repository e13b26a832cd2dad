// The last stage of a delivery attempt: applies what the attempt found, per recipient, to the job in
// one durable batch with its events, the next retry time, any DSN to the sender and the relay's use.
// Deferred recipients of a job past its expiry bounce instead (RFC 5321 §4.5.4.1: give up, report).
import { metrics } from '../metrics/registry.ts';
import type { Logger } from 'pino';
import type { Store } from '../store/index.ts';
import { Tx } from '../store/index.ts';
import type { NewEvent } from '../store/events.ts';
import type { NewOutboundMessage, QueueJob, QueueRecipient } from '../store/queue.ts';
import type { Relay } from '../store/relays.ts';
import { utcDay } from '../store/relays.ts';
import { buildDsn, enhancedStatus, type DsnRecipient } from './dsn.ts';

export interface Outcome {
  status: 'delivered' | 'deferred' | 'bounced';
  response: string;
  mx: string | null;
  tls: boolean;
}

/** What one attempt found, per recipient address. */
export type Outcomes = Map<string, Outcome>;

/** The same outcome for every address. */
export function outcomeForAll(addresses: string[], outcome: Outcome): Outcomes {
  return new Map(addresses.map((a) => [a, outcome]));
}

export const isPending = (r: QueueRecipient): boolean => r.status === 'queued' || r.status === 'deferred';

/** How outcomes turn into retries and reports (queue-runner's retryScheduleMs, expiryMs, delayNoticeAfterMs). */
export interface RecordPolicy {
  /** EHLO name: Reporting-MTA and the From domain of DSNs. */
  hostname: string;
  /** Waits after attempt 1, 2, …; the last repeats. */
  retryScheduleMs: number[];
  expiryMs: number;
  /** 0: no delay notices. */
  delayNoticeAfterMs: number;
  logger: Logger;
}

/** Applies an attempt's outcomes to the job, with events, DSNs and relay use, in one durable batch. */
export async function recordOutcomes(
  store: Store,
  policy: RecordPolicy,
  jobId: string,
  outcomes: Outcomes,
  relay: Relay | undefined,
): Promise<void> {
  const { queue } = store;
  const { hostname } = policy;
  // Shared store: another node's commit to the blob's count makes the whole record start again (§4.8);
  // an outcome left unrecorded would send the message again.
  await queue.lock(jobId, () =>
    store.kv.retrying(async () => {
      const job = await queue.get(jobId);
      if (!job || job.state === 'done') return;
      await queue.loadBlob(job);
      const now = Date.now();
      const attempt = job.attempts + 1;
      const expired = now - job.createdAt >= policy.expiryMs;
      const changed: { r: QueueRecipient; outcome: Outcome }[] = [];
      const recipients = job.recipients.map((r) => {
        const found = outcomes.get(r.address);
        if (!found || !isPending(r)) return r;
        const outcome: Outcome =
          found.status === 'deferred' && expired
            ? {
                ...found,
                status: 'bounced',
                response: `${found.response} (giving up: in the queue since ${new Date(job.createdAt).toISOString()})`,
              }
            : found;
        const next: QueueRecipient = {
          ...r,
          status: outcome.status,
          attempts: r.attempts + 1,
          lastResponse: outcome.response,
          log: [
            ...r.log,
            {
              time: now,
              attempt,
              mx: outcome.mx,
              tls: outcome.tls,
              response: outcome.response,
              status: outcome.status,
            },
          ],
        };
        changed.push({ r: next, outcome });
        return next;
      });
      const open = recipients.some(isPending);
      const schedule = policy.retryScheduleMs;
      const delay = schedule[Math.min(attempt - 1, schedule.length - 1)] ?? 3_600_000;
      const next: QueueJob = {
        ...job,
        recipients,
        attempts: attempt,
        lastAttemptAt: now,
        state: job.state === 'cancelled' ? 'cancelled' : open ? 'queued' : 'done',
        dueAt: open ? Math.min(now + delay, job.createdAt + policy.expiryMs) : job.dueAt,
      };

      // Reports to the sender: failures now, a delay notice once; never to the null sender.
      const dsns: Buffer[] = [];
      if (job.from) {
        const original = () => store.blobs.read(job.blob, job.size);
        const bounced = changed.filter((c) => c.outcome.status === 'bounced');
        if (bounced.length)
          dsns.push(
            buildDsn({
              hostname,
              to: job.from,
              recipients: bounced.map((c) => dsnRecipient(c, 'failed', now)),
              arrivalDate: job.createdAt,
              original: await original(),
            }),
          );
        const deferred = changed.filter((c) => c.outcome.status === 'deferred');
        if (
          deferred.length &&
          !job.delayNotified &&
          policy.delayNoticeAfterMs > 0 &&
          now - job.createdAt >= policy.delayNoticeAfterMs &&
          next.state === 'queued'
        ) {
          dsns.push(
            buildDsn({
              hostname,
              to: job.from,
              recipients: deferred.map((c) => dsnRecipient(c, 'delayed', now)),
              arrivalDate: job.createdAt,
              willRetryUntil: job.createdAt + policy.expiryMs,
              original: await original(),
            }),
          );
          next.delayNotified = true;
        }
      }
      for (const dsn of dsns) await queue.prepare(dsn);
      const day = utcDay(now);
      const relayUsed = relay && changed.some((c) => c.outcome.status === 'delivered');
      if (relayUsed) await queue.relays.usage(relay.id, day);

      const tx = new Tx();
      queue.update(tx, job, next);
      for (const c of changed) store.events.append(tx, outcomeEvent(next, c.r, c.outcome));
      for (const dsn of dsns) queue.stage(tx, dsnMessage(job, dsn));
      if (relayUsed) queue.relays.countUse(tx, relay.id, day);
      await store.kv.commit(tx);
      for (const c of changed) metrics.delivery('outbound', c.outcome.status);
      for (const c of changed)
        policy.logger.info(
          {
            job: job.id,
            rcpt: c.r.address,
            status: c.outcome.status,
            mx: c.outcome.mx,
            tls: c.outcome.tls,
            response: c.outcome.response,
            attempt,
          },
          `outbound ${c.outcome.status}`,
        );
    }),
  );
}

function dsnRecipient(
  c: { r: QueueRecipient; outcome: Outcome },
  action: 'failed' | 'delayed',
  now: number,
): DsnRecipient {
  return {
    address: c.r.address,
    action,
    status: enhancedStatus(c.outcome.response, action === 'failed' ? 5 : 4),
    diagnostic: c.outcome.response,
    remoteMta: c.outcome.mx && c.outcome.mx !== 'local' ? c.outcome.mx : null,
    lastAttemptAt: now,
  };
}

function dsnMessage(job: QueueJob, raw: Buffer): NewOutboundMessage {
  return {
    teamId: job.teamId,
    accountId: job.accountId,
    from: '',
    to: [job.from],
    raw,
    subject: 'Delivery Status Notification',
    headerMessageId: null,
  };
}

function outcomeEvent(job: QueueJob, r: QueueRecipient, outcome: Outcome): NewEvent {
  return {
    type: `message.${outcome.status}`,
    teamId: job.teamId,
    accountId: job.accountId,
    data: {
      message_id: job.messageId,
      job_id: job.id,
      header_message_id: job.headerMessageId,
      from: job.from,
      recipient: r.address,
      subject: job.subject,
      attempt: job.attempts,
      mx: outcome.mx,
      tls: outcome.tls,
      response: outcome.response,
      ...(outcome.status === 'deferred' ? { next_attempt_at: new Date(job.dueAt).toISOString() } : {}),
    },
  };
}
