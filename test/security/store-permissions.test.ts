// A data_dir that exists before the first start (the Dockerfile creates it, 0755) and
// a permissive umask (022) must still give a store nobody else can read: every directory under
// data_dir 0700, every file 0600 (store, bootstrap key, TLS key, secrets), also after a restart.
import { chmodSync, lstatSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startInstance } from '../helpers/instance.ts';
import { makeMessage, tempDir } from '../helpers/tmp.ts';
import { sendRaw } from '../helpers/smtp.ts';

function loose(dir: string): string[] {
  const out: string[] = [];
  const walk = (path: string): void => {
    const st = lstatSync(path);
    if (st.mode & 0o077) out.push(`${path} ${(st.mode & 0o777).toString(8)}`);
    if (st.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(dir);
  return out;
}

test('a pre-created 0755 data_dir under umask 022 ends up 0700/0600 throughout', async () => {
  const previous = process.umask(0o022);
  const tmp = tempDir('wren-perms-');
  try {
    const dataDir = join(tmp.path, 'data');
    mkdirSync(dataDir, { mode: 0o755 });
    chmodSync(dataDir, 0o755);
    // What an older version left behind: a world-readable file inside.
    mkdirSync(join(dataDir, 'leftover'), { mode: 0o755 });
    writeFileSync(join(dataDir, 'leftover', 'old.txt'), 'x', { mode: 0o644 });
    process.umask(0o022);
    let instance = await startInstance({ overrides: { data_dir: dataDir } });
    await instance.addAccount('alice@perms.test', 'pw-pw-pw-pw');
    const sent = await sendRaw(
      instance.port('smtp-mx'),
      'x@example.org',
      ['alice@perms.test'],
      makeMessage({ to: 'alice@perms.test' }),
    );
    assert.is(sent.end?.code, 250, JSON.stringify(sent));
    await instance.stop().catch(() => {});
    const files = readdirSync(dataDir);
    assert.ok(files.includes('store') && files.includes('bootstrap-root.key'), files.join(' '));
    assert.equal(loose(dataDir), []);
    // A restart (store files rewritten, LOG rotated) keeps it so.
    process.umask(0o022);
    instance = await startInstance({ overrides: { data_dir: dataDir } });
    await instance.server.close();
    assert.equal(loose(dataDir), []);
  } finally {
    process.umask(previous);
    tmp.remove();
  }
});

test.run();
