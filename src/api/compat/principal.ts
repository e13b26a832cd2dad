// `/api/principal` (Stalwart ≤ 0.15, Mailbux): principals looked up by name and rendered in
// Stalwart's shape, each kind translated onto its native resource:
//   domain      → domains          name = the domain
//   individual  → mailboxes        name = the address (a name without "@" matches a unique local part);
//                                  emails = [address, …aliases]; secrets = password and `$app$` app passwords
//   list, group → lists            name = the list's name; emails = [its address]; members = member addresses
//   apiKey      → root API keys    name = the key's name; secrets[0] = its `wm_root_…` secret
// Other types answer `unsupported`. Numeric ids are derived from the native ids (stable, not stored).
import { createHash } from 'node:crypto';
import { verifyPassword } from '../../security/passwords.ts';
import { PRESETS } from '../../security/permissions.ts';
import { splitAddress } from '../../store/addresses.ts';
import type { Account, ApiKey, Domain } from '../../store/index.ts';
import type { MailList } from '../../store/lists.ts';
import type { ApiDeps } from '../deps.ts';
import { publicId } from '../../store/public-ids.ts';
import { withKeyLock } from '../middleware/auth.ts';
import { parseInput } from '../middleware/validate.ts';
import { createKey } from '../../services/api-keys.ts';
import { createDomain, deleteDomain } from '../../services/domains.ts';
import { createList, updateList } from '../../services/lists.ts';
import {
  addAlias,
  assertTeamDomain,
  createMailbox,
  deleteMailbox,
  patchMailbox,
  removeAlias,
  setMailboxPassword,
} from '../../services/mailboxes.ts';
import { teamOf } from '../deps.ts';
import { assertGrantable } from '../middleware/permissions.ts';
import { createListBody, patchListBody } from '../views/lists.ts';
import { createMailboxBody, patchMailboxBody } from '../views/mailboxes.ts';
import { domainName, emailAddress, password as passwordSchema } from '../schemas.ts';
import {
  addAppPassword,
  appPasswordNames,
  clientKey,
  isAppSecret,
  parseAppSecret,
  removeAppPasswords,
} from './app-passwords.ts';
import {
  CompatError,
  alreadyExists,
  badParameters,
  fieldMissing,
  notFound,
  notFoundHere,
  translated,
  unsupported,
} from './errors.ts';
import { type CompatRequest, type CompatRoute, need } from './route.ts';

type Kind = 'domain' | 'individual' | 'list' | 'apiKey';
type Found =
  | { kind: 'domain'; name: string; domain: Domain }
  | { kind: 'individual'; name: string; account: Account }
  | { kind: 'list'; name: string; list: MailList }
  | { kind: 'apiKey'; name: string; key: ApiKey };

const SUPPORTED: Kind[] = ['domain', 'individual', 'list', 'apiKey'];
const UNSUPPORTED = ['tenant', 'role', 'oauthClient', 'resource', 'location', 'other'];

/** Stalwart type name → the kind it maps onto (groups are lists; superuser parses as individual). */
function kindOf(type: string): Kind | 'unsupported' | undefined {
  if ((SUPPORTED as string[]).includes(type)) return type as Kind;
  if (type === 'group') return 'list';
  if (type === 'superuser') return 'individual';
  return UNSUPPORTED.includes(type) ? 'unsupported' : undefined;
}

/** The native permission each operation on a kind needs. */
const PERMISSION: Record<Kind, Record<'read' | 'create' | 'update' | 'delete', string>> = {
  domain: { read: 'domain.read', create: 'domain.create', update: 'domain.update', delete: 'domain.delete' },
  individual: {
    read: 'mailbox.admin.read',
    create: 'mailbox.admin.create',
    update: 'mailbox.admin.manage',
    delete: 'mailbox.admin.delete',
  },
  list: { read: 'list.read', create: 'list.create', update: 'list.update', delete: 'list.delete' },
  apiKey: { read: 'apikey.read', create: 'apikey.create', update: 'apikey.update', delete: 'apikey.delete' },
};

