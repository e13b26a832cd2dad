// Invariant checks of the MIME indexer over a folder of real-world messages: nothing throws, every
// node's byte range is consistent, section numbers find every node, and each node's body re-indexed
// on its own (and mangled copies of each message) never throws either. Shared by the unit test on
// the in-repo fixtures (test/unit/mime-fixtures.test.ts) and the corpus-wide run (bench/mime-corpus.ts).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as assert from 'uvu/assert';
import {
  bodyStructureToImap,
  buildIndex,
  envelopeToImap,
  findSection,
  sectionRange,
  type MessageIndex,
  type MimeNode,
} from '../../src/mime/index.ts';

// Notices, licences, keys, images, conformance suites: not messages.
const NOT_MESSAGE =
  /\.(md|json|ya?ml|dat|pub|py|pem|asc|png|jpe?g|gif|doc|CHANGES|LICENSE)$|(^|\/)(LICENSE|COPYING|README|NOTICE)[^/]*$/;

export interface Sample {
  name: string;
  raw: Buffer;
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...listFiles(path));
    else out.push(path);
  }
  return out;
}

/** mbox files hold several messages: split on "From " lines, dropping the separator's blank line. */
function splitMbox(raw: Buffer): Buffer[] {
  const text = raw.toString('latin1');
  const starts: number[] = [];
  const re = /^From [^\n]*\n/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) starts.push(m.index, m.index + m[0].length);
  const out: Buffer[] = [];
  for (let i = 0; i < starts.length; i += 2) {
    let end = i + 2 < starts.length ? starts[i + 2]! : raw.length;
    if (i + 2 < starts.length && raw[end - 1] === 0x0a) end--;
    out.push(raw.subarray(starts[i + 1]!, end));
  }
  return out;
}

/** Every message file under `dir` (mbox files split into their messages), in path order. */
export function loadMessages(dir: string): { files: number; samples: Sample[] } {
  const samples: Sample[] = [];
  let files = 0;
  for (const path of listFiles(dir)) {
    const name = relative(dir, path);
    if (NOT_MESSAGE.test(name)) continue;
    files++;
    const raw = readFileSync(path);
    if (/\.mbox(\.txt)?$/.test(name) && raw.subarray(0, 5).toString() === 'From ') {
      splitMbox(raw).forEach((m, i) => samples.push({ name: `${name}#${i + 1}`, raw: m }));
    } else samples.push({ name, raw });
  }
  return { files, samples };
}

function countLf(raw: Buffer, start: number, end: number): number {
  let n = 0;
  for (let i = raw.indexOf(10, start); i !== -1 && i < end; i = raw.indexOf(10, i + 1)) n++;
  return n;
}

