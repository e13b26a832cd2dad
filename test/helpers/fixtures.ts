// The in-repo third-party fixtures (test/fixtures, see its README.md and each folder's NOTICE.md).
import { fileURLToPath } from 'node:url';
import { loadMessages, type Sample } from './mime-check.ts';

/** MIME edge cases from parser test suites and MUAs, one folder per origin. */
export const MIME_FIXTURES = fileURLToPath(new URL('../fixtures/mime/', import.meta.url));
/** Real spam (spam/) and ham (ham/) from Apache SpamAssassin's test data. */
export const SPAM_FIXTURES = fileURLToPath(new URL('../fixtures/spamassassin/', import.meta.url));

/** Whole-file messages (no mbox) of a fixture folder, path order, with names relative to it. */
export function fixtureMessages(dir: string): Sample[] {
  return loadMessages(dir).samples.filter((s) => !s.name.includes('#'));
}