/** Stalwart's u32 principal id, derived from the native id: stable across restarts, nothing stored. */
export const numericId = (kind: Kind, nativeId: string): number =>
  createHash('sha256').update(`${kind}:${nativeId}`).digest().readUInt32BE(0) >>> 1;

/** Stalwart accepts a scalar where a list is expected. */
function strings(value: unknown, field: string): string[] {
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? value : [value];
  if (!list.every((v) => typeof v === 'string')) throw badParameters(`${field} must be a string or a list of strings`);
  return list as string[];
}

/** Parses with a native schema; its errors become tagged ones (fieldMissing / other) under compat field names. */
const native = <T>(fields: Record<string, [string, unknown]>, run: () => T): Promise<T> =>
  translated(fields, async () => run());

const email = (value: string, field: string): Promise<string> =>
  native({ body: [field, value] }, () => parseInput(emailAddress, value, 'body'));

const isRootKey = (k: ApiKey) => k.type === 'root' && !k.revokedAt && !(k.expiresAt && k.expiresAt < Date.now());

/** Every principal of the caller's team of these kinds. */
async function all(deps: ApiDeps, teamId: string, kinds: Kind[]): Promise<Found[]> {
  const out: Found[] = [];
  for (const kind of kinds) {
    if (kind === 'domain')
      out.push(
        ...(await deps.store.domains.listForTeam(teamId)).map((domain) => ({ kind, name: domain.name, domain })),
      );
    if (kind === 'individual')
      out.push(
        ...(await deps.store.accounts.listForTeam(teamId)).map((account) => ({ kind, name: account.address, account })),
      );
    if (kind === 'list')
      out.push(...(await deps.lists.listForTeam(teamId)).map((list) => ({ kind, name: list.name, list })));
    if (kind === 'apiKey')
      out.push(
        ...(await deps.store.apiKeys.listForTeam(teamId))
          .filter(isRootKey)
          .map((key) => ({ kind, name: key.name, key })),
      );
  }
  return out;
}

/** A principal of the team by name: a domain, a mailbox address (or unique local part), a list name or address, a root key name. */
async function find(deps: ApiDeps, teamId: string, name: string): Promise<Found | undefined> {
  const lower = name.trim().toLowerCase();
  const domain = await deps.store.domains.get(lower);
  if (domain && domain.teamId === teamId) return { kind: 'domain', name: domain.name, domain };
  const accounts = await deps.store.accounts.listForTeam(teamId);
  const byLocal = accounts.filter((a) => splitAddress(a.address).local === lower);
  const account =
    accounts.find((a) => a.address === lower) ??
    (!lower.includes('@') && byLocal.length === 1 ? byLocal[0] : undefined);
  if (account) return { kind: 'individual', name: account.address, account };
  const list = (await deps.lists.listForTeam(teamId)).find((l) => l.name === name || l.address === lower);
  if (list) return { kind: 'list', name: list.name, list };
  const key = (await deps.store.apiKeys.listForTeam(teamId)).find((k) => isRootKey(k) && k.name === name);
  if (key) return { kind: 'apiKey', name: key.name, key };
  return undefined;
}

async function findOrFail(deps: ApiDeps, teamId: string, name: string): Promise<Found> {
  const found = await find(deps, teamId, name);
  if (!found) throw await notFoundHere(deps, teamId, name, name.includes('@') ? splitAddress(name).domain : name);
  return found;
}

/**
 * A list's member names → the native body's `members` (mailbox public ids) and `external_members`:
 * a mailbox of the team by address or unique local part is local; an address in a domain not hosted
 * here is external, which makes the list a forwarder (Mailbux guide §4); anything else is notFound.
 */
async function splitMembers(
  deps: ApiDeps,
  teamId: string,
  names: string[],
): Promise<{ members: string[]; external: string[] }> {
  const members: string[] = [];
  const external: string[] = [];
  for (const name of names) {
    const found = await find(deps, teamId, name);
    if (found?.kind === 'individual') members.push(publicId('mbx', found.account.id));
    else if (name.includes('@') && !(await deps.store.domains.get(splitAddress(name.trim().toLowerCase()).domain)))
      external.push(name.trim());
    else throw notFound(name);
  }
  return { members, external };
}

