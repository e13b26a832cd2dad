// What the routes share about domains: the caller's domain by public id.
import type { ApiKey, Domain } from '../../store/index.ts';
import { domainPublicId } from '../../store/public-ids.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { parsePublicId } from '../ids.ts';

/** A domain of the caller's team by public id, else 404. */
export async function loadDomain(deps: ApiDeps, caller: ApiKey, id: string): Promise<Domain> {
  parsePublicId('dom', id);
  const domain = (await deps.store.domains.listForTeam(caller.teamId)).find((d) => domainPublicId(d.name) === id);
  if (!domain) throw new ApiError('not_found', `no domain ${id}`, 'id');
  return domain;
}
