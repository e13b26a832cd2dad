import type { Context } from 'koa';
import { ApiError } from '../errors.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * Reads a JSON request body of at most `maxBytes`: 413 `payload_too_large` as soon as the declared or
 * received size passes it (without buffering the rest), 415 for another media type, 400 for bytes
 * that are not UTF-8 or not JSON. Returns undefined when there is no body.
 */
export async function readJsonBody(ctx: Context, maxBytes: number): Promise<unknown> {
  const declared = ctx.get('content-length');
  const chunked = /chunked/i.test(ctx.get('transfer-encoding'));
  if (!chunked && (declared === '' || declared === '0')) return undefined;
  if (declared !== '' && Number(declared) > maxBytes) throw tooLarge(ctx, maxBytes);
  if (!ctx.is('application/json')) {
    throw new ApiError('unsupported_media_type', 'request bodies must be JSON (Content-Type: application/json)');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw tooLarge(ctx, maxBytes);
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  let text: string;
  try {
    text = utf8.decode(Buffer.concat(chunks, size));
  } catch {
    throw new ApiError('invalid_parameter', 'the request body is not valid UTF-8');
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ApiError('invalid_parameter', `the request body is not valid JSON: ${(err as Error).message}`);
  }
}

/** The rest of an oversized body is not read: the connection closes after the reply. */
function tooLarge(ctx: Context, maxBytes: number): ApiError {
  ctx.set('Connection', 'close');
  return new ApiError('payload_too_large', `the request body is larger than ${maxBytes} bytes`);
}