/** Stalwart's principal JSON. */
async function render(deps: ApiDeps, found: Found, withSecrets: boolean): Promise<Record<string, unknown>> {
  switch (found.kind) {
    case 'domain':
      return { id: numericId('domain', found.domain.name), type: 'domain', name: found.domain.name };
    case 'individual': {
      const a = found.account;
      const lists = (await deps.lists.listForTeam(a.teamId)).filter((l) => l.members.includes(a.id)).map((l) => l.name);
      return {
        id: numericId('individual', a.id),
        type: 'individual',
        name: a.address,
        ...(a.name ? { description: a.name } : {}),
        emails: [a.address, ...(await deps.store.addresses.accountAliases(a.id))],
        quota: a.quotaBytes,
        usedQuota: deps.store.folders.usage(a.id).bytes,
        roles: ['user'],
        memberOf: lists,
        lists,
        // Never a hash or a secret: the app passwords' names, as Stalwart's `$app$<name>$…` entries.
        ...(withSecrets ? { secrets: (await appPasswordNames(deps, a)).map((n) => `$app$${n}$`) } : {}),
      };
    }
    case 'list': {
      const l = found.list;
      const members = await Promise.all(l.members.map((id) => deps.store.accounts.get(id)));
      return {
        id: numericId('list', l.id),
        type: 'list',
        name: l.name,
        ...(l.description ? { description: l.description } : {}),
        emails: [l.address],
        members: members.filter((m): m is Account => m !== undefined).map((m) => m.address),
        externalMembers: l.externalMembers,
      };
    }
    case 'apiKey':
      return {
        id: numericId('apiKey', found.key.id),
        type: 'apiKey',
        name: found.key.name,
        roles: found.key.permissions.includes('*') ? ['admin'] : [],
      };
  }
}

const matches = (principal: Record<string, unknown>, filter: string): boolean => {
  const needle = filter.toLowerCase();
  const texts = [principal.name, principal.description, ...((principal.emails as string[] | undefined) ?? [])];
  return texts.some((t) => typeof t === 'string' && t.toLowerCase().includes(needle));
};

function requestedKinds(value: string | undefined): Kind[] {
  if (!value) return SUPPORTED;
  const kinds = new Set<Kind>();
  for (const type of value.split(',')) {
    const kind = kindOf(type.trim());
    if (kind && kind !== 'unsupported') kinds.add(kind);
  }
  return [...kinds];
}

const int = (value: string | undefined, name: string): number => {
  if (value === undefined || value === '') return 0;
  if (!/^\d{1,9}$/.test(value)) throw badParameters(`${name} must be a non-negative integer`);
  return Number(value);
};

async function list(deps: ApiDeps, req: CompatRequest): Promise<unknown> {
  const { query } = req;
  const kinds = requestedKinds(query.types ?? query.type);
  for (const kind of kinds) need(req, PERMISSION[kind].read);
  const fields = (query.fields ?? '')
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean);
  const page = Math.max(1, int(query.page, 'page'));
  const limit = int(query.limit, 'limit');
  const rendered = await Promise.all(
    (await all(deps, req.caller.key.teamId, kinds)).map((f) => render(deps, f, fields.includes('secrets'))),
  );
  const filtered = query.filter ? rendered.filter((p) => matches(p, query.filter!)) : rendered;
  if (query.count !== undefined) return { items: [], total: filtered.length };
  const slice = limit ? filtered.slice((page - 1) * limit, page * limit) : filtered;
  const items = fields.length
    ? slice.map((p) => Object.fromEntries(fields.filter((f) => f in p).map((f) => [f, p[f]])))
    : slice;
  return { items, total: filtered.length };
}

// ── create ───────────────────────────────────────────────────────────────────────────────────

type Body = Record<string, unknown>;

const text = (body: Body, field: string): string | undefined => {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw badParameters(`${field} must be a string`);
  return value;
};

/** Runs follow-up steps of a create; when one fails the new principal is removed again, so a create is all or nothing. */
async function orUndo<T>(undo: () => Promise<void>, steps: () => Promise<T>): Promise<T> {
  try {
    return await steps();
  } catch (err) {
    await undo();
    throw err;
  }
}

