// Relays a team sends through (providers) and the delivery groups that hold them: store.queue.relays
// records owned by a team. Operator relays (config) have no team and are not these.
import type { Relay, RelayGroup, RelayProfile } from '../store/relays.ts';
import type { ServiceDeps } from './index.ts';

/** Providers a team may hold, and groups (Sendmux caps sending accounts per team too). */
export const MAX_PER_TEAM = 100;
/** A relay made through the API: it has an owner and a profile (operator relays have neither). */
export type TeamRelay = Relay & { teamId: string; profile: RelayProfile };
export const isTeamRelay = (relay: Relay | undefined, teamId: string): relay is TeamRelay =>
  !!relay && relay.teamId === teamId && !!relay.profile;

export const teamRelays = async (deps: Pick<ServiceDeps, 'store'>, teamId: string): Promise<TeamRelay[]> =>
  (await deps.store.queue.relays.list()).filter((r) => isTeamRelay(r, teamId));

/** The team's delivery groups. */
export const teamGroups = async (deps: Pick<ServiceDeps, 'store'>, teamId: string): Promise<RelayGroup[]> =>
  (await deps.store.queue.relays.listGroups()).filter((g) => g.teamId === teamId);

/** Serialises a team's provider and group changes (membership moves touch several records). */
export const underRelayLock = <T>(deps: Pick<ServiceDeps, 'store'>, teamId: string, fn: () => Promise<T>): Promise<T> =>
  deps.store.directory.run(`relays/${teamId}`, fn);

/** Puts relays in `groupId` (null: in no group), taking them out of the team's other groups. Call under the relay lock. */
export async function moveRelays(
  deps: Pick<ServiceDeps, 'store'>,
  teamId: string,
  relayIds: string[],
  groupId: string | null,
): Promise<void> {
  for (const group of await teamGroups(deps, teamId)) {
    const kept = group.relayIds.filter((id) => !relayIds.includes(id));
    const next = group.id === groupId ? [...kept, ...relayIds] : kept;
    if (next.length !== group.relayIds.length || next.some((id, i) => id !== group.relayIds[i])) {
      await deps.store.queue.relays.putGroup({ ...group, relayIds: next });
    }
  }
}
