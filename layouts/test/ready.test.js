// Unit tests for the wait for every microphone before the start signal.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { voicesNotPlaying } from '../src/ready.js';

/** A person with the given audio publications ({source, muted, sources}: sources undefined for not subscribed). */
function person(identity, ...pubs) {
  const audioTrackPublications = new Map(
    pubs.map((pub, i) => [
      `TR_${identity}${i}`,
      {
        source: pub.source ?? 'microphone',
        isMuted: pub.muted ?? false,
        track: pub.sources === undefined ? undefined : { receiver: { getSynchronizationSources: () => pub.sources } },
      },
    ]),
  );
  return { identity, audioTrackPublications };
}

const cases = [
  { name: 'nobody', people: [], want: [] },
  { name: 'heard', people: [person('a', { sources: [{ source: 1 }] })], want: [] },
  { name: 'not subscribed yet', people: [person('a', {})], want: ['a'] },
  { name: 'subscribed, nothing played yet', people: [person('a', { sources: [] })], want: ['a'] },
  { name: 'muted microphone', people: [person('a', { muted: true })], want: [] },
  { name: 'screen share audio not waited for', people: [person('a', { source: 'screen_share_audio' })], want: [] },
  { name: 'no microphone', people: [person('a')], want: [] },
  {
    name: 'sorted, once each',
    people: [person('carol', {}, { sources: [] }), person('bob', { sources: [{}] }), person('alice', { sources: [] })],
    want: ['alice', 'carol'],
  },
];
for (const c of cases) {
  test(c.name, () => assert.deepEqual(voicesNotPlaying(c.people), c.want));
}