async function createIndividualPrincipal(deps: ApiDeps, req: CompatRequest, name: string, body: Body): Promise<number> {
  const key = need(req, PERMISSION.individual.create);
  const emails = strings(body.emails, 'emails');
  const address = emails[0] ?? (name.includes('@') ? name : undefined);
  if (!address) throw fieldMissing('emails');
  if (name.includes('@') && name.toLowerCase() !== address.toLowerCase()) {
    throw new CompatError({
      error: 'other',
      details: "an individual's name is its primary address (emails[0])",
      reason: 'name',
    });
  }
  const roles = strings(body.roles, 'roles');
  if (roles.some((r) => r !== 'user'))
    throw unsupported('individuals hold the user role only; use API keys for administrators');
  const secrets = strings(body.secrets, 'secrets');
  const password = secrets.find((s) => !isAppSecret(s));
  const fields = {
    email: ['emails', address],
    password: ['secrets', null],
    quota_bytes: ['quota', body.quota],
    display_name: ['description', body.description],
  } as Record<string, [string, unknown]>;
  const parsed = await native(fields, () =>
    parseInput(
      createMailboxBody,
      {
        email: address,
        display_name: text(body, 'description') || undefined,
        quota_bytes: body.quota ?? undefined,
        password,
      },
      'body',
    ),
  );
  // Stalwart: an address in a domain that is not here is notFound (another tenant's: 403).
  await assertTeamDomain(deps, key.teamId, parsed.email, 'email').catch(async () =>
    Promise.reject(
      await notFoundHere(deps, key.teamId, splitAddress(parsed.email).domain, splitAddress(parsed.email).domain),
    ),
  );
  const { account } = await translated({ email: ['emails', parsed.email] }, async () =>
    createMailbox(deps, await teamOf(deps, key.teamId), parsed),
  );
  await orUndo(
    () => deleteMailbox(deps, account),
    async () => {
      for (const alias of emails.slice(1)) await addEmail(deps, account, alias);
      for (const secret of secrets.filter(isAppSecret)) await addAppSecret(deps, key, account, secret);
      for (const listName of new Set([...strings(body.memberOf, 'memberOf'), ...strings(body.lists, 'lists')]))
        await joinList(deps, account, listName, true);
    },
  );
  return numericId('individual', account.id);
}

/** `$app$<name>$<secret>`: the secret is required here, since nothing could show a generated one. */
async function addAppSecret(deps: ApiDeps, caller: ApiKey, account: Account, secret: string): Promise<void> {
  const app = parseAppSecret(secret);
  if (!app.password)
    throw new CompatError({
      error: 'other',
      details: 'an app password secret is $app$<name>$<wm_mbx_… secret>',
      reason: 'secrets',
    });
  await addAppPassword(deps, caller, account, app.name, app.password);
}

async function addEmail(deps: ApiDeps, account: Account, value: string): Promise<void> {
  const address = await email(value, 'emails');
  await translated({ address: ['emails', address] }, () => addAlias(deps, account, address));
}

/** Adds the account to (or removes it from) the list called `listName`. */
async function joinList(deps: ApiDeps, account: Account, listName: string, join: boolean): Promise<void> {
  const found = await find(deps, account.teamId, listName);
  if (found?.kind !== 'list') throw notFound(listName);
  const l = found.list;
  if (l.members.includes(account.id) === join) return;
  const members = join ? [...l.members, account.id] : l.members.filter((m) => m !== account.id);
  await translated({ members: ['members', account.address] }, () =>
    updateList(deps, l, { members: members.map((id) => publicId('mbx', id)) }),
  );
}

async function assertFreeListName(deps: ApiDeps, teamId: string, name: string): Promise<void> {
  if ((await deps.lists.listForTeam(teamId)).some((l) => l.name === name)) throw alreadyExists('name', name);
}

