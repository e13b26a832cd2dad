// HTML structure: text hidden from the reader, pictures in place of text, shouting fonts, a form of personal
// details.
import type { Hits, Message } from './context.ts';
import { BLOCK_END, INPUT_TAG, personalInput, visibleAtLeast, visibleText } from './html.ts';
import { matchesUpTo } from './matches.ts';

// A font the size of a poster's headline: <font size=6> or +3 and up (browsers read 60 as 7), 32 pixels (24 points)
// and up. Mail programs top out at size 5 (SpamAssassin public corpus 12.7% of spam, no ham; trec07p 6.6% of spam,
// 2 of 667 ham).
const HEADLINE_FONT =
  /<font\b[^<>]*\bsize\s*=\s*["']?\s*(?:[6-9]|[1-9]\d|\+[3-9])|font-size\s*:\s*(?:(?:3[2-9]|[4-9]\d|\d{3,})(?:\.\d+)?\s*px|(?:2[4-9]|[3-9]\d|\d{3,})(?:\.\d+)?\s*pt)/i;

const IMG_TAG = /<img\b/gi;

// Image spam: the offer is a picture carried in the message (src="cid:", RFC 2392) and shown first; under it, a
// page of text copied from books or news that no filter scores as spam. Ham with an inline picture first is a
// newsletter under its logo with more pictures, a photo with a line of text, or a bounce under its 1.5 KB icon
// (Gmail's). trec07p: 91 of 667 spam (the one picture, 3.1–40 KB, is first, 300+ characters below it), no ham;
// SpamAssassin public corpus: none of either.
const PICTURE_BYTES = 4096; // as sent: base64 of 3 KB
// A picture carried in the message that big is a photo (a phone's, sent with a line of text), not an ad: the
// largest of the corpus' image spam is 228 KB as sent, a phone's photo is 1–5 MB (300 KB and up resized).
const PHOTO_BYTES = 256 * 1024;
const LEAD_IMAGE = /<img\b[^<>]*?\bsrc\s*=\s*["']?\s*cid:/i;
const BEFORE_LEAD_IMAGE = 40;
const BELOW_LEAD_IMAGE = 300;

function imageLeadsText(html: string): boolean {
  const lead = LEAD_IMAGE.exec(html);
  if (!lead || html.search(IMG_TAG) !== lead.index) return false;
  return (
    !visibleAtLeast(html.slice(0, lead.index), BEFORE_LEAD_IMAGE) &&
    visibleAtLeast(html.slice(lead.index + lead[0].length), BELOW_LEAD_IMAGE)
  );
}

// A font made large or coloured: four of them are shouting throughout.
const EMPHASIS_FONT = /<font\b[^<>]*\b(size\s*=\s*["']?\+?[4-7]|color\s*=)/gi;

// Words a reader is not shown: in elements styled out of sight (display:none, visibility:hidden, a 0–1 px font), in
// elements a stylesheet hides by their tag (trec07p's filler in `textarea { display:none }`), or in the smallest
// <font> sizes (SA public 27.5% of spam, 3.6% of ham; trec07p 19.5%, 4.0%). Out of sight counts from
// HIDDEN_LETTERS on: a hidden element with no words hides nothing (Word's paragraph mark `<span
// style='display:none;mso-hide:all'>&nbsp;</span>`, Microsoft's empty span), and modern mail hides one line on
// purpose, the preview an inbox shows beside the subject ("Please read these important updates", then &zwnj;
// padding). The corpus' hidden filler is 287–594 characters (19 trec07p spam), no ham hides any.
const HIDDEN_LETTERS = 150;
// Read at most this many hidden elements: a crafted page holds thousands of empty ones (the corpus' filler, 20).
const HIDDEN_ELEMENTS = 200;
const HIDING = /display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*[01](?:\.\d+)?(?:px|pt)\b/i;
const STYLED_TAG = /<[a-z][a-z0-9]*\b[^<>]*?\bstyle\s*=\s*(?:"([^"<>]*)"|'([^'<>]*)')[^<>]*>/gi;
const TINY_FONT = /<font[^<>]*\bsize\s*=\s*["']?(?:0|1|-[1-9])\b/i;
// A selector that names a tag, alone or with one class: "textarea", "span.tabooheader".
const TAG_SELECTOR = /^([a-z][a-z0-9]*)(?:\.([\w-]+))?$/i;
const STYLE_START = /<style\b[^<>]*>/gi;

/** The letters of the element whose opening tag ends at `from`, up to its first closing tag (1,000 characters). */
const lettersIn = (h: string, from: number) => {
  const inside = h.slice(from, from + 1000);
  const end = inside.indexOf('</');
  return visibleText(end < 0 ? inside : inside.slice(0, end)).replace(/[^a-z]+/gi, '').length;
};

/** The tags (and class, if named) a page's stylesheets hide. */
function hiddenByStylesheet(h: string): { tag: string; cls?: string }[] {
  const hidden: { tag: string; cls?: string }[] = [];
  const close = BLOCK_END.style!;
  STYLE_START.lastIndex = 0;
  for (let m = STYLE_START.exec(h); m && hidden.length < 8; m = STYLE_START.exec(h)) {
    close.lastIndex = STYLE_START.lastIndex;
    const end = close.exec(h);
    // Split at braces, not with one regex over the sheet: a rule is "selectors { declarations }".
    for (const rule of h.slice(STYLE_START.lastIndex, end?.index).split('}')) {
      const pieces = rule.split('{');
      if (pieces.length < 2 || !HIDING.test(pieces.at(-1)!)) continue;
      for (const selector of pieces.at(-2)!.split(',')) {
        const t = TAG_SELECTOR.exec(selector.trim());
        if (t) hidden.push({ tag: t[1]!.toLowerCase(), cls: t[2]?.toLowerCase() });
      }
    }
    if (!end) break;
    STYLE_START.lastIndex = close.lastIndex;
  }
  return hidden.slice(0, 8);
}

function hidesText(h: string): boolean {
  if (TINY_FONT.test(h)) return true;
  let letters = 0;
  const hidden: number[] = []; // where each hidden element's content starts, up to HIDDEN_ELEMENTS
  for (const m of h.matchAll(STYLED_TAG))
    if (HIDING.test(m[1] ?? m[2] ?? '') && hidden.push(m.index + m[0].length) >= HIDDEN_ELEMENTS) break;
  for (const { tag, cls } of hiddenByStylesheet(h)) {
    if (hidden.length >= HIDDEN_ELEMENTS) break;
    const open = new RegExp(`<${tag}\\b[^<>]*>`, 'gi');
    for (const m of h.matchAll(open)) {
      if (cls && !new RegExp(`\\bclass\\s*=\\s*["']?[^"'<>]*\\b${cls}\\b`, 'i').test(m[0])) continue;
      if (hidden.push(m.index + m[0].length) >= HIDDEN_ELEMENTS) break;
    }
  }
  for (const from of hidden) if ((letters += lettersIn(h, from)) >= HIDDEN_LETTERS) return true;
  return false;
}

/** The HTML bodies' structure, weighed against the pictures the message carries. */
export function htmlFeatures({ parts }: Message, hits: Hits): void {
  // The pictures carried in the message (image parts), not the <img> tags of its HTML counted below.
  const pictures = parts.attachments.filter((a) => a.node.type === 'image');
  const onePicture = pictures.length === 1 && pictures[0]!.node.size >= PICTURE_BYTES;
  const photo = pictures.some((a) => a.node.size >= PHOTO_BYTES);
  for (const h of parts.html) {
    if (hidesText(h)) hits.add('HTML_HIDDEN_TEXT');
    const images = matchesUpTo(IMG_TAG, h, 2); // more weigh as two
    // The visible text is measured only when there is an image to weigh it against.
    if (images >= 1 && !photo && !visibleAtLeast(h, Math.min(200 * images, 400))) hits.add('HTML_IMAGE_ONLY');
    else if (onePicture && imageLeadsText(h)) hits.add('HTML_IMAGE_LEADS_TEXT');
    const fonts = matchesUpTo(EMPHASIS_FONT, h, 4);
    if ((fonts >= 4 && /<font\b[^<>]*\bsize\s*=\s*["']?\+?[4-7]/i.test(h)) || HEADLINE_FONT.test(h))
      hits.add('HTML_SHOUTING');
    let personal = 0;
    for (const input of h.matchAll(INPUT_TAG)) if (personalInput(input[0]) && ++personal === 3) break;
    if (personal >= 3) hits.add('FILL_FORM');
  }
}
