// `/api/spam-filter/*` (Stalwart 0.12–0.15): training samples as raw RFC 5322 bodies (both the
// `train` and the `upload` generation), and a dry-run classification, through the native spam routes'
// functions. Training happens at once (no background task to start or stop).
import { isIP } from 'node:net';
import { type ApiDeps, classifySession } from '../deps.ts';
import { classifyMessage, spamSettings, trainMessage } from '../../services/spam.ts';
import { badParameters, notFound, unsupported } from './errors.ts';
import { type CompatRoute, need } from './route.ts';

/** Stalwart's classify request: the message and the SMTP session it came in (isTls and envFromFlags are not read). */
interface StalwartClassify {
  message?: unknown;
  remoteIp?: unknown;
  ehloDomain?: unknown;
  authenticatedAs?: unknown;
  envFrom?: unknown;
  envRcptTo?: unknown;
}

export const spamFilterRoutes = (deps: ApiDeps): CompatRoute[] => {
  const settings = spamSettings(deps);
  /** The session Stalwart's fields describe: scored as received in it when remoteIp is an address. */
  const sessionOf = (body: StalwartClassify) => {
    if (body.remoteIp === undefined || body.remoteIp === null || body.remoteIp === '') return undefined;
    if (typeof body.remoteIp !== 'string' || isIP(body.remoteIp) === 0)
      throw badParameters('remoteIp must be an IP address');
    const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
    const rcptTo = Array.isArray(body.envRcptTo)
      ? body.envRcptTo.filter((r) => typeof r === 'string').slice(0, 100)
      : [];
    return classifySession(deps, {
      remoteIp: body.remoteIp,
      helo: text(body.ehloDomain),
      mailFrom: text(body.envFrom),
      rcptTo,
      user: text(body.authenticatedAs),
    });
  };
  return [
    {
      method: 'POST',
      path: /^\/spam-filter\/(?:train|upload)\/(spam|ham)(?:\/([^/]+))?$/,
      handler: async (req) => {
        const key = need(req, 'spam.train');
        const [cls, accountName] = req.params as ['spam' | 'ham', string];
        let accountId: string | undefined;
        if (accountName) {
          const account = await deps.store.accounts.byAddress(accountName.toLowerCase());
          if (!account || account.teamId !== key.teamId) throw notFound(accountName);
          accountId = account.id;
        }
        const raw = await req.raw();
        if (raw.length === 0) throw badParameters('the body must be the raw message');
        await trainMessage(deps, settings, raw, cls, accountId);
        return null;
      },
    },
    {
      method: 'GET',
      path: /^\/spam-filter\/train\/(start|reset|stop|delete|status)$/,
      handler: async (req) => {
        need(req, 'spam.train');
        if (req.params[0] === 'status') return false; // nothing runs in the background
        throw unsupported('samples train the classifier as they arrive; there is no training task');
      },
    },
    {
      method: 'POST',
      path: /^\/spam-filter\/classify$/,
      handler: async (req) => {
        need(req, 'spam.test');
        const body = (await req.json()) as StalwartClassify | undefined;
        if (!body || typeof body.message !== 'string' || body.message === '')
          throw badParameters('message (the raw RFC 5322 message) is required');
        const { result } = await classifyMessage(deps, settings, Buffer.from(body.message, 'utf8'), sessionOf(body));
        return {
          score: result.score,
          tags: Object.fromEntries(result.hits.map((h) => [h.rule, { action: 'allow', value: h.score }])),
          disposition: result.verdict === 'reject' ? { action: 'reject' } : { action: 'allow', value: result.headers },
        };
      },
    },
  ];
};
