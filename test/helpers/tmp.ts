import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh directory under the system temp dir; `remove()` deletes it. */
export function tempDir(prefix = 'wrenmail-test-'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** A small RFC 5322 message; `body` is padded to about `bytes` bytes when given. */
export function makeMessage(
  opts: { from?: string; to?: string; subject?: string; body?: string; bytes?: number; id?: string } = {},
): Buffer {
  const id = opts.id ?? `${Date.now()}.${Math.random().toString(36).slice(2)}@test`;
  let body = opts.body ?? 'Hello from the test suite.\r\n';
  if (opts.bytes)
    while (body.length < opts.bytes) body += 'The quick brown fox jumps over the lazy dog 0123456789.\r\n';
  return Buffer.from(
    `From: ${opts.from ?? 'Alice <alice@example.org>'}\r\n` +
      `To: ${opts.to ?? 'bob@example.test'}\r\n` +
      `Subject: ${opts.subject ?? 'Test message'}\r\n` +
      `Date: ${new Date().toUTCString().replace('GMT', '+0000')}\r\n` +
      `Message-ID: <${id}>\r\n` +
      'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n' +
      body,
  );
}
