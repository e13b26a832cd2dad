// Package config implements the settings: this schema (zod) is the one source of every setting and its
// default; config/default.toml mirrors it (test/unit/config-defaults.test.ts), and load.ts reads the TOML
// file, then WRENMAIL_<SECTION>_<KEY> overrides (docs/ARCHITECTURE.md §10). Names in the contract list of
// §10 are never renamed. Imports nothing of the project.
import { z } from 'zod';

const listen = z.array(
  z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/, 'expected "host:port" or "[v6]:port"'),
);
const port = z.number().int().min(0).max(65535);

/** Every setting with its default: `config/default.toml` documents the same values. */
export const configSchema = z
  .object({
    hostname: z
      .string()
      .min(1)
      .regex(/^[A-Za-z0-9.-]+$/, 'expected a host name')
      .default('localhost'),
    data_dir: z.string().min(1).default('./data'),
    server: z
      .object({
        unprivileged_port_offset: port.default(10000),
        shutdown_timeout_ms: z.number().int().positive().default(10000),
        log_level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
        group_commit: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    // The storage engine (docs/ARCHITECTURE.md §4.8): LevelDB under data_dir, or one PostgreSQL database.
    store: z
      .object({
        engine: z.enum(['leveldb', 'postgres']).default('leveldb'),
        postgres_url: z.string().default(''),
        // Several servers on one database (§4.8): every server of it must say so.
        shared: z.boolean().default(false),
        // How long a node's claim on a queue job or webhook delivery lasts unless renewed (§4.8): a node
        // that dies holds its work this long before another node takes it over.
        lease_seconds: z.number().positive().default(60),
      })
      .strict()
      .refine((s) => s.engine !== 'postgres' || s.postgres_url !== '', {
        message: 'engine = "postgres" needs postgres_url',
        path: ['postgres_url'],
      })
      .refine((s) => !s.shared || s.engine === 'postgres', {
        message: 'shared = true needs engine = "postgres"',
        path: ['shared'],
      })
      .prefault({}),
    smtp: z
      .object({
        mx_listen: listen.default(['0.0.0.0:25']),
        submission_listen: listen.default(['0.0.0.0:587']),
        submissions_listen: listen.default(['0.0.0.0:465']),
        max_message_bytes: z.number().int().positive().default(52428800),
        max_recipients: z.number().int().positive().default(1000),
        max_connections_per_ip: z.number().int().positive().default(20),
        messages_per_ip_per_minute: z.number().int().positive().default(120),
        idle_timeout_ms: z.number().int().positive().default(300000),
        send_per_hour: z.number().int().positive().default(300),
        send_per_day: z.number().int().positive().default(7200),
        forward_per_hour: z.number().int().positive().default(200),
        forward_per_day: z.number().int().positive().default(2000),
        bad_rcpt_per_connection: z.number().int().positive().default(10),
        bad_rcpt_per_ip: z.number().int().positive().default(30),
        bad_rcpt_window_ms: z.number().int().positive().default(600000),
        bad_rcpt_tarpit_ms: z.number().int().min(0).default(500),
        postmaster: z
          .string()
          .regex(/^[^@\s]+@[^@\s]+$/, 'expected an address')
          .optional(),
      })
      .strict()
      .prefault({}),
    outbound: z
      .object({
        smtp_port: port.default(25),
        local_address: z.string().default(''),
        concurrency: z.number().int().positive().default(32),
        per_domain_concurrency: z.number().int().positive().default(4),
        retry_schedule_seconds: z.array(z.number().positive()).min(1).default([300, 900, 1800, 3600, 7200, 14400]),
        expiry_seconds: z.number().positive().default(432000),
        delay_notice_seconds: z.number().min(0).default(14400),
        poll_interval_seconds: z.number().positive().default(60),
      })
      .strict()
      .prefault({}),
    imap: z
      .object({
        listen: listen.default(['0.0.0.0:143']),
        tls_listen: listen.default(['0.0.0.0:993']),
        max_connections_per_ip: z.number().int().positive().default(50),
        max_connections_per_account: z.number().int().positive().default(30),
        idle_timeout_ms: z.number().int().positive().default(1800000),
        idle_keepalive_seconds: z.number().positive().default(120),
        max_line_bytes: z.number().int().min(1024).default(65536),
        max_keywords_per_mailbox: z.number().int().positive().default(100),
        allow_plain_auth_loopback: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    pop3: z
      .object({
        listen: listen.default(['0.0.0.0:110']),
        tls_listen: listen.default(['0.0.0.0:995']),
        max_connections_per_ip: z.number().int().positive().default(20),
        idle_timeout_ms: z.number().int().positive().default(600000),
      })
      .strict()
      .prefault({}),
    http: z
      .object({
        listen: listen.default(['0.0.0.0:8080']),
        tls_listen: listen.default([]),
        max_body_bytes: z.number().int().positive().default(1048576),
        trust_proxy: z.boolean().default(false),
        // Per-key API request limits (Sendmux: 600 per 60 s for management keys, 1,800 for sending).
        management_rate_limit: z.number().int().positive().default(600),
        sending_rate_limit: z.number().int().positive().default(1800),
        rate_limit_window_seconds: z.number().int().positive().max(86400).default(60),
        allow_plain_credentials: z.boolean().default(false),
        plain_credentials_from: z
          .array(
            z
              .string()
              .regex(
                /^([0-9.]+|[0-9a-fA-F:.]+)(\/\d{1,3})?$/,
                'expected an address or network such as "127.0.0.0/8" or "::1/128"',
              ),
          )
          .default(['127.0.0.0/8', '::1/128']),
      })
      .strict()
      .prefault({}),
    auth: z
      .object({
        max_failures_per_ip: z.number().int().positive().default(20),
        max_failures_per_account: z.number().int().positive().default(10),
        account_slowdown_after: z.number().int().positive().default(100),
        account_slowdown_ms: z.number().int().min(0).default(2000),
        failure_window_ms: z.number().int().positive().default(900000),
        // Dovecot's auth cache: a password that verified is remembered (as a keyed digest) this long.
        credential_cache_seconds: z.number().int().min(0).max(3600).default(300),
      })
      .strict()
      .prefault({}),
    dns: z
      .object({
        servers: z
          .array(z.string().regex(/^(\[[0-9a-fA-F:]+\]|[0-9.]+)(:\d{1,5})?$/, 'expected "ip" or "ip:port"'))
          .default([]),
        timeout_ms: z.number().int().positive().default(5000),
      })
      .strict()
      .prefault({}),
    tls: z
      .object({
        cert: z.string().default(''),
        key: z.string().default(''),
        acme: z.boolean().default(false),
        acme_directory_url: z.string().url().default('https://acme-v02.api.letsencrypt.org/directory'),
        acme_email: z.string().default(''),
        acme_http_listen: listen.default(['0.0.0.0:80']),
        acme_renew_before_days: z.number().int().positive().default(30),
      })
      .strict()
      .prefault({}),
    mta_sts: z
      .object({
        mode: z.enum(['enforce', 'testing', 'none']).default('testing'),
        max_age_seconds: z.number().int().positive().max(31557600).default(604800),
      })
      .strict()
      .prefault({}),
    spam: z
      .object({
        junk_score: z.number().default(5),
        reject_score: z.number().default(15),
        bayes_min_spam: z.number().int().min(0).default(200),
        bayes_min_ham: z.number().int().min(0).default(200),
        bayes_per_account: z.boolean().default(false),
        auto_learn: z.boolean().default(true),
        dnsbl_zones: z.array(z.string().regex(/^[a-z0-9.-]+$/i)).default([]),
        uribl_zones: z.array(z.string().regex(/^[a-z0-9.-]+$/i)).default([]),
        bayes_max_tokens: z.number().int().min(1000).default(500_000),
        rspamd_url: z.url({ protocol: /^https?$/ }).optional(),
        rspamd_controller_url: z.url({ protocol: /^https?$/ }).optional(),
        rspamd_password: z.string().min(1).optional(),
        rspamd_timeout_ms: z.number().int().positive().max(30_000).default(2000),
        rspamd_weight: z.number().min(0).max(10).default(1),
        junk_retention_days: z.number().min(0).default(30),
        greylist: z.boolean().default(true),
        greylist_score: z.number().default(4),
        greylist_delay_seconds: z.number().int().min(0).max(86_400).default(300),
        greylist_window_hours: z
          .number()
          .positive()
          .max(24 * 30)
          .default(24),
        greylist_pass_days: z.number().positive().max(365).default(36),
      })
      .strict()
      .prefault({}),
    webhooks: z
      .object({ allow_http: z.boolean().default(false), allow_private_addresses: z.boolean().default(false) })
      .strict()
      .prefault({}),
    events: z
      .object({ retention_days: z.number().positive().default(7) })
      .strict()
      .prefault({}),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
