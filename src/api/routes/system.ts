import { createGzip } from 'node:zlib';
import { PassThrough } from 'node:stream';
import { z } from 'zod';
import { hashPassword } from '../../security/passwords.ts';
import { writeSnapshot } from '../../store/backup.ts';
import { keys } from '../../store/keys.ts';
import { Tx } from '../../store/tx.ts';
import { type ApiDeps, teamOf } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { etagOf, notModified } from '../middleware/etag.ts';
import { publicId } from '../../store/public-ids.ts';
import { iso, timestamp } from '../schemas.ts';
import { defineRoute, type Route } from '../registry.ts';
import { apiKeySchema, apiKeyView } from '../views/api-keys.ts';

const meSchema = z.object({
  key: apiKeySchema,
  team: z.object({ id: z.string(), name: z.string() }),
  permissions: z.array(z.string()),
});

const certificateSchema = z.object({
  names: z.array(z.string()).describe('the DNS names it covers'),
  issuer: z.string(),
  not_before: timestamp,
  not_after: timestamp,
  days_left: z.number().int().describe('whole days until not_after (negative: expired)'),
  default: z.boolean().describe('served when a client names no host this store has a certificate for'),
});

const adminPasswordBody = z
  .object({
    password: z
      .string()
      .min(12)
      .max(1024)
      .describe('at least 12 characters: it opens the operator console with root:full'),
  })
  .strict();

/** Key introspection, the console's admin password, whole-store backup, and the OpenAPI document (built once from every route). */
export const systemRoutes = (deps: ApiDeps, openapi: () => Record<string, unknown>): Route[] => {
  let document: { text: string; etag: string } | undefined;
  return [
    defineRoute({
      method: 'GET',
      path: '/me',
      summary: 'The calling key, its team and permissions',
      tag: 'System',
      permission: null,
      response: meSchema,
      etag: true,
      handler: async ({ key }) => {
        const team = await teamOf(deps, key.teamId);
        return {
          data: {
            key: apiKeyView(key),
            team: { id: publicId('team', team.id), name: team.name },
            permissions: key.permissions,
          },
        };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/openapi.json',
      summary: 'This API as an OpenAPI 3.1 document',
      tag: 'System',
      permission: null,
      public: true,
      raw: 'application/json',
      handler: async ({ ctx }) => {
        if (!document) {
          const text = JSON.stringify(openapi());
          document = { text, etag: etagOf(text) };
        }
        ctx.set('Cache-Control', 'public, max-age=3600');
        ctx.set('ETag', document.etag);
        if (notModified(ctx, document.etag)) {
          return { raw: '', contentType: 'application/json', status: 304 };
        }
        return { raw: document.text, contentType: 'application/json; charset=utf-8' };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/server/certificates',
      summary: 'The TLS certificates the listeners serve, soonest expiry first',
      tag: 'System',
      permission: 'server.read',
      response: certificateSchema,
      list: true,
      errors: ['service_unavailable'],
      handler: async () => {
        const store = deps.certificates;
        if (!store) throw new ApiError('service_unavailable', 'this server has no TLS certificate store');
        const fallback = store.defaultCertificate;
        const all = store.list();
        if (!all.some((c) => c.file === fallback.file)) all.push(fallback); // the configured or self-signed default
        const data = all
          .sort((a, b) => a.notAfter.getTime() - b.notAfter.getTime())
          .map((c) => ({
            names: c.names,
            issuer: c.issuer,
            not_before: iso(c.notBefore.getTime()),
            not_after: iso(c.notAfter.getTime()),
            days_left: Math.floor((c.notAfter.getTime() - Date.now()) / 86_400_000),
            default: c.file === fallback.file,
          }));
        return { data, pagination: { has_more: false } };
      },
    }),
    // The operator console's password (`wrenmail admin passwd`): only its hash is kept; setting a new
    // one ends every console session opened with the old (src/console/sessions.ts compares stamps).
    defineRoute({
      method: 'PUT',
      path: '/admin/password',
      summary: "Set the web console's admin password (sessions opened with the old one end)",
      tag: 'System',
      permission: 'server.manage',
      body: adminPasswordBody,
      response: z.object({ updated_at: timestamp }),
      handler: async ({ body }) => {
        const tx = new Tx();
        tx.put(keys.adminPassword(), await hashPassword(body.password));
        await deps.store.kv.commit(tx);
        return { data: { updated_at: iso(Date.now()) } };
      },
    }),
    defineRoute({
      method: 'DELETE',
      path: '/admin/password',
      summary: "Remove the web console's admin password (only root keys open it then)",
      tag: 'System',
      permission: 'server.manage',
      response: z.object({ deleted: z.boolean() }),
      handler: async () => {
        const existed = (await deps.store.kv.get<string>(keys.adminPassword())) !== undefined;
        const tx = new Tx();
        tx.del(keys.adminPassword());
        if (existed) await deps.store.kv.commit(tx);
        return { data: { deleted: existed } };
      },
    }),
    // Streams a consistent snapshot while the server runs (`wrenmail backup FILE`).
    defineRoute({
      method: 'GET',
      path: '/admin/backup',
      summary: 'A gzip snapshot of the whole store',
      tag: 'System',
      permission: 'server.manage',
      raw: 'application/gzip',
      handler: async () => {
        const gzip = createGzip();
        const body = new PassThrough();
        gzip.pipe(body);
        writeSnapshot(deps.store.kv, gzip).then(
          () => gzip.end(),
          (err: Error) => body.destroy(err),
        );
        return { raw: body, contentType: 'application/gzip', filename: 'wrenmail-backup.gz' };
      },
    }),
  ];
};