async function createListPrincipal(deps: ApiDeps, req: CompatRequest, name: string, body: Body): Promise<number> {
  const key = need(req, PERMISSION.list.create);
  // Mailbux names a list by its address and sends no `emails`: the name is then the address.
  const emails = strings(body.emails, 'emails');
  if (emails.length === 0 && name.includes('@')) emails.push(name);
  if (emails.length === 0) throw fieldMissing('emails');
  if (emails.length > 1) throw unsupported('a list has one address');
  await assertFreeListName(deps, key.teamId, name);
  const { members, external } = await splitMembers(deps, key.teamId, strings(body.members, 'members'));
  const fields = {
    email: ['emails', emails[0]],
    name: ['name', name],
    description: ['description', body.description],
    external_members: ['externalMembers', body.externalMembers ?? body.members],
  } as Record<string, [string, unknown]>;
  const externalMembers = [...new Set([...external, ...strings(body.externalMembers, 'externalMembers')])];
  const parsed = await native(fields, () =>
    parseInput(
      createListBody,
      {
        name,
        email: emails[0],
        description: text(body, 'description') ?? null,
        members,
        external_members: externalMembers,
      },
      'body',
    ),
  );
  await assertTeamDomain(deps, key.teamId, parsed.email, 'email').catch(async () =>
    Promise.reject(
      await notFoundHere(deps, key.teamId, splitAddress(parsed.email).domain, splitAddress(parsed.email).domain),
    ),
  );
  const created = await translated(fields, () => createList(deps, key.teamId, parsed));
  return numericId('list', created.id);
}

async function createDomainPrincipal(deps: ApiDeps, req: CompatRequest, name: string): Promise<number> {
  const key = need(req, PERMISSION.domain.create);
  const parsed = await native({ body: ['name', name] }, () => parseInput(domainName, name, 'body'));
  const domain = await translated({ domain: ['name', parsed] }, async () =>
    createDomain(deps, await teamOf(deps, key.teamId), parsed),
  );
  return numericId('domain', domain.name);
}

/** Role → permissions of the root key: administrators get everything; no role, read-only access. */
function keyPermissions(roles: string[]): string[] {
  if (roles.length === 0) return PRESETS['root:readonly']!;
  if (roles.every((r) => r === 'admin' || r === 'tenant-admin')) return PRESETS['root:full']!;
  throw unsupported('API keys take the admin or tenant-admin role (or none: read-only)');
}

async function createApiKeyPrincipal(deps: ApiDeps, req: CompatRequest, name: string, body: Body): Promise<number> {
  const caller = need(req, PERMISSION.apiKey.create);
  const [secret] = strings(body.secrets, 'secrets');
  if (!secret) throw fieldMissing('secrets');
  if (name.length > 100)
    throw new CompatError({ error: 'other', details: 'a key name has at most 100 characters', reason: 'name' });
  if ((await deps.store.apiKeys.listForTeam(caller.teamId)).some((k) => isRootKey(k) && k.name === name))
    throw alreadyExists('name', name);
  const minted = await clientKey(deps, secret, 'root', 'secrets');
  const input = {
    type: 'root' as const,
    name,
    permissions: keyPermissions(strings(body.roles, 'roles')),
    accountId: null,
    domain: null,
    expiresAt: null,
  };
  const { key } = await translated({ permissions: ['roles', body.roles] }, async () => {
    assertGrantable(caller, input.permissions);
    return createKey(deps, await teamOf(deps, caller.teamId), caller, input, minted);
  });
  return numericId('apiKey', key.id);
}

async function create(deps: ApiDeps, req: CompatRequest): Promise<number> {
  const body = await req.json();
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badParameters('expected a principal object');
  const b = body as Body;
  const type = text(b, 'type');
  if (!type) throw fieldMissing('type');
  const kind = kindOf(type);
  if (kind === undefined) throw badParameters(`unknown principal type ${JSON.stringify(type.slice(0, 32))}`);
  if (kind === 'unsupported') throw unsupported(`principals of type ${type} are not supported`);
  const name = text(b, 'name')?.trim();
  if (!name) throw fieldMissing('name');
  if (kind === 'domain') return createDomainPrincipal(deps, req, name);
  if (kind === 'individual') return createIndividualPrincipal(deps, req, name, b);
  if (kind === 'list') return createListPrincipal(deps, req, name, b);
  return createApiKeyPrincipal(deps, req, name, b);
}

// ── update ───────────────────────────────────────────────────────────────────────────────────

