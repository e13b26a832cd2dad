// What the rules, the content features and the tokenizer share: one parse of a message per Buffer,
// and the normal form of a word.
import { indexMessage } from '../mime/index.ts';
import { messageCache } from '../mime/message-caches.ts';
import type { MessageIndex } from '../mime/types.ts';

// One classification reads a message several times (the rules, the content features, the Bayes
// scorer and the verdict the API reports): it is parsed and tokenized once. Kept while the bytes are.
const indexes = messageCache<MessageIndex>();

/** The message's index, parsed once per Buffer. */
export function messageIndex(raw: Buffer): MessageIndex {
  let index = indexes.get(raw);
  if (!index) {
    index = indexMessage(raw);
    indexes.set(raw, index);
  }
  return index;
}

/** Recipients read at most: a To of 5,000 addresses against a long subject took the recipient rules 8 s (issue 18). */
export const MAX_RECIPIENTS = 20;
const headerRecipientsOf = new WeakMap<MessageIndex, string[]>();

/** The To and Cc fields' addresses, lower-cased, each once, the first MAX_RECIPIENTS: read once per index. */
export function headerRecipients(index: MessageIndex): string[] {
  let found = headerRecipientsOf.get(index);
  if (!found) {
    const addresses = [...(index.envelope.to ?? []), ...(index.envelope.cc ?? [])]
      .filter((a) => a.mailbox && a.host)
      .slice(0, MAX_RECIPIENTS)
      .map((a) => `${a.mailbox}@${a.host}`.toLowerCase());
    found = [...new Set(addresses)];
    headerRecipientsOf.set(index, found);
  }
  return found;
}

const LEET: Record<string, string> = { '0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '@': 'a', $: 's' };

/**
 * A word as a token, with what ties it to one source or one spam run blurred: numbers (dates, years,
 * prices, ids: "2002", "4.99") become their shape, and words with digits or symbols standing in for
 * letters ("0ffice", "v1agra", "c@sh") are read as the letters; the caller notes the obfuscation.
 */
export function wordToken(w: string): string {
  if (lowerLetters(w)) return w; // most words: nothing below applies (a fast path, issue 18)
  if (/^[\d.,:/$%-]+$/.test(w)) return `num:${w.replace(/\d+/g, '#')}`;
  // Letters with a digit or symbol standing in for some, not a product code (two digits in a row, a
  // trailing digit), a variable ($name, @list) or an address (a@b, only short words take "@").
  if (
    /\p{L}/u.test(w) &&
    /^\p{L}*[\p{L}01345@$]*$/u.test(w) &&
    /^[\p{L}0]/u.test(w) &&
    /[013457@$]/.test(w) &&
    !/\d\d|\d$/.test(w) &&
    !/\$./.test(w) &&
    !(w.includes('@') && w.length > 8)
  ) {
    const letters = w.replace(/[^\p{L}]/gu, '').length;
    if (letters >= w.length - 2 && letters >= 3) return w.replace(/[013457@$]/g, (c) => LEET[c]!);
  }
  return w;
}

/** Only a–z: no digit or symbol to read, and not a number. */
function lowerLetters(w: string): boolean {
  for (let i = 0; i < w.length; i++) {
    const c = w.charCodeAt(i);
    if (c < 97 || c > 122) return false;
  }
  return w.length > 0;
}
