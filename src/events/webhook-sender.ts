// One webhook attempt: vets the target (URL policy, then the address the name resolves to, anew each
// time against DNS rebinding), signs the body and POSTs it to the vetted address, keeping the start
// of the reply. The outcome is a WebhookAttempt whatever happens; recording it is webhook-outcome.ts.
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { publicId } from '../store/public-ids.ts';
import type { Webhook, WebhookAttempt, WebhookDelivery } from '../store/webhooks.ts';
import { signatureHeaders } from './signature.ts';
import { vetTarget, type HostLookup, type UrlPolicy } from './ssrf.ts';

/** Kept of a receiver's reply, for debugging it. */
const RESPONSE_BODY_BYTES = 1024;

export interface WebhookSenderOptions {
  policy: UrlPolicy;
  /** Resolves webhook host names; default the system's lookup. */
  hostLookup?: HostLookup;
  /** Per attempt, until the whole reply is in. */
  timeoutMs: number;
  /** Connections kept per receiver host. */
  maxSockets: number;
}

export class WebhookSender {
  private readonly options: WebhookSenderOptions;
  // Keep-alive per receiver host: connections are reused only for the name they were vetted for.
  private readonly agents: { http: http.Agent; https: https.Agent };

  constructor(options: WebhookSenderOptions) {
    this.options = options;
    this.agents = {
      http: new http.Agent({ keepAlive: true, maxSockets: options.maxSockets }),
      https: new https.Agent({ keepAlive: true, maxSockets: options.maxSockets }),
    };
  }

  /** POSTs the delivery's body as attempt `number`; a refused target, a connection failure or a timeout is a failed attempt, never a throw. */
  async post(webhook: Webhook, delivery: WebhookDelivery, number: number): Promise<WebhookAttempt> {
    const started = Date.now();
    const done = (statusCode: number | null, error: string | null, responseBody = ''): WebhookAttempt => ({
      attempt: number,
      time: started,
      durationMs: Date.now() - started,
      statusCode,
      error,
      responseBody,
      success: statusCode !== null && statusCode >= 200 && statusCode < 300,
    });
    try {
      const url = new URL(webhook.url);
      const target = await vetTarget(url, this.options.policy, this.options.hostLookup);
      const headers = {
        'Content-Type': 'application/json',
        'User-Agent': 'WrenMail-Webhooks/1.0',
        'X-Wrenmail-Event-Id': delivery.eventId,
        'X-Wrenmail-Event-Type': delivery.eventType,
        'X-Wrenmail-Delivery-Id': publicId('whda', delivery.id),
        'X-Wrenmail-Delivery-Attempt': String(number),
        ...signatureHeaders(webhook.secret, delivery.eventId, Math.floor(Date.now() / 1000), delivery.body),
      };
      const reply = await this.send(url, target, headers, delivery.body);
      return done(reply.status, reply.status >= 200 && reply.status < 300 ? null : `HTTP ${reply.status}`, reply.body);
    } catch (err) {
      return done(null, (err as Error).message);
    }
  }

  /** Closes the kept connections. */
  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  private send(
    url: URL,
    target: { address: string; family: number },
    headers: Record<string, string>,
    body: string,
  ): Promise<{ status: number; body: string }> {
    // The connection goes to the vetted address; Host, SNI and certificate checks still use the name.
    const lookup: LookupFunction = (_host, opts, callback) => {
      if (opts.all)
        (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [target]);
      else callback(null, target.address, target.family);
    };
    const secure = url.protocol === 'https:';
    const client = secure ? https : http;
    const { timeoutMs } = this.options;
    return new Promise((resolve, reject) => {
      const req = client.request(
        url,
        {
          method: 'POST',
          headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body)) },
          lookup,
          agent: secure ? this.agents.https : this.agents.http,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            if (size < RESPONSE_BODY_BYTES) chunks.push(chunk);
            size += chunk.length;
          });
          res.on('end', () => {
            clearTimeout(timeout);
            resolve({
              status: res.statusCode ?? 0,
              body: Buffer.concat(chunks).subarray(0, RESPONSE_BODY_BYTES).toString('utf8'),
            });
          });
          res.on('error', reject);
        },
      );
      const timeout = setTimeout(() => req.destroy(new Error(`no response within ${timeoutMs} ms`)), timeoutMs);
      req.on('error', (err) => {
        clearTimeout(timeout);
        reject(err);
      });
      req.end(body);
    });
  }
}