interface Change {
  action: 'set' | 'addItem' | 'removeItem';
  field: string;
  value: unknown;
}

function parseChanges(body: unknown): Change[] {
  // Mailbux's guide sends the new values as an object (`{"secrets": […], "description": …}`): each
  // field is a `set`, as Stalwart's change list would say it.
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    return Object.entries(body).map(([field, value]) => ({ action: 'set' as const, field, value }));
  }
  if (!Array.isArray(body))
    throw badParameters('expected a list of {"action", "field", "value"} changes or an object of new values');
  return body.map((c) => {
    if (
      !c ||
      typeof c !== 'object' ||
      !['set', 'addItem', 'removeItem'].includes(c.action) ||
      typeof c.field !== 'string'
    ) {
      throw badParameters('each change needs action (set, addItem or removeItem) and field');
    }
    return c as Change;
  });
}

const notSupported = (change: Change, kind: string) =>
  unsupported(`${change.action} on ${change.field} of a ${kind} is not supported`);

async function updateIndividual(deps: ApiDeps, req: CompatRequest, account: Account, change: Change): Promise<void> {
  const { action, field, value } = change;
  const current = async () => (await deps.store.accounts.get(account.id))!;
  switch (field) {
    case 'name':
      if (action === 'set' && typeof value === 'string' && value.toLowerCase() === account.address) return;
      throw unsupported("a mailbox's name is its address and cannot change");
    case 'description':
      if (action !== 'set') throw notSupported(change, 'individual');
      await native({ display_name: ['description', value] }, async () => {
        const body = parseInput(
          patchMailboxBody,
          { display_name: value === null || value === '' ? null : value },
          'body',
        );
        await patchMailbox(deps, account.id, body);
      });
      return;
    case 'quota':
      if (action !== 'set') throw notSupported(change, 'individual');
      await native({ quota_bytes: ['quota', value] }, async () => {
        const body = parseInput(patchMailboxBody, { quota_bytes: value ?? 0 }, 'body');
        await patchMailbox(deps, account.id, body);
      });
      return;
    case 'usedQuota':
      return; // read-only: ignored, as Stalwart does
    case 'emails': {
      const values = strings(value, 'emails');
      if (action === 'addItem') for (const v of values) await addEmail(deps, account, v);
      if (action === 'removeItem') {
        for (const v of values) {
          if (v.toLowerCase() === account.address) throw unsupported('the primary address cannot be removed');
          await translated({ address: ['emails', v] }, () => removeAlias(deps, account, v));
        }
      }
      if (action === 'set') {
        if (values[0]?.toLowerCase() !== account.address)
          throw unsupported('the primary address (emails[0]) cannot change');
        const wanted = await Promise.all(values.slice(1).map((v) => email(v, 'emails')));
        const aliases = await deps.store.addresses.accountAliases(account.id);
        for (const alias of aliases) if (!wanted.includes(alias)) await removeAlias(deps, account, alias);
        for (const alias of wanted) if (!aliases.includes(alias)) await addEmail(deps, account, alias);
      }
      return;
    }
    case 'secrets': {
      const values = strings(value, 'secrets');
      if (action === 'set') {
        const password = values.find((v) => !isAppSecret(v));
        await setPassword(deps, account.id, password ?? null);
      }
      if (action === 'addItem' || action === 'set') {
        for (const v of values) {
          if (isAppSecret(v)) await addAppSecret(deps, req.caller.key, account, v);
          else if (action === 'addItem') await setPassword(deps, account.id, v);
        }
      }
      if (action === 'removeItem') {
        for (const v of values) {
          if (isAppSecret(v)) await removeAppPasswords(deps, account, parseAppSecret(v).name);
          else if (await verifyPassword(v, (await current()).passwordHash))
            await setMailboxPassword(deps, account.id, null);
        }
      }
      return;
    }
    case 'memberOf':
    case 'lists': {
      const names = strings(value, field);
      if (action === 'set') {
        for (const l of await deps.lists.listForTeam(account.teamId)) {
          if (l.members.includes(account.id) && !names.includes(l.name)) await joinList(deps, account, l.name, false);
        }
      }
      for (const n of names) await joinList(deps, account, n, action !== 'removeItem');
      return;
    }
    case 'roles':
      if (strings(value, 'roles').every((r) => r === 'user') && action !== 'removeItem') return;
      throw unsupported('individuals hold the user role only');
    default:
      throw notSupported(change, 'individual');
  }
}

