// One delivery attempt of a queue job, without recording it: to a hosted domain (deliverLocal),
// through the sender's relay group, or to the destination's MX hosts (MTA-STS applied), trying
// targets in order. Returns what happened per pending recipient; recordOutcomes() makes it durable.
import type { Logger } from 'pino';
import type { DnsResolver } from '../dns/resolver.ts';
import type { Store } from '../store/index.ts';
import type { QueueJob } from '../store/queue.ts';
import { domainOfAddress } from '../store/queue.ts';
import type { Relay } from '../store/relays.ts';
import { SmtpFailure, SmtpSession, type SmtpTarget } from './deliver.ts';
import { mxAllowed, type MtaStsLookup } from './mta-sts.ts';
import { isPending, outcomeForAll, type Outcomes } from './outcome.ts';
import { chooseRelay, hostAddresses, type MxCache, TemporaryRouteError } from './route.ts';
import type { SessionPool } from './session-pool.ts';

/** Hands a message for hosted recipients to the inbound pipeline. Throw an error with `responseCode` 5xx to bounce. */
export type DeliverLocal = (raw: Buffer, envelope: { from: string; to: string[] }) => Promise<void>;

/** What an attempt needs; the queue runner builds one for all its attempts. */
export interface AttemptContext {
  store: Store;
  resolver: DnsResolver;
  /** EHLO name. */
  hostname: string;
  deliverLocal: DeliverLocal;
  mxCache: MxCache;
  /** null: MTA-STS off. */
  mtaSts: MtaStsLookup | null;
  pool: SessionPool;
  /** Port of remote MX hosts. */
  smtpPort: number;
  localAddress?: string;
  tlsCa?: string[];
  connectTimeoutMs?: number;
  socketTimeoutMs?: number;
  logger: Logger;
}

type Target = SmtpTarget & { label: string };

/** Attempts the job's pending recipients. Failures of the route itself defer every recipient. */
export async function attemptDelivery(
  ctx: AttemptContext,
  job: QueueJob,
): Promise<{ outcomes: Outcomes; relay?: Relay }> {
  const pending = job.recipients.filter(isPending).map((r) => r.address);
  if (!pending.length) return { outcomes: new Map() };
  const { store } = ctx;
  const queue = store.queue;
  const raw = await store.blobs.read(job.blob, job.size);
  try {
    if (await store.domains.get(job.domain)) return { outcomes: await deliverHosted(ctx, job, pending, raw) };
    const group = await queue.relays.routeFor({
      domain: domainOfAddress(job.from),
      apiKeyId: job.apiKeyId,
      teamId: job.teamId,
    });
    if (!group) return { outcomes: await deliverMx(ctx, job, pending, raw) };
    const relay = await chooseRelay(queue.relays, group);
    if (!relay)
      return {
        outcomes: outcomeForAll(pending, {
          status: 'deferred',
          response: `451 4.4.5 Every relay of group ${group.name} reached its daily limit`,
          mx: null,
          tls: false,
        }),
      };
    return {
      outcomes: await deliverSmtp(ctx, job, pending, raw, [relayTarget(ctx, relay)], `relay ${relay.name}`),
      relay,
    };
  } catch (err) {
    const response =
      err instanceof TemporaryRouteError ? `451 4.4.3 ${err.message}` : `451 4.3.0 ${(err as Error).message}`;
    if (!(err instanceof TemporaryRouteError)) ctx.logger.error({ err, job: job.id }, 'delivery attempt error');
    return { outcomes: outcomeForAll(pending, { status: 'deferred', response, mx: null, tls: false }) };
  }
}

async function deliverHosted(ctx: AttemptContext, job: QueueJob, pending: string[], raw: Buffer): Promise<Outcomes> {
  try {
    await ctx.deliverLocal(raw, { from: job.from, to: pending });
    return outcomeForAll(pending, {
      status: 'delivered',
      response: '250 2.0.0 Delivered to a local mailbox',
      mx: 'local',
      tls: false,
    });
  } catch (err) {
    const code = (err as { responseCode?: number }).responseCode ?? 451;
    const response = /^\d{3} /.test((err as Error).message)
      ? (err as Error).message
      : `${code} ${(err as Error).message}`;
    return outcomeForAll(pending, { status: code >= 500 ? 'bounced' : 'deferred', response, mx: 'local', tls: false });
  }
}

function relayTarget(ctx: AttemptContext, relay: Relay): Target {
  return {
    label: relay.host,
    host: relay.host,
    port: relay.port,
    servername: relay.host,
    tls: relay.tls === 'starttls' ? 'required' : relay.tls === 'implicit' ? 'implicit' : 'none',
    verifyCertificate: relay.verifyCertificate,
    ca: ctx.tlsCa,
    auth: relay.auth,
    helo: ctx.hostname,
    localAddress: ctx.localAddress,
    connectTimeoutMs: ctx.connectTimeoutMs,
    socketTimeoutMs: ctx.socketTimeoutMs,
  };
}

