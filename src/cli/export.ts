// `wrenmail export maildir --mailbox EMAIL DIR`: every folder of a mailbox of the running server into
// a Maildir++ tree, through the server's own IMAP (see src/migrate/target.ts).
import type { Config } from '../config/schema.ts';
import { targetOf, TARGET_USAGE, type ImportValues } from './import.ts';
import { Progress, reportFailure, UsageError } from '../client/progress.ts';

export const EXPORT_USAGE = `  export maildir --mailbox EMAIL DIR
                                   every folder into a Maildir++ tree (flags in the file names,
                                   mtime = internal date); run again, it writes only what changed`;

export async function runExport(config: Config, args: string[], values: ImportValues): Promise<number> {
  try {
    const [kind, dir, ...extra] = args;
    if (kind !== 'maildir') throw new UsageError(`export ${kind ?? ''}: expected export maildir`);
    if (!dir) throw new UsageError('export maildir needs a DIR');
    if (extra.length) throw new UsageError(`unexpected ${extra.join(' ')}`);
    const target = targetOf(values, 'export maildir');
    const { openTarget } = await import('../migrate/target.ts');
    const { exportMaildir } = await import('../migrate/export.ts');
    const from = await openTarget(config, target);
    try {
      const progress = new Progress('exported', { skipped: 'unchanged' });
      await exportMaildir(from, dir, progress, config.hostname);
      progress.done();
    } finally {
      await from.close();
    }
    return 0;
  } catch (err) {
    return reportFailure(err, `usage:\n${EXPORT_USAGE}\n${TARGET_USAGE}`);
  }
}
