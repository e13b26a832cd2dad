// config/default.toml documents every setting with its default: it must say exactly what the schema
// does, or the file that operators copy lies to them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../src/config/load.ts';
import { configSchema } from '../../src/config/schema.ts';

test('config/default.toml parses to exactly the schema defaults', () => {
  const fromFile = loadConfig(new URL('../../config/default.toml', import.meta.url).pathname, {});
  assert.equal(fromFile, configSchema.parse({}));
});

test.run();
