// THREAD (RFC 5256): ORDEREDSUBJECT, and REFERENCES (the Zawinski algorithm as the RFC adapts it),
// over the Message-ID/References/In-Reply-To/Subject/Date kept in the search fields.
import { BadArguments, type Args } from './args.ts';
import { defineCommand, SELECTED } from './command.ts';
import { searchWithFields } from './ordered.ts';
import { checkCharset, parseKeys, type Key } from './search.ts';
import { baseSubject, type Sortable } from './sort.ts';

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
    const key = baseSubject(item.fields.subject);
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
    const refs = item.fields.references.length ? item.fields.references : item.fields.inReplyTo ? [item.fields.inReplyTo] : [];
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
  const roots = prune([...byId.values()].filter((n) => !n.parent), true);
  for (const r of roots) r.parent = null;
  // Group the roots by base subject.
  const bySubject = new Map<string, Node>();
  const out: Node[] = [];
  for (const root of roots) {
    const item = first(root);
    const subject = item ? baseSubject(item.fields.subject) : '';
    const other = subject ? bySubject.get(subject) : undefined;
    if (!other) {
      if (subject) bySubject.set(subject, root);
      out.push(root);
    } else if (!other.item) {
      other.children.push(...(root.item ? [root] : root.children));
    } else {
      const holder: Node = { item: null, parent: null, children: [other, root] };
      out[out.indexOf(other)] = holder;
      bySubject.set(subject, holder);
    }
  }
  return out;
}

export interface ThreadRequest {
  algorithm: 'ORDEREDSUBJECT' | 'REFERENCES';
  key: Key;
}

export function parseThread(args: Args): ThreadRequest {
  const algorithm = args.atom('threading algorithm').toUpperCase();
  if (algorithm !== 'ORDEREDSUBJECT' && algorithm !== 'REFERENCES') throw new BadArguments('Unknown threading algorithm');
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
