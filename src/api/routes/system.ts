import { createGzip } from 'node:zlib';
import { PassThrough } from 'node:stream';
import type Router from '@koa/router';
import type { Store } from '../../store/index.ts';
import { writeSnapshot } from '../../store/backup.ts';
import { requirePermission } from '../middleware/permissions.ts';
import { ok } from '../middleware/envelope.ts';
import { publicId } from '../ids.ts';
import { ApiError } from '../errors.ts';

/** Key introspection and whole-store backup. */
export function systemRoutes(router: Router, store: Store): void {
  router.get('/me', async (ctx) => {
    const key = ctx.state.apiKey;
    const team = await store.teams.get(key.teamId);
    if (!team) throw new ApiError('authentication_required', 'the key belongs to no team');
    ok(ctx, {
      key: {
        id: key.id,
        name: key.name,
        type: key.type,
        key_prefix: key.prefix,
        mailbox_id: key.accountId ? publicId('mbx', key.accountId) : null,
        created_at: new Date(key.createdAt).toISOString(),
        expires_at: key.expiresAt ? new Date(key.expiresAt).toISOString() : null,
      },
      team: { id: publicId('team', team.id), name: team.name },
      permissions: key.permissions,
    });
  });

  // Streams a consistent snapshot while the server runs (`wrenmail backup FILE`).
  router.get('/admin/backup', requirePermission('server.manage'), async (ctx) => {
    const gzip = createGzip();
    const body = new PassThrough();
    gzip.pipe(body);
    ctx.set('Content-Type', 'application/gzip');
    ctx.set('Content-Disposition', 'attachment; filename="wrenmail-backup.gz"');
    ctx.body = body;
    writeSnapshot(store.kv, gzip).then(
      () => gzip.end(),
      (err: Error) => body.destroy(err),
    );
  });
}
