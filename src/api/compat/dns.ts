// `/api/dns/records/{domain}` (Stalwart) and `/api/dns/{domain}` (the Mailbux guide): the native record set as `[{type, name, content}]`, names
// and host targets fully qualified with the trailing dot.
import type { DnsRecord } from '../../dns/records.ts';
import type { ApiDeps } from '../deps.ts';
import { recordsFor } from '../../services/domains.ts';
import { notFoundHere } from './errors.ts';
import { type CompatRoute, need } from './route.ts';

const fqdn = (host: string): string => (host.endsWith('.') ? host : `${host}.`);

function content(r: DnsRecord): string {
  if (r.type === 'MX') return `${r.priority} ${fqdn(r.value)}`;
  if (r.type === 'CNAME') return fqdn(r.value);
  if (r.type === 'SRV') {
    const [weight, port, target] = r.value.split(' ');
    return `${r.priority} ${weight} ${port} ${fqdn(target!)}`;
  }
  return r.value;
}

export const dnsRoutes = (deps: ApiDeps): CompatRoute[] => [
  {
    method: 'GET',
    path: /^\/dns\/(?:records\/)?([^/]+)$/,
    handler: async (req) => {
      const key = need(req, 'domain.read');
      const name = req.params[0]!.toLowerCase().replace(/\.$/, '');
      const domain = await deps.store.domains.get(name);
      if (!domain || domain.teamId !== key.teamId) throw await notFoundHere(deps, key.teamId, req.params[0]!, name);
      return recordsFor(deps, domain).map((r) => ({ type: r.type, name: fqdn(r.name), content: content(r) }));
    },
  },
];
