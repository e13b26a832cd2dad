import * as assert from 'uvu/assert';

/** Asserts that `fn` rejects, optionally with an error whose `code` is `code`; returns the error. */
export async function rejects(fn: () => Promise<unknown>, code?: string): Promise<Error> {
  try {
    await fn();
  } catch (err) {
    if (code !== undefined) assert.is((err as { code?: string }).code, code);
    return err as Error;
  }
  assert.unreachable('expected a rejection');
  throw new Error('unreachable');
}
