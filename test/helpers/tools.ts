// Outside tools the tests drive: the Debian packages `npm run test:setup` installs, and where it builds
// imaptest. One list, read by the set-up step and by the README's dependency table.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;

export interface DebianPackage {
  name: string;
  why: string;
}

export const DEBIAN_PACKAGES: DebianPackage[] = [
  { name: 'python3', why: "Python's smtplib, imaplib and poplib as real clients" },
  { name: 'swaks', why: 'the SMTP swiss-army knife, as a real submission client' },
  { name: 'libnet-ssleay-perl', why: "swaks's STARTTLS and implicit TLS (only a Recommends of swaks)" },
  { name: 'isync', why: 'mbsync, a real IMAP sync client' },
  { name: 'fetchmail', why: 'a real POP3/IMAP retrieval client' },
  { name: 'ca-certificates', why: "fetchmail's TLS set-up expects the system trust store" },
  { name: 'pebble', why: "Let's Encrypt's ACME test server and its challenge DNS (pebble-challtestsrv)" },
  { name: 'dovecot-dev', why: 'headers imaptest is built against' },
  { name: 'dovecot-core', why: 'libdovecot, which imaptest links (its service is never started)' },
  { name: 'autoconf', why: 'builds imaptest' },
  { name: 'automake', why: 'builds imaptest' },
  { name: 'libtool', why: 'builds imaptest' },
  { name: 'pkg-config', why: 'builds imaptest' },
  { name: 'make', why: 'builds imaptest' },
  { name: 'gcc', why: 'builds imaptest' },
  { name: 'patch', why: "applies the Debian-headers patch to imaptest's source" },
  { name: 'chromium', why: 'a real browser for the web console tests (driven by playwright-core)' },
  { name: 'rspamd', why: 'a real rspamd for the optional scanner (its service is never started)' },
  {
    name: 'postgresql',
    why: "the PostgreSQL storage engine's tests (a private cluster per test file; the service is never started)",
  },
];

const imaptestDir = process.env.IMAPTEST_DIR ?? join(root, '.cache/tools/imaptest');

/** Dovecot's imaptest, vendored in vendor/imaptest (MIT) and built by the set-up step. */
export const IMAPTEST = {
  tarball: 'imaptest-release-2.3-0de0dbf.tar.gz',
  patch: 'debian12-dovecot-2.3.19.patch',
  dir: imaptestDir,
  bin: process.env.IMAPTEST_BIN ?? join(imaptestDir, 'imaptest/src/imaptest'),
  tests: process.env.IMAPTEST_TESTS ?? join(imaptestDir, 'imaptest/src/tests'),
  /** imaptest links Dovecot's shared library from here. */
  env: { LD_LIBRARY_PATH: '/usr/lib/dovecot' },
};

/** The imaptest binary, or an error that names the set-up step: a test never skips for a missing tool. */
export function imaptestBinary(): string {
  if (!existsSync(IMAPTEST.bin)) throw new Error(`imaptest is not built at ${IMAPTEST.bin}: run npm run test:setup`);
  return IMAPTEST.bin;
}
