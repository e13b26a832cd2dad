// Architecture: dependencies in src/ point down the layer table below, and no module loads itself
// again through its own imports. LAYERS is the one place the layer order is written (docs point
// here). The import lines are read with TypeScript's parser (no type checking, no module loading).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

interface Layer {
  name: string;
  /** Folders (`cli/`) or single files (`main.ts`) under src/. */
  units: string[];
  /** Whether the units of this layer may import each other (the cycle check applies all the same). */
  peers: boolean;
  why: string;
}

/**
 * Top to bottom: a module may import its own unit, anything in a lower layer, and units of its own
 * layer only where `peers` says so. Type-only imports obey the order too (a type is a dependency);
 * only the cycle check leaves them out, as they vanish at run time.
 */
const LAYERS: Layer[] = [
  {
    name: 'entry',
    units: ['main.ts'],
    peers: false,
    why: 'the `wrenmail` command: parses argv and hands over to cli/ or server.ts',
  },
  {
    name: 'cli',
    units: ['cli/'],
    peers: false,
    why: 'operator commands; only main.ts dispatches to them, nothing else imports cli/',
  },
  {
    name: 'server',
    units: ['server.ts', 'startup/'],
    peers: true,
    why: 'wires the store, pipelines and every listener for `serve`; startup/ holds its stages (services, listeners, shutdown)',
  },
  {
    name: 'http',
    units: ['http/'],
    peers: false,
    why: 'the Koa app (http/app.ts) that mounts the API and the console, and the autoconfig, MTA-STS and metrics endpoints',
  },
  {
    name: 'console',
    units: ['console/'],
    peers: false,
    why: 'the web console: pages and its session login, over the same API routes',
  },
  {
    name: 'api',
    units: ['api/'],
    peers: false,
    why: 'the REST and compat routes, their middleware, views and OpenAPI document',
  },
  {
    name: 'protocols',
    units: ['smtp/', 'imap/', 'pop3/', 'migrate/'],
    peers: false,
    why: 'each protocol server or migration tool stands alone; what two of them share lives lower',
  },
  {
    name: 'client',
    units: ['client/'],
    peers: false,
    why: "the operator's side of the API (HTTP client, progress lines, terminal formats), used by cli/ and migrate/",
  },
  {
    name: 'services',
    units: ['services/', 'bootstrap.ts'],
    peers: true,
    why: 'operations the protocols share (accounts, keys, domains, ...) and the first-start root key',
  },
  {
    name: 'delivery',
    units: ['inbound/', 'sieve/', 'outbound/'],
    peers: true,
    why: 'the mail pipelines: inbound runs sieve, sieve redirects and replies through outbound, outbound reuses inbound header parsing',
  },
  {
    name: 'analysis',
    units: ['spam/', 'reports/', 'events/'],
    peers: false,
    why: 'what the pipelines consult or emit (spam verdicts, DMARC/TLS reports, webhooks); never calls back into delivery',
  },
  {
    name: 'net',
    units: ['net/', 'listeners.ts'],
    peers: true,
    why: 'socket servers and listen addresses (use tls and metrics); listeners.ts binds them with net/ keepalive',
  },
  {
    name: 'support',
    units: ['security/', 'dns/', 'tls/', 'metrics/'],
    peers: false,
    why: 'credentials and sessions, DNS, certificates, metrics: each keeps its state in or reads it from the store',
  },
  { name: 'store', units: ['store/'], peers: false, why: 'LevelDB repositories; stores what mime/ indexes' },
  {
    name: 'mime',
    units: ['mime/'],
    peers: false,
    why: 'message formats and codecs (MIME, headers, mbox, modified UTF-7) every layer above shares; knows no store',
  },
  {
    name: 'base',
    units: ['config/', 'log.ts'],
    peers: false,
    why: 'configuration schema and the logger, imported from anywhere',
  },
];

const SRC = new URL('../../src/', import.meta.url).pathname;

interface Edge {
  from: string;
  to: string;
  typeOnly: boolean;
  line: number;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return sourceFiles(path);
      return name.endsWith('.ts') ? [path] : [];
    });
}

/**
 * Relative specifiers of `import … from`, `import '…'`, `export … from` and `import('…')`. Only a
 * whole `import type` / `export type` clause is type-only: under verbatimModuleSyntax Node keeps
 * `import { type A } from` as a real (empty) import, so the module still loads.
 */
function importsOf(file: string, text: string): Omit<Edge, 'from'>[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: Omit<Edge, 'from'>[] = [];
  const add = (node: ts.Node, literal: ts.Expression | undefined, typeOnly: boolean): void => {
    if (!literal || !ts.isStringLiteralLike(literal) || !literal.text.startsWith('.')) return;
    const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
    out.push({ to: resolve(dirname(file), literal.text), typeOnly, line });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) add(node, node.moduleSpecifier, node.importClause?.isTypeOnly === true);
    else if (ts.isExportDeclaration(node)) add(node, node.moduleSpecifier, node.isTypeOnly);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword)
      add(node, node.arguments[0], false);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node, node.argument.literal, true);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

const rel = (path: string): string => relative(SRC, path);

