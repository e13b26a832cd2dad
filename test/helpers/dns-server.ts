// A real authoritative DNS server on loopback (UDP and TCP on the same port, as resolvers expect
// for truncated answers) serving a zone given as a plain object. Tests may change `zone` at any time.
import dns2 from 'dns2';
import type { Socket } from 'node:net';
import { reverseName } from '../../src/dns/resolver.ts';

export { reverseName };

const { Packet, UDPServer, TCPServer } = dns2;

export interface ZoneRecords {
  A?: string[];
  AAAA?: string[];
  MX?: { exchange: string; priority: number }[];
  /** Each record is one string (split into 255-byte character-strings when longer) or its strings. */
  TXT?: (string | string[])[];
  PTR?: string[];
  CNAME?: string;
}

/** Owner name (any case, no trailing dot) → records. */
export type Zone = Record<string, ZoneRecords>;

export interface TestDnsServer {
  port: number;
  /** For createResolver({ servers }) */
  servers: string[];
  zone: Zone;
  /** Every question received, "name TYPE" (for tests that assert on lookups). */
  queries: string[];
  /** TTL of every answer (seconds, default 60). */
  ttl: number;
  /**
   * When set, "no such name / no such record" answers carry an SOA in the authority section with
   * these TTL and MINIMUM fields (RFC 2308 §3), which is what lets resolvers cache them.
   */
  soa: { ttl: number; minimum: number } | null;
  close(): Promise<void>;
}

/** Splits a long TXT value (a DKIM key) into the 255-byte character-strings DNS requires. */
export function splitTxt(value: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < value.length; i += 255) out.push(value.slice(i, i + 255));
  return out.length ? out : [''];
}

const TYPE_NAMES: Record<number, keyof ZoneRecords> = {
  [Packet.TYPE.A]: 'A',
  [Packet.TYPE.AAAA]: 'AAAA',
  [Packet.TYPE.MX]: 'MX',
  [Packet.TYPE.TXT]: 'TXT',
  [Packet.TYPE.PTR]: 'PTR',
  [Packet.TYPE.CNAME]: 'CNAME',
};
const NXDOMAIN = 3;

function lookup(zone: Zone, name: string): ZoneRecords | undefined {
  const wanted = name.toLowerCase().replace(/\.$/, '');
  for (const [owner, records] of Object.entries(zone))
    if (owner.toLowerCase().replace(/\.$/, '') === wanted) return records;
  return undefined;
}

function answers(name: string, type: keyof ZoneRecords, records: ZoneRecords, ttl: number): dns2.Packet.Resource[] {
  const base = { name, class: Packet.CLASS.IN, ttl, type: Packet.TYPE[type] };
  switch (type) {
    case 'A':
    case 'AAAA':
      return (records[type] ?? []).map((address) => ({ ...base, address }) as dns2.Packet.Resource);
    case 'MX':
      return (records.MX ?? []).map((mx) => ({ ...base, ...mx }) as dns2.Packet.Resource);
    case 'TXT':
      return (records.TXT ?? []).map(
        (txt) => ({ ...base, data: Array.isArray(txt) ? txt : splitTxt(txt) }) as dns2.Packet.Resource,
      );
    case 'PTR':
      return (records.PTR ?? []).map((domain) => ({ ...base, domain }) as dns2.Packet.Resource);
    case 'CNAME':
      return records.CNAME ? [{ ...base, domain: records.CNAME } as dns2.Packet.Resource] : [];
  }
}

export async function startDnsServer(zone: Zone = {}, host = '127.0.0.1'): Promise<TestDnsServer> {
  const queries: string[] = [];
  const state = { zone, ttl: 60, soa: null as TestDnsServer['soa'] };
  const handle = (request: dns2.Packet, send: (r: dns2.Packet) => Promise<Buffer>): void => {
    const response = Packet.createResponseFromRequest(request);
    response.header.aa = 1;
    const [question] = request.questions;
    if (question) {
      const type = TYPE_NAMES[question.type];
      queries.push(`${question.name} ${type ?? question.type}`);
      const records = lookup(state.zone, question.name);
      if (!records) response.header.rcode = NXDOMAIN;
      else if (type) {
        // A name with only a CNAME answers every type with the CNAME (no chasing: resolvers do that).
        const owned = type !== 'CNAME' && records.CNAME && !records[type] ? 'CNAME' : type;
        response.answers.push(...answers(question.name, owned, records, state.ttl));
      }
      if (response.answers.length === 0 && state.soa) {
        const [ttl, minimum] = [state.soa.ttl, state.soa.minimum];
        response.authorities.push({
          ...{ name: question.name.split('.').slice(-1)[0], type: Packet.TYPE.SOA, class: Packet.CLASS.IN, ttl },
          ...{ primary: 'ns.test', admin: 'hostmaster.test', serial: 1, refresh: 3600, retry: 600 },
          ...{ expiration: 86400, minimum },
        } as dns2.Packet.Resource);
      }
    }
    void send(response).catch(() => undefined);
  };
  // UDP and TCP must share one port: bind UDP to an ephemeral port, then TCP to the same, retrying on a clash.
  for (let attempt = 0; ; attempt++) {
    const udp = new UDPServer({ type: 'udp4' });
    udp.on('request', handle as dns2.DnsHandler);
    udp.on('requestError', () => undefined);
    await udp.listen(0, host);
    const port = udp.address().port;
    const tcp = new TCPServer();
    const sockets = new Set<Socket>();
    tcp.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    tcp.on('request', handle as dns2.DnsHandler);
    tcp.on('requestError', () => undefined);
    const ok = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(port, host, () => resolve(true));
    });
    if (!ok) {
      udp.close();
      if (attempt < 20) continue;
      throw new Error('could not bind UDP and TCP on one port');
    }
    return {
      port,
      servers: [`${host}:${port}`],
      get zone() {
        return state.zone;
      },
      set zone(z: Zone) {
        state.zone = z;
      },
      get ttl() {
        return state.ttl;
      },
      set ttl(t: number) {
        state.ttl = t;
      },
      get soa() {
        return state.soa;
      },
      set soa(soa: TestDnsServer['soa']) {
        state.soa = soa;
      },
      queries,
      close: async () => {
        for (const socket of sockets) socket.destroy();
        await Promise.all([
          new Promise<void>((r) => udp.close(() => r())),
          new Promise<void>((r) => tcp.close(() => r())),
        ]);
      },
    };
  }
}
