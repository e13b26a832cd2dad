// Reading HTML as a reader sees it: without scripts, styles, comments and tags; its form fields.

// Where a script, a style or a comment starts, and where each ends.
const BLOCK_START = /<!--|<(script|style)\b/gi;
export const BLOCK_END: Record<string, RegExp> = { script: /<\/script\s*>/gi, style: /<\/style\s*>/gi, '': /-->/g };

/**
 * The HTML without its scripts, styles and comments. One left open runs to the end, as a browser reads it: a
 * regex per block searched to the end from each unclosed one, and took seconds on a page of thousands.
 */
function dropBlocks(html: string): string {
  let out = '';
  let at = 0;
  BLOCK_START.lastIndex = 0;
  for (let m = BLOCK_START.exec(html); m; m = BLOCK_START.exec(html)) {
    out += `${html.slice(at, m.index)} `;
    const end = BLOCK_END[(m[1] ?? '').toLowerCase()]!;
    end.lastIndex = BLOCK_START.lastIndex;
    at = end.exec(html) ? end.lastIndex : html.length;
    BLOCK_START.lastIndex = at;
  }
  return out + html.slice(at);
}

// Tags stop at the next "<" as well as ">": an unclosed one is not searched to the end of the page from each.
const withoutTags = (blockFree: string) => blockFree.replace(/<[^<>]*>/g, ' ').replace(/&nbsp;|&#160;/gi, ' ');
export const stripTags = (html: string) => withoutTags(dropBlocks(html));

/** The text a reader sees of some HTML: no tags, scripts, styles, comments or character references. */
export const visibleText = (html: string) => stripTags(html).replace(/&[a-z#0-9]+;/gi, ' ');
const shownLength = (blockFree: string) =>
  withoutTags(blockFree)
    .replace(/&[a-z#0-9]+;/gi, ' ')
    .replace(/\s+/g, ' ')
    .trim().length;

/** The first cut visibleAtLeast reads (characters of the HTML without its blocks); each next one is four times longer. */
const FIRST_CUT = 4096;

/**
 * Whether the text a reader sees of `html`, blank runs as one space and trimmed, is at least `n` characters long, reading the HTML from its start only as far as needed: the features ask whether a page
 * shows a few hundred characters, and a newsletter of 100 KB shows them in its first lines (issue 18: the whole page
 * stripped and measured was 7% of the slowest mail's features). Exact: cut before a "<", the HTML shows a prefix
 * of what the whole shows (no tag, reference or blank run is cut across a "<" but a blank run, collapsed the same
 * either way), so its visible length is never more than the whole's.
 */
export function visibleAtLeast(html: string, n: number): boolean {
  const blockFree = dropBlocks(html);
  for (let cut = FIRST_CUT; ; cut *= 4) {
    const at = cut < blockFree.length ? blockFree.indexOf('<', cut) : -1;
    if (at < 0) return shownLength(blockFree) >= n;
    if (shownLength(blockFree.slice(0, at)) >= n) return true;
  }
}

// A form of personal details in HTML (FILL_FORM, as the text's FORM_LINE in offers.ts): text fields named for
// personal details (a search box or a subscription's one e-mail field is not three; SpamAssassin public corpus 6.6%
// of spam, no ham; trec07p none).
export const INPUT_TAG = /<input\b[^<>]*>/gi;
const INPUT_TYPE = /\btype\s*=\s*["']?([a-z-]*)/i;
const INPUT_NAME = /\bname\s*=\s*["']?([^"'\s>]*)/i;
const PERSONAL_NAME = /name|mail|phone|tel|addr|city|state|zip|country|age|income|fax/i;
// What the older phishing's forms asked for beside a password: the card, its code and expiry, the PIN, the
// social security number, the mother's maiden name.
const CARD_NAME = /card|cc_?num|cvv|cvc|^pin$|ssn|expir|exp_?(?:month|year|date)|routing|maiden/i;
export const cardField = (html: string) => {
  for (const input of html.matchAll(INPUT_TAG)) if (CARD_NAME.test(INPUT_NAME.exec(input[0])?.[1] ?? '')) return true;
  return false;
};
export const personalInput = (tag: string) =>
  /^(?:text|email|tel|)$/i.test(INPUT_TYPE.exec(tag)?.[1] ?? '') && PERSONAL_NAME.test(INPUT_NAME.exec(tag)?.[1] ?? '');
