import { hash } from 'node:crypto';
import type { Context } from 'koa';
import { ApiError } from '../errors.ts';

/** Weak ETag of a representation already serialised (one-shot hash: no Hash object per response). */
export const etagOfJson = (json: string): string => `W/"${hash('sha256', json, 'base64url').slice(0, 27)}"`;

/** Weak ETag of a resource's representation: it changes whenever anything the client sees changes. */
export const etagOf = (data: unknown): string => etagOfJson(JSON.stringify(data) ?? 'null');

const opaque = (tag: string): string => tag.trim().replace(/^W\//, '');

const listMatches = (header: string, etag: string): boolean =>
  header.trim() === '*' || header.split(',').some((tag) => opaque(tag) === opaque(etag));

/** `If-None-Match` on a single-resource GET: true when the client's copy is current (reply 304). */
export const notModified = (ctx: Context, etag: string): boolean => {
  const header = ctx.get('if-none-match');
  return header !== '' && listMatches(header, etag);
};

/** `If-Match` on PATCH/PUT/DELETE: a stale version is `409 conflict`, carrying the current ETag. */
export function checkIfMatch(ctx: Context, current: unknown): void {
  const header = ctx.get('if-match');
  if (header === '') return;
  const etag = etagOf(current);
  if (!listMatches(header, etag)) {
    throw new ApiError('conflict', 'the resource has changed since it was read (If-Match does not match)', null, {
      headers: { ETag: etag },
    });
  }
}
