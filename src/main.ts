// The `wrenmail` command: `serve` runs the server; the others are operator tools.
import { reloadOnSighup } from './tls/certificate-store.ts';
import { createReadStream, createWriteStream } from 'node:fs';
import { resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config/load.ts';
import type { Config } from './config/schema.ts';
import { createLogger } from './log.ts';
import { ListenError } from './listeners.ts';
import { restoreSnapshot } from './store/backup.ts';
import { apiRequest, CLIENT_ENV } from './client/api.ts';
import { ADMIN_COMMANDS, ADMIN_OPTIONS, ADMIN_USAGE, runAdmin } from './cli/admin.ts';
import { IMPORT_OPTIONS, IMPORT_USAGE, runImport, TARGET_USAGE } from './cli/import.ts';
import { EXPORT_USAGE, runExport } from './cli/export.ts';
import { DOCTOR_USAGE, runDoctor } from './cli/doctor.ts';
import { SPAM_OPTIONS, SPAM_USAGE, runSpam } from './cli/spam.ts';
import { MIGRATE_OPTIONS, MIGRATE_USAGE, runMigrateStore } from './cli/migrate-store.ts';
import { openEngine } from './store/copy.ts';

const OPERATOR_COMMANDS = ['import', 'export', 'doctor', 'spam', 'migrate-store'];
const OPTIONS = {
  config: { type: 'string', short: 'c' },
  help: { type: 'boolean', short: 'h' },
  ...ADMIN_OPTIONS,
  ...IMPORT_OPTIONS,
  ...SPAM_OPTIONS,
  ...MIGRATE_OPTIONS,
} as const;

const USAGE = `usage: wrenmail <command> [--config FILE]

  serve                 run the server (listeners from the config)
  backup FILE           save a consistent snapshot of the running server's store (gzip)
  restore FILE          load a snapshot into an empty store, LevelDB or [store] postgres_url (server stopped)

Admin commands (call the running server's API with the bootstrap key, or $WRENMAIL_API_KEY):
${ADMIN_USAGE}

Operator commands (mail in and out through the running server, checks, training):
${IMPORT_USAGE}
${EXPORT_USAGE}
${TARGET_USAGE}
${DOCTOR_USAGE}
${SPAM_USAGE}

Store commands (the server stopped):
${MIGRATE_USAGE}

  --config FILE         settings (default: $WRENMAIL_CONFIG, else built-in defaults);
                        WRENMAIL_<SECTION>_<KEY> environment variables override any setting`;

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({
      args: argv,
      options: OPTIONS,
      allowPositionals: true,
    });
  } catch (err) {
    return usageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  const { config: _config, help: _help, ...adminValues } = values;
  if (!(command && [...ADMIN_COMMANDS, ...OPERATOR_COMMANDS].includes(command)) && Object.keys(adminValues).length > 0)
    return usageError(`unknown option --${Object.keys(adminValues)[0]}`);
  if (values.help || !command) {
    process.stdout.write(`${USAGE}\n`);
    return command || values.help ? 0 : 64;
  }
  let config: Config;
  try {
    const env = { ...process.env };
    for (const name of CLIENT_ENV) delete env[name];
    config = loadConfig(values.config ?? process.env.WRENMAIL_CONFIG, env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`wrenmail: ${err.message}\n`);
      return 78; // EX_CONFIG
    }
    throw err;
  }
  switch (command) {
    case 'serve':
      return serve(config);
    case 'backup': {
      if (!rest[0]) return usageError('backup needs a FILE');
      const response = await apiRequest(config, 'GET', '/api/v1/admin/backup');
      await pipeline(response.body!, createWriteStream(rest[0], { mode: 0o600 }));
      process.stdout.write(`backup written to ${rest[0]}\n`);
      return 0;
    }
    case 'domain':
    case 'mailbox':
    case 'key':
    case 'queue':
    case 'admin':
      return runAdmin(config, command, rest, adminValues);
    case 'import':
      return runImport(config, rest, adminValues);
    case 'export':
      return runExport(config, rest, adminValues);
    case 'doctor':
      return runDoctor(config, rest, adminValues);
    case 'spam':
      return runSpam(config, argv, OPTIONS);
    case 'migrate-store':
      return runMigrateStore(config, adminValues);
    case 'restore': {
      if (!rest[0]) return usageError('restore needs a FILE');
      // Into the configured engine; opening it takes its lock, so a running server makes this refuse.
      const target = await openEngine(
        resolve(config.data_dir, 'store'),
        config.store.engine === 'postgres' ? config.store.postgres_url : undefined,
      );
      try {
        const { records } = await restoreSnapshot(target, createReadStream(rest[0]).pipe(createGunzip()));
        process.stdout.write(`restored ${records} records into ${target.location}\n`);
      } finally {
        await target.close();
      }
      return 0;
    }
    default:
      return usageError(`unknown command ${command}`);
  }
}

function usageError(message: string): number {
  process.stderr.write(`wrenmail: ${message}\n${USAGE}\n`);
  return 64; // EX_USAGE
}

async function serve(config: Config): Promise<number> {
  const logger = createLogger(config.server.log_level);
  // Loaded here, not at the top: the admin commands then start without the whole server (~2 s less).
  const { startServer } = await import('./server.ts');
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer(config, logger);
  } catch (err) {
    if (err instanceof ListenError) {
      logger.fatal(err.message);
      process.stderr.write(`wrenmail: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
  logger.info({ hostname: config.hostname, data_dir: resolve(config.data_dir) }, 'wrenmail ready');
  const stopReloading = reloadOnSighup(server.tls, logger); // new certificates without dropping connections
  await new Promise<void>((done) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'shutting down');
      server.close().then(done, (err) => {
        logger.error({ err }, 'shutdown failed');
        done();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  stopReloading();
  logger.info('stopped');
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`wrenmail: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