/** One password per mailbox (Stalwart allows several): adding one replaces it; null turns password login off. */
async function setPassword(deps: ApiDeps, accountId: string, value: string | null): Promise<void> {
  if (value === null) return setMailboxPassword(deps, accountId, null);
  const parsed = passwordSchema.safeParse(value);
  if (!parsed.success)
    throw new CompatError({
      error: 'other',
      details: 'a password has 8–1,024 characters and no CR, LF or NUL',
      reason: 'secrets',
    });
  await setMailboxPassword(deps, accountId, parsed.data);
}

async function updateListPrincipal(deps: ApiDeps, l: MailList, change: Change): Promise<void> {
  const { action, field, value } = change;
  const body: Record<string, unknown> = {};
  const memberAddresses = async () =>
    (await Promise.all(l.members.map((id) => deps.store.accounts.get(id))))
      .filter((a): a is Account => !!a)
      .map((a) => a.address);
  const apply = (current: string[], values: string[]) =>
    action === 'set'
      ? values
      : action === 'addItem'
        ? [...current, ...values.filter((v) => !current.includes(v))]
        : current.filter((c) => !values.includes(c));
  switch (field) {
    case 'name':
      if (action !== 'set' || typeof value !== 'string') throw notSupported(change, 'list');
      if (value !== l.name) await assertFreeListName(deps, l.teamId, value);
      body.name = value;
      break;
    case 'description':
      if (action !== 'set') throw notSupported(change, 'list');
      body.description = value === '' ? null : value;
      break;
    case 'emails': {
      const values = strings(value, 'emails');
      if (action !== 'set' || values.length !== 1)
        throw unsupported('a list has exactly one address: set emails to [address]');
      body.email = values[0];
      break;
    }
    case 'members': {
      // An address elsewhere given as a member (Mailbux's forwarders) joins externalMembers.
      const split = await splitMembers(
        deps,
        l.teamId,
        apply(
          await memberAddresses(),
          strings(value, 'members').map((m) => m.toLowerCase()),
        ),
      );
      body.members = split.members;
      if (split.external.length) body.external_members = [...new Set([...l.externalMembers, ...split.external])];
      break;
    }
    case 'externalMembers':
      body.external_members = apply(l.externalMembers, strings(value, 'externalMembers'));
      break;
    default:
      throw notSupported(change, 'list');
  }
  const fields = {
    name: ['name', value],
    description: ['description', value],
    email: ['emails', value],
    members: ['members', value],
    external_members: ['externalMembers', value],
  } as Record<string, [string, unknown]>;
  const parsed = await native(fields, () => parseInput(patchListBody, body, 'body'));
  const current = (await deps.lists.get(l.id)) ?? l;
  await translated(fields, () => updateList(deps, current, parsed));
}

async function update(deps: ApiDeps, req: CompatRequest, name: string): Promise<null> {
  const changes = parseChanges(await req.json());
  const found = await findOrFail(deps, req.caller.key.teamId, name);
  need(req, PERMISSION[found.kind].update);
  for (const change of changes) {
    if (found.kind === 'individual') await updateIndividual(deps, req, found.account, change);
    else if (found.kind === 'list')
      await updateListPrincipal(deps, (await deps.lists.get(found.list.id)) ?? found.list, change);
    else if (
      found.kind === 'apiKey' &&
      change.field === 'name' &&
      change.action === 'set' &&
      typeof change.value === 'string'
    ) {
      await renameKey(deps, found.key, change.value);
    } else if (!(change.field === 'name' && change.action === 'set' && change.value === found.name))
      throw notSupported(change, found.kind);
  }
  return null;
}

