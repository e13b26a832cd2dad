// `/api/dkim` (Stalwart): one signature per domain and algorithm, named `<rsa|ed25519>-<domain>`,
// backed by the domain's native DKIM keys. A client-chosen `id` is accepted but not kept: the key is
// found again by its derived name.
import { dkimStatus } from '../../dns/dkim.ts';
import type { DkimKey, Domain } from '../../store/index.ts';
import type { ApiDeps } from '../deps.ts';
import { SELECTOR, addKey } from '../../services/dkim.ts';
import { domainName } from '../schemas.ts';
import {
  CompatError,
  alreadyExists,
  badParameters,
  fieldMissing,
  notFound,
  notFoundHere,
  translated,
} from './errors.ts';
import { type CompatRoute, need } from './route.ts';

// Stalwart names the algorithms `Rsa` and `Ed25519`; the Mailbux guide uses the DKIM tags of RFC 6376
// §3.3 / RFC 8463 (`rsa-sha256`, `ed25519-sha256`). Matched case-insensitively.
const ALGORITHMS: Record<string, DkimKey['algorithm']> = {
  rsa: 'rsa-sha256',
  ed25519: 'ed25519-sha256',
  'rsa-sha256': 'rsa-sha256',
  'ed25519-sha256': 'ed25519-sha256',
};
const prefixOf = (algorithm: DkimKey['algorithm']): string => (algorithm === 'rsa-sha256' ? 'rsa' : 'ed25519');

async function teamDomain(deps: ApiDeps, teamId: string, name: string): Promise<Domain | undefined> {
  const parsed = domainName.safeParse(name);
  const domain = parsed.success ? await deps.store.domains.get(parsed.data) : undefined;
  return domain && domain.teamId === teamId ? domain : undefined;
}

/** The key a signature id names: the signing key of that algorithm, else its newest one. */
function keyOf(domain: Domain, algorithm: DkimKey['algorithm']): DkimKey | undefined {
  const keys = domain.dkim.filter((k) => k.algorithm === algorithm && dkimStatus(k, domain.dkim) !== 'retiring');
  return keys.find((k) => k.active) ?? keys.sort((a, b) => b.createdAt - a.createdAt)[0];
}

export const dkimRoutes = (deps: ApiDeps): CompatRoute[] => [
  {
    method: 'POST',
    path: /^\/dkim$/,
    handler: async (req) => {
      const key = need(req, 'domain.update');
      const body = (await req.json()) as Record<string, unknown> | undefined;
      if (!body || typeof body !== 'object' || Array.isArray(body))
        throw badParameters('expected {"algorithm", "domain", "selector"?, "id"?}');
      if (typeof body.domain !== 'string' || !body.domain) throw fieldMissing('domain');
      if (typeof body.algorithm !== 'string' || !body.algorithm) throw fieldMissing('algorithm');
      const algorithm = ALGORITHMS[body.algorithm.toLowerCase()];
      if (!algorithm) throw badParameters('algorithm must be Rsa, Ed25519, rsa-sha256 or ed25519-sha256');
      const selector =
        body.selector === undefined || body.selector === null ? undefined : String(body.selector).toLowerCase();
      if (selector !== undefined && (selector.length > 63 || !SELECTOR.test(selector))) {
        throw new CompatError({
          error: 'other',
          details: 'the selector must be a DNS label (a-z, 0-9, -)',
          reason: 'selector',
        });
      }
      const domain = await teamDomain(deps, key.teamId, body.domain);
      if (!domain) throw await notFoundHere(deps, key.teamId, body.domain, body.domain);
      const id = typeof body.id === 'string' && body.id ? body.id : `${prefixOf(algorithm)}-${domain.name}`;
      if (keyOf(domain, algorithm)) throw alreadyExists('id', id);
      await translated({ selector: ['selector', selector] }, () => addKey(deps, domain.name, algorithm, selector));
      return null;
    },
  },
  {
    method: 'GET',
    path: /^\/dkim\/([^/]+)$/,
    handler: async (req) => {
      const key = need(req, 'domain.read');
      const id = req.params[0]!;
      const match = /^(rsa|ed25519)-(.+)$/i.exec(id);
      const domain = match ? await teamDomain(deps, key.teamId, match[2]!) : undefined;
      const dkim = domain && keyOf(domain, ALGORITHMS[match![1]!.toLowerCase()]!);
      if (!domain) throw match ? await notFoundHere(deps, key.teamId, id, match[2]!) : notFound(id);
      if (!dkim) throw notFound(id);
      return dkim.publicKey;
    },
  },
];
