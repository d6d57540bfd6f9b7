// Unit tests for the active-speaker hold and the participant helpers.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { hue, initials, isShown } from '../src/people.js';
import { SPEAKER_HOLD_MS, SpeakerSelector } from '../src/speaker.js';

describe('SpeakerSelector', () => {
  test('hold is under the 2 s a new speaker may wait', () => {
    assert.ok(SPEAKER_HOLD_MS >= 1000 && SPEAKER_HOLD_MS < 2000);
  });

  test('nobody speaking: the first present person, and no hold started', () => {
    const s = new SpeakerSelector(1500);
    assert.deepEqual(s.select(['a', 'b'], 0), { id: 'a', recheckAt: null });
    s.setActive(['b']);
    assert.deepEqual(s.select(['a', 'b'], 100), { id: 'b', recheckAt: null });
  });

  test('a new loudest speaker waits for the hold, then takes over', () => {
    const s = new SpeakerSelector(1500);
    s.setActive(['a']);
    assert.equal(s.select(['a', 'b'], 1000).id, 'a');
    s.setActive(['b', 'a']);
    assert.deepEqual(s.select(['a', 'b'], 1400), { id: 'a', recheckAt: 2500 });
    assert.deepEqual(s.select(['a', 'b'], 2500), { id: 'b', recheckAt: null });
  });

  test('back-and-forth within the hold does not flicker', () => {
    const s = new SpeakerSelector(1500);
    s.setActive(['a']);
    s.select(['a', 'b'], 0);
    const seen = [];
    for (let t = 100; t < 1500; t += 100) {
      s.setActive(t % 200 === 0 ? ['b'] : ['a']);
      seen.push(s.select(['a', 'b'], t).id);
    }
    assert.ok(seen.every((id) => id === 'a'), seen.join(''));
  });

  test('silence keeps the current speaker', () => {
    const s = new SpeakerSelector(1500);
    s.setActive(['b']);
    s.select(['a', 'b'], 0);
    s.setActive([]);
    assert.equal(s.select(['a', 'b'], 10000).id, 'b');
  });

  test('a speaker who leaves is replaced at once', () => {
    const s = new SpeakerSelector(1500);
    s.setActive(['b']);
    s.select(['a', 'b', 'c'], 0);
    s.setActive(['c']);
    assert.deepEqual(s.select(['a', 'c'], 100), { id: 'c', recheckAt: null });
  });

  test('active speakers who are not shown are ignored', () => {
    const s = new SpeakerSelector(1500);
    s.setActive(['EG_x', 'b']);
    assert.equal(s.select(['a', 'b'], 0).id, 'b');
  });

  test('empty room', () => {
    const s = new SpeakerSelector(1500);
    assert.deepEqual(s.select([], 0), { id: null, recheckAt: null });
  });
});

describe('people', () => {
  test('isShown hides the recorder and hidden participants', () => {
    assert.equal(isShown({ identity: 'alice' }), true);
    assert.equal(isShown({ identity: 'EG_abc123' }), false);
    assert.equal(isShown({ identity: 'bob', hidden: true }), false);
    assert.equal(isShown({ identity: 'eg_lowercase' }), true);
    assert.equal(isShown(null), false);
  });

  const cases = [
    ['Ada Lovelace', 'AL'],
    ['ada', 'A'],
    ['Jean-Luc Picard', 'JP'],
    ['  chloé   martin  ', 'CM'],
    ['alice@example.com', 'AC'],
    ['Ana María de la Cruz', 'AC'],
    ['李 小龙', '李小'],
    ['', '?'],
    ['---', '?'],
  ];
  for (const [name, want] of cases) {
    test(`initials(${JSON.stringify(name)}) = ${want}`, () => assert.equal(initials(name), want));
  }

  test('hue is stable and in range', () => {
    assert.equal(hue('alice'), hue('alice'));
    for (const id of ['a', 'b', 'EG_1', 'participant-42']) {
      const h = hue(id);
      assert.ok(Number.isInteger(h) && h >= 0 && h < 360);
    }
    assert.notEqual(hue('alice'), hue('bob'));
  });
});
