// A mailbox's Sieve script (RFC 5228): read, replace (validated: 422 with the line and column of
// the first problem), delete, switch on and off. The inbound pipeline runs it when it is active.
import { z } from 'zod';
import { SieveError } from '../../sieve/parse.ts';
import { CAPABILITIES, compile, MAX_SCRIPT_BYTES } from '../../sieve/validate.ts';
import type { ApiKey } from '../../store/index.ts';
import { sieveScripts, type SieveScriptRecord } from '../../store/sieve.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { publicId } from '../../store/public-ids.ts';
import { defineRoute, type Route } from '../registry.ts';
import { deleted, iso, timestamp } from '../schemas.ts';
import { loadMailbox } from '../views/mailboxes.ts';
import { requiredMailbox } from '../views/messages.ts';

const sieveSchema = z.object({
  mailbox_id: z.string(),
  script: z.string(),
  active: z.boolean().describe('run on every message delivered to the mailbox'),
  extensions: z.array(z.string()).describe('what `require` may name'),
  updated_at: timestamp,
});

const view = (record: SieveScriptRecord): z.infer<typeof sieveSchema> => ({
  mailbox_id: publicId('mbx', record.accountId),
  script: record.script,
  active: record.active,
  extensions: [...CAPABILITIES],
  updated_at: iso(record.updatedAt),
});

const putBody = z
  .object({
    script: z.string().max(MAX_SCRIPT_BYTES),
    active: z.boolean().optional().describe('absent: unchanged (a new script starts active)'),
  })
  .strict();

const tag = 'Sieve';

export const sieveRoutes = (deps: ApiDeps): Route[] => {
  const scripts = sieveScripts(deps.store.kv);
  const load = async (accountId: string, id: string): Promise<SieveScriptRecord> => {
    const record = await scripts.get(accountId);
    if (!record) throw new ApiError('not_found', `mailbox ${id} has no Sieve script`, 'id');
    return record;
  };
  const toggle = (action: 'activate' | 'deactivate') =>
    defineRoute({
      method: 'POST',
      path: `/mailboxes/{id}/sieve/${action}`,
      summary: `${action === 'activate' ? 'Run' : 'Stop running'} the mailbox's Sieve script on delivery`,
      tag,
      permission: 'mailbox.admin.manage',
      response: sieveSchema,
      handler: async ({ key, params }) => {
        const account = await loadMailbox(deps, key, params.id!);
        return deps.store.directory.run(`sieve/${account.id}`, async () => {
          const record = {
            ...(await load(account.id, params.id!)),
            active: action === 'activate',
            updatedAt: Date.now(),
          };
          await scripts.put(record);
          return { data: view(record) };
        });
      },
    });

  /** Validates and stores a script (422 names the line and column of the first problem). */
  const put = async (accountId: string, body: z.infer<typeof putBody>) => {
    try {
      compile(body.script);
    } catch (err) {
      if (!(err instanceof SieveError)) throw err;
      throw new ApiError('validation_error', `script: ${err.message}`, 'script', {
        errors: [{ field: 'script', code: 'sieve_error', message: err.message }],
      });
    }
    return deps.store.directory.run(`sieve/${accountId}`, async () => {
      const previous = await scripts.get(accountId);
      const record: SieveScriptRecord = {
        accountId,
        script: body.script,
        active: body.active ?? previous?.active ?? true,
        updatedAt: Date.now(),
      };
      await scripts.put(record);
      return { data: view(record) };
    });
  };
  const remove = async (accountId: string, id: string) => {
    const existed = await deps.store.directory.run(`sieve/${accountId}`, () => scripts.remove(accountId));
    if (!existed) throw new ApiError('not_found', `mailbox ${id} has no Sieve script`, 'id');
    return { data: { id, deleted: true as const } };
  };
  // The owner's own script (a mailbox key, or a console owner session): vacation replies and forwarding.
  const ownQuery = z
    .object({ mailbox_id: z.string().max(40).optional().describe('with a root key: the mailbox') })
    .strict();
  const own = (key: ApiKey, mailboxId: string | undefined) => requiredMailbox(deps, key, mailboxId);

  return [
    defineRoute({
      method: 'GET',
      path: '/mailbox/sieve',
      summary: "The calling mailbox's Sieve script (404 when it has none)",
      tag,
      permission: 'mailbox.read',
      query: ownQuery,
      response: sieveSchema,
      etag: true,
      handler: async ({ key, query }) => {
        const account = await own(key, query.mailbox_id);
        return { data: view(await load(account.id, publicId('mbx', account.id))) };
      },
    }),
    defineRoute({
      method: 'PUT',
      path: '/mailbox/sieve',
      summary: "Set the calling mailbox's Sieve script (validated: 422 names the line and column)",
      tag,
      permission: 'mailbox.settings.update',
      query: ownQuery,
      body: putBody,
      response: sieveSchema,
      errors: ['validation_error'],
      handler: async ({ key, query, body }) => put((await own(key, query.mailbox_id)).id, body),
    }),
    defineRoute({
      method: 'DELETE',
      path: '/mailbox/sieve',
      summary: "Delete the calling mailbox's Sieve script",
      tag,
      permission: 'mailbox.settings.update',
      query: ownQuery,
      response: deleted,
      errors: ['not_found'],
      handler: async ({ key, query }) => {
        const account = await own(key, query.mailbox_id);
        return remove(account.id, publicId('mbx', account.id));
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/mailboxes/{id}/sieve',
      summary: "Get the mailbox's Sieve script",
      tag,
      permission: 'mailbox.admin.read',
      response: sieveSchema,
      etag: true,
      handler: async ({ key, params }) => {
        const account = await loadMailbox(deps, key, params.id!);
        return { data: view(await load(account.id, params.id!)) };
      },
    }),
    defineRoute({
      method: 'PUT',
      path: '/mailboxes/{id}/sieve',
      summary: "Set the mailbox's Sieve script (validated: 422 names the line and column)",
      tag,
      permission: 'mailbox.admin.manage',
      body: putBody,
      response: sieveSchema,
      errors: ['validation_error'],
      handler: async ({ key, params, body }) => put((await loadMailbox(deps, key, params.id!)).id, body),
    }),
    defineRoute({
      method: 'DELETE',
      path: '/mailboxes/{id}/sieve',
      summary: "Delete the mailbox's Sieve script (and its vacation reply records)",
      tag,
      permission: 'mailbox.admin.manage',
      response: deleted,
      handler: async ({ key, params }) => remove((await loadMailbox(deps, key, params.id!)).id, params.id!),
    }),
    toggle('activate'),
    toggle('deactivate'),
  ];
};
