// Validation: turns the generic command tree into typed commands, checking every command and test
// against its signature (RFC 5228 and the extensions below) and that extensions were required.
// Anything wrong is a SieveError at the line and column of the offending token.
import { parse, SieveError, type Argument, type CommandNode, type Position, type TestNode } from './parse.ts';

export const CAPABILITIES = [
  'fileinto',
  'reject',
  'ereject',
  'vacation',
  'imap4flags',
  'envelope',
  'body',
  'copy',
  'mailbox',
  'comparator-i;octet',
  'comparator-i;ascii-casemap',
  'comparator-i;ascii-numeric',
  'relational',
  'spamtest',
  'spamtestplus',
] as const;
// i;octet and i;ascii-casemap need no require (RFC 5228 §2.7.3); i;ascii-numeric does.
const COMPARATORS = ['i;octet', 'i;ascii-casemap', 'i;ascii-numeric'];
const RELATIONS = ['gt', 'ge', 'lt', 'le', 'eq', 'ne'] as const;
export type Relation = (typeof RELATIONS)[number];

/** Scripts larger than this are refused before parsing. */
export const MAX_SCRIPT_BYTES = 64 * 1024;

export type MatchType = 'is' | 'contains' | 'matches' | 'value' | 'count';
export type AddressPart = 'all' | 'localpart' | 'domain';
export interface Matcher {
  comparator: string;
  match: MatchType;
  /** The operator of a :value or :count match (RFC 5231 §4). */
  relation?: Relation;
}
export type BodyTransform = { kind: 'raw' } | { kind: 'text' } | { kind: 'content'; types: string[] };

export type Test = Position &
  (
    | ({ type: 'address'; part: AddressPart; headers: string[]; keys: string[] } & Matcher)
    | ({ type: 'envelope'; part: AddressPart; fields: string[]; keys: string[] } & Matcher)
    | ({ type: 'header'; headers: string[]; keys: string[] } & Matcher)
    | ({ type: 'body'; transform: BodyTransform; keys: string[] } & Matcher)
    | ({ type: 'hasflag'; keys: string[] } & Matcher)
    | ({ type: 'spamtest'; percent: boolean; keys: string[] } & Matcher)
    | { type: 'exists'; headers: string[] }
    | { type: 'size'; over: boolean; limit: number }
    | { type: 'allof' | 'anyof'; tests: Test[] }
    | { type: 'not'; test: Test }
    | { type: 'true' | 'false' }
  );

export interface Vacation {
  days: number;
  subject: string | null;
  from: string | null;
  addresses: string[];
  mime: boolean;
  handle: string | null;
  reason: string;
}

export type Command = Position &
  (
    | { type: 'if'; branches: { test: Test | null; block: Command[] }[] }
    | { type: 'stop' | 'discard' }
    | { type: 'keep'; flags: string[] | null }
    | { type: 'fileinto'; folder: string; flags: string[] | null; create: boolean; copy: boolean }
    | { type: 'redirect'; address: string; copy: boolean }
    | { type: 'reject'; reason: string; extended: boolean }
    | ({ type: 'vacation' } & Vacation)
    | { type: 'flags'; op: 'set' | 'add' | 'remove'; flags: string[] }
  );

export interface Script {
  requires: string[];
  commands: Command[];
}

type ArgKind = 'string' | 'strings' | 'number';
interface TagSpec {
  arg?: ArgKind;
  group?: string;
  ext?: string;
}
interface Signature {
  ext?: string;
  tags?: Record<string, TagSpec>;
  positional: ArgKind[];
  tests?: 'none' | 'one' | 'list';
}

const COMPARATOR: Record<string, TagSpec> = { comparator: { arg: 'string' } };
const MATCH: Record<string, TagSpec> = {
  is: { group: 'match type' },
  contains: { group: 'match type' },
  matches: { group: 'match type' },
  value: { group: 'match type', arg: 'string', ext: 'relational' },
  count: { group: 'match type', arg: 'string', ext: 'relational' },
};
const PART: Record<string, TagSpec> = {
  all: { group: 'address part' },
  localpart: { group: 'address part' },
  domain: { group: 'address part' },
};
const FLAGS: Record<string, TagSpec> = { flags: { arg: 'strings', ext: 'imap4flags' } };

