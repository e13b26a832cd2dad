// The one set-up step of the test suite (`npm run test:setup`, run by `npm test` before any test and by
// .ci/run): checks every outside tool the tests drive, installs the missing Debian packages when it can
// (root with apt-get), and builds the vendored imaptest once into .cache/tools. When it cannot install,
// it stops before the first test with one message naming the packages and the command: no test is ever
// skipped for a missing tool.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEBIAN_PACKAGES, IMAPTEST } from './helpers/tools.ts';

const root = new URL('..', import.meta.url).pathname;

function missingPackages(): string[] {
  const names = DEBIAN_PACKAGES.map((p) => p.name);
  const result = spawnSync(
    'dpkg-query',
    [
      '-W', // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
      '-f=${Package} ${db:Status-Status}\n',
      ...names,
    ],
    { encoding: 'utf8' },
  );
  if (result.error) return names; // no dpkg: nothing can be confirmed
  const installed = new Set(
    result.stdout
      .split('\n')
      .filter((line) => line.endsWith(' installed'))
      .map((line) => line.split(' ')[0]),
  );
  return names.filter((name) => !installed.has(name));
}

function canInstall(): boolean {
  return process.getuid?.() === 0 && spawnSync('apt-get', ['--version']).status === 0;
}

function install(packages: string[]): void {
  process.stdout.write(`test:setup: installing ${packages.join(' ')}\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // Packages such as dovecot-core come with a service; a policy-rc.d that answers 101 keeps apt from
  // starting it, so nothing but the tests' own servers listens.
  const policy = '/usr/sbin/policy-rc.d';
  const hadPolicy = existsSync(policy);
  if (!hadPolicy) writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    const apt = (...args: string[]) =>
      execFileSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', ...args], {
        env,
        stdio: ['ignore', 'ignore', 'inherit'],
      });
    apt('update', '-qq');
    apt('install', '-y', '-qq', '--no-install-recommends', ...packages);
  } finally {
    if (!hadPolicy) rmSync(policy, { force: true });
  }
}

/** Builds imaptest from vendor/imaptest once; a stamp of the sources' hash makes later runs instant. */
function buildImaptest(): void {
  const vendor = join(root, 'vendor/imaptest');
  const sources = [IMAPTEST.tarball, IMAPTEST.patch].map((name) => readFileSync(join(vendor, name)));
  const stamp = createHash('sha256').update(Buffer.concat(sources)).digest('hex');
  const stampFile = join(IMAPTEST.dir, 'stamp');
  if (existsSync(IMAPTEST.bin) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return;
  process.stdout.write('test:setup: building imaptest (about a minute)\n');
  rmSync(IMAPTEST.dir, { recursive: true, force: true });
  mkdirSync(IMAPTEST.dir, { recursive: true });
  const log = join(IMAPTEST.dir, 'build.log');
  const script = [
    'set -e',
    `tar -C "${IMAPTEST.dir}" -xzf "${join(vendor, IMAPTEST.tarball)}"`,
    `cd "${join(IMAPTEST.dir, 'imaptest')}"`,
    `patch -p1 -s < "${join(vendor, IMAPTEST.patch)}"`,
    `./autogen.sh >"${log}" 2>&1`,
    `./configure --with-dovecot=/usr/lib/dovecot >>"${log}" 2>&1`,
    `make -j2 >>"${log}" 2>&1`,
  ].join('\n');
  const result = spawnSync('bash', ['-c', script], { stdio: 'inherit' });
  if (result.status !== 0 || !existsSync(IMAPTEST.bin)) {
    const tail = existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-30).join('\n') : '';
    throw new Error(`imaptest did not build (log: ${log})\n${tail}`);
  }
  writeFileSync(stampFile, stamp);
}

const missing = missingPackages();
if (missing.length > 0) {
  if (!canInstall()) {
    const why = DEBIAN_PACKAGES.filter((p) => missing.includes(p.name)).map((p) => `  ${p.name}: ${p.why}`);
    process.stderr.write(
      `test:setup: the tests need Debian packages that are not installed:\n${why.join('\n')}\n` +
        `Install them as root, then run npm test again:\n  apt-get install --no-install-recommends ${missing.join(' ')}\n`,
    );
    process.exit(1);
  }
  install(missing);
  const still = missingPackages();
  if (still.length > 0) {
    process.stderr.write(`test:setup: apt-get did not install ${still.join(' ')}\n`);
    process.exit(1);
  }
}
buildImaptest();
process.stdout.write('test:setup: every outside tool is present\n');
