// IMAP URLs (RFC 5092) naming one message or a section of one, as CATENATE (RFC 4469) and URLAUTH
// (RFC 4467) take them, and URLAUTH's authorization: the access identifier a URL is restricted to
// and the INTERNAL mechanism's token, an HMAC of the URL's rump under the mailbox's access key.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { findSection, sectionRange } from '../mime/index.ts';
import type { MimeNode, SectionPart } from '../mime/types.ts';
import type { Account, Folder, Message, Store } from '../store/index.ts';
import { urlAuthKeys } from '../store/urlauth-keys.ts';

export interface ImapUrl {
  /** The URL's userid (decoded), for an absolute URL that has one. */
  user: string | null;
  host: string | null;
  mailbox: string;
  uidValidity: number | null;
  uid: number;
  section: { path: number[]; part: SectionPart } | null;
  partial: { start: number; length: number | null } | null;
  /** ;EXPIRE= (ms), RFC 4467 3. */
  expire: number | null;
  /** ;URLAUTH= access identifier, as written. */
  access: string | null;
  /** The URL up to and including the access identifier: what the token authorizes (RFC 4467 7). */
  rump: string;
  mechanism: string | null;
  token: string | null;
}

const SERVER = /^imap:\/\/(?:([^@/;]+)(?:;[^@/]*)?@)?([^/:]+)(?::\d+)?(\/.*)$/i;
// ipath (RFC 5092 11): "/" mailbox [;UIDVALIDITY=] "/;UID=" [/;SECTION=] [/;PARTIAL=], then the
// URLAUTH parts of RFC 4467 3: [;EXPIRE=] ;URLAUTH=access [:mechanism:token]
const PATH =
  /^\/([^;]+)(?:;uidvalidity=(\d+))?\/;uid=(\d+)(?:\/;section=([^/;]*))?(?:\/;partial=(\d+)(?:\.(\d+))?)?(?:;expire=([^;]+))?(?:(;urlauth=[^:;]+)(?::([^:;]+):([0-9a-f]+))?)?$/i;
const SECTION = /^(?:(\d+(?:\.\d+)*)(?:\.(header|text|mime))?|(header|text))$/i;

/** The URL's parts, or null when it is not an IMAP URL naming a message. Relative URLs have no server. */
export function parseImapUrl(url: string): ImapUrl | null {
  let path = url;
  let user: string | null = null;
  let host: string | null = null;
  const server = SERVER.exec(url);
  try {
    if (server) {
      user = server[1] ? decodeURIComponent(server[1]) : null;
      host = server[2]!.toLowerCase();
      path = server[3]!;
    } else if (/^imap:/i.test(url)) return null;
    const m = PATH.exec(path);
    if (!m) return null;
    let section: ImapUrl['section'] = null;
    if (m[4] !== undefined) {
      const s = SECTION.exec(decodeURIComponent(m[4]));
      if (!s) return null;
      section = {
        path: s[1] ? s[1].split('.').map(Number) : [],
        part: (s[2] ?? s[3] ?? '').toUpperCase() as SectionPart,
      };
    }
    const expire = m[7] !== undefined ? Date.parse(decodeURIComponent(m[7])) : null;
    if (expire !== null && Number.isNaN(expire)) return null;
    const rumpEnd =
      m[8] !== undefined ? url.length - (m[9] !== undefined ? m[9].length + m[10]!.length + 2 : 0) : url.length;
    return {
      user,
      host,
      mailbox: decodeURIComponent(m[1]!),
      uidValidity: m[2] !== undefined ? Number(m[2]) : null,
      uid: Number(m[3]),
      section,
      partial: m[5] !== undefined ? { start: Number(m[5]), length: m[6] !== undefined ? Number(m[6]) : null } : null,
      expire,
      access: m[8] !== undefined ? decodeURIComponent(m[8].slice(';urlauth='.length)) : null,
      rump: url.slice(0, rumpEnd),
      mechanism: m[9] ?? null,
      token: m[10] ?? null,
    };
  } catch {
    return null; // bad percent-encoding
  }
}

