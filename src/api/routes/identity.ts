// The sending identity of a mailbox (docs/API.md §12.2): display name and signatures,
// kept in the account's settings next to the other per-mailbox preferences.
import { z } from 'zod';
import type { Account, Identity } from '../../store/index.ts';
import type { ApiDeps } from '../deps.ts';
import { defineRoute, type Route } from '../registry.ts';
import { updateAccount } from '../../services/mailboxes.ts';
import { requiredMailbox } from '../views/messages.ts';

const identityOf = (account: Account): Identity => account.settings.identity ?? {};

const identitySchema = z.object({
  email: z.string(),
  name: z.string().describe('display name; defaults to the mailbox name'),
  text_signature: z.string().nullable(),
  html_signature: z.string().nullable(),
});

const view = (account: Account): z.infer<typeof identitySchema> => {
  const identity = identityOf(account);
  return {
    email: account.address,
    name: identity.name ?? account.name,
    text_signature: identity.textSignature ?? null,
    html_signature: identity.htmlSignature ?? null,
  };
};

const mailboxId = z.string().max(40).optional();

export const identityRoutes = (deps: ApiDeps): Route[] => [
  defineRoute({
    method: 'GET',
    path: '/mailbox/identity',
    summary: "The mailbox's sending identity: name and signatures",
    tag: 'Mailbox',
    permission: 'mailbox.read',
    query: z.object({ mailbox_id: mailboxId }).strict(),
    response: identitySchema,
    etag: true,
    handler: async ({ key, query }) => ({ data: view(await requiredMailbox(deps, key, query.mailbox_id)) }),
  }),
  defineRoute({
    method: 'PATCH',
    path: '/mailbox/identity',
    summary: 'Change the display name or signatures (null clears a signature)',
    tag: 'Mailbox',
    permission: 'mailbox.settings.update',
    query: z.object({ mailbox_id: mailboxId }).strict(),
    body: z
      .object({
        name: z.string().max(254).optional(),
        text_signature: z.string().max(2047).nullable().optional(),
        html_signature: z.string().max(2047).nullable().optional(),
      })
      .strict(),
    response: identitySchema,
    handler: async ({ key, query, body }) => {
      const account = await requiredMailbox(deps, key, query.mailbox_id);
      const saved = await updateAccount(deps, account.id, (a) => {
        const identity = { ...identityOf(a) };
        if (body.name !== undefined) identity.name = body.name;
        if (body.text_signature !== undefined) identity.textSignature = body.text_signature;
        if (body.html_signature !== undefined) identity.htmlSignature = body.html_signature;
        a.settings.identity = identity;
      });
      return { data: view(saved) };
    },
  }),
];
