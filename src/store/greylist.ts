// Greylisting (RFC 6647): suspect mail is refused for a while the first time a server offers it (451
// 4.7.1). A mail server queues it and tries again; most spam-sending software does not (§2.1). Kept: each
// first attempt (origin: client network or SPF-passed domain; envelope sender; recipients) until its retry or the end of the window to
// retry, and each source that did retry (origin, sender domain), passed at once from then on for
// weeks (§4.2's automatic allow-listing), so a correspondent is delayed once, not on every message.
import { createHash } from 'node:crypto';
import type { Kv } from './db.ts';
import { keys, ranges } from './keys.ts';
import { ExpiryIndex, PRUNE_BATCH } from './expiry.ts';
import { Tx } from './tx.ts';

export interface GreylistPolicy {
  /** Score from which inbound mail is greylisted (`spam.greylist_score`; mail scoring less is never delayed). */
  score: number;
  /** A retry sooner than this after the first attempt is refused again. */
  delayMs: number;
  /** How long a first attempt waits for its retry before it is forgotten. */
  windowMs: number;
  /** How long a source that retried is passed at once, from its last message. */
  passMs: number;
}

export interface Offer {
  /** Where the mail comes from: the client's network, or the domain SPF passed for it (inbound/greylist.ts). */
  origin: string;
  mailFrom: string;
  rcptTo: readonly string[];
}

/** deferred: refuse for now (retry after `retryInMs`); retried: the retry came in time; known: a source that retried before. */
export type GreylistOutcome = { outcome: 'deferred'; retryInMs: number } | { outcome: 'retried' | 'known' };

interface Expiring {
  expiresAt: number;
}
interface Attempt extends Expiring {
  firstSeen: number;
}

const DAY = 86_400_000;
const hash = (text: string) => createHash('sha256').update(text).digest('hex');

export class Greylist {
  private readonly kv: Kv;
  private readonly expiry: ExpiryIndex;

  constructor(kv: Kv) {
    this.kv = kv;
    // gx/<expiresAt>/<record key>
    this.expiry = new ExpiryIndex(kv, ranges.greylistExpired, (entry) => entry.slice(entry.indexOf('/', 3) + 1));
  }

  async check(offer: Offer, policy: GreylistPolicy, now = Date.now()): Promise<GreylistOutcome> {
    const from = offer.mailFrom.toLowerCase();
    const source = keys.greylistPass(hash(`${offer.origin}\n${from.slice(from.lastIndexOf('@') + 1)}`));
    const tx = new Tx();
    const pass = await this.kv.get<Expiring>(source);
    let result: GreylistOutcome;
    if (pass && pass.expiresAt > now) {
      // Kept passing while it sends; written at most once a day, not on every message.
      if (pass.expiresAt - now < policy.passMs - DAY) this.expire(tx, source, pass, { expiresAt: now + policy.passMs });
      result = { outcome: 'known' };
    } else {
      const rcpts = [...new Set(offer.rcptTo.map((r) => r.toLowerCase()))].sort();
      const triplet = keys.greylistAttempt(hash(`${offer.origin}\n${from}\n${rcpts.join('\n')}`));
      const attempt = await this.kv.get<Attempt>(triplet);
      if (!attempt || attempt.expiresAt <= now) {
        this.expire(tx, triplet, attempt, { firstSeen: now, expiresAt: now + policy.windowMs });
        result = { outcome: 'deferred', retryInMs: policy.delayMs };
      } else if (now - attempt.firstSeen < policy.delayMs) {
        result = { outcome: 'deferred', retryInMs: policy.delayMs - (now - attempt.firstSeen) };
      } else {
        this.expire(tx, triplet, attempt, null);
        this.expire(tx, source, pass, { expiresAt: now + policy.passMs });
        result = { outcome: 'retried' };
      }
    }
    if (tx.ops.length) await this.kv.commit(tx);
    this.expiry.whenDue(now);
    return result;
  }

  /** Replaces `key`'s record (null: deletes it), keeping its expiry index entry in step. */
  private expire<T extends Expiring>(tx: Tx, key: string, old: Expiring | undefined, record: T | null): void {
    if (old) tx.del(keys.greylistExpiry(old.expiresAt, key));
    if (record) {
      tx.put(key, record);
      tx.put(keys.greylistExpiry(record.expiresAt, key), 1);
    } else tx.del(key);
  }

  /** Deletes the attempts and passes that expired at or before `now` (after a pass under way); returns how many. */
  prune(now = Date.now(), batchSize = PRUNE_BATCH): Promise<number> {
    return this.expiry.prune(now, batchSize);
  }
}
