// Test fixtures for events: a webhook receiver on loopback that verifies nothing itself (tests do,
// with the verifiers below, written from the Standard Webhooks spec) and answers with scripted
// statuses; and an SSE client over fetch that parses frames.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** Statuses to answer, in order; 200 once used up. */
  script: number[];
  /** Resolves when `count` requests have arrived (rejects after `timeoutMs`). */
  waitFor(count: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

export async function startReceiver(path = '/hook'): Promise<Receiver> {
  const received: Received[] = [];
  const waiters: (() => void)[] = [];
  const state = { script: [] as number[] };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
      res.statusCode = state.script.shift() ?? 200;
      res.end(res.statusCode === 200 ? 'ok' : 'try later');
      for (const w of waiters.splice(0)) w();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
  return {
    url,
    received,
    get script() {
      return state.script;
    },
    set script(s: number[]) {
      state.script = s;
    },
    async waitFor(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count) {
        if (Date.now() > deadline) throw new Error(`expected ${count} webhook requests, got ${received.length}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 50);
        });
      }
      return received.slice(0, count);
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const header = (headers: IncomingHttpHeaders, name: string): string => {
  const value = headers[name];
  if (typeof value !== 'string') throw new Error(`missing header ${name}`);
  return value;
};

/** Standard Webhooks verification (spec: HMAC-SHA256 of "id.timestamp.body" keyed with the base64 secret after whsec_, any of the space-separated v1 signatures). */
export function verifyStandardWebhook(
  secret: string,
  headers: IncomingHttpHeaders,
  body: string,
  toleranceSeconds = 300,
): boolean {
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > toleranceSeconds) return false;
  const expected = createHmac('sha256', Buffer.from(secret.slice('whsec_'.length), 'base64'))
    .update(`${id}.${timestamp}.${body}`)
    .digest();
  return header(headers, 'webhook-signature')
    .split(' ')
    .some((sig) => {
      const [version, value] = sig.split(',');
      const given = Buffer.from(value ?? '', 'base64');
      return version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected);
    });
}

/** X-Wrenmail-Signature: sha256=<hex HMAC-SHA256 of the raw body> keyed with the secret string as shown (the Sendmux overview's snippet). */
export function verifyWrenSignature(secret: string, headers: IncomingHttpHeaders, body: string): boolean {
  const expected = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  const given = header(headers, 'x-wrenmail-signature');
  return given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}

export interface SseFrame {
  id: string | null;
  event: string;
  data: any;
  at: number;
}

export interface SseClient {
  status: number;
  headers: Headers;
  frames: SseFrame[];
  comments: string[];
  /** Resolves with the first `count` frames (rejects after `timeoutMs`). */
  waitFor(count: number, timeoutMs?: number): Promise<SseFrame[]>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

/** Opens an SSE stream with fetch; non-200 replies are returned with no frames. */
export async function openSse(
  url: string,
  key: string,
  headers: Record<string, string> = {},
): Promise<SseClient & { body?: any }> {
  const abort = new AbortController();
  const response = await fetch(url, {
    headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream', ...headers },
    signal: abort.signal,
  });
  const frames: SseFrame[] = [];
  const comments: string[] = [];
  const waiters: (() => void)[] = [];
  if (response.status !== 200) {
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      frames,
      comments,
      body: JSON.parse(text),
      waitFor: async () => [],
      ended: Promise.resolve(),
      close: () => abort.abort(),
    };
  }
  const ended = (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const frame: SseFrame = { id: null, event: 'message', data: '', at: Date.now() };
          let data: string[] = [];
          let isFrame = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim());
            else {
              const colon = line.indexOf(':');
              const field = colon < 0 ? line : line.slice(0, colon);
              const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
              if (field === 'id') frame.id = value;
              else if (field === 'event') frame.event = value;
              else if (field === 'data') {
                data.push(value);
                isFrame = true; // a block without data dispatches nothing (the SSE spec)
              }
            }
          }
          if (isFrame) {
            frame.data = data.length ? JSON.parse(data.join('\n')) : null;
            data = [];
            frames.push(frame);
          }
          for (const w of waiters.splice(0)) w();
        }
      }
    } catch {
      // aborted by close()
    }
  })();
  return {
    status: response.status,
    headers: response.headers,
    frames,
    comments,
    ended,
    async waitFor(count, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (frames.length < count) {
        if (Date.now() > deadline)
          throw new Error(
            `expected ${count} SSE frames, got ${frames.length}: ${JSON.stringify(frames.map((f) => f.event))}`,
          );
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 25);
        });
      }
      return frames.slice(0, count);
    },
    close: () => abort.abort(),
  };
}
