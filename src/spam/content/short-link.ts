// Short spam (issue 18): a line or two and a link to a site's front page, on a domain that is not the sender's.
import type { Hits, Links, Message } from './context.ts';
import { FRONT_PAGE, URL_IN_TEXT } from './urls.ts';

// Words of text above the signature that count as short for SHORT_LINK_ELSEWHERE: half the benches' "short" (60),
// set once, not tuned (bench/RESULTS.md, branch spamshort).
const SHORT_WORDS = 30;

/** Where the signature starts ("-- " on a line of its own, RFC 3676 §4.3), or the text's end. */
function signatureAt(text: string): number {
  const m = /(?:^|\n)-- ?\r?\n/.exec(text);
  return m ? m.index : text.length;
}

/** The words of `text` (runs of non-space holding a letter or digit), counted up to `max`. */
function wordsUpTo(text: string, max: number): number {
  let n = 0;
  for (const m of text.matchAll(/\S+/g)) if (/[\p{L}\p{N}]/u.test(m[0]) && ++n === max) break;
  return n;
}

/**
 * A few words and a link to another site's front page. Short ham with a link links a page (a feed item's story, a
 * photo, a PDF), replies, forwards a message (whose links are the forwarded sender's), comes through a list, or is
 * signed (a Thunderbird user's S/MIME test naming the certificate's issuer, mimekit's fixture: junked by a
 * held-out-style model with the rule; no spam of the corpus is signed).
 */
export function shortLinkFeatures(message: Message, { hosts, frontPage }: Links, hits: Hits): void {
  const { index, text, parts, own, domainOf, throughList } = message;
  if (
    hosts.length > 0 &&
    !index.envelope.inReplyTo &&
    hosts.every((h) => domainOf(h) !== own) &&
    !parts.carriesMessage &&
    !parts.signed
  ) {
    const lead = text.slice(0, signatureAt(text));
    if (wordsUpTo(lead, SHORT_WORDS) < SHORT_WORDS) {
      let linked = frontPage;
      for (const m of lead.matchAll(URL_IN_TEXT)) if (FRONT_PAGE.test(m[0])) linked = true;
      if (linked && !throughList()) hits.add('SHORT_LINK_ELSEWHERE');
    }
  }
}
