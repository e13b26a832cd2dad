// HTML to plain text for the search index only: words and line breaks matter, layout does not.
// A single linear scan (no backtracking regexes) so hostile HTML costs no more than its length;
// mailparser's html-to-text renders far better but is asynchronous to reach and much slower.

const BLOCK = new Set([
  'address',
  'article',
  'aside',
  'blockquote',
  'br',
  'center',
  'dd',
  'div',
  'dl',
  'dt',
  'fieldset',
  'figcaption',
  'figure',
  'footer',
  'form',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'header',
  'hr',
  'li',
  'main',
  'nav',
  'ol',
  'p',
  'pre',
  'section',
  'table',
  'tbody',
  'td',
  'tfoot',
  'th',
  'thead',
  'tr',
  'ul',
]);
const SKIP = new Set(['script', 'style', 'head', 'title', 'template', 'noscript']);
// A tag's name, read in place at its '<' (sticky) rather than from a copy of the 40 characters after each '<'
// (issue 18: a slice and a match for every tag of a page of hundreds of links). A name cut at 40 characters
// and one read whole differ only past the length of every name in BLOCK and SKIP, the only names looked up.
const TAG_NAME = /<\/?([a-zA-Z][a-zA-Z0-9]*)/y;

const NAMED: Record<string, string> = {
  nbsp: ' ',
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  copy: '©',
  reg: '®',
  trade: '™',
  hellip: '…',
  mdash: '—',
  ndash: '–',
  lsquo: '‘',
  rsquo: '’',
  ldquo: '“',
  rdquo: '”',
  laquo: '«',
  raquo: '»',
  bull: '•',
  middot: '·',
  euro: '€',
  pound: '£',
  yen: '¥',
  cent: '¢',
  sect: '§',
  deg: '°',
  times: '×',
  divide: '÷',
  shy: '',
  zwnj: '',
  zwj: '',
  ensp: ' ',
  emsp: ' ',
  thinsp: ' ',
  iexcl: '¡',
  iquest: '¿',
  szlig: 'ß',
  auml: 'ä',
  ouml: 'ö',
  uuml: 'ü',
  Auml: 'Ä',
  Ouml: 'Ö',
  Uuml: 'Ü',
  aacute: 'á',
  eacute: 'é',
  iacute: 'í',
  oacute: 'ó',
  uacute: 'ú',
  agrave: 'à',
  egrave: 'è',
  igrave: 'ì',
  ograve: 'ò',
  ugrave: 'ù',
  acirc: 'â',
  ecirc: 'ê',
  icirc: 'î',
  ocirc: 'ô',
  ucirc: 'û',
  ccedil: 'ç',
  ntilde: 'ñ',
  Eacute: 'É',
  Agrave: 'À',
  Ccedil: 'Ç',
  Ntilde: 'Ñ',
  aring: 'å',
  Aring: 'Å',
  aelig: 'æ',
  oslash: 'ø',
  Oslash: 'Ø',
  euml: 'ë',
  iuml: 'ï',
  yuml: 'ÿ',
  atilde: 'ã',
  otilde: 'õ',
};

function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&(#[xX][0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-zA-Z][a-zA-Z0-9]{1,31});?/g, (m, e: string) => {
    if (e[0] === '#') {
      const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff) ? String.fromCodePoint(code) : '';
    }
    return NAMED[e] ?? NAMED[e.toLowerCase()] ?? m;
  });
}

/** Text of an HTML document; stops once about `limit` characters have been produced. */
export function htmlToText(html: string, limit = Infinity): string {
  const lower = html.toLowerCase();
  const n = html.length;
  const out: string[] = [];
  let length = 0;
  const unclosed = new Set<string>();
  const text = (s: string): void => {
    if (!s) return;
    const t = decodeEntities(s.replace(/\s+/g, ' '));
    out.push(t);
    length += t.length;
  };
  let i = 0;
  while (i < n && length < limit) {
    const lt = html.indexOf('<', i);
    if (lt === -1) {
      text(html.slice(i));
      break;
    }
    text(html.slice(i, lt));
    if (html.startsWith('<!--', lt)) {
      const end = html.indexOf('-->', lt + 4);
      i = end === -1 ? n : end + 3;
      continue;
    }
    TAG_NAME.lastIndex = lt;
    const m = TAG_NAME.exec(html);
    if (!m && html[lt + 1] !== '!' && html[lt + 1] !== '?') {
      text('<'); // a lone "<" in text
      i = lt + 1;
      continue;
    }
    const gt = html.indexOf('>', lt + 1);
    if (gt === -1) {
      text(html.slice(lt)); // an unterminated tag: keep the words
      break;
    }
    i = gt + 1;
    if (!m) continue; // <!DOCTYPE>, <?xml?>
    const name = m[1]!.toLowerCase();
    const closing = html[lt + 1] === '/';
    if (!closing && SKIP.has(name) && html[gt - 1] !== '/') {
      // Remembering a missing end tag keeps a run of unclosed <title>s from costing n^2.
      const end = unclosed.has(name) ? -1 : lower.indexOf(`</${name}`, i);
      if (end !== -1) {
        const close = html.indexOf('>', end);
        i = close === -1 ? n : close + 1;
      } else {
        unclosed.add(name);
        // An unclosed <head> is common in broken mail; skipping it would lose the whole body.
        if (name !== 'head' && name !== 'title') i = n;
      }
      continue;
    }
    if (BLOCK.has(name)) {
      out.push(name === 'td' || name === 'th' ? ' ' : '\n');
      length++;
    }
  }
  return tidy(out.join(''));
}

/** Trims every line and collapses runs of blank lines, so the index does not fill with layout. */
export function tidy(s: string): string {
  // Blanks collapsed in one pass over the whole text, not once per line (issue 17): the runs never
  // span a line break, so it is the same. A lone space is left as it is rather than replaced by itself
  // (issue 18: one replacement per word was most of indexing 64 KB of plain text).
  const lines = s.replace(/ [ \t\u00a0]+|[\t\u00a0][ \t\u00a0]*/g, ' ').split('\n');
  const kept: string[] = [];
  let blank = 0;
  for (const raw of lines) {
    const line = raw.trim();
    if (line === '') {
      if (++blank > 1 || kept.length === 0) continue;
    } else blank = 0;
    kept.push(line);
  }
  while (kept.length && kept[kept.length - 1] === '') kept.pop();
  return kept.join('\n');
}
