// TXT lookups with their TTLs, and the cache SPF, DKIM and DMARC read through (mailauth asks the same
// names for every message from a sender). Node's resolver (c-ares) reports TTLs for A/AAAA only, so
// TXT questions go out here: UDP with EDNS0 (RFC 6891), TCP when the answer is truncated (RFC 7766),
// the configured servers in turn, each try's timeout doubled as c-ares does. Errors carry c-ares's
// codes (ENOTFOUND, ENODATA, ESERVFAIL, EREFUSED, ETIMEOUT …), which is what mailauth reads.
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { isIP, isIPv4, Socket } from 'node:net';

const TYPE_TXT = 16;
const TYPE_SOA = 6;
const CLASS_IN = 1;
const EDNS_UDP_SIZE = 1232; // the DNS flag day 2020 size, c-ares's default
// RFC 2181 §8: a TTL with the top bit set is read as 0.
const MAX_TTL = 0x7fffffff;
/** Longest a positive answer is kept, whatever its TTL (c-ares's own query cache uses the same). */
export const TXT_CACHE_MAX_TTL = 3600;
/** Longest a "no such name / no such record" answer is kept (RFC 2308 §5 suggests at most hours). */
export const TXT_CACHE_MAX_NEGATIVE_TTL = 300;

export class DnsError extends Error {
  readonly code: string;
  readonly hostname: string;
  readonly syscall = 'queryTxt';
  constructor(code: string, hostname: string) {
    super(`queryTxt ${code} ${hostname}`);
    this.code = code;
    this.hostname = hostname;
  }
}

interface Server {
  host: string;
  port: number;
}

/** "1.2.3.4", "1.2.3.4:53", "::1", "[::1]:5353" (the forms Resolver.getServers() returns). */
export function parseServer(s: string): Server | null {
  const v6 = /^\[(.+)\]:(\d+)$/.exec(s);
  if (v6 && isIP(v6[1]!) === 6) return { host: v6[1]!, port: Number(v6[2]) };
  if (isIP(s)) return { host: s, port: 53 };
  const v4 = /^(.+):(\d+)$/.exec(s);
  if (v4 && isIPv4(v4[1]!)) return { host: v4[1]!, port: Number(v4[2]) };
  return null;
}

