// Unit tests for the check that each person's camera and microphone share
// one stream (the LiveKit server's room.sync_streams).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { UnsyncedReporter, unsyncedPeople } from '../src/sync.js';

describe('unsyncedPeople', () => {
  const cases = [
    { name: 'one stream each', people: [{ identity: 'a', camera: 'PA_a', microphone: 'PA_a' }], want: [] },
    { name: 'two streams', people: [{ identity: 'a', camera: 'PA_a|TR_v', microphone: 'PA_a|TR_m' }], want: ['a'] },
    { name: 'received without a stream', people: [{ identity: 'a', camera: undefined, microphone: undefined }], want: ['a'] },
    { name: 'camera only', people: [{ identity: 'a', camera: 'x', microphone: null }], want: [] },
    { name: 'microphone only', people: [{ identity: 'a', camera: '', microphone: 'y' }], want: [] },
    {
      name: 'sorted, the synced left out',
      people: [
        { identity: 'carol', camera: 'c1', microphone: 'c2' },
        { identity: 'bob', camera: 'b', microphone: 'b' },
        { identity: 'alice', camera: 'a1', microphone: 'a2' },
      ],
      want: ['alice', 'carol'],
    },
  ];
  for (const c of cases) {
    test(c.name, () => assert.deepEqual(unsyncedPeople(c.people), c.want));
  }
});

describe('UnsyncedReporter', () => {
  test('reports changes only', () => {
    const got = [];
    const r = new UnsyncedReporter((list) => got.push(list));
    r.update([{ identity: 'a', camera: 'a', microphone: 'a' }]);
    r.update([{ identity: 'a', camera: '1', microphone: '2' }]);
    r.update([{ identity: 'a', camera: '1', microphone: '2' }]);
    r.update([]);
    assert.deepEqual(got, [['a'], []]);
  });
});
