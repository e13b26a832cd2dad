import { z } from 'zod';
import type { SenderFilter } from '../../store/index.ts';
import type { ApiDeps } from '../deps.ts';
import { checkIfMatch } from '../middleware/etag.ts';
import { defineRoute, type Route } from '../registry.ts';
import { updateDomain } from '../../services/domains.ts';
import { updateAccount } from '../../services/mailboxes.ts';
import { loadDomain } from '../views/domains.ts';
import { loadMailbox } from '../views/mailboxes.ts';
import { requiredMailbox } from '../views/messages.ts';

// FilterState (docs/API.md §12.5): the whole list is replaced at once (PUT), at most 1,000 rules.
const filterState = z
  .object({
    mode: z.enum(['off', 'allowlist', 'denylist']),
    rules: z
      .array(
        z
          .object({
            pattern: z
              .string()
              .trim()
              .min(1)
              .max(320)
              .regex(/^[^\s\r\n]+$/, 'a pattern has no spaces or line breaks'),
            type: z.enum(['allow', 'deny']),
            note: z.string().max(255).optional(),
          })
          .strict(),
      )
      .max(1000),
  })
  .strict();

const OFF: SenderFilter = { mode: 'off', rules: [] };
const view = (filter: SenderFilter | undefined): z.infer<typeof filterState> => filter ?? OFF;

const ownQuery = z
  .object({ mailbox_id: z.string().max(40).optional().describe('with a root key: the mailbox') })
  .strict();

/** Sender allow/deny lists of a domain and of a mailbox (the mailbox's, when on, overrides the domain's). */
export const filterRoutes = (deps: ApiDeps): Route[] => [
  // The owner's own lists (a mailbox key or a console owner session): the account page's spam settings.
  defineRoute({
    method: 'GET',
    path: '/mailbox/filters',
    summary: "The calling mailbox's sender allow/deny lists",
    tag: 'Mailbox',
    permission: 'mailbox.read',
    query: ownQuery,
    response: filterState,
    etag: true,
    handler: async ({ key, query }) => ({
      data: view((await requiredMailbox(deps, key, query.mailbox_id)).settings.senderFilter),
    }),
  }),
  defineRoute({
    method: 'PUT',
    path: '/mailbox/filters',
    summary: "Replace the calling mailbox's sender allow/deny lists",
    tag: 'Mailbox',
    permission: 'mailbox.settings.update',
    query: ownQuery,
    body: filterState,
    response: filterState,
    ifMatch: true,
    handler: async ({ ctx, key, query, body }) => {
      const account = await requiredMailbox(deps, key, query.mailbox_id);
      const saved = await updateAccount(deps, account.id, (a) => {
        checkIfMatch(ctx, view(a.settings.senderFilter));
        a.settings.senderFilter = body;
      });
      return { data: view(saved.settings.senderFilter) };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/domains/{id}/filters',
    summary: "A domain's sender allow/deny lists",
    tag: 'Domains',
    permission: 'domain.read',
    response: filterState,
    etag: true,
    handler: async ({ key, params }) => ({ data: view((await loadDomain(deps, key, params.id!)).senderFilter) }),
  }),
  defineRoute({
    method: 'PUT',
    path: '/domains/{id}/filters',
    summary: "Replace a domain's sender allow/deny lists",
    tag: 'Domains',
    permission: 'mailbox.admin.manage',
    body: filterState,
    response: filterState,
    ifMatch: true,
    handler: async ({ ctx, key, params, body }) => {
      const domain = await loadDomain(deps, key, params.id!);
      const saved = await updateDomain(deps, domain.name, (d) => {
        checkIfMatch(ctx, view(d.senderFilter));
        d.senderFilter = body;
      });
      return { data: view(saved.senderFilter) };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/mailboxes/{id}/filters',
    summary: "A mailbox's sender allow/deny lists",
    tag: 'Mailboxes',
    permission: 'mailbox.admin.read',
    response: filterState,
    etag: true,
    handler: async ({ key, params }) => ({
      data: view((await loadMailbox(deps, key, params.id!)).settings.senderFilter),
    }),
  }),
  defineRoute({
    method: 'PUT',
    path: '/mailboxes/{id}/filters',
    summary: "Replace a mailbox's sender allow/deny lists",
    tag: 'Mailboxes',
    permission: 'mailbox.admin.manage',
    body: filterState,
    response: filterState,
    ifMatch: true,
    handler: async ({ ctx, key, params, body }) => {
      const account = await loadMailbox(deps, key, params.id!);
      const saved = await updateAccount(deps, account.id, (a) => {
        checkIfMatch(ctx, view(a.settings.senderFilter));
        a.settings.senderFilter = body;
      });
      return { data: view(saved.settings.senderFilter) };
    },
  }),
];
