import type { Context } from 'koa';
import { ApiError } from '../errors.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** The Content-Type values clients send for JSON, known without type-is's parse (ctx.is decides any other). */
const JSON_TYPES = new Set(['application/json', 'application/json; charset=utf-8']);

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
  if (!JSON_TYPES.has(ctx.get('content-type').toLowerCase()) && !ctx.is('application/json')) {
    throw new ApiError('unsupported_media_type', 'request bodies must be JSON (Content-Type: application/json)');
  }
  const bytes = await readBytes(ctx, maxBytes);
  if (bytes === undefined) return undefined;
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new ApiError('invalid_parameter', 'the request body is not valid UTF-8');
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ApiError('invalid_parameter', `the request body is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * The body's bytes (undefined when there are none), read with listeners rather than an async iterator
 * (its promise and end-of-stream machinery per chunk were 1% of a classify request's CPU), and a body
 * that came in one chunk, as most do, is not copied. Fails as the stream does, or when it closes
 * before its end.
 */
function readBytes(ctx: Context, maxBytes: number): Promise<Buffer | undefined> {
  const req = ctx.req;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (err: Error | undefined, bytes?: Buffer) => {
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      if (err) reject(err);
      else resolve(bytes);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
      else {
        settle(tooLarge(ctx, maxBytes));
        req.resume(); // the rest is dropped as it comes, until the reply closes the connection
      }
    };
    const onEnd = () =>
      settle(undefined, size === 0 ? undefined : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    const onError = (err: Error) => settle(err);
    const onClose = () => settle(new Error('the request closed before its body ended'));
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

/** The rest of an oversized body is not read: the connection closes after the reply. */
function tooLarge(ctx: Context, maxBytes: number): ApiError {
  ctx.set('Connection', 'close');
  return new ApiError('payload_too_large', `the request body is larger than ${maxBytes} bytes`);
}
