// What the native routes and the compat layer share about mailboxes: the request and response
// schemas, the view, and the caller's mailbox by public id.
import { z } from 'zod';
import type { Account, ApiKey } from '../../store/index.ts';
import type { DeepReadonly } from '../../store/directory.ts';
import { publicId } from '../../store/public-ids.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { parsePublicId } from '../ids.ts';
import { emailAddress, iso, password, timestamp } from '../schemas.ts';

export const mailboxSchema = z.object({
  id: z.string(),
  email: z.string(),
  display_name: z.string().nullable(),
  quota_bytes: z.number().int().describe('0: unlimited'),
  used_bytes: z.number().int(),
  status: z.enum(['active', 'suspended']),
  aliases: z.array(z.string()),
  login: z.string().describe('IMAP/SMTP user name'),
  created_at: timestamp,
});

export async function mailboxView(
  deps: ApiDeps,
  account: DeepReadonly<Account>,
  aliases?: string[],
): Promise<z.infer<typeof mailboxSchema>> {
  return {
    id: publicId('mbx', account.id),
    email: account.address,
    display_name: account.name === '' ? null : account.name,
    quota_bytes: account.quotaBytes,
    used_bytes: deps.store.folders.usage(account.id).bytes,
    status: account.state,
    aliases: aliases ?? (await deps.store.addresses.accountAliases(account.id)),
    login: account.address,
    created_at: iso(account.createdAt),
  };
}

/** A mailbox of the caller's team by public id, else 404. */
export async function loadMailbox(deps: ApiDeps, caller: ApiKey, id: string): Promise<Account> {
  const account = await deps.store.accounts.get(parsePublicId('mbx', id));
  if (!account || account.teamId !== caller.teamId) throw new ApiError('not_found', `no mailbox ${id}`, 'id');
  return account;
}

/** loadMailbox then its view, with the record and its aliases read together (one wait on the store, not two). */
export async function loadMailboxView(
  deps: ApiDeps,
  caller: ApiKey,
  id: string,
): Promise<z.infer<typeof mailboxSchema>> {
  const accountId = parsePublicId('mbx', id);
  // The shared record (read, rendered, let go): no copy decoded per request.
  const [account, aliases] = await Promise.all([
    deps.store.accounts.view(accountId),
    deps.store.addresses.accountAliases(accountId),
  ]);
  if (!account || account.teamId !== caller.teamId) throw new ApiError('not_found', `no mailbox ${id}`, 'id');
  return mailboxView(deps, account, aliases);
}

export const createMailboxBody = z
  .object({
    email: emailAddress,
    display_name: z
      .string()
      .trim()
      .max(200)
      .refine((s) => !/[\r\n\0]/.test(s), 'must not contain CR, LF or NUL')
      .optional(),
    quota_bytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional().describe('0 or absent: unlimited'),
    password: password.optional(),
  })
  .strict();

export const patchMailboxBody = z
  .object({
    display_name: z
      .string()
      .trim()
      .max(200)
      .refine((s) => !/[\r\n\0]/.test(s), 'must not contain CR, LF or NUL')
      .nullable()
      .optional(),
    quota_bytes: z
      .number()
      .int()
      .min(0)
      .max(Number.MAX_SAFE_INTEGER)
      .optional()
      .describe('0: unlimited; not below what is stored'),
  })
  .strict();
