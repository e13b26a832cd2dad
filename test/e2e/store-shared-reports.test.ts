// DMARC aggregate and TLS-RPT reports on two Wren nodes sharing one PostgreSQL database
// (docs/ARCHITECTURE.md §4.8): a reporter that mails one report to two addresses (rua= lists several)
// reaches both nodes at once behind a balancer, and the report is still kept once; each node parses only
// the deliveries it took (another node's arrive as foreign events). The collector has no periodic work
// (reports are received, never sent), so nothing else needs a lease. Always on PostgreSQL.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Instance } from '../helpers/instance.ts';
import { dmarcGzipMail, dmarcXml, dmarcZipMail, tlsRptJson, tlsRptMail } from '../helpers/reports.ts';
import { mxTransport, type SharedNodes, startSharedNodes } from '../helpers/shared-nodes.ts';
import { parseDmarcReport } from '../../src/reports/dmarc.ts';
import { Reports } from '../../src/store/reports.ts';

const REPORTS = 5;
let shared: SharedNodes;
let a: Instance;
let b: Instance;
let teamId: string;

test.before(async () => {
  shared = await startSharedNodes('shared-reports');
  ({ a, b } = shared);
  for (const user of ['postmaster', 'dmarc', 'tls'])
    teamId = (await a.addAccount(`${user}@example.test`, 'a password 123')).teamId;
});
test.after(() => shared?.stop());

async function send(instance: Instance, to: string, raw: Buffer): Promise<void> {
  const transport = mxTransport(instance, {
    connectionTimeout: 60_000,
    greetingTimeout: 60_000,
    socketTimeout: 60_000,
  });
  await transport
    .sendMail({ envelope: { from: 'reporter@reporter.example', to }, raw })
    .finally(() => transport.close());
}

/** The team's reports of `kind` once `count` are stored and none more arrive for a second (at most 30 s). */
async function settled(kind: 'dmarc' | 'tls', count: number) {
  const reports = new Reports(a.server.store.kv);
  const deadline = Date.now() + 30_000;
  let last = -1;
  for (;;) {
    const found = await reports.list(kind, teamId);
    if (found.length >= count && found.length === last) return found;
    if (Date.now() > deadline) return found;
    last = found.length;
    await new Promise((r) => setTimeout(r, found.length >= count ? 1000 : 200));
  }
}

test('one report mailed to two addresses, through both nodes at once, is kept once', async () => {
  // Each report reaches postmaster@ through A and dmarc@ through B (zip from one, gzip from the other).
  await Promise.all(
    Array.from({ length: REPORTS }, async (_, i) => {
      const xml = dmarcXml({ reportId: `shared-${i}` });
      await Promise.all([
        send(a, 'postmaster@example.test', dmarcZipMail('postmaster@example.test', xml)),
        send(b, 'dmarc@example.test', dmarcGzipMail('dmarc@example.test', xml)),
      ]);
    }),
  );
  const found = await settled('dmarc', REPORTS);
  assert.equal(
    found.map((s) => s.report.reportId).sort(),
    Array.from({ length: REPORTS }, (_, i) => `shared-${i}`).sort(),
    'each report once',
  );
});

test("the same report added by both nodes' collectors at the same instant is stored once", async () => {
  // The collectors' own step, without SMTP's timing: node A's and node B's Reports add one report at once.
  const [accountA, accountB] = await Promise.all(
    ['postmaster', 'dmarc'].map((user) => a.server.store.accounts.byAddress(`${user}@example.test`)),
  );
  for (let i = 0; i < 5; i++) {
    const report = parseDmarcReport(dmarcXml({ reportId: `instant-${i}` }));
    const [first, second] = await Promise.all([
      new Reports(a.server.store.kv).add(teamId, accountA!.id, report),
      new Reports(b.server.store.kv).add(teamId, accountB!.id, report),
    ]);
    assert.is(first.stored.id, second.stored.id, `report ${i}: one stored, the other node found it`);
    assert.equal([first.duplicate, second.duplicate].sort(), [false, true]);
  }
  const kept = (await new Reports(b.server.store.kv).list('dmarc', teamId)).filter((s) =>
    s.report.reportId.startsWith('instant-'),
  );
  assert.is(kept.length, 5);
});

test('a TLS report through both nodes at once is kept once too', async () => {
  const json = tlsRptJson({ domain: 'example.test', reportId: 'tls-shared-1' });
  await Promise.all([
    send(a, 'tls@example.test', tlsRptMail('tls@example.test', json, 'example.test')),
    send(b, 'postmaster@example.test', tlsRptMail('postmaster@example.test', json, 'example.test')),
  ]);
  const found = await settled('tls', 1);
  assert.equal(
    found.map((s) => s.report.reportId),
    ['tls-shared-1'],
  );
});

test.run();