async function renameKey(deps: ApiDeps, key: ApiKey, name: string): Promise<void> {
  const trimmed = name.trim();
  if (!trimmed || trimmed.length > 100)
    throw new CompatError({ error: 'other', details: 'a key name has 1–100 characters', reason: 'name' });
  if (
    trimmed !== key.name &&
    (await deps.store.apiKeys.listForTeam(key.teamId)).some((k) => isRootKey(k) && k.name === trimmed)
  )
    throw alreadyExists('name', trimmed);
  await withKeyLock(deps.store, key.id, async () => {
    const current = await deps.store.apiKeys.get(key.id);
    if (current) await deps.store.apiKeys.update({ ...current, name: trimmed });
  });
}

// ── delete ───────────────────────────────────────────────────────────────────────────────────

/**
 * Mailbux: "Deleting a domain removes all associated email accounts, aliases, and forwarders" —
 * its lists, the other mailboxes' aliases in it, then its mailboxes (with their mail), then itself.
 */
async function removeDomain(deps: ApiDeps, domain: Domain): Promise<void> {
  const inDomain = (address: string) => splitAddress(address).domain === domain.name;
  for (const list of await deps.lists.listForTeam(domain.teamId))
    if (inDomain(list.address)) await deps.lists.remove(list);
  for (const account of await deps.store.accounts.listForTeam(domain.teamId)) {
    if (inDomain(account.address)) await deleteMailbox(deps, account);
    else
      for (const alias of (await deps.store.addresses.accountAliases(account.id)).filter(inDomain))
        await removeAlias(deps, account, alias);
  }
  const accounts = await deps.store.accounts.listForTeam(domain.teamId);
  await translated({}, () => deleteDomain(deps, domain, accounts));
}

async function remove(deps: ApiDeps, found: Found): Promise<void> {
  if (found.kind === 'domain') await removeDomain(deps, found.domain);
  else if (found.kind === 'individual') await deleteMailbox(deps, found.account);
  else if (found.kind === 'list') await deps.lists.remove(found.list);
  else {
    await withKeyLock(deps.store, found.key.id, async () => {
      const current = await deps.store.apiKeys.get(found.key.id);
      if (current && !current.revokedAt) await deps.store.apiKeys.revoke(current);
    });
  }
}

/** `DELETE /api/principal?type=&filter=&confirm=true`: every matching principal; `found` says whether there was any. */
async function removeMany(deps: ApiDeps, req: CompatRequest): Promise<boolean> {
  const kind = kindOf(req.query.type ?? '');
  if (kind === undefined) throw badParameters('Invalid type');
  if (req.query.confirm !== 'true') throw badParameters('Missing confirmation parameter');
  if (kind === 'unsupported') return false;
  need(req, PERMISSION[kind].delete);
  const candidates = await all(deps, req.caller.key.teamId, [kind]);
  const matching = [];
  for (const f of candidates)
    if (!req.query.filter || matches(await render(deps, f, false), req.query.filter)) matching.push(f);
  for (const f of matching) {
    // A domain that cannot go stays, as a failed delete does in Stalwart's background job.
    await remove(deps, f).catch((err) => {
      if (!(err instanceof CompatError)) throw err;
    });
  }
  return matching.length > 0;
}

const NAME = /^\/principal\/([^/]+)$/;

export const principalRoutes = (deps: ApiDeps): CompatRoute[] => [
  { method: 'GET', path: /^\/principal$/, handler: (req) => list(deps, req) },
  { method: 'POST', path: /^\/principal(?:\/deploy)?$/, handler: (req) => create(deps, req) },
  { method: 'DELETE', path: /^\/principal$/, handler: (req) => removeMany(deps, req) },
  {
    method: 'GET',
    path: NAME,
    handler: async (req) => {
      const found = await findOrFail(deps, req.caller.key.teamId, req.params[0]!);
      need(req, PERMISSION[found.kind].read);
      return render(deps, found, true);
    },
  },
  { method: 'PATCH', path: NAME, handler: (req) => update(deps, req, req.params[0]!) },
  {
    method: 'DELETE',
    path: NAME,
    handler: async (req) => {
      const found = await findOrFail(deps, req.caller.key.teamId, req.params[0]!);
      need(req, PERMISSION[found.kind].delete);
      await remove(deps, found);
      return null;
    },
  },
];
