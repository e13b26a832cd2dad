// Phishing: account or password words, and somewhere to click; worse when the link leaves the sender's domain,
// dresses as a brand or goes to hosting kits use.
import type { Hits, Links, Message } from './context.ts';
import { abusedTld, lookalikeHost } from './domains.ts';
import { cardField } from './html.ts';
import { countPhrases, SHARED_PHRASE, URGENT_PHRASES } from './phrases.ts';

export const CREDENTIALS =
  /\b(verify|confirm|update|validate|reactivate|unlock|restore)\s+(your\s+)?(account|password|identity|billing|login|information|details|mailbox)|\b(account|mailbox)\s+(has\s+been|will\s+be|is)\s+(suspended|locked|limited|closed|deactivated|disabled)|\b(password\s+(expires?|expired)|unusual\s+(sign-?in|activity|login)|security\s+(alert|notice))\b/i;

// The words CREDENTIALS' alternatives start with, each a whole word there: found by index.ts' word walk, and
// CREDENTIALS tried only there (a regex pass over 32 KB saved): an alternative added to it needs its first word here.
export const CREDENTIAL_STARTS =
  'verify confirm update validate reactivate unlock restore account mailbox password unusual security'.split(' ');
const CREDENTIALS_AT = new RegExp(CREDENTIALS.source, 'iy');
/** Whether the subject or the text has CREDENTIALS; `guards` has its start words' places in `${subject}\n${text}`. */
function asksCredentials(subject: string, text: string, guards: Map<string, number[]>): boolean {
  for (const word of CREDENTIAL_STARTS)
    for (const at of guards.get(word) ?? []) {
      const inSubject = at < subject.length;
      CREDENTIALS_AT.lastIndex = inSubject ? at : at - subject.length - 1;
      if (CREDENTIALS_AT.test(inSubject ? subject : text)) return true;
    }
  return false;
}

// Whose mail says "shared a document with you" in earnest: anyone else saying it is dressing as them.
const SHARING = new Set([
  'google.com',
  'microsoft.com',
  'sharepoint.com',
  'sharepointonline.com',
  'onedrive.com',
  'dropbox.com',
  'dropboxmail.com',
  'box.com',
  'docusign.net',
  'docusign.com',
  'wetransfer.com',
  'icloud.com',
  'apple.com',
  'adobe.com',
  'adobesign.com',
]);

/** Account words and threats with somewhere to click, lookalike and abused domains, a password or card field. */
export function phishingFeatures(message: Message, { hosts, hosting }: Links, hits: Hits): void {
  const { index, text, subject, all, guards, parts, fromDomain, own, domainOf } = message;
  // Account or password words, and somewhere to click; worse when the link leaves the sender's domain.
  const credentials = hosts.length > 0 && asksCredentials(subject, text, guards);
  if (credentials) {
    hits.add('PHISH_CREDENTIALS');
    if (hosts.some((h) => domainOf(h) !== own)) hits.add('PHISH_LINK_ELSEWHERE');
  }
  if ((fromDomain && abusedTld(fromDomain)) || hosts.some(abusedTld)) hits.add('ABUSED_TLD');
  const recipient = index.envelope.to?.[0]?.host?.toLowerCase();
  if ([...new Set([...hosts, fromDomain])].some((h) => h && lookalikeHost(h, recipient))) hits.add('LOOKALIKE_DOMAIN');
  // A password or a payment card's field inside the mail itself.
  // (A form alone is a newsletter's search box: 4.8% of trec07p ham.)
  if (parts.html.some((h) => /<input\b[^<>]*\btype\s*=\s*["']?password/i.test(h) || cardField(h)))
    hits.add('HTML_FORM');

  // Account threats, with somewhere to go (a link, a data: page, an attached page: ATTACH_HTML).
  const clickable = hosts.length > 0 || hits.has('URI_DATA') || hits.has('ATTACH_HTML');
  const urgent = clickable
    ? countPhrases(all, guards, URGENT_PHRASES, 3, (p) => p !== SHARED_PHRASE || !SHARING.has(own))
    : 0;
  if (urgent >= 3) hits.add('PHISH_PHRASES_MANY');
  else if (urgent >= 2) hits.add('PHISH_PHRASES');
  // Free hosting is every project's home page; a login on it, asked for with account words, is a kit's.
  if (hosting) {
    hits.add('URI_HOSTING');
    if (urgent > 0 || credentials) hits.add('PHISH_HOSTING');
  }
}
