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
export const stripTags = (html: string) =>
  dropBlocks(html)
    .replace(/<[^<>]*>/g, ' ')
    .replace(/&nbsp;|&#160;/gi, ' ');

/** The text a reader sees of some HTML: no tags, scripts, styles, comments or character references. */
export const visibleText = (html: string) => stripTags(html).replace(/&[a-z#0-9]+;/gi, ' ');
export const visibleLength = (html: string) => visibleText(html).replace(/\s+/g, ' ').trim().length;

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
