// Package sieve implements Sieve (RFC 5228 and the fileinto, reject, vacation, imap4flags, body, envelope,
// relational and spamtest extensions): parse, validate, run, and apply.ts, which the inbound pipeline calls
// to plan a delivery and send replies (docs/ARCHITECTURE.md §5). May import the other pipelines, foundation and base.
//
// Executes a validated script against one message for one mailbox (RFC 5228 §2.10): collects the
// actions, applies implicit keep, and enforces the action conflicts of RFC 5429 and RFC 5230. A
// runtime error (too many actions, a conflict, the time budget) falls back to implicit keep alone.
import { parseAddressList } from '../mime/addresses.ts';
import { matchAny } from './match.ts';
import type { SieveMessage } from './message.ts';
import { spamtestValue } from './spamtest.ts';
import type { AddressPart, Command, Script, Test, Vacation } from './validate.ts';

export const LIMITS = { maxActions: 32, maxRedirects: 4, timeMs: 1000 };

export interface SieveResult {
  /** Store in the folder delivery would otherwise use (implicit or explicit keep), with these flags. */
  keep: { flags: string[] } | null;
  fileinto: { folder: string; flags: string[]; create: boolean }[];
  redirect: string[];
  reject: { reason: string; extended: boolean } | null;
  vacation: Vacation | null;
  /** The runtime error that made the result fall back to implicit keep. */
  error: string | null;
}

class RuntimeError extends Error {}
class Stop extends Error {}

interface State {
  flags: string[];
  implicitKeep: boolean;
  actions: number;
  result: SieveResult;
  deadline: number;
}

/** Adds flags to a list, case-insensitively unique (flag names are case-insensitive, RFC 3501). */
function addFlags(list: string[], flags: string[]): string[] {
  const out = [...list];
  for (const f of flags) if (!out.some((x) => x.toLowerCase() === f.toLowerCase())) out.push(f);
  return out;
}

export function run(script: Script, message: SieveMessage, limits = LIMITS): SieveResult {
  const result: SieveResult = { keep: null, fileinto: [], redirect: [], reject: null, vacation: null, error: null };
  const state: State = { flags: [], implicitKeep: true, actions: 0, result, deadline: Date.now() + limits.timeMs };
  try {
    block(script.commands, state, message, limits);
  } catch (err) {
    if (err instanceof RuntimeError)
      return { keep: { flags: [] }, fileinto: [], redirect: [], reject: null, vacation: null, error: err.message };
    if (!(err instanceof Stop)) throw err;
  }
  if (state.implicitKeep && !result.keep) result.keep = { flags: state.flags };
  return result;
}

function block(commands: Command[], state: State, message: SieveMessage, limits: typeof LIMITS): void {
  for (const cmd of commands) {
    if (Date.now() > state.deadline) throw new RuntimeError('the script ran out of time');
    const { result } = state;
    const action = () => {
      if (++state.actions > limits.maxActions) throw new RuntimeError(`more than ${limits.maxActions} actions`);
      if (result.reject && cmd.type !== 'discard')
        throw new RuntimeError(`line ${cmd.line}: ${cmd.type} cannot be combined with reject`);
    };
    switch (cmd.type) {
      case 'if':
        for (const branch of cmd.branches) {
          if (branch.test === null || test(branch.test, state, message)) {
            block(branch.block, state, message, limits);
            break;
          }
        }
        break;
      case 'stop':
        throw new Stop();
      case 'discard':
        state.implicitKeep = false;
        break;
      case 'keep':
        action();
        result.keep = { flags: addFlags(result.keep?.flags ?? [], cmd.flags ?? state.flags) };
        break;
      case 'fileinto': {
        action();
        const flags = cmd.flags ?? state.flags;
        const same = result.fileinto.find((f) => f.folder === cmd.folder);
        if (same) same.flags = addFlags(same.flags, flags);
        else result.fileinto.push({ folder: cmd.folder, flags, create: cmd.create });
        if (!cmd.copy) state.implicitKeep = false;
        break;
      }
      case 'redirect': {
        action();
        const address = cmd.address.toLowerCase();
        if (!result.redirect.includes(address)) {
          if (result.redirect.length >= limits.maxRedirects)
            throw new RuntimeError(`more than ${limits.maxRedirects} redirects`);
          result.redirect.push(address);
        }
        if (!cmd.copy) state.implicitKeep = false;
        break;
      }
      case 'reject':
        if (result.keep || result.fileinto.length || result.redirect.length || result.vacation) {
          throw new RuntimeError(
            `line ${cmd.line}: reject cannot be combined with keep, fileinto, redirect or vacation`,
          );
        }
        if (result.reject) throw new RuntimeError(`line ${cmd.line}: only one reject per message`);
        action();
        result.reject = { reason: cmd.reason, extended: cmd.extended };
        state.implicitKeep = false;
        break;
      case 'vacation': {
        action();
        if (result.vacation) throw new RuntimeError(`line ${cmd.line}: only one vacation per message`);
        const { type: _type, line: _line, column: _column, ...vacation } = cmd;
        result.vacation = vacation;
        break;
      }
      case 'flags':
        state.flags =
          cmd.op === 'set'
            ? addFlags([], cmd.flags)
            : cmd.op === 'add'
              ? addFlags(state.flags, cmd.flags)
              : state.flags.filter((f) => !cmd.flags.some((r) => r.toLowerCase() === f.toLowerCase()));
        break;
    }
  }
}

function addressParts(values: string[], part: AddressPart): string[] {
  const out: string[] = [];
  for (const value of values) {
    for (const a of parseAddressList(value)) {
      if (!a.mailbox || !a.host) continue; // group markers
      out.push(part === 'localpart' ? a.mailbox : part === 'domain' ? a.host : `${a.mailbox}@${a.host}`);
    }
  }
  return out;
}

function envelopePart(address: string, part: AddressPart): string {
  if (address === '') return ''; // the null reverse-path matches "" whatever the part (RFC 5228 §5.4)
  const at = address.lastIndexOf('@');
  return part === 'localpart' ? address.slice(0, Math.max(at, 0)) : part === 'domain' ? address.slice(at + 1) : address;
}

function test(t: Test, state: State, message: SieveMessage): boolean {
  if (Date.now() > state.deadline) throw new RuntimeError('the script ran out of time');
  switch (t.type) {
    case 'true':
      return true;
    case 'false':
      return false;
    case 'not':
      return !test(t.test, state, message);
    case 'allof':
      return t.tests.every((x) => test(x, state, message));
    case 'anyof':
      return t.tests.some((x) => test(x, state, message));
    case 'exists':
      return t.headers.every((h) => message.fields.some((f) => f.name === h));
    case 'size':
      return t.over ? message.size > t.limit : message.size < t.limit;
    case 'header':
      return matchAny(
        t,
        t.headers.flatMap((h) => message.header(h)),
        t.keys,
      );
    case 'address':
      return matchAny(
        t,
        addressParts(
          t.headers.flatMap((h) => message.rawHeader(h)),
          t.part,
        ),
        t.keys,
      );
    case 'envelope': {
      const values = t.fields
        .flatMap((f) => (f === 'from' ? [message.envelope.from] : message.envelope.to))
        .map((a) => envelopePart(a, t.part));
      return matchAny(t, values, t.keys);
    }
    case 'body':
      return matchAny(t, message.body(t.transform), t.keys);
    case 'hasflag':
      return matchAny(t, state.flags, t.keys.flatMap((k) => k.split(/\s+/)).filter(Boolean));
    case 'spamtest':
      return matchAny(t, [spamtestValue(message.spam, t.percent)], t.keys);
  }
}