function encodeQuery(id: number, name: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.');
  const parts: Buffer[] = [];
  for (const label of labels) {
    const bytes = Buffer.from(label, 'utf8');
    if (bytes.length === 0 || bytes.length > 63) throw new DnsError('EBADNAME', name);
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  parts.push(Buffer.from([0]));
  const qname = Buffer.concat(parts);
  if (qname.length > 255) throw new DnsError('EBADNAME', name);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2); // RD
  header.writeUInt16BE(1, 4); // QDCOUNT
  header.writeUInt16BE(1, 10); // ARCOUNT: the OPT record
  const question = Buffer.alloc(4);
  question.writeUInt16BE(TYPE_TXT, 0);
  question.writeUInt16BE(CLASS_IN, 2);
  // OPT pseudo-record (RFC 6891 §6.1.2): root name, type 41, class = UDP payload size, TTL 0, no data.
  const opt = Buffer.from([0, 0, 41, EDNS_UDP_SIZE >> 8, EDNS_UDP_SIZE & 0xff, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([header, qname, question, opt]);
}

/** Offset just past the (possibly compressed) name at `off`. */
function skipName(buf: Buffer, off: number): number {
  for (let hops = 0; hops < 128; hops++) {
    if (off >= buf.length) break;
    const len = buf[off]!;
    if (len === 0) return off + 1;
    if ((len & 0xc0) === 0xc0) return off + 2;
    off += 1 + len;
  }
  throw new Error('bad name');
}

interface Parsed {
  rcode: number;
  truncated: boolean;
  /** TXT answers: each record's character-strings. */
  txt: string[][];
  /** Smallest TTL of the answer section (the CNAMEs on the way count too). */
  ttl: number;
  /** RFC 2308 §5: a negative answer's TTL is the smaller of the SOA's TTL and its MINIMUM; null without one. */
  negativeTtl: number | null;
}

function parseResponse(buf: Buffer, query: Buffer): Parsed | null {
  if (buf.length < 12 || buf.readUInt16BE(0) !== query.readUInt16BE(0) || !(buf[2]! & 0x80)) return null;
  // The question must be ours (case aside): an answer to something else is not an answer.
  const qEnd = skipName(query, 12) + 4;
  if (buf.readUInt16BE(4) !== 1 || buf.length < qEnd) return null;
  if (buf.toString('latin1', 12, qEnd).toLowerCase() !== query.toString('latin1', 12, qEnd).toLowerCase()) return null;
  const flags = buf.readUInt16BE(2);
  const out: Parsed = { rcode: flags & 0x0f, truncated: !!(flags & 0x0200), txt: [], ttl: MAX_TTL, negativeTtl: null };
  const anCount = buf.readUInt16BE(6);
  const nsCount = buf.readUInt16BE(8);
  let off = qEnd;
  for (let i = 0; i < anCount + nsCount; i++) {
    off = skipName(buf, off);
    if (off + 10 > buf.length) throw new Error('short record');
    const type = buf.readUInt16BE(off);
    const ttlRaw = buf.readUInt32BE(off + 4);
    const ttl = ttlRaw > MAX_TTL ? 0 : ttlRaw;
    const length = buf.readUInt16BE(off + 8);
    const start = off + 10;
    const end = start + length;
    if (end > buf.length) throw new Error('short record');
    if (i < anCount) {
      out.ttl = Math.min(out.ttl, ttl);
      if (type === TYPE_TXT) {
        const strings: string[] = [];
        for (let p = start; p < end; ) {
          const n = buf[p]!;
          if (p + 1 + n > end) throw new Error('bad TXT');
          strings.push(buf.toString('latin1', p + 1, p + 1 + n));
          p += 1 + n;
        }
        out.txt.push(strings);
      }
    } else if (type === TYPE_SOA && length >= 22) {
      const minimum = buf.readUInt32BE(end - 4);
      out.negativeTtl = Math.min(ttl, minimum > MAX_TTL ? 0 : minimum);
    }
    off = end;
  }
  return out;
}

function overUdp(server: Server, query: Buffer, timeoutMs: number): Promise<Parsed> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(isIPv4(server.host) ? 'udp4' : 'udp6');
    const done = (err: Error | null, parsed?: Parsed) => {
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve(parsed!);
    };
    const timer = setTimeout(() => done(new Error('ETIMEOUT')), timeoutMs);
    socket.on('error', (err) => done(err));
    socket.on('message', (msg, from) => {
      if (from.address !== server.host || from.port !== server.port) return;
      try {
        const parsed = parseResponse(msg, query);
        if (parsed) done(null, parsed);
      } catch (err) {
        done(err as Error);
      }
    });
    socket.send(query, server.port, server.host, (err) => err && done(err));
  });
}

function overTcp(server: Server, query: Buffer, timeoutMs: number): Promise<Parsed> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    let data = Buffer.alloc(0);
    const done = (err: Error | null, parsed?: Parsed) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(parsed!);
    };
    const timer = setTimeout(() => done(new Error('ETIMEOUT')), timeoutMs);
    socket.on('error', (err) => done(err));
    socket.on('data', (chunk) => {
      data = Buffer.concat([data, chunk]);
      if (data.length < 2 || data.length < 2 + data.readUInt16BE(0)) return;
      try {
        const parsed = parseResponse(data.subarray(2, 2 + data.readUInt16BE(0)), query);
        done(parsed ? null : new Error('EBADRESP'), parsed ?? undefined);
      } catch (err) {
        done(err as Error);
      }
    });
    socket.connect(server.port, server.host, () => {
      const length = Buffer.alloc(2);
      length.writeUInt16BE(query.length);
      socket.write(Buffer.concat([length, query]));
    });
  });
}

export interface TxtAnswer {
  records: string[][];
  /** Seconds the answer may be kept. */
  ttl: number;
}