const TESTS: Record<string, Signature> = {
  address: { tags: { ...COMPARATOR, ...MATCH, ...PART }, positional: ['strings', 'strings'] },
  envelope: { ext: 'envelope', tags: { ...COMPARATOR, ...MATCH, ...PART }, positional: ['strings', 'strings'] },
  header: { tags: { ...COMPARATOR, ...MATCH }, positional: ['strings', 'strings'] },
  body: {
    ext: 'body',
    tags: {
      ...COMPARATOR,
      ...MATCH,
      raw: { group: 'body transform' },
      text: { group: 'body transform' },
      content: { group: 'body transform', arg: 'strings' },
    },
    positional: ['strings'],
  },
  hasflag: { ext: 'imap4flags', tags: { ...COMPARATOR, ...MATCH }, positional: ['strings'] },
  exists: { positional: ['strings'] },
  spamtest: {
    ext: 'spamtest',
    tags: { ...COMPARATOR, ...MATCH, percent: { ext: 'spamtestplus' } },
    positional: ['string'],
  },
  size: { tags: { over: { group: 'size' }, under: { group: 'size' } }, positional: ['number'] },
  allof: { positional: [], tests: 'list' },
  anyof: { positional: [], tests: 'list' },
  not: { positional: [], tests: 'one' },
  true: { positional: [] },
  false: { positional: [] },
};

const COMMANDS: Record<string, Signature> = {
  require: { positional: ['strings'] },
  if: { positional: [], tests: 'one' },
  elsif: { positional: [], tests: 'one' },
  else: { positional: [] },
  stop: { positional: [] },
  keep: { tags: FLAGS, positional: [] },
  discard: { positional: [] },
  redirect: { tags: { copy: { ext: 'copy' } }, positional: ['string'] },
  fileinto: {
    ext: 'fileinto',
    tags: { ...FLAGS, copy: { ext: 'copy' }, create: { ext: 'mailbox' } },
    positional: ['string'],
  },
  reject: { ext: 'reject', positional: ['string'] },
  ereject: { ext: 'ereject', positional: ['string'] },
  vacation: {
    ext: 'vacation',
    tags: {
      days: { arg: 'number' },
      subject: { arg: 'string' },
      from: { arg: 'string' },
      addresses: { arg: 'strings' },
      mime: {},
      handle: { arg: 'string' },
    },
    positional: ['string'],
  },
  setflag: { ext: 'imap4flags', positional: ['strings'] },
  addflag: { ext: 'imap4flags', positional: ['strings'] },
  removeflag: { ext: 'imap4flags', positional: ['strings'] },
};

const BLOCK_COMMANDS = new Set(['if', 'elsif', 'else']);

interface Bound {
  tags: Map<string, Argument | true>;
  positional: Argument[];
  tests: TestNode[];
}

const err = (message: string, at: Position): SieveError => new SieveError(message, at.line, at.column);

