// THREAD (RFC 5256): ORDEREDSUBJECT, and REFERENCES (the Zawinski algorithm as the RFC adapts it),
// over the Message-ID/References/In-Reply-To/Subject/Date kept in the search fields.
import { BadArguments, type Args } from './args.ts';
import { defineCommand, SELECTED } from './command.ts';
import { searchWithFields } from './ordered.ts';
import { checkCharset, parseKeys, type Key } from './search.ts';
import { baseSubjectOf, subjectInfo, type Sortable } from './sort.ts';

interface Node {
  item: Sortable | null;
  parent: Node | null;
  children: Node[];
}

const dateOf = (s: Sortable): number => s.fields.date ?? s.message.internalDate;
const bySent = (a: Sortable, b: Sortable): number => dateOf(a) - dateOf(b) || a.seq - b.seq;

/** The earliest message in a subtree, by which siblings and threads are ordered. */
function first(node: Node): Sortable | null {
  if (node.item) return node.item;
  let best: Sortable | null = null;
  for (const child of node.children) {
    const c = first(child);
    if (c && (!best || bySent(c, best) < 0)) best = c;
  }
  return best;
}

function sortTree(nodes: Node[]): Node[] {
  for (const n of nodes) n.children = sortTree(n.children);
  return nodes.sort((a, b) => {
    const x = first(a);
    const y = first(b);
    return x && y ? bySent(x, y) : 0;
  });
}

function render(node: Node, id: (s: Sortable) => number): string {
  const parts: string[] = node.item ? [String(id(node.item))] : [];
  if (node.children.length === 1) parts.push(render(node.children[0]!, id));
  else if (node.children.length > 1) parts.push(node.children.map((c) => `(${render(c, id)})`).join(''));
  return parts.join(' ');
}

function orderedSubject(items: Sortable[]): Node[] {
  const groups = new Map<string, Sortable[]>();
  for (const item of [...items].sort(bySent)) {
    const key = baseSubjectOf(item.fields);
    groups.set(key, [...(groups.get(key) ?? []), item]);
  }
  return [...groups.values()].map(([root, ...rest]) => ({
    item: root!,
    parent: null,
    children: rest.map((item) => ({ item, parent: null, children: [] })),
  }));
}

function references(items: Sortable[]): Node[] {
  const byId = new Map<string, Node>();
  const node = (id: string): Node => {
    let n = byId.get(id);
    if (!n) byId.set(id, (n = { item: null, parent: null, children: [] }));
    return n;
  };
  const isAncestor = (a: Node, b: Node): boolean => {
    for (let p: Node | null = b; p; p = p.parent) if (p === a) return true;
    return false;
  };
  const link = (parent: Node, child: Node): void => {
    if (child.parent || parent === child || isAncestor(child, parent)) return;
    child.parent = parent;
    parent.children.push(child);
  };
  items.forEach((item, i) => {
    let id = item.fields.messageId;
    if (!id || byId.get(id)?.item) id = `<unique-${i}>`; // duplicate or missing Message-ID
    const own = node(id);
    own.item = item;
    const refs = item.fields.references.length
      ? item.fields.references
      : item.fields.inReplyTo
        ? [item.fields.inReplyTo]
        : [];
    for (let r = 1; r < refs.length; r++) link(node(refs[r - 1]!), node(refs[r]!));
    const parent = refs.length ? node(refs[refs.length - 1]!) : null;
    if (own.parent && own.parent !== parent) {
      own.parent.children = own.parent.children.filter((c) => c !== own);
      own.parent = null;
    }
    if (parent) link(parent, own);
  });
  // Prune empty containers: drop childless ones, promote the children of the rest (at the root only
  // when there is a single child).
  const prune = (nodes: Node[], atRoot: boolean): Node[] =>
    nodes.flatMap((n) => {
      n.children = prune(n.children, false);
      if (n.item) return [n];
      if (!n.children.length) return [];
      if (!atRoot || n.children.length === 1) return n.children;
      return [n];
    });
  const roots = prune(
    [...byId.values()].filter((n) => !n.parent),
    true,
  );
  for (const r of roots) r.parent = null;
  return groupBySubject(roots);
}

/** RFC 5256 REFERENCES step 5: roots whose base subjects match are gathered under one thread. */
function groupBySubject(roots: Node[]): Node[] {
  const info = new Map<Node, { base: string; reply: boolean }>();
  for (const root of roots) {
    const item = root.item ?? root.children[0]?.item;
    info.set(root, item ? subjectInfo(item.fields.subject) : { base: '', reply: false });
  }
  // (B) one container per subject: a dummy, else a non-reply, is preferred
  const table = new Map<string, Node>();
  for (const root of roots) {
    const { base, reply } = info.get(root)!;
    if (!base) continue;
    const old = table.get(base);
    if (!old || (!root.item && old.item) || (old.item && root.item && info.get(old)!.reply && !reply))
      table.set(base, root);
  }
  // (C) merge every other root with that subject into it
  const isKept = (root: Node): boolean => !info.get(root)!.base || table.get(info.get(root)!.base) === root;
  const out = roots.filter(isKept);
  const replaced = new Map<Node, Node>(); // a table entry → the dummy that now holds it
  const replace = (first: Node, old: Node, now: Node): void => {
    out[out.indexOf(old)] = now;
    replaced.set(first, now);
  };
  for (const root of roots) {
    if (isKept(root)) continue;
    const { base, reply } = info.get(root)!;
    const first = table.get(base)!;
    const target = replaced.get(first) ?? first;
    if (!target.item && !root.item) target.children.push(...root.children);
    else if (!target.item) target.children.push(root);
    else if (!root.item) {
      root.children.push(target);
      replace(first, target, root);
    } else if (!info.get(target)!.reply && reply) target.children.push(root);
    else replace(first, target, { item: null, parent: null, children: [target, root] });
  }
  return out;
}

export interface ThreadRequest {
  algorithm: 'ORDEREDSUBJECT' | 'REFERENCES';
  key: Key;
}

export function parseThread(args: Args): ThreadRequest {
  const algorithm = args.atom('threading algorithm').toUpperCase();
  if (algorithm !== 'ORDEREDSUBJECT' && algorithm !== 'REFERENCES')
    throw new BadArguments('Unknown threading algorithm');
  checkCharset(args.astring('charset'));
  return { algorithm, key: parseKeys(args) };
}

export const threadCommand = (byUid: boolean) =>
  defineCommand({
    states: SELECTED,
    holdsExpunges: true,
    parse: parseThread,
    async run(session, request) {
      const items = await searchWithFields(session, request.key);
      const threads = sortTree(request.algorithm === 'REFERENCES' ? references(items) : orderedSubject(items));
      const id = (s: Sortable): number => (byUid ? s.message.uid : s.seq);
      session.send(`* THREAD${threads.length ? ' ' : ''}${threads.map((t) => `(${render(t, id)})`).join('')}`);
    },
  });