const RCODE_ERRORS: Record<number, string> = { 1: 'EFORMERR', 2: 'ESERVFAIL', 4: 'ENOTIMP', 5: 'EREFUSED' };

/**
 * One TXT question to the servers in turn. Resolves with the records, or rejects with a DnsError
 * whose `negativeTtl` says how long ENOTFOUND/ENODATA may be kept (undefined: not at all).
 */
export async function queryTxt(
  name: string,
  servers: string[],
  options: { timeoutMs: number; tries: number },
): Promise<TxtAnswer> {
  const targets = servers.map(parseServer).filter((s): s is Server => s !== null);
  let last = new DnsError('ECONNREFUSED', name);
  for (let attempt = 0; attempt < options.tries; attempt++) {
    for (const server of targets) {
      const query = encodeQuery(randomInt(0x10000), name);
      const timeoutMs = options.timeoutMs * 2 ** attempt;
      let answer: Parsed;
      try {
        answer = await overUdp(server, query, timeoutMs);
        if (answer.truncated) answer = await overTcp(server, query, timeoutMs);
      } catch (err) {
        last = new DnsError((err as Error).message === 'ETIMEOUT' ? 'ETIMEOUT' : 'ECONNREFUSED', name);
        continue;
      }
      if (answer.rcode === 3 || (answer.rcode === 0 && answer.txt.length === 0)) {
        const err = new DnsError(answer.rcode === 3 ? 'ENOTFOUND' : 'ENODATA', name);
        throw Object.assign(err, { negativeTtl: answer.negativeTtl ?? undefined });
      }
      if (answer.rcode === 0) return { records: answer.txt, ttl: answer.ttl };
      last = new DnsError(RCODE_ERRORS[answer.rcode] ?? 'EBADRESP', name);
    }
  }
  throw last;
}

interface Entry {
  expires: number;
  records?: string[][];
  error?: string;
}

/**
 * TXT answers kept for their TTL (at most TXT_CACHE_MAX_TTL), "no such name / no such record" kept
 * for the SOA's negative TTL (RFC 2308 §5, at most TXT_CACHE_MAX_NEGATIVE_TTL; never without an SOA),
 * failures never. At most `maxEntries`, least recently used out first; one question in flight per name.
 */
export class TxtCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<TxtAnswer>>();
  private readonly lookup: (name: string) => Promise<TxtAnswer>;
  readonly maxEntries: number;
  private readonly now: () => number;
  constructor(lookup: (name: string) => Promise<TxtAnswer>, maxEntries: number, now: () => number = Date.now) {
    this.lookup = lookup;
    this.maxEntries = maxEntries;
    this.now = now;
  }

  get size(): number {
    return this.entries.size;
  }

  async resolve(name: string): Promise<string[][]> {
    const key = name.toLowerCase().replace(/\.$/, '');
    const hit = this.entries.get(key);
    if (hit && hit.expires > this.now()) {
      this.entries.delete(key); // re-inserted: Map order is recency order
      this.entries.set(key, hit);
      if (hit.error) throw new DnsError(hit.error, name);
      return hit.records!.map((r) => [...r]);
    }
    if (hit) this.entries.delete(key);
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.fetch(key).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return (await pending).records.map((r) => [...r]);
  }

  private async fetch(key: string): Promise<TxtAnswer> {
    try {
      const answer = await this.lookup(key);
      this.keep(key, Math.min(answer.ttl, TXT_CACHE_MAX_TTL), { records: answer.records });
      return answer;
    } catch (err) {
      const { code, negativeTtl } = err as DnsError & { negativeTtl?: number };
      if ((code === 'ENOTFOUND' || code === 'ENODATA') && negativeTtl !== undefined)
        this.keep(key, Math.min(negativeTtl, TXT_CACHE_MAX_NEGATIVE_TTL), { error: code });
      throw err;
    }
  }

  private keep(key: string, ttl: number, entry: Omit<Entry, 'expires'>): void {
    if (ttl <= 0 || this.maxEntries <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, { ...entry, expires: this.now() + ttl * 1000 });
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }
}
