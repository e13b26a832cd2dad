// URLFETCH (RFC 4467 6.3) with the URLAUTH=BINARY options (RFC 5524): the data each URL names, or
// NIL for a URL that is invalid, expired, revoked or not meant for this user. One untagged response.
import { bodyStructureToImap, decodeTransfer } from '../../mime/index.ts';
import { decodedStructure, decodeLeaves } from '../../mime/binary.ts';
import { imapString } from '../../mime/imap-syntax.ts';
import { Args, BadArguments, tokenText } from '../args.ts';
import { AUTHENTICATED, defineCommand } from '../command.ts';
import { authorizedTarget, parseImapUrl, type UrlTarget } from '../imap-url.ts';
import type { Session } from '../session.ts';

interface Request {
  url: string;
  /** null: the plain form, answered with an nstring; else the RFC 5524 fetch parameters. */
  params: Set<'BODY' | 'BINARY' | 'BODYPARTSTRUCTURE'> | null;
}

const PARAMS = new Set(['BODY', 'BINARY', 'BODYPARTSTRUCTURE']);
const DECODABLE = ['7bit', '8bit', 'binary', 'base64', 'quoted-printable'];

function literal(data: Buffer, binary: boolean): Buffer {
  return Buffer.concat([Buffer.from(`${binary && data.includes(0) ? '~' : ''}{${data.length}}\r\n`), data]);
}

/** The section's content with its transfer encoding removed (BINARY, RFC 5524 4.2); null when it cannot be. */
async function binaryData(session: Session, target: UrlTarget): Promise<Buffer | null> {
  const { store } = session.ctx;
  const node = target.node;
  if (!node) return store.read(target.message, target.start, target.end);
  if (node.children) return null;
  const encoding = node.encoding.trim().toLowerCase();
  if (!DECODABLE.includes(encoding)) return null;
  let data: Buffer;
  if (node.message) data = decodeLeaves(await store.read(target.message), node.message.node, node.end);
  else data = decodeTransfer(await store.read(target.message, node.bodyStart, node.end), encoding);
  // a ;PARTIAL= range counts in the decoded octets
  return target.start === node.bodyStart && target.end === node.end
    ? data
    : data.subarray(target.start - node.bodyStart, target.end - node.bodyStart);
}

async function answer(session: Session, request: Request): Promise<Buffer[]> {
  const url = parseImapUrl(request.url);
  const found =
    url && (await authorizedTarget(session.ctx.store, url, { account: session.account!, submitter: false }));
  const head = `${imapString(request.url)} `;
  if (!found) return [Buffer.from(`${head}NIL`)];
  const { target } = found;
  if (!request.params)
    return [Buffer.from(head), literal(await session.ctx.store.read(target.message, target.start, target.end), false)];
  const items: Buffer[] = [];
  const sep = (): string => (items.length ? ' ' : '');
  const binary = request.params.has('BINARY') ? await binaryData(session, target) : null;
  if (request.params.has('BODYPARTSTRUCTURE')) {
    const node =
      target.node ??
      (target.start === 0 && target.end === target.message.size
        ? (await session.ctx.store.blobs.structure(target.message.blob)).root
        : null);
    // beside BINARY, the structure describes the decoded octets sent with it
    const shown = node && binary && target.node ? decodedStructure(node, binary) : node;
    items.push(Buffer.from(`${sep()}BODYPARTSTRUCTURE ${shown ? bodyStructureToImap(shown, true) : 'NIL'}`));
  }
  if (request.params.has('BINARY'))
    items.push(Buffer.from(`${sep()}BINARY `), binary ? literal(binary, true) : Buffer.from('NIL'));
  if (request.params.has('BODY')) {
    items.push(
      Buffer.from(`${sep()}BODY `),
      literal(await session.ctx.store.read(target.message, target.start, target.end), false),
    );
  }
  return [Buffer.from(`${head}(`), ...items, Buffer.from(')')];
}

export default defineCommand({
  states: AUTHENTICATED,
  parse(args: Args) {
    const requests: Request[] = [];
    do {
      const t = args.next('URL');
      if (t.kind !== 'list') {
        requests.push({ url: tokenText(t, 'URL'), params: null });
        continue;
      }
      const inner = new Args(t.items);
      const url = inner.astring('URL');
      const params = new Set<'BODY' | 'BINARY' | 'BODYPARTSTRUCTURE'>();
      while (inner.remaining) {
        const name = inner.atom('URLFETCH parameter').toUpperCase();
        if (!PARAMS.has(name)) throw new BadArguments(`Unknown URLFETCH parameter ${name.slice(0, 20)}`);
        params.add(name as 'BODY' | 'BINARY' | 'BODYPARTSTRUCTURE');
      }
      requests.push({ url, params });
    } while (args.remaining);
    return requests;
  },
  async run(session, requests) {
    const pieces: Buffer[] = [Buffer.from('* URLFETCH')];
    for (const request of requests) {
      pieces.push(Buffer.from(' '), ...(await answer(session, request)));
    }
    pieces.push(Buffer.from('\r\n'));
    session.write(Buffer.concat(pieces));
  },
});
