import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A random server secret kept in the data folder (0600), made at first use (e.g. the SRS key). */
export function serverSecret(dataDir: string, name: string): string {
  const path = join(dataDir, `${name}.secret`);
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(path, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  return secret;
}
