// What the routes share about providers and delivery groups: the caller's relay or group by public id.
import type { ApiKey } from '../../store/index.ts';
import type { RelayGroup } from '../../store/relays.ts';
import { isTeamRelay, type TeamRelay } from '../../services/relays.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { parsePublicId } from '../ids.ts';

/** A provider of the caller's team by public id, else 404. */
export async function loadRelay(deps: ApiDeps, caller: ApiKey, id: string, param = 'id'): Promise<TeamRelay> {
  const relay = await deps.store.queue.relays.get(parsePublicId('prv', id, param));
  if (!isTeamRelay(relay, caller.teamId)) throw new ApiError('not_found', `no provider ${id.slice(0, 64)}`, param);
  return relay;
}

/** A group of the caller's team by public id: 404 in a path, 422 when a body names it. */
export async function loadGroup(
  deps: ApiDeps,
  caller: ApiKey,
  id: string,
  param = 'id',
  inBody = false,
): Promise<RelayGroup> {
  const match = /^grp_([0-9a-hjkmnp-tv-z]{26})$/.exec(id);
  const group = match ? await deps.store.queue.relays.getGroup(match[1]!) : undefined;
  if (!group || group.teamId !== caller.teamId)
    throw new ApiError(
      inBody ? 'validation_error' : 'not_found',
      `no delivery group ${id.slice(0, 64)} in this team`,
      param,
    );
  return group;
}