let edgesRead: Edge[] | undefined;
function graph(): Edge[] {
  edgesRead ??= sourceFiles(SRC).flatMap((file) =>
    importsOf(file, readFileSync(file, 'utf8')).map((edge) => ({ ...edge, from: rel(file), to: rel(edge.to) })),
  );
  return edgesRead;
}

function layerOf(file: string): { index: number; unit: string } | undefined {
  for (const [index, layer] of LAYERS.entries()) {
    const unit = layer.units.find((u) => (u.endsWith('/') ? file.startsWith(u) : file === u));
    if (unit) return { index, unit };
  }
  return undefined;
}

/** Why an import breaks the order, or undefined when it points down (or stays in its unit). */
function layerProblem(edge: Edge): string | undefined {
  const from = layerOf(edge.from)!;
  const to = layerOf(edge.to)!;
  if (from.unit === to.unit || to.index > from.index) return undefined;
  if (to.index === from.index && LAYERS[from.index]!.peers) return undefined;
  const where =
    to.index === from.index
      ? `a peer in layer '${LAYERS[to.index]!.name}'`
      : `layer '${LAYERS[to.index]!.name}' above '${LAYERS[from.index]!.name}'`;
  return `${where}${edge.typeOnly ? ' (type-only)' : ''}`;
}

/** Strongly connected components of the runtime graph that hold more than one file. */
function loops(edges: Edge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const e of edges) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let counter = 0;
  const connect = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component);
    }
  };
  for (const v of [...next.keys()].sort()) if (!index.has(v)) connect(v);
  return found;
}

/** One shortest way round a component, from its first file back to it: the chain to show. */
function chain(component: string[], edges: Edge[]): string[] {
  const inside = new Set(component);
  const start = [...component].sort()[0]!;
  const previous = new Map<string, string>();
  const queue = [start];
  for (let v = queue.shift(); v !== undefined; v = queue.shift()) {
    for (const e of edges) {
      if (e.from !== v || !inside.has(e.to)) continue;
      if (e.to === start) {
        const path = [start];
        for (let p: string | undefined = v; p !== undefined && p !== start; p = previous.get(p)) path.splice(1, 0, p);
        return [...path, start];
      }
      if (!previous.has(e.to)) {
        previous.set(e.to, v);
        queue.push(e.to);
      }
    }
  }
  return component;
}

test('the import reader sees every form of import and tells type-only ones apart', () => {
  const text = [
    "import { a } from './a.ts';",
    "import type { B } from './b.ts';",
    "import { type C } from './c.ts';",
    "import './d.ts';",
    "export { e } from './e.ts';",
    "export type { F } from './f.ts';",
    "export * from './g.ts';",
    "import {\n  h,\n  i,\n} from '../h.ts';",
    "const j = await import('./j.ts');",
    "let k: import('./k.ts').K;",
    "import { readFileSync } from 'node:fs';",
    "// import { z } from './commented.ts';",
    'const s = "import { y } from \'./in-a-string.ts\'";',
  ].join('\n');
  const found = importsOf('/x/src/m.ts', text).map((e) => `${e.to.replace('/x/', '')}${e.typeOnly ? ' type' : ''}`);
  assert.equal(found, [
    'src/a.ts',
    'src/b.ts type',
    'src/c.ts',
    'src/d.ts',
    'src/e.ts',
    'src/f.ts type',
    'src/g.ts',
    'h.ts',
    'src/j.ts',
    'src/k.ts type',
  ]);
});

test('every src file has a layer and every relative import resolves to a file', () => {
  const edges = graph();
  assert.ok(edges.length > 500, `only ${edges.length} imports read: the reader is missing some`);
  const files = sourceFiles(SRC).map(rel);
  const homeless = files.filter((f) => !layerOf(f));
  assert.equal(homeless, [], `files outside the layer table in ${import.meta.url}: ${homeless.join(', ')}`);
  const dangling = edges
    .filter((e) => !existsSync(join(SRC, e.to)) || !e.to.endsWith('.ts'))
    .map((e) => `${e.from}:${e.line} → ${e.to}`);
  assert.equal(dangling, [], `imports that do not name a .ts file under src/:\n${dangling.join('\n')}`);
});

test('imports point down the layer table (type-only ones too)', () => {
  const offenders = graph()
    .map((e) => ({ e, problem: layerProblem(e) }))
    .filter(({ problem }) => problem)
    .map(({ e, problem }) => `  ${e.from}:${e.line} → ${e.to}: imports ${problem}`);
  assert.ok(
    offenders.length === 0,
    `${offenders.length} import(s) point up or sideways (fix the import, or the layer table if the design changed):\n${offenders.join('\n')}\n`,
  );
});

test('no import loops among runtime imports', () => {
  const edges = graph().filter((e) => !e.typeOnly);
  const found = loops(edges).map((c) => {
    const shown = chain(c, edges);
    return `  ${shown.join(' → ')}${c.length > shown.length - 1 ? ` (and more loops through ${c.length} files: ${c.sort().join(', ')})` : ''}`;
  });
  assert.ok(found.length === 0, `${found.length} import loop(s):\n${found.join('\n')}\n`);
});

test.run();
