// Runs each recipient account's active Sieve script in the inbound pipeline, after the simple
// filters: planSieve() turns the results into the delivery plan (folders, flags, discards,
// redirects, rejections) before anything is stored; sendSieveReplies() queues what goes out after
// the message is stored (vacation replies, rejection notices).
//
// Rejection: when every recipient of the transaction rejected (and nothing else is delivered or
// forwarded), the caller refuses the message itself — 550 5.7.1 at the MX, a queue bounce for local
// submissions — so no notice is ever sent to a possibly forged sender. When only some recipients
// rejected, SMTP has no per-recipient answer left after DATA, so the sender gets a DSN (RFC 5429
// §2.1 allows one) for those recipients; never to the null sender, never for mail judged junk.
//
// Mail judged junk: keep means the Junk folder (as without a script), an explicit fileinto is the
// script's choice and is honoured; it never gets a vacation reply (its sender is likely forged).
import { parseAddressList } from '../mime/addresses.ts';
import { buildDsn } from '../outbound/dsn.ts';
import { signForDomain } from '../outbound/dkim.ts';
import { mayUseAddress } from '../outbound/submit.ts';
import type { DeliveryPlan } from '../inbound/route.ts';
import { hasFlag, SYSTEM_FLAGS, uniqueFlags, type Account, type Folder, type Store } from '../store/index.ts';
import type { SendingLimits } from '../store/sends.ts';
import { sieveScripts } from '../store/sieve.ts';
import { FORWARD_LIMIT_DEFAULTS, reserveForward } from '../inbound/forward-budget.ts';
import { SieveMessage } from './message.ts';
import { run, type SieveResult } from './run.ts';
import type { SpamStatus } from './spamtest.ts';
import { compile, type Script, type Vacation } from './validate.ts';
import { addressedTo, buildReply, clampDays, refusalReason, vacationHandle } from './vacation.ts';

/** Marks a redirected copy; a copy that comes back to the same mailbox is kept, not sent round again. */
export const REDIRECT_MARK = 'X-Wren-Sieve-Redirected-By';
const MAX_REDIRECT_HOPS = 5;

export interface SieveInput {
  /** The message as stored (trace and spam fields included: scripts may test them). */
  raw: Buffer;
  /** Envelope sender, "" for the null sender. */
  mailFrom: string;
  /** The classify stage's verdict (Junk, and the points spamtest reads); null when nothing classified it. */
  spam: SpamStatus | null;
  hostname: string;
  /** Each mailbox's budget for redirects to outside addresses (default FORWARD_LIMIT_DEFAULTS). */
  forwardLimits?: SendingLimits;
  /** Receives what scripts did that is worth a log line. */
  log?: (fields: Record<string, unknown>, msg: string) => void;
}

export interface SieveOutcome {
  rejected: { account: Account; rcpts: string[]; reason: string }[];
  vacations: { account: Account; rcpts: string[]; vacation: Vacation; message: SieveMessage }[];
  /** Every recipient rejected and nothing else happens to the message: refuse it outright. */
  refuseAll: { reason: string } | null;
}

const compiled = new Map<string, Script>();
/** Scripts were validated when saved; compiling again is cached by text. */
function compileCached(text: string): Script {
  let script = compiled.get(text);
  if (!script) {
    if (compiled.size > 1000) compiled.clear();
    compiled.set(text, (script = compile(text)));
  }
  return script;
}

