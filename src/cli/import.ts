// `wrenmail import imap|mbox|maildir`: copies mail from another server or from files into a mailbox
// of the running server, through that server's own IMAP (see src/migrate/target.ts). Safe to run
// again: what the mailbox already holds is skipped. Exit codes as the admin commands (admin.ts).
import { resolve } from 'node:path';
import type { Config } from '../config/schema.ts';
import { Progress, reportFailure, UsageError } from '../client/progress.ts';

/** Options of import and export (main.ts parses them with its own). */
export const IMPORT_OPTIONS = {
  host: { type: 'string' },
  port: { type: 'string' },
  tls: { type: 'boolean' },
  starttls: { type: 'boolean' },
  user: { type: 'string' },
  insecure: { type: 'boolean' },
  mailbox: { type: 'string' },
  folder: { type: 'string' },
  state: { type: 'string' },
  'target-password': { type: 'string' },
  'target-imap': { type: 'string' },
} as const;

export interface ImportValues {
  host?: string;
  port?: string;
  tls?: boolean;
  starttls?: boolean;
  user?: string;
  password?: string;
  'password-stdin'?: boolean;
  insecure?: boolean;
  mailbox?: string;
  folder?: string;
  state?: string;
  'target-password'?: string;
  'target-imap'?: string;
}

export const TARGET_USAGE = `  --target-password P              log in to the mailbox with its password (default: a mailbox
                                   key is minted through the API for the run and revoked after)
  --target-imap HOST:PORT          this server's IMAPS listener (default: imap.tls_listen)`;

export const IMPORT_USAGE = `  import imap --host H [--port P] [--tls|--starttls] [--insecure] --user U
              (--password P | --password-stdin) --mailbox EMAIL [--state FILE]
                                   copy every folder, flag and internal date of another IMAP
                                   account; resumable (state in --state, default under data_dir).
                                   Without --tls, STARTTLS is used whenever the server offers it
                                   (--starttls: required)
  import mbox FILE --mailbox EMAIL [--folder F]
                                   flags from Status/X-Status, dates from the "From " lines
  import maildir DIR --mailbox EMAIL
                                   Maildir++ (.Sub.Folder → Sub/Folder), flags from file names`;

/** What the source password is: --password, or the first line of stdin. */
async function sourcePassword(values: ImportValues): Promise<string> {
  if (values.password !== undefined && values['password-stdin'])
    throw new UsageError('give --password or --password-stdin, not both');
  if (values.password !== undefined) return values.password;
  if (!values['password-stdin']) throw new UsageError('import imap needs --password or --password-stdin');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0]!;
}

export const targetOf = (values: ImportValues, command: string) => {
  if (!values.mailbox) throw new UsageError(`${command} needs --mailbox EMAIL`);
  return { mailbox: values.mailbox, password: values['target-password'], imapAddress: values['target-imap'] };
};

export async function runImport(config: Config, args: string[], values: ImportValues): Promise<number> {
  try {
    const [kind, path, ...extra] = args;
    if (extra.length) throw new UsageError(`unexpected ${extra.join(' ')}`);
    const target = targetOf(values, `import ${kind ?? ''}`.trim());
    // Loaded here: the other commands start without imapflow.
    const { openTarget } = await import('../migrate/target.ts');
    if (kind === 'imap') {
      if (path) throw new UsageError(`unexpected ${path}`);
      if (!values.host || !values.user) throw new UsageError('import imap needs --host and --user');
      if (values.tls && values.starttls) throw new UsageError('give --tls or --starttls, not both');
      const port = values.port === undefined ? (values.tls ? 993 : 143) : Number(values.port);
      if (!Number.isInteger(port) || port < 1 || port > 65535)
        throw new UsageError(`--port ${values.port}: expected a port number`);
      const { connectSource, importImap, sourceName } = await import('../migrate/imap.ts');
      const { loadState } = await import('../migrate/state.ts');
      const source = {
        host: values.host,
        port,
        security: values.tls ? 'tls' : values.starttls ? 'starttls' : 'auto',
        user: values.user,
        password: await sourcePassword(values),
        insecure: values.insecure,
      } as const;
      const name = sourceName(source);
      const statePath =
        values.state ??
        resolve(
          config.data_dir,
          'imports',
          `${name.replace(/[^A-Za-z0-9@._-]+/g, '_')}-to-${target.mailbox.toLowerCase()}.json`,
        );
      const state = await loadState(statePath, name);
      const client = await connectSource(source);
      try {
        const into = await openTarget(config, target);
        try {
          const progress = new Progress('copied');
          await importImap(client, into, { statePath, state, progress });
          progress.done();
        } finally {
          await into.close();
        }
      } finally {
        await client.logout().catch(() => client.close());
      }
      return 0;
    }
    if (kind !== 'mbox' && kind !== 'maildir')
      throw new UsageError(`import ${kind ?? ''}: expected import imap, import mbox FILE or import maildir DIR`);
    if (!path) throw new UsageError(`import ${kind} needs a ${kind === 'mbox' ? 'FILE' : 'DIR'}`);
    const { importMessages } = await import('../migrate/files.ts');
    const progress = new Progress('copied');
    const into = await openTarget(config, target);
    try {
      if (kind === 'mbox') {
        const { mboxMessages } = await import('../migrate/mbox.ts');
        await importMessages(into, values.folder ?? 'INBOX', mboxMessages(path), progress);
      } else {
        if (values.folder) throw new UsageError('import maildir takes its folders from the Maildir: no --folder');
        const { maildirFolders, maildirMessages } = await import('../migrate/maildir.ts');
        const folders = await maildirFolders(path);
        if (folders.length === 0)
          throw new UsageError(`${path} is no Maildir (no cur/ or new/, no .Folder directories)`);
        for (const folder of folders) await importMessages(into, folder.path, maildirMessages(folder.dir), progress);
      }
      progress.done();
    } finally {
      await into.close();
    }
    return 0;
  } catch (err) {
    return reportFailure(err, `usage:\n${IMPORT_USAGE}\n${TARGET_USAGE}`);
  }
}