/** The account a URL's userid names: a full address, or a local part at the URL's host. */
export async function urlOwner(store: Store, url: ImapUrl): Promise<Account | undefined> {
  if (!url.user) return undefined;
  const address = url.user.includes('@') || !url.host ? url.user : `${url.user}@${url.host}`;
  const account = await store.accounts.byAddress(address.toLowerCase());
  return account?.state === 'active' ? account : undefined;
}

export interface UrlTarget {
  folder: Folder;
  message: Message;
  /** The section's MIME node (null for the whole message or a HEADER/TEXT/MIME section). */
  node: MimeNode | null;
  start: number;
  end: number;
}

/** What a URL names in the owner's mailboxes, or null when nothing (RFC 5092: section and partial narrow it). */
export async function resolveUrl(store: Store, owner: Account, url: ImapUrl): Promise<UrlTarget | null> {
  const folder = store.folders.byName(owner.id, url.mailbox.toUpperCase() === 'INBOX' ? 'INBOX' : url.mailbox);
  if (!folder || (url.uidValidity !== null && url.uidValidity !== folder.uidValidity)) return null;
  const message = await store.messages.get(folder.id, url.uid);
  if (!message) return null;
  let start = 0;
  let end = message.size;
  let node: MimeNode | null = null;
  if (url.section) {
    const structure = await store.blobs.structure(message.blob);
    const range = sectionRange(structure, url.section.path, url.section.part);
    if (!range) return null;
    ({ start, end } = range);
    if (url.section.path.length && !url.section.part) node = findSection(structure, url.section.path);
  }
  if (url.partial) {
    start = Math.min(end, start + url.partial.start);
    if (url.partial.length !== null) end = Math.min(end, start + url.partial.length);
  }
  return { folder, message, node, start, end };
}

/** The INTERNAL mechanism's token (RFC 4467 7): HMAC-SHA256 of the rump under the mailbox key. */
export function urlAuthToken(key: Buffer, rump: string): string {
  return createHmac('sha256', key).update(rump, 'utf8').digest('hex');
}

/** Who is fetching: an IMAP user, or (submit+) the submission server acting for one (RFC 4467 3). */
export interface UrlFetcher {
  account: Account;
  submitter: boolean;
}

/** Whether the access identifier lets this fetcher in (RFC 4467 3, access identifiers). */
function accessAllows(access: string, fetcher: UrlFetcher): boolean {
  const lower = access.toLowerCase();
  if (lower === 'anonymous' || lower === 'authuser') return true; // URLFETCH needs an authenticated session
  const same = (userid: string): boolean => userid.toLowerCase() === fetcher.account.address.toLowerCase();
  if (lower.startsWith('user+')) return same(access.slice(5));
  if (lower.startsWith('submit+')) return fetcher.submitter && same(access.slice(7));
  return false;
}

/**
 * What a URLAUTH-authorized URL names, or null (URLFETCH answers NIL): the mechanism must be
 * INTERNAL, the token the mailbox key's, not expired, and the fetcher admitted by the access
 * identifier. A URL without URLAUTH is read only from the fetcher's own mailboxes.
 */
export async function authorizedTarget(
  store: Store,
  url: ImapUrl,
  fetcher: UrlFetcher,
  now = Date.now(),
): Promise<{ owner: Account; target: UrlTarget } | null> {
  if (url.access === null) {
    if (url.user !== null && (await urlOwner(store, url))?.id !== fetcher.account.id) return null;
    const target = await resolveUrl(store, fetcher.account, url);
    return target && { owner: fetcher.account, target };
  }
  if (url.mechanism?.toUpperCase() !== 'INTERNAL' || !url.token) return null;
  if (url.expire !== null && url.expire <= now) return null;
  if (!accessAllows(url.access, fetcher)) return null;
  const owner = await urlOwner(store, url);
  if (!owner) return null;
  const folder = store.folders.byName(owner.id, url.mailbox.toUpperCase() === 'INBOX' ? 'INBOX' : url.mailbox);
  if (!folder) return null;
  const key = await urlAuthKeys(store.kv).get(owner.id, folder.id);
  if (!key) return null;
  const expected = Buffer.from(urlAuthToken(key, url.rump), 'hex');
  const given = Buffer.from(url.token.toLowerCase(), 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  const target = await resolveUrl(store, owner, url);
  return target && { owner, target };
}
