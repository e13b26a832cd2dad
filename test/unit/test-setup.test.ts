// The test suite's own set-up: the README's Debian table names exactly the packages test/setup.ts
// installs, and the imaptest it builds is there and runs (npm test ran the set-up step first).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { DEBIAN_PACKAGES, IMAPTEST, imaptestBinary } from '../helpers/tools.ts';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

test("the README's Debian table lists exactly the set-up step's packages", () => {
  const section = readme.slice(readme.indexOf('### Debian packages the tests use'));
  const table = section.slice(0, section.indexOf('\n\n', section.indexOf('| Debian package |')));
  const firstCells = table
    .split('\n')
    .slice(2)
    .map((row) => row.split('|')[1] ?? '');
  const listed = firstCells.flatMap((cell) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]));
  assert.equal([...new Set(listed)].sort(), DEBIAN_PACKAGES.map((p) => p.name).sort());
});

test('imaptest is built and answers --help', () => {
  const bin = imaptestBinary();
  let out = '';
  try {
    out = execFileSync(bin, ['--help'], { env: { ...process.env, ...IMAPTEST.env }, encoding: 'utf8', stdio: 'pipe' });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    out = `${e.stdout ?? ''}${e.stderr ?? ''}`;
  }
  assert.match(out, /imaptest|usage/i);
});

test.run();
