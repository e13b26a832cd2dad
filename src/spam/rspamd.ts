// rspamd, for operators who already run it (mailcow and others do): each inbound message goes to its
// normal worker's HTTP protocol (POST /checkv2, https://rspamd.com/doc/developers/protocol.html) with
// the SMTP envelope as request headers, and its score joins ours as one hit; training moves go to the
// controller's /learnspam and /learnham. rspamd is an opinion, never a dependency: a timeout, a refused
// connection or a bad answer leaves Wren's own verdict alone after at most `timeoutMs`, and the
// metrics (wrenmail_spam_scanner_requests_total) count each outcome.
import { request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { metrics } from '../metrics/registry.ts';
import type { SpamClass } from '../store/spam.ts';
import type { SpamHit, SpamInput, SpamScorer } from './types.ts';
import { CONFIG_DEFAULTS } from '../config/defaults.ts';

export interface RspamdOptions {
  /** The normal (scanner) worker, e.g. http://127.0.0.1:11333. */
  url: string;
  /** The controller worker for learning, e.g. http://127.0.0.1:11334; without it nothing is forwarded. */
  controllerUrl?: string;
  /** The controller's password (not needed from its secure_ip addresses). */
  password?: string;
  /** Longest wait for an answer, per request (default: the config's spam.rspamd_timeout_ms). */
  timeoutMs?: number;
  /** rspamd's score × weight is added to ours (default 1: both speak SpamAssassin-like points). */
  weight?: number;
}

export interface RspamdCheck {
  score: number;
  requiredScore: number;
  action: string;
  symbols: string[];
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

const MAX_REPLY = 1 << 20;

/** One HTTP POST with a hard deadline: resolves with the reply or rejects (timeout as code 'ETIMEDOUT'). */
function post(url: URL, headers: OutgoingHttpHeaders, body: Buffer, timeoutMs: number): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, { method: 'POST', headers: { ...headers, 'Content-Length': body.length }, agent: false });
    // One timer for the whole exchange (connect, send, answer), not per socket inactivity.
    const timer = setTimeout(
      () =>
        req.destroy(Object.assign(new Error(`no answer from ${url.origin} in ${timeoutMs} ms`), { code: 'ETIMEDOUT' })),
      timeoutMs,
    );
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_REPLY) req.destroy(new Error('rspamd reply too large'));
        else chunks.push(c);
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    req.end(body);
  });
}

/** The waits before a learn rspamd failed on its side is tried again. */
const LEARN_RETRY_MS = [250, 1000];

const outcomeOf = (err: unknown): 'timeout' | 'error' =>
  (err as { code?: string }).code === 'ETIMEDOUT' ? 'timeout' : 'error';

export class RspamdClient {
  readonly options: RspamdOptions;
  private readonly timeoutMs: number;

  constructor(options: RspamdOptions) {
    this.options = options;
    this.timeoutMs = options.timeoutMs ?? CONFIG_DEFAULTS.spam.rspamd_timeout_ms;
  }

  /** rspamd's verdict on a message, or null (counted in the metrics) when it did not answer in time or sensibly. */
  async check(input: SpamInput): Promise<RspamdCheck | null> {
    // The envelope as rspamd's protocol names it; one Rcpt line per recipient (node sends arrays as repeated fields).
    const headers: OutgoingHttpHeaders = { 'Content-Type': 'message/rfc822' };
    const env = input.envelope;
    headers.From = input.mailFrom === '' ? '<>' : input.mailFrom;
    if (env?.rcptTo.length) headers.Rcpt = env.rcptTo;
    if (input.clientIp) headers.IP = input.clientIp.replace(/^::ffff:/, '');
    if (env?.helo) headers.Helo = env.helo;
    if (env?.hostname) headers.Hostname = env.hostname;
    if (env?.user) headers.User = env.user;
    if (env?.queueId) headers['Queue-Id'] = env.queueId;
    try {
      const reply = await post(new URL('/checkv2', this.options.url), headers, input.raw, this.timeoutMs);
      if (reply.status !== 200) throw new Error(`rspamd answered ${reply.status}: ${reply.body.slice(0, 200)}`);
      const json = JSON.parse(reply.body) as {
        score?: unknown;
        required_score?: unknown;
        action?: unknown;
        symbols?: Record<string, unknown>;
      };
      if (typeof json.score !== 'number' || typeof json.action !== 'string')
        throw new Error(`rspamd answer without score/action: ${reply.body.slice(0, 200)}`);
      metrics.spamScanner('rspamd', 'check', 'ok');
      return {
        score: json.score,
        requiredScore: typeof json.required_score === 'number' ? json.required_score : NaN,
        action: json.action,
        symbols: Object.keys(json.symbols ?? {}).sort(),
      };
    } catch (err) {
      metrics.spamScanner('rspamd', 'check', outcomeOf(err));
      return null;
    }
  }

  /**
   * Teaches rspamd's Bayes one message as spam or ham. True when it learned (or already knew it);
   * false, counted in the metrics, when it was unreachable, slow or refused. A learn rspamd failed on its
   * side (a 5xx: its SQLite statfiles answer "database is locked" while a scanner holds them) is tried
   * again after LEARN_RETRY_MS, twice at most: learning runs after the user's change, so nobody waits.
   */
  async learn(raw: Buffer, cls: SpamClass): Promise<boolean> {
    if (!this.options.controllerUrl) return false;
    const headers: OutgoingHttpHeaders = { 'Content-Type': 'message/rfc822' };
    if (this.options.password) headers.Password = this.options.password;
    const url = new URL(cls === 'spam' ? '/learnspam' : '/learnham', this.options.controllerUrl);
    for (let attempt = 0; ; attempt++) {
      try {
        const reply = await post(url, headers, raw, this.timeoutMs);
        // {"success":true}; "already learned" is rspamd's way of saying the message taught it this
        // before: nothing to redo. Anything else (a 204 for a message too short to learn) is no lesson.
        const ok =
          (reply.status === 200 && /"success"\s*:\s*true/.test(reply.body)) || /already learned/i.test(reply.body);
        if (ok) {
          metrics.spamScanner('rspamd', 'learn', 'ok');
          return true;
        }
        if (reply.status >= 500 && attempt < LEARN_RETRY_MS.length) {
          await new Promise((resolve) => setTimeout(resolve, LEARN_RETRY_MS[attempt]));
          continue;
        }
        throw new Error(`rspamd learn answered ${reply.status}: ${reply.body.slice(0, 200)}`);
      } catch (err) {
        metrics.spamScanner('rspamd', 'learn', outcomeOf(err));
        return false;
      }
    }
  }
}

/** rspamd as a scorer of the inbound classify stage: its score × weight as one hit named by its action. */
export function rspamdScorer(client: RspamdClient): SpamScorer {
  const weight = client.options.weight ?? 1;
  return {
    name: 'rspamd',
    async score(input): Promise<SpamHit[]> {
      const verdict = await client.check(input);
      if (!verdict) return []; // Wren's own verdict stands
      const rule = `RSPAMD_${verdict.action.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}`;
      const top = verdict.symbols.slice(0, 12).join(',');
      return [
        {
          rule,
          score: Math.round(verdict.score * weight * 10) / 10,
          description: `rspamd ${verdict.score.toFixed(2)}/${verdict.requiredScore} ${verdict.action}: ${top}`,
        },
      ];
    },
  };
}