/** Range invariants of one node and everything below it; returns the number of nodes checked. */
function checkNode(raw: Buffer, node: MimeNode, size: number, where: string): number {
  const at = `${where} [${node.start},${node.bodyStart},${node.end}] ${node.type}/${node.subtype}`;
  assert.ok(
    0 <= node.start && node.start <= node.bodyStart && node.bodyStart <= node.end && node.end <= size,
    `range ${at}`,
  );
  assert.is(node.size, node.end - node.bodyStart, `size ${at}`);
  assert.is(node.lines, countLf(raw, node.bodyStart, node.end), `lines ${at}`);
  assert.ok(/^[a-z0-9!#$%&'*+\-.^_`{|}~]+$/.test(node.type + node.subtype), `type ${at}`);
  assert.ok(node.encoding.length > 0, `encoding ${at}`);
  let count = 1;
  if (node.type === 'multipart') assert.ok(node.children && node.children.length > 0, `multipart without parts ${at}`);
  if (node.children) {
    let prevEnd = node.bodyStart;
    node.children.forEach((child, i) => {
      assert.ok(child.start >= prevEnd, `child ${i + 1} starts before its predecessor ends ${at}`);
      assert.ok(child.end <= node.end, `child ${i + 1} ends after its parent ${at}`);
      prevEnd = child.end;
      count += checkNode(raw, child, size, `${where}.${i + 1}`);
    });
  }
  if (node.message) {
    const inner = node.message.node;
    assert.equal([inner.start, inner.end], [node.bodyStart, node.end], `embedded message range ${at}`);
    count += checkNode(raw, inner, size, `${where}(msg)`);
  }
  return count;
}

/** Every IMAP section path of the message with the node it names. */
function* sectionPaths(container: MimeNode, prefix: number[]): Generator<[number[], MimeNode]> {
  const parts = container.children ?? [container];
  for (let i = 0; i < parts.length; i++) {
    const node = parts[i]!;
    const path = [...prefix, i + 1];
    yield [path, node];
    if (node.children) yield* sectionPaths(node, path);
    else if (node.message) yield* sectionPaths(node.message.node, path);
  }
}

/** All invariants of one index against its raw bytes; returns the number of MIME nodes. */
export function checkIndex(raw: Buffer, idx: MessageIndex, name: string): number {
  assert.is(idx.size, raw.length, name);
  assert.is(idx.headerSize, idx.root.bodyStart, name);
  assert.equal([idx.root.start, idx.root.end], [0, raw.length], name);
  const nodes = checkNode(raw, idx.root, raw.length, name);
  for (const [path, node] of sectionPaths(idx.root, [])) {
    assert.ok(findSection(idx, path) === node, `${name} section ${path.join('.')}`);
    assert.equal(sectionRange(idx, path), { start: node.bodyStart, end: node.end }, `${name} BODY[${path.join('.')}]`);
    assert.equal(sectionRange(idx, path, 'MIME'), { start: node.start, end: node.bodyStart }, `${name} MIME`);
    if (node.message) {
      const m = node.message.node;
      assert.equal(sectionRange(idx, path, 'HEADER'), { start: m.start, end: m.bodyStart }, `${name} HEADER`);
      assert.equal(sectionRange(idx, path, 'TEXT'), { start: m.bodyStart, end: m.end }, `${name} TEXT`);
    }
  }
  const bs = bodyStructureToImap(idx.root, true);
  assert.ok(bs.startsWith('(') && bs.endsWith(')'), name);
  bodyStructureToImap(idx.root, false);
  envelopeToImap(idx.envelope);
  assert.ok(Buffer.byteLength(idx.search.text, 'utf8') <= 256 * 1024, `${name} text cap`);
  return nodes;
}

export function* allNodes(node: MimeNode): Generator<MimeNode> {
  yield node;
  for (const child of node.children ?? []) yield* allNodes(child);
  if (node.message) yield* allNodes(node.message.node);
}

/** What the indexed messages hold, to show (and assert) what a set of samples exercises. */
export interface IndexedStats {
  nodes: number;
  multipart: number;
  embedded: number;
  /** Deepest nesting of parts and embedded messages (the root is depth 0). */
  maxDepth: number;
  /** Content-Transfer-Encoding values seen, lower-cased. */
  encodings: Set<string>;
}

function depth(node: MimeNode): number {
  let d = 0;
  for (const child of node.children ?? []) d = Math.max(d, 1 + depth(child));
  if (node.message) d = Math.max(d, 1 + depth(node.message.node));
  return d;
}

/** Indexes every sample, checks every invariant, and the JSON round trip of the index. */
export function checkAll(samples: Sample[]): IndexedStats {
  const stats: IndexedStats = { nodes: 0, multipart: 0, embedded: 0, maxDepth: 0, encodings: new Set() };
  for (const { name, raw } of samples) {
    let idx: MessageIndex;
    try {
      idx = buildIndex(raw);
    } catch (err) {
      throw new Error(`${name}: ${(err as Error).stack}`);
    }
    stats.nodes += checkIndex(raw, idx, name);
    if (idx.root.children) stats.multipart++;
    stats.maxDepth = Math.max(stats.maxDepth, depth(idx.root));
    for (const n of allNodes(idx.root)) {
      if (n.message) stats.embedded++;
      stats.encodings.add(n.encoding.toLowerCase());
    }
    const copy = JSON.parse(JSON.stringify(idx)) as MessageIndex;
    assert.is(bodyStructureToImap(copy.root, true), bodyStructureToImap(idx.root, true), name);
  }
  return stats;
}

/** Each part's body indexed on its own; returns how many were. */
export function checkPartBodies(samples: Sample[]): number {
  let reparsed = 0;
  for (const { name, raw } of samples) {
    const idx = buildIndex(raw);
    for (const node of allNodes(idx.root)) {
      if (node === idx.root) continue;
      const body = raw.subarray(node.bodyStart, node.end);
      try {
        checkIndex(body, buildIndex(body), `${name} body@${node.bodyStart}`);
      } catch (err) {
        throw new Error(`${name} body@${node.bodyStart}: ${(err as Error).message}`);
      }
      reparsed++;
    }
  }
  return reparsed;
}

// Deterministic PRNG (mulberry32) so a failing mangled case can be reproduced.
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Each message truncated at a random point and with bytes overwritten by MIME syntax; returns the cases. */
export function checkMangled(samples: Sample[], seed = 20240229): number {
  const random = prng(seed);
  const noise = [0x0a, 0x0d, 0x2d, 0x3a, 0x3b, 0x22, 0x3d, 0x20, 0x00, 0xff, 0x3c, 0x28];
  let cases = 0;
  for (const { name, raw } of samples) {
    const truncated = raw.subarray(0, Math.floor(random() * raw.length));
    const flipped = Buffer.from(raw);
    for (let i = 0; i < 1 + Math.min(20, raw.length >> 6); i++) {
      flipped[Math.floor(random() * flipped.length)] = noise[Math.floor(random() * noise.length)]!;
    }
    for (const [kind, buf] of [
      ['truncated', truncated],
      ['flipped', flipped],
    ] as const) {
      try {
        checkIndex(buf, buildIndex(buf), `${name} ${kind}`);
      } catch (err) {
        throw new Error(`${name} (${kind}, ${buf.length} bytes): ${(err as Error).message}`);
      }
      cases++;
    }
  }
  return cases;
}

/** Indexing speed over the samples, as one printable line (a figure, not a check). */
export function indexingSpeed(samples: Sample[]): string {
  let bytes = 0;
  for (const { raw } of samples) bytes += raw.length;
  for (const { raw } of samples.slice(0, 50)) buildIndex(raw); // warm up
  const t0 = performance.now();
  for (const { raw } of samples) buildIndex(raw);
  const ms = performance.now() - t0;
  return (
    `indexed ${samples.length} messages (${(bytes / 1048576).toFixed(1)} MiB) in ${ms.toFixed(0)} ms: ` +
    `${Math.round((samples.length / ms) * 1000)} messages/s, ${((bytes / 1048576 / ms) * 1000).toFixed(1)} MiB/s`
  );
}
