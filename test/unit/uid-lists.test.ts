// UID lists shared between IMAP sessions (src/imap/uid-lists.ts): equal lists are one object, a change
// leads every session that makes it to the same next list, and a shared list cannot be changed in place.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UidLists } from '../../src/imap/uid-lists.ts';

test('sessions selecting a folder in the same state share one frozen list; another state gets its own', () => {
  const lists = new UidLists();
  const a = lists.intern(1, [1, 2, 5]);
  const b = lists.intern(1, [1, 2, 5]);
  assert.is(a, b, 'one list for both sessions');
  assert.ok(Object.isFrozen(a));
  assert.throws(() => (a as number[]).push(6));
  const c = lists.intern(1, [1, 2, 6]);
  assert.is.not(c, a);
  assert.equal([...c], [1, 2, 6]);
  assert.is.not(lists.intern(2, [1, 2, 6]), c, 'lists are shared within a folder only');
  assert.is(lists.ofMessages(1, [{ uid: 1 }, { uid: 2 }, { uid: 6 }]), c, 'found from the messages themselves');
  assert.equal([...lists.ofMessages(1, [{ uid: 1 }, { uid: 7 }])], [1, 7]);
});

test('a change takes every session holding the same list to the same next list, leaving the old one as it was', () => {
  const lists = new UidLists();
  const start = lists.intern(1, [1, 2, 3, 4]);
  const grown = lists.append(1, start, [7, 8]);
  assert.equal([...grown], [1, 2, 3, 4, 7, 8]);
  assert.is(lists.append(1, start, [7, 8]), grown, 'the second session reuses the first one’s step');
  assert.equal([...start], [1, 2, 3, 4], 'a session that has not announced yet still sees its own list');
  const shrunk = lists.remove(1, grown, [2, 7, 99]);
  assert.equal([...shrunk], [1, 3, 4, 8]);
  assert.is(lists.remove(1, grown, [2, 7, 99]), shrunk);
  assert.ok(Object.isFrozen(shrunk));
  assert.is(lists.intern(1, [1, 3, 4, 8]), shrunk, 'a later SELECT finds the list the changes led to');
  assert.is(lists.append(1, shrunk, []), shrunk);
  assert.is(lists.remove(1, shrunk, []), shrunk);
  const many = Array.from({ length: 1500 }, (_, i) => 100 + i);
  const big = lists.append(1, shrunk, many);
  assert.is(big.length, 1504);
  assert.is(lists.append(1, shrunk, many), big, 'found again by content when the step is too large to key');
});

test.run();
