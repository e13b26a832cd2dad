import { createGzip } from 'node:zlib';
import { PassThrough } from 'node:stream';
import { z } from 'zod';
import { writeSnapshot } from '../../store/backup.ts';
import { type ApiDeps, teamOf } from '../deps.ts';
import { etagOf, notModified } from '../middleware/etag.ts';
import { publicId } from '../ids.ts';
import { defineRoute, type Route } from '../registry.ts';
import { apiKeySchema, apiKeyView } from './api-keys.ts';

const meSchema = z.object({
  key: apiKeySchema,
  team: z.object({ id: z.string(), name: z.string() }),
  permissions: z.array(z.string()),
});

/** Key introspection, whole-store backup, and the OpenAPI document (built once from every route). */
export const systemRoutes = (deps: ApiDeps, openapi: () => Record<string, unknown>): Route[] => {
  let document: { text: string; etag: string } | undefined;
  return [
    defineRoute({
      method: 'GET', path: '/me', summary: 'The calling key, its team and permissions', tag: 'System', permission: null, response: meSchema, etag: true,
      handler: async ({ key }) => {
        const team = await teamOf(deps, key.teamId);
        return { data: { key: apiKeyView(key), team: { id: publicId('team', team.id), name: team.name }, permissions: key.permissions } };
      },
    }),
    defineRoute({
      method: 'GET', path: '/openapi.json', summary: 'This API as an OpenAPI 3.1 document', tag: 'System', permission: null, public: true, raw: 'application/json',
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
    // Streams a consistent snapshot while the server runs (`wrenmail backup FILE`).
    defineRoute({
      method: 'GET', path: '/admin/backup', summary: 'A gzip snapshot of the whole store', tag: 'System', permission: 'server.manage', raw: 'application/gzip',
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
