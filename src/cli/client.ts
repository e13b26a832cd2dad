import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Config } from '../config/schema.ts';
import { bootstrapKeyPath } from '../bootstrap.ts';
import { parseListen } from '../listeners.ts';

/**
 * Calls the running server's API as the admin commands do: the first http.listen address (0.0.0.0
 * means this machine), the key from $WRENMAIL_API_KEY or else the bootstrap key file.
 */
export async function apiRequest(config: Config, method: string, path: string, body?: unknown): Promise<Response> {
  const [address] = config.http.listen;
  if (!address) throw new Error('http.listen is empty: the admin commands need the HTTP API');
  const { host, port } = parseListen(address);
  const target = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const base = process.env.WRENMAIL_API_URL ?? `http://${target.includes(':') ? `[${target}]` : target}:${port}`;
  const key = process.env.WRENMAIL_API_KEY ?? readFileSync(bootstrapKeyPath(resolve(config.data_dir)), 'utf8').trim();
  const response = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status} ${await response.text()}`);
  return response;
}
