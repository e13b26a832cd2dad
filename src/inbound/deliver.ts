// Stage 4 and 5: one durable store batch per recipient account (the blob is shared), with its
// message.received / message.received.spam event in that same batch. Resolves only when every
// batch is on disk, so the SMTP 250 that follows is a promise kept.
import type { MessageIndex } from '../mime/types.ts';
import { StoreError, type Store } from '../store/index.ts';
import type { Refusal } from './route.ts';
import type { DeliveryPlan } from './route.ts';

export interface MessageMeta {
  messageId: string | null;
  from: string; // envelope sender
  subject: string;
  spamScore: number;
  junk: boolean;
}

export interface Delivered {
  accountId: string;
  folder: string;
  uid: number;
}

export class DeliveryRefused extends Error {
  readonly refusal: Refusal;
  constructor(refusal: Refusal) {
    super(refusal.text);
    this.refusal = refusal;
  }
}

export interface DeliverOptions {
  /** The index of `raw` when the caller has it (the store parses the message otherwise). */
  index?: MessageIndex;
  /** Called when a recipient had to be taken over its quota (see below). */
  onQuotaOvershoot?: (accountId: string) => void;
}

/**
 * Quotas were checked at RCPT; they are checked again here, all at once, before anything is
 * written, so a mailbox that filled up since gets the whole message a 452 4.2.2 (nothing stored, the
 * sender retries and its RCPT is then refused alone). A mailbox that fills in the instant between
 * this check and its batch, while other recipients' batches succeed, is delivered over quota
 * (reported via onQuotaOvershoot): the only other choices would drop it silently or duplicate the
 * message for everyone else on the retry.
 */
export async function deliver(
  store: Store,
  raw: Buffer,
  plan: DeliveryPlan,
  meta: MessageMeta,
  options: DeliverOptions = {},
): Promise<Delivered[]> {
  for (const { account, targets } of plan.deliveries) {
    if (
      account.quotaBytes &&
      store.folders.usage(account.id).bytes + raw.length * (targets?.length ?? 1) > account.quotaBytes
    ) {
      throw new DeliveryRefused({ code: 452, enhanced: '4.2.2', text: `Mailbox full: ${account.address}` });
    }
  }
  const internalDate = Date.now();
  const deliverOne = (i: number, quota: boolean) => {
    const d = plan.deliveries[i]!;
    const targets = d.targets ?? [{ folder: d.folder, flags: d.flags }];
    return store.deliver(
      raw,
      targets.map((t) => ({ ...t, quotaBytes: quota ? d.account.quotaBytes : 0 })),
      {
        internalDate,
        index: options.index,
        events: (delivered) =>
          delivered.map(({ folder, message }) => ({
            type: meta.junk ? 'message.received.spam' : 'message.received',
            teamId: d.account.teamId,
            accountId: d.account.id,
            data: {
              message_id: meta.messageId,
              from: meta.from,
              to: d.rcpts,
              subject: meta.subject,
              folder: folder.name,
              uid: message.uid,
              size: message.size,
              spam_score: meta.spamScore,
            },
          })),
      },
    );
  };
  const results = await Promise.allSettled(plan.deliveries.map((_, i) => deliverOne(i, true)));
  const anyStored = results.some((r) => r.status === 'fulfilled');
  const out: Delivered[] = [];
  for (const [i, result] of results.entries()) {
    const d = plan.deliveries[i]!;
    let value = result.status === 'fulfilled' ? result.value : undefined;
    if (result.status === 'rejected') {
      const quota = result.reason instanceof StoreError && result.reason.code === 'quota';
      if (!quota) throw result.reason;
      if (!anyStored)
        throw new DeliveryRefused({ code: 452, enhanced: '4.2.2', text: `Mailbox full: ${d.account.address}` });
      options.onQuotaOvershoot?.(d.account.id);
      value = await deliverOne(i, false);
    }
    for (const { folder, message } of value!.delivered)
      out.push({ accountId: d.account.id, folder: folder.name, uid: message.uid });
  }
  return out;
}
