import type { Context } from 'koa';
import { type Idempotency, idempotencyScope } from '../../store/idempotency.ts';
import { ApiError } from '../errors.ts';

const TTL_MS = 24 * 3600_000;
const MAX_KEY_LENGTH = 255;
/** Headers a replay repeats, besides the body and status. */
const REPLAYED_HEADERS = ['content-type', 'location', 'etag', 'x-request-id'];

/**
 * `Idempotency-Key` on POST (docs/API.md §8): the first 2xx reply is stored for 24 h per calling API key +
 * method + path + Idempotency-Key; the same request again from the same key gets that reply byte for
 * byte (another key's request is its own, however alike), another request under the same key, or
 * one while the first is still running, gets `409 idempotency_conflict`. Failures are not stored, so
 * a client may retry them with the same key. Blank or oversized keys are ignored, as Sendmux does.
 */
export class IdempotencyGuard {
  private readonly repo: Idempotency;
  private readonly inFlight = new Set<string>();
  private readonly now: () => number;

  constructor(repo: Idempotency, now: () => number = Date.now) {
    this.repo = repo;
    this.now = now;
  }

  async run(ctx: Context, apiKeyId: string, fingerprint: string, handle: () => Promise<void>): Promise<void> {
    const key = ctx.get('idempotency-key').trim();
    if (key === '' || key.length > MAX_KEY_LENGTH) return handle();
    const scope = idempotencyScope(apiKeyId, `${ctx.method} ${ctx.path}`, key);
    // Checked and claimed in one synchronous step: two concurrent requests cannot both pass.
    if (this.inFlight.has(scope)) {
      throw new ApiError(
        'idempotency_conflict',
        'a request with this Idempotency-Key is still in progress; retry later',
        null,
        { headers: { 'Retry-After': '1' } },
      );
    }
    this.inFlight.add(scope);
    try {
      const stored = await this.repo.get(scope, apiKeyId, this.now());
      if (stored) {
        if (stored.fingerprint !== fingerprint) {
          throw new ApiError('idempotency_conflict', 'this Idempotency-Key was used with a different request');
        }
        for (const [name, value] of Object.entries(stored.headers)) ctx.set(name, value);
        ctx.set('Idempotent-Replayed', 'true');
        ctx.status = stored.status;
        ctx.body = stored.body;
        ctx.set('Content-Type', stored.headers['content-type'] ?? 'application/json; charset=utf-8');
        return;
      }
      await handle();
      if (ctx.status >= 200 && ctx.status < 300 && typeof ctx.body === 'string') {
        const headers: Record<string, string> = {};
        for (const name of REPLAYED_HEADERS) {
          const value = ctx.response.get(name);
          if (value) headers[name] = value;
        }
        const now = this.now();
        await this.repo.put(scope, {
          keyId: apiKeyId,
          fingerprint,
          status: ctx.status,
          headers,
          body: ctx.body,
          createdAt: now,
          expiresAt: now + TTL_MS,
        });
      }
    } finally {
      this.inFlight.delete(scope);
    }
  }
}