async function deliverMx(ctx: AttemptContext, job: QueueJob, pending: string[], raw: Buffer): Promise<Outcomes> {
  const route = await ctx.mxCache.mx(job.domain);
  if (route.kind === 'none')
    return outcomeForAll(pending, { status: 'bounced', response: `550 5.1.10 ${route.reason}`, mx: null, tls: false });
  const policy = ctx.mtaSts ? await ctx.mtaSts(job.domain).catch(() => null) : null;
  const enforce = policy?.mode === 'enforce';
  const hosts = enforce ? route.hosts.filter((h) => mxAllowed(policy, h.host)) : route.hosts;
  if (hosts.length === 0) {
    return outcomeForAll(pending, {
      status: 'deferred',
      response: `451 4.7.5 No MX host of ${job.domain} matches its MTA-STS policy`,
      mx: null,
      tls: false,
    });
  }
  const targets: Target[] = [];
  const dnsFailures: string[] = [];
  for (const mx of hosts) {
    let addresses: string[];
    try {
      addresses = await hostAddresses(ctx.resolver, mx.host);
    } catch (err) {
      dnsFailures.push((err as Error).message);
      continue;
    }
    if (addresses.length === 0) dnsFailures.push(`MX host ${mx.host} has no address`);
    for (const ip of addresses) {
      targets.push({
        label: mx.host,
        host: ip,
        port: ctx.smtpPort,
        servername: mx.host,
        tls: enforce ? 'required' : 'opportunistic',
        verifyCertificate: enforce,
        ca: ctx.tlsCa,
        helo: ctx.hostname,
        localAddress: ctx.localAddress,
        connectTimeoutMs: ctx.connectTimeoutMs,
        socketTimeoutMs: ctx.socketTimeoutMs,
      });
    }
  }
  if (targets.length === 0)
    return outcomeForAll(pending, {
      status: 'deferred',
      response: `451 4.4.3 ${dnsFailures.join('; ')}`,
      mx: null,
      tls: false,
    });
  return deliverSmtp(ctx, job, pending, raw, targets);
}

/** Tries the targets in order until one takes the transaction; connection-level failures move on. */
async function deliverSmtp(
  ctx: AttemptContext,
  job: QueueJob,
  pending: string[],
  raw: Buffer,
  targets: Target[],
  via?: string,
): Promise<Outcomes> {
  let last = '451 4.4.1 No answer from any mail exchanger';
  for (const target of targets) {
    const mx = via ?? target.label;
    let session = ctx.pool.take(target);
    const reused = !!session;
    for (let fresh = !reused; ; fresh = true) {
      if (!session) {
        try {
          session = await SmtpSession.open(target);
        } catch (err) {
          // Even a 5xx at greeting/EHLO/AUTH is this host's problem; the next one may do better.
          last = describe(err, target);
          break;
        }
      }
      try {
        const result = await session.send({ from: job.from, to: pending }, raw);
        const outcomes: Outcomes = new Map();
        for (const address of result.accepted)
          outcomes.set(address, { status: 'delivered', response: result.response, mx, tls: session.tls });
        for (const r of result.rejected) {
          outcomes.set(r.address, {
            status: r.code >= 500 ? 'bounced' : 'deferred',
            response: r.response,
            mx,
            tls: session.tls,
          });
        }
        // A finished transaction leaves the session ready for the next MAIL FROM.
        if (result.accepted.length) ctx.pool.park(target, session);
        else session.close();
        return outcomes;
      } catch (err) {
        session.close();
        // A parked session the server has since dropped: say nothing of it, open a new one.
        if (!fresh && err instanceof SmtpFailure && err.code === null) {
          session = undefined;
          continue;
        }
        if (err instanceof SmtpFailure && !err.beforeTransaction) {
          return outcomeForAll(pending, {
            status: err.permanent ? 'bounced' : 'deferred',
            response: err.response,
            mx,
            tls: session.tls,
          });
        }
        last = describe(err, target);
        break;
      }
    }
  }
  return outcomeForAll(pending, { status: 'deferred', response: last, mx: via ?? null, tls: false });
}

function describe(err: unknown, target: Target): string {
  const response = err instanceof SmtpFailure ? err.response : (err as Error).message;
  return /^\d{3} /.test(response) ? response : `451 4.4.1 ${target.label} [${target.host}]:${target.port}: ${response}`;
}