/** Checks a node's arguments against its signature. */
function bind(node: CommandNode | TestNode, sig: Signature, requires: Set<string>, what: string): Bound {
  if (sig.ext && !requires.has(sig.ext)) throw err(`${what} "${node.name}" needs require "${sig.ext}"`, node);
  const tags = new Map<string, Argument | true>();
  const groups = new Map<string, string>();
  const positional: Argument[] = [];
  const args = node.args;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg.kind !== 'tag') {
      positional.push(arg);
      continue;
    }
    if (positional.length)
      throw err(`tagged argument ":${arg.name}" must come before the positional arguments of ${node.name}`, arg);
    const spec = sig.tags?.[arg.name];
    if (!spec) throw err(`${node.name} has no argument ":${arg.name}"`, arg);
    if (spec.ext && !requires.has(spec.ext)) throw err(`":${arg.name}" needs require "${spec.ext}"`, arg);
    if (tags.has(arg.name)) throw err(`":${arg.name}" given twice`, arg);
    if (spec.group) {
      const other = groups.get(spec.group);
      if (other) throw err(`":${arg.name}" and ":${other}" are both a ${spec.group}: use one`, arg);
      groups.set(spec.group, arg.name);
    }
    if (spec.arg) {
      const value = args[i + 1];
      if (!value || !fits(value, spec.arg))
        throw err(
          `":${arg.name}" needs a ${spec.arg === 'number' ? 'number' : spec.arg === 'string' ? 'string' : 'string list'} after it`,
          value ?? arg,
        );
      tags.set(arg.name, value);
      i++;
    } else tags.set(arg.name, true);
  }
  if (positional.length !== sig.positional.length) {
    const at = positional[sig.positional.length] ?? node;
    throw err(
      `${node.name} takes ${sig.positional.length} positional argument${sig.positional.length === 1 ? '' : 's'} (${sig.positional.join(', ') || 'none'}), got ${positional.length}`,
      at,
    );
  }
  sig.positional.forEach((kind, i) => {
    if (!fits(positional[i]!, kind))
      throw err(
        `argument ${i + 1} of ${node.name} must be a ${kind === 'strings' ? 'string list' : kind}`,
        positional[i]!,
      );
  });
  const tests = node.tests;
  const wanted = sig.tests ?? 'none';
  if (wanted === 'none' && tests.length) throw err(`${node.name} takes no test`, tests[0]!);
  if (wanted === 'one' && tests.length !== 1) throw err(`${node.name} needs exactly one test`, tests[1] ?? node);
  if (wanted === 'list' && tests.length === 0) throw err(`${node.name} needs a list of tests in parentheses`, node);
  return { tags, positional, tests };
}

function fits(arg: Argument, kind: ArgKind): boolean {
  if (kind === 'number') return arg.kind === 'number';
  if (kind === 'string') return arg.kind === 'strings' && !arg.list;
  return arg.kind === 'strings';
}

const str = (a: Argument | true | undefined): string | null =>
  a && a !== true && a.kind === 'strings' ? a.values[0]! : null;
const strs = (a: Argument | true | undefined): string[] | null =>
  a && a !== true && a.kind === 'strings' ? a.values : null;
const num = (a: Argument | true | undefined): number | null =>
  a && a !== true && a.kind === 'number' ? a.value : null;

