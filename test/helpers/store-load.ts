// Child process for the crash test: delivers messages into a store as fast as it can (10 writers,
// 3 folders, some duplicates) and prints "ack <folder> <uid>" for each delivery once it is durable.
import { Store } from '../../src/store/index.ts';
import { makeMessage } from './tmp.ts';

const dir = process.argv[2]!;
const store = await Store.open(dir);
const team = await store.teams.create('crash');
const account = await store.accounts.create({ teamId: team.id, address: 'load@example.test' });
const folders = ['INBOX', 'Archive', 'Junk'].map((name) => store.folders.byName(account.id, name)!);
process.stdout.write(`ready ${account.id}\n`);

let n = 0;
async function writer(id: number): Promise<void> {
  for (let i = 0; i < 100_000; i++) {
    const folder = folders[(id + i) % folders.length]!;
    // every fifth message repeats an earlier body, so refcounts are exercised too
    const raw = makeMessage({
      subject: `load ${i % 5 === 0 ? 'dup' : `${id}-${i}`}`,
      id: i % 5 === 0 ? 'dup@test' : `${id}.${i}@test`,
      bytes: 4096,
    });
    const { delivered } = await store.deliver(raw, [{ folder }]);
    process.stdout.write(`ack ${folder.id} ${delivered[0]!.message.uid} ${++n}\n`);
  }
}
await Promise.all(Array.from({ length: 10 }, (_, id) => writer(id)));
