// config/default.toml documents every setting with its default: it must say exactly what the schema
// does, or the file that operators copy lies to them. And code that runs without a config (servers
// built directly, as tests do) must default to the same values the server passes from that file.
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse as parseToml } from 'smol-toml';
import { CONFIG_DEFAULTS } from '../../src/config/defaults.ts';
import { loadConfig } from '../../src/config/load.ts';
import { configSchema } from '../../src/config/schema.ts';
import { WEBHOOK_DEFAULTS } from '../../src/events/webhook-dispatcher.ts';
import { FORWARD_LIMIT_DEFAULTS } from '../../src/inbound/forward-budget.ts';
import { DEFAULT_LIMITS, imapLimits } from '../../src/imap/server.ts';
import { RUNNER_DEFAULTS, runnerSettings } from '../../src/outbound/queue-runner.ts';
import { DEFAULT_POP3_LIMITS, pop3Limits } from '../../src/pop3/server.ts';
import { MX_DEFAULTS, mxSettings } from '../../src/smtp/mx.ts';
import { SUBMISSION_DEFAULTS } from '../../src/smtp/submission.ts';
import { SEND_LIMIT_DEFAULTS } from '../../src/store/sends.ts';

const path = new URL('../../config/default.toml', import.meta.url).pathname;

test('config/default.toml states every setting, each with exactly the schema default', () => {
  // The file as written, not filled in by the schema: a setting missing from it fails too. (JSON:
  // the TOML parser's tables are prototype-less objects; the values compare the same either way.)
  const plain = (value: unknown) => JSON.parse(JSON.stringify(value)) as unknown;
  assert.equal(plain(parseToml(readFileSync(path, 'utf8'))), plain(configSchema.parse({})));
  assert.equal(loadConfig(path, {}), CONFIG_DEFAULTS);
});

test('library defaults are the ones the server passes from config/default.toml', () => {
  const config = loadConfig(path, {});
  const mx = mxSettings(config.smtp);
  assert.equal(
    { ...MX_DEFAULTS, maxConnections: undefined },
    { maxMessageBytes: mx.maxMessageBytes, maxRecipients: mx.maxRecipients, maxConnections: undefined, ...mx.limits },
  );
  assert.equal(SUBMISSION_DEFAULTS, {
    maxMessageBytes: config.smtp.max_message_bytes,
    maxRecipients: config.smtp.max_recipients,
    perHour: config.smtp.send_per_hour,
    perDay: config.smtp.send_per_day,
    maxConnectionsPerIp: config.smtp.max_connections_per_ip,
    idleTimeoutMs: config.smtp.idle_timeout_ms,
  });
  assert.equal(SEND_LIMIT_DEFAULTS, { perHour: config.smtp.send_per_hour, perDay: config.smtp.send_per_day });
  assert.equal(FORWARD_LIMIT_DEFAULTS, { perHour: config.smtp.forward_per_hour, perDay: config.smtp.forward_per_day });
  assert.equal(DEFAULT_LIMITS, imapLimits(config));
  assert.equal(DEFAULT_POP3_LIMITS, pop3Limits(config.pop3));
  assert.equal(RUNNER_DEFAULTS, runnerSettings(config.outbound));
  assert.is(WEBHOOK_DEFAULTS.retentionMs, config.events.retention_days * 86_400_000);
});

test('greylisting settings out of range are refused at start-up, with the setting named', () => {
  const refused = (spam: Record<string, unknown>) => {
    const parsed = configSchema.safeParse({ spam });
    return parsed.success ? [] : parsed.error.issues.map((i) => i.path.join('.'));
  };
  assert.equal(refused({ greylist_delay_seconds: 86_401 }), ['spam.greylist_delay_seconds']);
  assert.equal(refused({ greylist_delay_seconds: -1 }), ['spam.greylist_delay_seconds']);
  assert.equal(refused({ greylist_delay_seconds: 1.5 }), ['spam.greylist_delay_seconds']);
  assert.equal(refused({ greylist_window_hours: 0 }), ['spam.greylist_window_hours']);
  assert.equal(refused({ greylist_pass_days: 366 }), ['spam.greylist_pass_days']);
  assert.equal(refused({ greylist: 'yes' }), ['spam.greylist']);
  assert.equal(refused({ greylist: false, greylist_score: 3, greylist_delay_seconds: 0 }), []);
});

test.run();
