// Stage 3: recipient → accounts. At RCPT time an address is resolved through aliases (several
// members, nested up to MAX_ALIAS_DEPTH, loops refused), forwarders, plus-addressing and the domain's
// catch-all, and checked (suspended, over quota). At end of DATA each account's filters and the spam
// verdict pick the folder.
import { srsReverse } from './srs.ts';
import type { Account, AddressRoute, FilterRule, Folder, Store } from '../store/index.ts';
import { normalizeAddress, splitAddress } from '../store/addresses.ts';
import type { ParsedHeaders } from '../mime/parsed-headers.ts';

export const MAX_ALIAS_DEPTH = 5;

/** An SMTP refusal decided by a stage: code, enhanced status and text. */
export interface Refusal {
  code: number;
  enhanced: string;
  text: string;
}

export interface RoutedAccount {
  account: Account;
  /** The RCPT address that led here. */
  rcpt: string;
  /** user+tag@ with plusFolders on and a folder named tag: deliver there. */
  plusFolder: string | null;
}

export interface Forward {
  teamId: string;
  rcpt: string;
  targets: string[];
  /** The bytes to send when they differ from the message received (a Sieve redirect's loop marker). */
  raw?: Buffer;
  /** The forwarding address whose budget this counts against (src/inbound/forward-budget.ts); none for SRS returns. */
  forwarder?: string;
}

export interface RecipientRoute {
  rcpt: string;
  accounts: RoutedAccount[];
  /** External addresses to forward to (recorded as events until the outbound queue exists). */
  forwards: Forward[];
}

export type RecipientDecision = { ok: true; route: RecipientRoute } | { ok: false; refusal: Refusal };

const refuse = (code: number, enhanced: string, text: string): RecipientDecision => ({
  ok: false,
  refusal: { code, enhanced, text },
});

class RouteError extends Error {
  readonly refusal: Refusal;
  constructor(refusal: Refusal) {
    super(refusal.text);
    this.refusal = refusal;
  }
}

/**
 * Resolves one RCPT address. `size` is the SIZE= the client declared (0 if none): a mailbox that
 * cannot take it is refused now with 452 4.2.2, so DATA normally succeeds for every accepted recipient.
 */
export async function resolveRecipient(
  store: Store,
  rcpt: string,
  size = 0,
  options: { srsSecret?: string } = {},
): Promise<RecipientDecision> {
  const address = normalizeAddress(rcpt);
  const { local, domain } = splitAddress(address);
  if (!local || !domain) return refuse(550, '5.1.3', 'Bad recipient address syntax');
  const hosted = await store.domains.get(domain);
  if (!hosted) return refuse(550, '5.7.1', 'Relaying denied: we do not accept mail for this domain');
  const route: RecipientRoute = { rcpt: address, accounts: [], forwards: [] };
  if (options.srsSecret && /^srs0=/i.test(local)) {
    // A bounce (or reply) to mail we forwarded: back to the original sender, or refused if forged.
    const original = srsReverse(local, options.srsSecret);
    if (!original) return refuse(550, '5.1.1', 'No such user here');
    route.forwards.push({ teamId: hosted.teamId, rcpt: address, targets: [original] });
    return { ok: true, route };
  }
  try {
    const found = await expand(store, address, route, new Set(), 0);
    if (!found) return refuse(550, '5.1.1', 'No such user here');
  } catch (err) {
    if (err instanceof RouteError) return { ok: false, refusal: err.refusal };
    throw err;
  }
  for (const { account } of route.accounts) {
    if (account.state !== 'active') return refuse(450, '4.2.1', 'Mailbox temporarily unavailable');
    if (account.quotaBytes && store.folders.usage(account.id).bytes + Math.max(size, 1) > account.quotaBytes) {
      return refuse(452, '4.2.2', 'Mailbox full');
    }
  }
  return { ok: true, route };
}

/** Looks an address up: exact, then user+tag → user, then the domain's catch-all. */
async function lookup(store: Store, address: string): Promise<{ route: AddressRoute; tag: string | null } | null> {
  const exact = await store.addresses.get(address);
  if (exact) return { route: exact, tag: null };
  const { local, domain } = splitAddress(address);
  const plus = local.indexOf('+');
  if (plus > 0) {
    const base = await store.addresses.get(`${local.slice(0, plus)}@${domain}`);
    if (base) return { route: base, tag: local.slice(plus + 1) || null };
  }
  const hosted = await store.domains.get(domain);
  if (hosted?.catchAll)
    return { route: { kind: 'account', accountId: hosted.catchAll, teamId: hosted.teamId }, tag: null };
  return null;
}

