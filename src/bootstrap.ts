import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PRESETS } from './security/permissions.ts';
import type { Store } from './store/index.ts';
import { mintKey } from './services/api-keys.ts';
import type { Logger } from './log.ts';

export const bootstrapKeyPath = (dataDir: string): string => join(dataDir, 'bootstrap-root.key');

/**
 * First start: a default team and a root key, its secret written once to a 0600 file so the
 * operator (and the `wrenmail` admin commands) can reach the API. Only the hash is stored.
 */
export async function bootstrap(store: Store, dataDir: string, logger: Logger): Promise<void> {
  if ((await store.teams.list()).length > 0) return;
  const team = await store.teams.create('default');
  const secret = await createRootKey(store, team.id, 'bootstrap');
  const path = bootstrapKeyPath(dataDir);
  if (existsSync(path)) logger.warn({ path }, 'replacing a bootstrap key file from an earlier store');
  writeFileSync(path, `${secret}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  logger.info({ path }, 'first start: wrote the bootstrap root API key (read it once, then keep it safe)');
}

/** A full root key for a team; returns the secret, which is shown only here (the store keeps its hash). */
export async function createRootKey(store: Store, teamId: string, name: string): Promise<string> {
  const permissions = PRESETS['root:full']!;
  const input = { type: 'root' as const, name, permissions, accountId: null, domain: null, expiresAt: null };
  return (await mintKey(store, teamId, input)).secret;
}
