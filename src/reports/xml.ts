// A small XML reader for the machine-written documents we receive (DMARC aggregate reports): elements
// and their text, entities and CDATA; attributes, comments, processing instructions and DOCTYPE are
// skipped. No entity expansion beyond the predefined and numeric ones, so no billion laughs.

export interface XmlElement {
  name: string;
  children: XmlElement[];
  text: string;
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

const decode = (s: string): string =>
  s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, e: string) => {
    if (e[0] === '#') {
      const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[e] ?? whole;
  });

/** Parses a document; throws on mismatched or unclosed tags. Local names only (prefixes dropped). */
export function parseXml(source: string): XmlElement {
  const root: XmlElement = { name: '#document', children: [], text: '' };
  const stack: XmlElement[] = [root];
  let i = 0;
  while (i < source.length) {
    const lt = source.indexOf('<', i);
    const top = stack[stack.length - 1]!;
    if (lt < 0) {
      top.text += decode(source.slice(i));
      break;
    }
    if (lt > i) top.text += decode(source.slice(i, lt));
    if (source.startsWith('<![CDATA[', lt)) {
      const end = source.indexOf(']]>', lt);
      if (end < 0) throw new Error('unclosed CDATA');
      top.text += source.slice(lt + 9, end);
      i = end + 3;
    } else if (source.startsWith('<!--', lt)) {
      const end = source.indexOf('-->', lt);
      if (end < 0) throw new Error('unclosed comment');
      i = end + 3;
    } else if (source[lt + 1] === '?' || source[lt + 1] === '!') {
      const end = source.indexOf('>', lt);
      if (end < 0) throw new Error('unclosed declaration');
      i = end + 1;
    } else {
      const end = source.indexOf('>', lt);
      if (end < 0) throw new Error('unclosed tag');
      const tag = source.slice(lt + 1, end);
      i = end + 1;
      if (tag[0] === '/') {
        const name = localName(tag.slice(1).trim());
        const open = stack.pop();
        if (!open || open === root || open.name !== name) throw new Error(`unexpected </${name}>`);
      } else {
        const selfClosing = tag.endsWith('/');
        const element: XmlElement = { name: localName(/^[^\s/]+/.exec(tag)?.[0] ?? ''), children: [], text: '' };
        top.children.push(element);
        if (!selfClosing) stack.push(element);
      }
    }
  }
  if (stack.length !== 1) throw new Error(`unclosed <${stack[stack.length - 1]!.name}>`);
  const element = root.children[0];
  if (!element || root.children.length > 1) throw new Error('not one document element');
  return element;
}

const localName = (name: string): string => name.slice(name.indexOf(':') + 1);

/** The first child element named `name`. */
export const child = (e: XmlElement | undefined, name: string): XmlElement | undefined =>
  e?.children.find((c) => c.name === name);

export const children = (e: XmlElement | undefined, name: string): XmlElement[] =>
  e?.children.filter((c) => c.name === name) ?? [];

/** Trimmed text of the element at a path of child names ('' when absent). */
export const textAt = (e: XmlElement | undefined, ...path: string[]): string => {
  let node = e;
  for (const name of path) node = child(node, name);
  return node?.text.trim() ?? '';
};