/** Adds what `address` reaches to `out`; false when the address does not exist here. */
async function expand(
  store: Store,
  address: string,
  out: RecipientRoute,
  path: Set<string>,
  depth: number,
): Promise<boolean> {
  if (path.has(address)) throw new RouteError({ code: 550, enhanced: '5.4.6', text: `Alias loop at ${address}` });
  if (depth > MAX_ALIAS_DEPTH) throw new RouteError({ code: 550, enhanced: '5.4.6', text: 'Aliases nested too deep' });
  const found = await lookup(store, address);
  if (!found) return false;
  const { route, tag } = found;
  if (route.kind === 'account') {
    await addAccount(store, out, route.accountId, tag);
    return true;
  }
  const inner = new Set(path).add(address);
  if (route.kind === 'forward' && route.keepCopy) await addAccount(store, out, route.keepCopy, null);
  const external: string[] = [];
  for (const target of route.targets.map(normalizeAddress)) {
    if (!(await store.domains.get(splitAddress(target).domain))) external.push(target);
    // A member that no longer exists is skipped; the alias as a whole still delivers.
    else await expand(store, target, out, inner, depth + 1);
  }
  if (external.length)
    out.forwards.push({ teamId: route.teamId, rcpt: out.rcpt, targets: external, forwarder: `addr:${address}` });
  return true;
}

async function addAccount(store: Store, out: RecipientRoute, accountId: string, tag: string | null): Promise<void> {
  if (out.accounts.some((a) => a.account.id === accountId)) return;
  const account = await store.accounts.get(accountId);
  if (!account) return;
  const plusFolder = tag && account.settings.plusFolders && store.folders.byName(account.id, tag) ? tag : null;
  out.accounts.push({ account, rcpt: out.rcpt, plusFolder });
}

export interface FilterOutcome {
  folder: string | null;
  flags: string[];
  discard: boolean;
}

/** Applies an account's filter rules in order: the first folder rule wins, flags add up, discard ends it. */
export function applyFilters(rules: FilterRule[], headers: ParsedHeaders): FilterOutcome {
  const outcome: FilterOutcome = { folder: null, flags: [], discard: false };
  for (const rule of rules) {
    if (!ruleMatches(rule, headers)) continue;
    if (rule.action === 'discard') return { ...outcome, discard: true };
    if (rule.action === 'flag' && rule.value && !outcome.flags.includes(rule.value)) outcome.flags.push(rule.value);
    if (rule.action === 'folder' && rule.value && outcome.folder === null) outcome.folder = rule.value;
  }
  return outcome;
}

function ruleMatches(rule: FilterRule, headers: ParsedHeaders): boolean {
  const needle = rule.contains.toLowerCase();
  if (!needle) return false;
  const values =
    rule.field === 'subject'
      ? [headers.subject]
      : rule.field === 'from'
        ? [headers.get('from') ?? '']
        : rule.field === 'to'
          ? [headers.get('to') ?? '', headers.get('cc') ?? '']
          : headers.fields.filter((f) => f.name === (rule.header ?? '').toLowerCase()).map((f) => f.value);
  return values.some((v) => v.toLowerCase().includes(needle));
}

export interface AccountDelivery {
  account: Account;
  rcpts: string[];
  /** Where the message goes without a Sieve script (and where a script's keep puts it). */
  folder: Folder;
  flags: string[];
  /** Set by the account's Sieve script: every folder to store into, replacing folder and flags. */
  targets?: { folder: Folder; flags: string[] }[];
}

export interface DeliveryPlan {
  deliveries: AccountDelivery[];
  forwards: Forward[];
  /** Accounts whose own filter discarded the message (their choice, logged). */
  discarded: { accountId: string; rcpts: string[] }[];
}

/**
 * One delivery per account however many recipients led to it. Junk (spam verdict or DMARC
 * quarantine) overrides folder rules; flags and discard still apply. `junk`: the keywords junk is
 * delivered with (spam/keywords.ts junkKeywords), or null for mail that is not junk.
 */
export function planDelivery(
  store: Store,
  routes: RecipientRoute[],
  headers: ParsedHeaders,
  junk: readonly string[] | null,
): DeliveryPlan {
  const byAccount = new Map<string, { first: RoutedAccount; rcpts: string[] }>();
  for (const route of routes) {
    for (const routed of route.accounts) {
      const entry = byAccount.get(routed.account.id);
      if (entry) {
        if (!entry.rcpts.includes(routed.rcpt)) entry.rcpts.push(routed.rcpt);
      } else byAccount.set(routed.account.id, { first: routed, rcpts: [routed.rcpt] });
    }
  }
  const plan: DeliveryPlan = { deliveries: [], forwards: routes.flatMap((r) => r.forwards), discarded: [] };
  for (const { first, rcpts } of byAccount.values()) {
    const { account } = first;
    const filtered = applyFilters(account.settings.filters ?? [], headers);
    if (filtered.discard) {
      plan.discarded.push({ accountId: account.id, rcpts });
      continue;
    }
    const inbox = store.folders.byName(account.id, 'INBOX');
    const named = (name: string | null) => (name ? store.folders.byName(account.id, name) : undefined);
    const folder =
      (junk ? store.folders.bySpecialUse(account.id, '\\Junk') : (named(filtered.folder) ?? named(first.plusFolder))) ??
      inbox;
    if (!folder) throw new Error(`account ${account.id} has no INBOX`);
    // Junk carries $Junk (and $Phishing): mail programs show it as junk wherever it is moved or filed.
    plan.deliveries.push({ account, rcpts, folder, flags: junk ? [...filtered.flags, ...junk] : filtered.flags });
  }
  return plan;
}
