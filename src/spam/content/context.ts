// What the areas of content features read of one message, found once (index.ts) and shared by them all.
import type { MessageIndex } from '../../mime/types.ts';
import type { FeatureName } from './features.ts';
import type { Parts } from './parts.ts';

/** The features found so far: each area adds to them, and a later area may read an earlier one's. */
export type Hits = Set<FeatureName>;

export interface Message {
  raw: Buffer;
  index: MessageIndex;
  /** The text the features scan (its first TEXT_SCAN characters). */
  text: string;
  subject: string;
  /** The subject, a line break and the text: where the phrases are looked for. */
  all: string;
  /** The places of the phrases' guard words and CREDENTIALS' start words in `all`, by word (index.ts wordPlaces). */
  guards: Map<string, number[]>;
  /**
   * The places of offers.ts' start words in `all`'s first OFFER_SCAN characters (as a copy cut there reads them), by
   * the name of their list (OFFER_START_WORDS).
   */
  offerStarts: Record<string, number[]>;
  parts: Parts;
  /** The From address's domain, lower-cased ('' without one). */
  fromDomain: string;
  /** Its registered domain ('' without one). */
  own: string;
  /** A host's registered domain, each host's found once. */
  domainOf: (host: string) => string;
  /** Whether the message came through a mailing list (cameViaList), read once. */
  throughList: () => boolean;
}

/** What the links area (links.ts) finds that later areas read. */
export interface Links {
  /** The host of every link: anchors, URLs in the text, and where redirectors send them. */
  hosts: string[];
  /** An anchor to a site's front page (SHORT_LINK_ELSEWHERE, which adds the text's links above a signature). */
  frontPage: boolean;
  /** A link to hosting phishing kits use. */
  hosting: boolean;
}
