// What a script sees of a message: header fields, envelope, size and body parts, read lazily
// from the raw bytes with the mime/ parsers.
import libmime from 'libmime';
import { decodeCharset, decodeTransfer } from '../mime/decode.ts';
import { readHeader, type HeaderField } from '../mime/headers.ts';
import { htmlToText } from '../mime/html-text.ts';
import { parseMessage } from '../mime/parts.ts';
import { decodeUtf8Lenient } from '../mime/utf8.ts';
import type { MimeNode } from '../mime/types.ts';
import type { SpamStatus } from './spamtest.ts';
import type { BodyTransform } from './validate.ts';

/** Body text a test looks at is capped: matching stays bounded whatever the message size. */
export const MAX_BODY_CHARS = 1024 * 1024;

export interface SieveEnvelope {
  /** Envelope sender; "" for the null sender. */
  from: string;
  /** The RCPT addresses that led to this mailbox. */
  to: string[];
}

export class SieveMessage {
  readonly raw: Buffer;
  readonly envelope: SieveEnvelope;
  readonly fields: HeaderField[];
  readonly bodyStart: number;
  /** What spamtest reads: null when the message was not classified. */
  readonly spam: SpamStatus | null;
  private root: MimeNode | null = null;

  constructor(raw: Buffer, envelope: SieveEnvelope, spam: SpamStatus | null = null) {
    this.raw = raw;
    this.envelope = envelope;
    this.spam = spam;
    const { fields, bodyStart } = readHeader(raw, 0, raw.length);
    this.fields = fields;
    this.bodyStart = bodyStart;
  }

  get size(): number {
    return this.raw.length;
  }

  /** Raw (unfolded) values of a field, in order. */
  rawHeader(name: string): string[] {
    return this.fields.filter((f) => f.name === name).map((f) => f.value);
  }

  /** Values with RFC 2047 encoded-words decoded, as the header test compares them (RFC 5228 §2.7.2). */
  header(name: string): string[] {
    return this.rawHeader(name).map((v) => {
      try {
        return libmime.decodeWords(v);
      } catch {
        return v;
      }
    });
  }

  /** The texts a body test compares against, one per part (RFC 5173 §5). */
  body(transform: BodyTransform): string[] {
    if (transform.kind === 'raw')
      return [decodeUtf8Lenient(this.raw.subarray(this.bodyStart, this.bodyStart + MAX_BODY_CHARS))];
    this.root ??= parseMessage(this.raw).node;
    const out: string[] = [];
    let budget = MAX_BODY_CHARS;
    const wanted = (node: MimeNode): boolean => {
      if (transform.kind === 'text') return node.type === 'text';
      return transform.types.some((t) => t === '' || t === node.type || t === `${node.type}/${node.subtype}`);
    };
    const walk = (node: MimeNode) => {
      if (budget <= 0) return;
      if (node.children) return node.children.forEach(walk);
      if (node.message) return walk(node.message.node);
      if (!wanted(node)) return;
      const bytes = decodeTransfer(this.raw.subarray(node.bodyStart, node.end), node.encoding);
      let text = decodeCharset(bytes, node.params.charset);
      if (transform.kind === 'text' && node.subtype === 'html') text = htmlToText(text, budget);
      text = text.slice(0, budget);
      budget -= text.length;
      out.push(text);
    };
    walk(this.root);
    return out;
  }
}
