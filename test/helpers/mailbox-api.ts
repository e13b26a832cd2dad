// The mailbox API beside an IMAP server on the same store: alice@wren.test (with an IMAP password)
// and bob@wren.test, each with a mailbox key, so tests can act through the API and over IMAP.
import { ImapFlow } from 'imapflow';
import { createImapServer, type ImapServer } from '../../src/imap/server.ts';
import { LoginService } from '../../src/security/login.ts';
import { hashPassword } from '../../src/security/passwords.ts';
import { PRESETS } from '../../src/security/permissions.ts';
import type { Account } from '../../src/store/index.ts';
import { type ApiFixture, startApi } from './api.ts';
import { imapCertificate } from './imap.ts';
import { makeMessage } from './tmp.ts';

const PASSWORD = 'alice-imap-password';

export interface MailboxFixture {
  api: ApiFixture;
  alice: Account;
  bob: Account;
  aliceKey: string;
  bobKey: string;
  /** Stores a message in the account's INBOX (a plain one from Carol unless `raw` is given). */
  deliver(account: Account, o: { subject: string; body?: string; raw?: Buffer }): Promise<unknown>;
  /** Alice, logged in over IMAP. */
  imapClient(): Promise<ImapFlow>;
  close(): Promise<void>;
}

export async function startMailboxFixture(): Promise<MailboxFixture> {
  const api = await startApi();
  await api.store.domains.create(api.teamId, 'wren.test');
  const alice = await api.store.accounts.create({
    teamId: api.teamId,
    address: 'alice@wren.test',
    name: 'Alice',
    passwordHash: await hashPassword(PASSWORD),
  });
  const bob = await api.store.accounts.create({ teamId: api.teamId, address: 'bob@wren.test' });
  const aliceKey = await api.makeKey(PRESETS['mailbox:full']!, api.teamId, 'mailbox', alice.id);
  const bobKey = await api.makeKey(PRESETS['mailbox:full']!, api.teamId, 'mailbox', bob.id);
  const imap: ImapServer = createImapServer({
    store: api.store,
    login: new LoginService(api.store),
    tls: await imapCertificate(),
    hostname: 'imap.wren.test',
    allowPlainAuthWithoutTls: true,
  });
  const imapPort = (await imap.listen(0, '127.0.0.1', false)).port;
  return {
    api,
    alice,
    bob,
    aliceKey,
    bobKey,
    deliver: (account, o) =>
      api.store.deliver(
        o.raw ??
          makeMessage({ from: 'Carol <carol@sender.test>', to: account.address, subject: o.subject, body: o.body }),
        [{ folder: api.store.folders.byName(account.id, 'INBOX')! }],
      ),
    async imapClient() {
      const client = new ImapFlow({
        host: '127.0.0.1',
        port: imapPort,
        secure: false,
        doSTARTTLS: false,
        auth: { user: 'alice@wren.test', pass: PASSWORD },
        logger: false,
      });
      await client.connect();
      return client;
    },
    async close() {
      await imap.close();
      await api.close();
    },
  };
}

/** Message count of a folder, by IMAP STATUS. */
export async function imapCount(client: ImapFlow, folder: string): Promise<number> {
  const status = await client.status(folder, { messages: true });
  return status ? (status.messages ?? -1) : -1;
}
