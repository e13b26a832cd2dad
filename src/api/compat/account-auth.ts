// `/api/account/auth`: the caller's own password and app passwords (Stalwart's self-service). The
// caller is a mailbox: Basic <address>:<password>, or one of its mailbox keys. Password changes need
// the current password (Basic <address>:<password>; Stalwart too wants Basic), never a key: a stolen
// app password must not become the mailbox. OTP is unsupported until 2FA exists.
import type { Account } from '../../store/index.ts';
import type { ApiDeps } from '../deps.ts';
import { setMailboxPassword } from '../../services/mailboxes.ts';
import { password as passwordSchema } from '../schemas.ts';
import { addAppPassword, appPasswordNames, removeAppPasswords } from './app-passwords.ts';
import { CompatError, badParameters, unsupported } from './errors.ts';
import { type CompatRequest, type CompatRoute, need } from './route.ts';

async function ownAccount(deps: ApiDeps, req: CompatRequest): Promise<Account | undefined> {
  const key = need(req, 'mailbox.settings.update');
  return key.accountId ? deps.store.accounts.get(key.accountId) : undefined;
}

const noMailbox = () =>
  new CompatError({
    error: 'other',
    details: 'this credential belongs to no mailbox (log in with the mailbox address and password)',
    reason: null,
  });

type AuthRequest = { type: string; password?: unknown; name?: unknown; url?: unknown };

export const accountAuthRoutes = (deps: ApiDeps): CompatRoute[] => [
  {
    method: 'GET',
    path: /^\/account\/auth$/,
    handler: async (req) => {
      const account = await ownAccount(deps, req);
      return { otpEnabled: false, appPasswords: account ? await appPasswordNames(deps, account) : [] };
    },
  },
  {
    method: 'POST',
    path: /^\/account\/auth$/,
    handler: async (req) => {
      const body = await req.json();
      if (
        !Array.isArray(body) ||
        body.length === 0 ||
        !body.every((r) => r && typeof r === 'object' && typeof r.type === 'string')
      ) {
        throw badParameters('expected a non-empty list of {"type": …} requests');
      }
      const requests = body as AuthRequest[];
      if (requests.some((r) => /^(setPassword|enableOtpAuth|disableOtpAuth)$/.test(r.type)) && !req.caller.password) {
        throw new CompatError({
          error: 'other',
          details:
            'Password changes need the current password: authenticate with Basic <address>:<current password>, not a key',
          reason: null,
        });
      }
      const account = await ownAccount(deps, req);
      if (!account) throw noMailbox();
      // Extension: app passwords asked for without a password are generated and shown here, once.
      const generated: { name: string; password: string }[] = [];
      for (const r of requests) {
        switch (r.type) {
          case 'setPassword': {
            const parsed = passwordSchema.safeParse(r.password);
            if (!parsed.success)
              throw new CompatError({
                error: 'other',
                details: 'a password has 8–1,024 characters and no CR, LF or NUL',
                reason: 'password',
              });
            await setMailboxPassword(deps, account.id, parsed.data);
            break;
          }
          case 'addAppPassword': {
            const given = typeof r.password === 'string' && r.password !== '' ? r.password : undefined;
            const secret = await addAppPassword(deps, req.caller.key, account, String(r.name ?? ''), given);
            if (!given) generated.push({ name: String(r.name), password: secret });
            break;
          }
          case 'removeAppPassword':
            await removeAppPasswords(deps, account, typeof r.name === 'string' ? r.name : undefined);
            break;
          case 'enableOtpAuth':
          case 'disableOtpAuth':
            throw unsupported('two-factor authentication is not available on this server');
          default:
            throw badParameters(`unknown request type ${JSON.stringify(r.type).slice(0, 64)}`);
        }
      }
      return generated.length ? { appPasswords: generated } : null;
    },
  },
];