/** IMAP flags as the store takes them: system flags in their usual case, keywords that are atoms. */
export function storeFlags(flags: string[]): string[] {
  const isFlag = (flag: string): boolean => hasFlag(SYSTEM_FLAGS, flag) || /^[^\\\s(){%*"\]\x00-\x1f\x7f]+$/.test(flag);
  return uniqueFlags(flags.filter(isFlag));
}

/** A copy of the message with the redirect mark of `address` on top. */
const markRedirect = (raw: Buffer, address: string): Buffer =>
  Buffer.concat([Buffer.from(`${REDIRECT_MARK}: ${address}\r\n`), raw]);

export async function planSieve(store: Store, plan: DeliveryPlan, input: SieveInput): Promise<SieveOutcome> {
  const outcome: SieveOutcome = { rejected: [], vacations: [], refuseAll: null };
  const scripts = sieveScripts(store.kv);
  for (const delivery of [...plan.deliveries]) {
    const { account } = delivery;
    const record = await scripts.active(account.id);
    if (!record) continue;
    const message = new SieveMessage(input.raw, { from: input.mailFrom, to: delivery.rcpts }, input.spam);
    let result: SieveResult;
    try {
      result = run(compileCached(record.script), message);
    } catch (err) {
      // a stored script that no longer compiles (a newer validator): deliver as if it were off
      input.log?.({ accountId: account.id, err: String(err) }, 'sieve script failed to compile');
      continue;
    }
    if (result.error) input.log?.({ accountId: account.id, error: result.error }, 'sieve runtime error: implicit keep');

    const marks = message.rawHeader(REDIRECT_MARK.toLowerCase()).map((v) => v.trim().toLowerCase());
    const looping = marks.includes(account.address) || marks.length >= MAX_REDIRECT_HOPS;
    if (looping && result.redirect.length) {
      input.log?.({ accountId: account.id, redirect: result.redirect }, 'sieve redirect loop: kept instead');
      result.keep ??= { flags: [] };
    } else if (result.redirect.length) {
      const outside = await outsideCount(store, result.redirect);
      const budget = outside
        ? await reserveForward(store, `mbx:${account.id}`, outside, input.forwardLimits ?? FORWARD_LIMIT_DEFAULTS)
        : null;
      if (budget && !budget.ok) {
        // A redirect that cannot be done is an implicit keep (RFC 5228 §2.10.6, §4.2): nothing is lost.
        input.log?.(
          { accountId: account.id, redirect: result.redirect, limit: budget.limit },
          'sieve redirect over the forwarding budget: kept instead',
        );
        result.keep ??= { flags: [] };
      } else {
        plan.forwards.push({
          teamId: account.teamId,
          rcpt: account.address,
          targets: result.redirect,
          raw: markRedirect(input.raw, account.address),
        });
      }
    }

    const targets: { folder: Folder; flags: string[] }[] = [];
    const add = (folder: Folder, flags: string[]) => {
      const same = targets.find((t) => t.folder.id === folder.id);
      if (same) same.flags = storeFlags([...same.flags, ...flags]);
      else targets.push({ folder, flags: storeFlags(flags) });
    };
    if (result.keep) add(delivery.folder, [...delivery.flags, ...result.keep.flags]);
    for (const f of result.fileinto) add(await fileintoFolder(store, account, f.folder, f.create, input), f.flags);

    plan.deliveries.splice(plan.deliveries.indexOf(delivery), 1);
    if (targets.length) plan.deliveries.push({ ...delivery, targets });
    else if (result.reject) outcome.rejected.push({ account, rcpts: delivery.rcpts, reason: result.reject.reason });
    else plan.discarded.push({ accountId: account.id, rcpts: delivery.rcpts });
    if (result.vacation && !input.spam?.junk)
      outcome.vacations.push({ account, rcpts: delivery.rcpts, vacation: result.vacation, message });
  }
  if (outcome.rejected.length && !plan.deliveries.length && !plan.discarded.length && !plan.forwards.length) {
    outcome.refuseAll = { reason: oneLineAscii(outcome.rejected[0]!.reason) };
  }
  return outcome;
}

/** How many of these addresses are outside the domains hosted here. */
async function outsideCount(store: Store, addresses: string[]): Promise<number> {
  let n = 0;
  for (const a of addresses) if (!(await store.domains.get(a.slice(a.lastIndexOf('@') + 1).toLowerCase()))) n++;
  return n;
}

/** A reason fit for an SMTP reply line. */
const oneLineAscii = (s: string): string =>
  s
    .replace(/\s+/g, ' ')
    .replace(/[^\x20-\x7e]/g, '?')
    .trim()
    .slice(0, 200) || 'Message rejected by the recipient';

/** The folder a fileinto names; created when :create says so, else INBOX when it does not exist. */
async function fileintoFolder(
  store: Store,
  account: Account,
  name: string,
  create: boolean,
  input: SieveInput,
): Promise<Folder> {
  const existing =
    name.toUpperCase() === 'INBOX' ? store.folders.byName(account.id, 'INBOX') : store.folders.byName(account.id, name);
  if (existing) return existing;
  if (create) {
    try {
      return await store.createFolder(account.id, name);
    } catch (err) {
      // a concurrent delivery created it first, or the name is not allowed
      const raced = store.folders.byName(account.id, name);
      if (raced) return raced;
      input.log?.(
        { accountId: account.id, folder: name, err: String(err) },
        'sieve fileinto :create failed; delivered to INBOX',
      );
    }
  }
  const inbox = store.folders.byName(account.id, 'INBOX');
  if (!inbox) throw new Error(`account ${account.id} has no INBOX`);
  return inbox;
}

/** After the message is stored: vacation replies (RFC 5230, RFC 3834) and rejection notices. */
export async function sendSieveReplies(store: Store, outcome: SieveOutcome, input: SieveInput): Promise<void> {
  for (const v of outcome.vacations) {
    try {
      await sendVacation(store, v, input);
    } catch (err) {
      // the message is stored; a reply that could not be queued is not worth failing delivery over
      input.log?.({ accountId: v.account.id, err: String(err) }, 'vacation reply not queued');
    }
  }
  if (outcome.refuseAll || input.mailFrom === '' || input.spam?.junk) return;
  const now = Date.now();
  for (const r of outcome.rejected) {
    const dsn = buildDsn({
      hostname: input.hostname,
      to: input.mailFrom,
      recipients: r.rcpts.map((address) => ({
        address,
        action: 'failed',
        status: '5.7.1',
        diagnostic: `550 5.7.1 ${oneLineAscii(r.reason)}`,
        remoteMta: null,
        lastAttemptAt: now,
      })),
      arrivalDate: now,
      original: input.raw,
      now,
    });
    await store.queue.enqueue({
      teamId: r.account.teamId,
      accountId: r.account.id,
      from: '',
      to: [input.mailFrom],
      raw: dsn,
      subject: 'Undelivered Mail Returned to Sender',
    });
  }
}

async function sendVacation(store: Store, v: SieveOutcome['vacations'][number], input: SieveInput): Promise<void> {
  const { account, vacation, message } = v;
  const mine = [
    ...new Set(
      [account.address, ...(await store.addresses.accountAliases(account.id)), ...v.rcpts, ...vacation.addresses].map(
        (a) => a.toLowerCase(),
      ),
    ),
  ];
  const refusal = refusalReason(message, mine);
  if (refusal) {
    input.log?.({ accountId: account.id, reason: refusal }, 'vacation: no reply');
    return;
  }
  const scripts = sieveScripts(store.kv);
  const handle = vacationHandle(vacation);
  const sender = input.mailFrom.toLowerCase();
  const last = await scripts.lastReply(account.id, handle, sender);
  const now = Date.now();
  if (last !== undefined && now - last < clampDays(vacation.days) * 86_400_000) return;
  // :from only when the mailbox may send as it (no spoofed senders); else the address written to
  const wanted = vacation.from ? parseAddressList(vacation.from).find((a) => a.mailbox && a.host) : undefined;
  const wantedAddress = wanted ? `${wanted.mailbox}@${wanted.host}`.toLowerCase() : null;
  const allowed = wantedAddress !== null && (await mayUseAddress(store, account, wantedAddress));
  const from = allowed ? wantedAddress : (addressedTo(message, mine) ?? account.address);
  const reply = buildReply({
    message,
    vacation: allowed ? vacation : { ...vacation, from: null },
    from,
    hostname: input.hostname,
    now,
  });
  const signed = await signForDomain(store, reply, from.slice(from.lastIndexOf('@') + 1));
  // Recorded first: a crash in between loses one reply rather than sending it twice.
  await scripts.recordReply(account.id, handle, sender, now);
  await store.queue.enqueue({
    teamId: account.teamId,
    accountId: account.id,
    from: '',
    to: [input.mailFrom],
    raw: signed,
    subject: vacation.subject ?? 'vacation reply',
  });
  input.log?.({ accountId: account.id, to: input.mailFrom }, 'vacation reply queued');
}