const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/;
export const ADDRESS = /^[^\s@<>()",;]+@[^\s@<>()",;]+\.?[^\s@<>()",;]*$/;

function matcher(b: Bound, requires: Set<string>): Matcher {
  const comparatorArg = b.tags.get('comparator');
  const comparator = (str(comparatorArg) ?? 'i;ascii-casemap').toLowerCase();
  if (!COMPARATORS.includes(comparator)) throw err(`unsupported comparator "${comparator}"`, comparatorArg as Argument);
  if (comparator === 'i;ascii-numeric' && !requires.has('comparator-i;ascii-numeric'))
    throw err('comparator "i;ascii-numeric" needs require "comparator-i;ascii-numeric"', comparatorArg as Argument);
  const match = (['is', 'contains', 'matches', 'value', 'count'] as const).find((m) => b.tags.has(m)) ?? 'is';
  // RFC 4790 §9.1: numbers compare for equality and order, not as substrings or patterns.
  if (comparator === 'i;ascii-numeric' && (match === 'contains' || match === 'matches'))
    throw err(`comparator "i;ascii-numeric" cannot do :${match}`, comparatorArg as Argument);
  if (match !== 'value' && match !== 'count') return { comparator, match };
  const relationArg = b.tags.get(match) as Argument;
  const relation = RELATIONS.find((r) => r === str(relationArg)!.toLowerCase());
  if (!relation) throw err(`:${match} needs one of ${RELATIONS.map((r) => `"${r}"`).join(', ')}`, relationArg);
  return { comparator, match, relation };
}

const addressPart = (b: Bound): AddressPart =>
  (['localpart', 'domain', 'all'] as const).find((p) => b.tags.has(p)) ?? 'all';

function headerNames(arg: Argument): string[] {
  const names = strs(arg)!;
  for (const n of names)
    if (!FIELD_NAME.test(n)) throw err(`${JSON.stringify(n)} is not a valid header field name`, arg);
  return names.map((n) => n.toLowerCase());
}

function compileTest(node: TestNode, requires: Set<string>): Test {
  const sig = TESTS[node.name];
  if (!sig) throw err(`unknown test "${node.name}"`, node);
  const b = bind(node, sig, requires, 'test');
  const at = { line: node.line, column: node.column };
  const [p0, p1] = b.positional;
  switch (node.name) {
    case 'address':
      return {
        ...at,
        type: 'address',
        ...matcher(b, requires),
        part: addressPart(b),
        headers: headerNames(p0!),
        keys: strs(p1)!,
      };
    case 'envelope': {
      const fields = strs(p0)!.map((f) => f.toLowerCase());
      for (const f of fields)
        if (f !== 'from' && f !== 'to') throw err(`unsupported envelope part "${f}" (from or to)`, p0!);
      return { ...at, type: 'envelope', ...matcher(b, requires), part: addressPart(b), fields, keys: strs(p1)! };
    }
    case 'header':
      return { ...at, type: 'header', ...matcher(b, requires), headers: headerNames(p0!), keys: strs(p1)! };
    case 'body': {
      const content = strs(b.tags.get('content'));
      const transform: BodyTransform = content
        ? { kind: 'content', types: content.map((t) => t.toLowerCase()) }
        : b.tags.has('raw')
          ? { kind: 'raw' }
          : { kind: 'text' };
      return { ...at, type: 'body', ...matcher(b, requires), transform, keys: strs(p0)! };
    }
    case 'hasflag':
      return { ...at, type: 'hasflag', ...matcher(b, requires), keys: strs(p0)! };
    case 'exists':
      return { ...at, type: 'exists', headers: headerNames(p0!) };
    case 'spamtest':
      return { ...at, type: 'spamtest', ...matcher(b, requires), percent: b.tags.has('percent'), keys: strs(p0)! };
    case 'size':
      if (!b.tags.has('over') && !b.tags.has('under')) throw err('size needs :over or :under', node);
      return { ...at, type: 'size', over: b.tags.has('over'), limit: num(p0)! };
    case 'allof':
    case 'anyof':
      return { ...at, type: node.name, tests: b.tests.map((t) => compileTest(t, requires)) };
    case 'not':
      return { ...at, type: 'not', test: compileTest(b.tests[0]!, requires) };
    default:
      return { ...at, type: node.name as 'true' | 'false' };
  }
}

const flagList = (arg: Argument | true | undefined): string[] | null => {
  const values = strs(arg);
  return values ? values.flatMap((v) => v.split(/\s+/)).filter(Boolean) : null;
};

function compileBlock(nodes: CommandNode[], requires: Set<string>, topLevel: boolean): Command[] {
  const out: Command[] = [];
  let seenOther = false;
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i]!;
    const sig = COMMANDS[node.name];
    if (!sig)
      throw err(
        `unknown command "${node.name}"${CAPABILITIES.includes(node.name as never) ? ` (needs require "${node.name}")` : ''}`,
        node,
      );
    if (BLOCK_COMMANDS.has(node.name) && !node.block) throw err(`${node.name} needs a block in braces`, node);
    if (!BLOCK_COMMANDS.has(node.name) && node.block) throw err(`${node.name} takes no block (missing ";"?)`, node);
    if (node.name === 'require') {
      if (!topLevel || seenOther) throw err('require must come before any other command', node);
      const b = bind(node, sig, requires, 'command');
      for (const cap of strs(b.positional[0])!) {
        if (!CAPABILITIES.includes(cap as never)) throw err(`unsupported extension "${cap}"`, b.positional[0]!);
        requires.add(cap);
        // spamtestplus is spamtest with :percent (RFC 5235 §3.2): requiring it gives the test.
        if (cap === 'spamtestplus') requires.add('spamtest');
      }
      continue;
    }
    seenOther = true;
    if (node.name === 'elsif' || node.name === 'else') throw err(`${node.name} without a preceding if`, node);
    const b = bind(node, sig, requires, 'command');
    const at = { line: node.line, column: node.column };
    const p0 = b.positional[0];
    switch (node.name) {
      case 'if': {
        const branches = [
          {
            test: compileTest(b.tests[0]!, requires) as Test | null,
            block: compileBlock(node.block!, requires, false),
          },
        ];
        while (nodes[i + 1]?.name === 'elsif' || nodes[i + 1]?.name === 'else') {
          const next = nodes[++i]!;
          const nb = bind(next, COMMANDS[next.name]!, requires, 'command');
          if (!next.block) throw err(`${next.name} needs a block in braces`, next);
          branches.push({
            test: next.name === 'elsif' ? compileTest(nb.tests[0]!, requires) : null,
            block: compileBlock(next.block, requires, false),
          });
          if (next.name === 'else') break;
        }
        out.push({ ...at, type: 'if', branches });
        break;
      }
      case 'stop':
      case 'discard':
        out.push({ ...at, type: node.name });
        break;
      case 'keep':
        out.push({ ...at, type: 'keep', flags: flagList(b.tags.get('flags')) });
        break;
      case 'fileinto': {
        const folder = str(p0)!;
        if (!folder || /[\0\r\n]/.test(folder)) throw err(`invalid folder name ${JSON.stringify(folder)}`, p0!);
        out.push({
          ...at,
          type: 'fileinto',
          folder,
          flags: flagList(b.tags.get('flags')),
          create: b.tags.has('create'),
          copy: b.tags.has('copy'),
        });
        break;
      }
      case 'redirect': {
        const address = str(p0)!
          .trim()
          .replace(/^<(.*)>$/, '$1');
        if (!ADDRESS.test(address)) throw err(`redirect needs an email address, not ${JSON.stringify(str(p0))}`, p0!);
        out.push({ ...at, type: 'redirect', address, copy: b.tags.has('copy') });
        break;
      }
      case 'reject':
      case 'ereject':
        out.push({ ...at, type: 'reject', reason: str(p0)!, extended: node.name === 'ereject' });
        break;
      case 'vacation': {
        const days = num(b.tags.get('days'));
        const from = str(b.tags.get('from'));
        const addresses = strs(b.tags.get('addresses')) ?? [];
        for (const a of addresses)
          if (!ADDRESS.test(a))
            throw err(
              `:addresses holds ${JSON.stringify(a)}, not an email address`,
              b.tags.get('addresses') as Argument,
            );
        if (from !== null && !/@/.test(from)) throw err(':from needs an email address', b.tags.get('from') as Argument);
        const subject = str(b.tags.get('subject'));
        if (subject !== null && /[\r\n]/.test(subject))
          throw err(':subject must be one line', b.tags.get('subject') as Argument);
        out.push({
          ...at,
          type: 'vacation',
          days: days ?? 7,
          subject,
          from,
          addresses,
          mime: b.tags.has('mime'),
          handle: str(b.tags.get('handle')),
          reason: str(p0)!,
        });
        break;
      }
      default:
        out.push({
          ...at,
          type: 'flags',
          op: node.name === 'setflag' ? 'set' : node.name === 'addflag' ? 'add' : 'remove',
          flags: flagList(p0)!,
        });
    }
  }
  return out;
}

/** Parses and validates a script; throws SieveError with the line and column of the first problem. */
export function compile(text: string): Script {
  if (Buffer.byteLength(text, 'utf8') > MAX_SCRIPT_BYTES)
    throw new SieveError(`script larger than ${MAX_SCRIPT_BYTES} bytes`, 1, 1);
  const requires = new Set<string>();
  const commands = compileBlock(parse(text), requires, true);
  return { requires: [...requires], commands };
}
