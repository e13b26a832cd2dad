// `wrenmail migrate-store --to postgres|leveldb`: copies the whole store from one engine to the other
// while the server is stopped (docs/ARCHITECTURE.md §4.8): LevelDB at <data_dir>/store, PostgreSQL at
// [store] postgres_url. Opening each side takes its lock (LevelDB's lock file, the PostgreSQL engine's
// advisory lock), so a running server makes it refuse instead of copying a store that changes. Records
// stream in bounded batches; the copy is verified by the record count and a SHA-256 over every (key,
// value) in key order, read back from the destination. Exit codes are sysexits(3).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Config } from '../config/schema.ts';
import { clearStore, copyStore, digestStore, isEmpty, openEngine, type StoreDigest } from '../store/copy.ts';
import type { Engine } from '../store/engine.ts';

export const MIGRATE_OPTIONS = {
  to: { type: 'string' },
  force: { type: 'boolean' },
} as const;

export const MIGRATE_USAGE = `  migrate-store --to postgres|leveldb [--force] [--json]
                                   copy the whole store between <data_dir>/store (LevelDB) and
                                   [store] postgres_url with the server stopped, then verify both
                                   sides' record count and checksum; --force empties a destination
                                   that holds a store`;

const EX_USAGE = 64;
const EX_NOINPUT = 66;
const EX_CANTCREAT = 73;
const EX_IOERR = 74;
const EX_TEMPFAIL = 75;
const EX_CONFIG = 78;

type EngineKind = 'leveldb' | 'postgres';

/** A refusal with its exit code. */
class Refused extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

/** The side's engine, opened (and locked); a store in use elsewhere is refused with EX_TEMPFAIL. */
async function open(kind: EngineKind, config: Config, source: boolean): Promise<Engine> {
  const dir = resolve(config.data_dir, 'store');
  if (kind === 'postgres' && !config.store.postgres_url)
    throw new Refused(EX_CONFIG, 'migrate-store needs [store] postgres_url (or WRENMAIL_STORE_POSTGRES_URL)');
  // A missing LevelDB source is not created empty: there is nothing to copy.
  if (kind === 'leveldb' && source && !existsSync(resolve(dir, 'CURRENT')))
    throw new Refused(EX_NOINPUT, `no LevelDB store at ${dir}`);
  try {
    return await openEngine(dir, kind === 'postgres' ? config.store.postgres_url : undefined);
  } catch (err) {
    const e = err as Error & { code?: string; cause?: { code?: string } };
    if (e.cause?.code === 'LEVEL_LOCKED' || /has the store open/.test(e.message))
      throw new Refused(
        EX_TEMPFAIL,
        `the ${kind} store at ${kind === 'leveldb' ? dir : 'postgres_url'} is in use ` +
          '(a running server holds its lock): stop the server first',
      );
    throw err;
  }
}

const line = (label: string, kind: EngineKind, location: string, d: StoreDigest): string =>
  `${label} ${kind} ${location}: ${d.records} records, ${d.bytes} bytes, sha256 ${d.sha256}`;

export async function runMigrateStore(
  config: Config,
  values: { to?: string; force?: boolean; json?: boolean },
): Promise<number> {
  if (values.to !== 'postgres' && values.to !== 'leveldb') {
    process.stderr.write(`wrenmail: migrate-store needs --to postgres or --to leveldb\n\n${MIGRATE_USAGE}\n`);
    return EX_USAGE;
  }
  const to: EngineKind = values.to;
  const from: EngineKind = to === 'postgres' ? 'leveldb' : 'postgres';
  const opened: Engine[] = [];
  try {
    const source = await open(from, config, true);
    opened.push(source);
    const destination = await open(to, config, false);
    opened.push(destination);
    if (await isEmpty(source)) throw new Refused(EX_NOINPUT, `the ${from} store at ${source.location} is empty`);
    if (!(await isEmpty(destination))) {
      if (!values.force)
        throw new Refused(
          EX_CANTCREAT,
          `the ${to} store at ${destination.location} already holds records; --force replaces them`,
        );
      const deleted = await clearStore(destination);
      if (!values.json) process.stdout.write(`emptied ${destination.location} (${deleted} records)\n`);
    }
    const read = await copyStore(source, destination, (records) => {
      if (!values.json) process.stdout.write(`copied ${records} records\n`);
    });
    const written = await digestStore(destination);
    const verified = read.records === written.records && read.sha256 === written.sha256;
    if (values.json) {
      const side = (kind: EngineKind, engine: Engine, d: StoreDigest) => ({
        engine: kind,
        location: engine.location,
        ...d,
      });
      process.stdout.write(
        `${JSON.stringify({ source: side(from, source, read), destination: side(to, destination, written), verified })}\n`,
      );
    } else {
      process.stdout.write(`${line('source     ', from, source.location, read)}\n`);
      process.stdout.write(`${line('destination', to, destination.location, written)}\n`);
      process.stdout.write(verified ? `verified: ${written.records} records, checksums match\n` : '');
    }
    if (!verified) {
      process.stderr.write('wrenmail: the destination does not hold what was read from the source\n');
      return EX_IOERR;
    }
    return 0;
  } catch (err) {
    if (err instanceof Refused) {
      process.stderr.write(`wrenmail: ${err.message}\n`);
      return err.code;
    }
    throw err;
  } finally {
    for (const engine of opened.reverse()) await engine.close().catch(() => {});
  }
}
