// Content features that do not depend on where a message was collected: what its links, HTML and
// words look like, in the manner of SpamAssassin's and rspamd's rules (URI_*, HTML_*, obfuscation,
// phishing). Bayes learns the words of the sources it was trained on; these carry to mail it never saw.
// Each area of them is a module of this folder, run in turn over one shared reading of the message.
import { messageCache } from '../../mime/message-caches.ts';
import type { MessageIndex } from '../../mime/types.ts';
import { messageIndex } from '../normalize.ts';
import { attachmentFeatures } from './attachments.ts';
import type { Message } from './context.ts';
import { registeredDomain } from './domains.ts';
import type { FeatureName } from './features.ts';
import { htmlFeatures } from './html-structure.ts';
import { linkFeatures } from './links.ts';
import { cameViaList } from './lists.ts';
import { obfuscationFeatures } from './obfuscation.ts';
import { OFFER_SCAN, OFFER_START_WORDS, offerFeatures } from './offers.ts';
import { mimeParts, type Parts } from './parts.ts';
import { CREDENTIAL_STARTS, phishingFeatures } from './phishing.ts';
import { GUARD_WORDS } from './phrases.ts';
import { senderFeatures } from './sender.ts';
import { shortLinkFeatures } from './short-link.ts';
import { runStart, WordTable } from './word-scan.ts';

/**
 * The text the features scan. Phrases spread over a long text say little: past 32 KB they only added
 * SPAM_PHRASES to 15 long Enron newsletters (ham) and no feature to any spam of the corpus. Features on
 * the longest texts, least of 50: 69 KB (Enron ham 3862) 1.57 → 1.12 ms, trec07p inmail.22900 2.0 → 1.3 ms.
 */
const TEXT_SCAN = 32 * 1024;

// The rules and the tokenizer (rule:NAME tokens) both ask for a message's features, DNS lists for its links: found once.
const found = messageCache<{ features: FeatureName[]; hosts: string[] }>();

function read(raw: Buffer, index?: MessageIndex) {
  let f = found.get(raw);
  if (!f) {
    f = findFeatures(raw, index ?? messageIndex(raw));
    found.set(raw, f);
  }
  return f;
}

/** The features a message shows, each once. */
export function contentFeatures(raw: Buffer, index?: MessageIndex): FeatureName[] {
  return [...read(raw, index).features];
}

/** The host of every link of the message, as the link rules read them (links.ts `Links.hosts`). */
export function linkHosts(raw: Buffer, index?: MessageIndex): readonly string[] {
  return read(raw, index).hosts;
}

function findFeatures(raw: Buffer, index: MessageIndex): { features: FeatureName[]; hosts: string[] } {
  const hits = new Set<FeatureName>();
  const message = readMessage(raw, index);
  // In this order: the features come out in the order found, and phishing reads the links' URI_DATA and the
  // attachments' ATTACH_HTML.
  const links = linkFeatures(message, hits);
  htmlFeatures(message, hits);
  obfuscationFeatures(message, hits);
  senderFeatures(message, hits);
  if (message.parts.qpLongLine) hits.add('QP_LONG_LINE');
  attachmentFeatures(message, hits);
  phishingFeatures(message, links, hits);
  offerFeatures(message, hits);
  shortLinkFeatures(message, links, hits);
  return { features: [...hits], hosts: links.hosts };
}

/** What the areas read of the message, found once. */
function readMessage(raw: Buffer, index: MessageIndex): Message {
  const text = index.search.text.slice(0, TEXT_SCAN);
  const subject = index.search.subject;
  const all = `${subject}\n${text}`;
  const parts: Parts = { html: [], qpLongLine: false, attachments: [], carriesMessage: false, signed: false };
  mimeParts(raw, index.root, parts);
  const fromDomain = (index.envelope.from?.[0]?.host ?? '').toLowerCase();
  // A newsletter's hundreds of links go to a few hosts: each host's registered domain found once (issue 18).
  const domains = new Map<string, string>();
  const domainOf = (host: string) => {
    let d = domains.get(host);
    if (d === undefined) domains.set(host, (d = registeredDomain(host)));
    return d;
  };
  let listed: boolean | undefined; // cameViaList, read once: a thousand links may carry the address
  return {
    raw,
    index,
    text,
    subject,
    all,
    ...wordPlaces(all),
    parts,
    fromDomain,
    own: fromDomain ? registeredDomain(fromDomain) : '',
    domainOf,
    throughList: () => (listed ??= cameViaList(raw, index)),
  };
}

// The phrases' guard words, the start words of CREDENTIALS and those of offers.ts' patterns, found in one walk
// over the text (word-scan.ts): each of the regex passes it replaces cost about as much as the walk.
const OFFER_LISTS = Object.entries(OFFER_START_WORDS);
const WORDS = new WordTable([GUARD_WORDS, CREDENTIAL_STARTS, ...OFFER_LISTS.map(([, words]) => words)]);
/** The lists (bits) whose places are kept by word, over the whole text: the guards and CREDENTIALS' starts. */
const BY_WORD = 0b11;

/**
 * Where `all` has each guard word and each of CREDENTIALS' start words, and each offer list's start words in its
 * first OFFER_SCAN characters.
 */
export function wordPlaces(all: string): Pick<Message, 'guards' | 'offerStarts'> {
  const guards = new Map<string, number[]>();
  const starts = OFFER_LISTS.map((): number[] => []);
  const found = (lists: number, start: number) => {
    for (let n = 0; n < starts.length; n++) if (lists & (4 << n)) starts[n]!.push(start);
  };
  WORDS.scan(all, (lists, start, end, word) => {
    if (lists & BY_WORD) {
      const at = guards.get(word!);
      if (at) at.push(start);
      else guards.set(word!, [start]);
    }
    if (end <= OFFER_SCAN) found(lists, start);
  });
  // The offers read a copy cut at OFFER_SCAN: a word the cut splits is read as the part before it.
  const cut = runStart(all, OFFER_SCAN);
  if (cut < OFFER_SCAN) WORDS.scan(all.slice(cut, OFFER_SCAN), (lists) => found(lists, cut));
  return { guards, offerStarts: Object.fromEntries(OFFER_LISTS.map(([name], n) => [name, starts[n]!])) };
}
