// A whole server for the Sendmux seed tests: its bootstrap root key, the document's host and key
// placeholders mapped onto it, and a domain with one mailbox made through the native API.
import { readFileSync } from 'node:fs';
import { bootstrapKeyPath } from '../../src/bootstrap.ts';
import type { Config } from '../../src/config/schema.ts';
import { startInstance, type Instance } from './instance.ts';

export interface SendmuxSeedServer {
  instance: Instance;
  origin: string;
  rootKey: string;
  mailbox: { id: string; email: string; password: string };
  /** Host → this server, `smx_root_…` / `<token>` → the root key (curl commands of the documents). */
  replace: [string, string][];
  api(
    method: string,
    path: string,
    body?: unknown,
    key?: string,
    headers?: Record<string, string>,
  ): Promise<{ status: number; headers: Headers; body: any }>;
  stop(): Promise<void>;
}

export async function startSendmuxSeedServer(
  overrides: Partial<Record<keyof Config, unknown>> = {},
): Promise<SendmuxSeedServer> {
  const instance = await startInstance({ hostname: 'mail.wren.test', overrides });
  const origin = `http://127.0.0.1:${instance.port('http')}`;
  const rootKey = readFileSync(bootstrapKeyPath(instance.config.data_dir), 'utf8').trim();
  const api: SendmuxSeedServer['api'] = async (method, path, body, key = rootKey, headers = {}) => {
    const response = await fetch(`${origin}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
  };
  await api('POST', '/domains', { domain: 'wren.example' });
  const created = await api('POST', '/mailboxes', { email: 'agent@wren.example', password: 'agent mailbox password' });
  if (created.status !== 201) throw new Error(JSON.stringify(created.body));
  return {
    instance,
    origin,
    rootKey,
    mailbox: { id: created.body.data.mailbox.id, email: 'agent@wren.example', password: 'agent mailbox password' },
    replace: [
      ['https://app.sendmux.ai', origin],
      ['smx_root_your_key_here', rootKey],
      ['smx_infrastructure_key_here', rootKey],
      ['<token>', rootKey],
    ],
    api,
    stop: () => instance.stop(),
  };
}
