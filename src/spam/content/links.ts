// Links: where they go (an IP address, a shortener, hosting phishing kits use), what their text shows, and the
// recipient's address carried in them.
import { headerRecipients } from '../normalize.ts';
import type { MessageIndex } from '../../mime/types.ts';
import type { Hits, Links, Message } from './context.ts';
import { isIpHost, registeredDomain } from './domains.ts';
import { stripTags } from './html.ts';
import { MAX_HTML } from './parts.ts';
import { FRONT_PAGE, parseLink, redirectTarget, URL_IN_TEXT } from './urls.ts';

const SHORTENERS = new Set([
  'bit.ly',
  'tinyurl.com',
  'goo.gl',
  't.co',
  'ow.ly',
  'is.gd',
  'buff.ly',
  'rebrand.ly',
  'cutt.ly',
  'shorturl.at',
  'tiny.cc',
  'rb.gy',
  'bl.ink',
  't.ly',
  's.id',
  'lnkd.in',
  'tr.im',
  'snipurl.com',
  'x.co',
]);

// Hosting that phishing kits use and a sender's own call to action rarely is: free static or serverless
// hosting, cloud storage buckets, form builders, tunnels, IPFS gateways.
const KIT_DOMAINS = new Set([
  'web.app',
  'firebaseapp.com',
  'r2.dev',
  'workers.dev',
  'pages.dev',
  'glitch.me',
  '000webhostapp.com',
  'weebly.com',
  'wixsite.com',
  'repl.co',
  'replit.app',
  'vercel.app',
  'netlify.app',
  'github.io',
  'azurewebsites.net',
  'forms.gle',
]);
const KIT_HOSTS = new Set(['firebasestorage.googleapis.com', 'storage.googleapis.com', 'sites.google.com']);
const kitHosted = (host: string, domain: string, href: string) =>
  KIT_DOMAINS.has(domain) ||
  KIT_HOSTS.has(host) ||
  host.endsWith('.blob.core.windows.net') ||
  host.includes('ngrok') ||
  host.startsWith('ipfs.') ||
  host.includes('.ipfs.') ||
  /\/ipfs\//i.test(href) ||
  (host === 'docs.google.com' && /^[^?#]*\/\/docs\.google\.com\/forms\//i.test(href));

const SHOWN_DOMAIN = /(?:https?:\/\/|\bwww\.)([a-z0-9-]+(?:\.[a-z0-9-]+)+)/i;
const SHOWS_DOMAIN = /:\/\/|www\./i;

interface RecipientForms {
  /** The addresses, lower-cased. */
  plain: string[];
  /** Their base64, unpadded, in either alphabet (RFC 4648 §4 and §5). */
  encoded: string[];
}

/** The recipients' addresses (To and Cc) as a link would carry them. */
function recipientForms(index: MessageIndex): RecipientForms {
  const forms: RecipientForms = { plain: [], encoded: [] };
  for (const address of headerRecipients(index)) {
    const base64 = Buffer.from(address).toString('base64').replace(/=+$/, '');
    forms.plain.push(address);
    forms.encoded.push(base64, base64.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return forms;
}

// Links that unsubscribe or manage a subscription name the subscriber in their path too.
const SUBSCRIPTION_LINK = /unsub|opt-?out|remove|preference|profile|manage|subscri/i;

/** The link's path or fragment (not its query) holds one of the recipient's forms. */
function carriesRecipient(href: string, forms: RecipientForms): boolean {
  const authority = /^(?:https?:)?\/\/[^/?#\s]*/i.exec(href)?.[0].length ?? 0;
  let rest = href.slice(authority, authority + 2048);
  const query = rest.indexOf('?');
  const fragment = rest.indexOf('#');
  if (query >= 0 && (fragment < 0 || query < fragment))
    rest = rest.slice(0, query) + (fragment >= 0 ? rest.slice(fragment) : '');
  if (SUBSCRIPTION_LINK.test(rest)) return false;
  let plain = rest.toLowerCase();
  try {
    plain = decodeURIComponent(plain);
  } catch {
    /* keep as is */
  }
  return forms.plain.some((a) => holdsAddress(plain, a)) || forms.encoded.some((b) => rest.includes(b));
}

/** `text` holds `address` whole: not inside a longer one ("a@b.example" in "xa@b.examplex/"). */
function holdsAddress(text: string, address: string): boolean {
  for (let at = text.indexOf(address); at >= 0; at = text.indexOf(address, at + 1))
    if (!/[\w.+-]/.test(text[at - 1] ?? ' ') && !/[\w.-]/.test(text[at + address.length] ?? ' ')) return true;
  return false;
}

/** The links of the HTML anchors (with their text) and the bare URLs of the text. */
export function linkFeatures(message: Message, hits: Hits): Links {
  const { index, text, parts, domainOf, throughList } = message;
  const hosts: string[] = [];
  let frontPage = false;
  let hosting = false;
  const carried = recipientForms(index);
  const link = (href: string, depth = 0): ReturnType<typeof parseLink> => {
    const l = parseLink(href);
    if (!l) return null;
    // Where a redirector sends the reader is a link too: its host is judged as any other's.
    const target = depth < 2 ? redirectTarget(href) : null;
    if (target) link(target, depth + 1);
    hosts.push(l.host);
    if (!hosting && kitHosted(l.host, domainOf(l.host), href)) hosting = true;
    if (isIpHost(l.host)) hits.add('URI_IP_HOST');
    if (SHORTENERS.has(l.host) || SHORTENERS.has(domainOf(l.host))) hits.add('URI_SHORTENER');
    if (l.userinfo) hits.add('URI_USERINFO');
    if (
      carried.plain.length > 0 &&
      !hits.has('URI_CARRIES_RECIPIENT') &&
      carriesRecipient(href, carried) &&
      !throughList()
    )
      hits.add('URI_CARRIES_RECIPIENT');
    return l;
  };
  for (const h of parts.html) {
    for (const m of h
      .slice(0, MAX_HTML)
      .matchAll(/<a\b[^<>]*?\bhref\s*=\s*["']?([^"'\s>]+)[^<>]*>([\s\S]{0,500}?)<\/a\s*>/gi)) {
      // A page carried in the link itself (data:text/html;base64,…): nothing there for a URL filter to look up.
      if (/^data:/i.test(m[1]!)) hits.add('URI_DATA');
      if (FRONT_PAGE.test(m[1]!)) frontPage = true;
      const l = link(m[1]!);
      // The text shows a domain (www.bank.com, https://bank.com/...) that is not where the link goes. A match holds
      // no space, and stripping tags only puts spaces between pieces of the text: one lies in the text as written,
      // so text without "://" or "www." (most anchors) is not stripped.
      const shown = SHOWS_DOMAIN.test(m[2]!) ? SHOWN_DOMAIN.exec(stripTags(m[2]!))?.[1] : undefined;
      if (l && shown && !isIpHost(l.host) && registeredDomain(shown) !== domainOf(l.host))
        hits.add('URI_TEXT_MISMATCH');
      if (l && shown && isIpHost(l.host)) hits.add('URI_TEXT_MISMATCH');
    }
  }
  for (const m of text.matchAll(URL_IN_TEXT)) link(m[0]);
  if (hosts.length >= 8 && new Set(hosts.map(domainOf)).size === 1) hits.add('URI_MANY_ONE_DOMAIN');
  return { hosts, frontPage, hosting };
}
