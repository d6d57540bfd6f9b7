// Unit tests for the join order of participants (the grid's tile order).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { compareJoin } from '../src/people.js';

describe('compareJoin', () => {
  const order = (items) => items.slice().sort(compareJoin).map((i) => i.id);

  test('earlier join time first, whatever the first-seen order', () => {
    assert.deepEqual(
      order([
        { id: 'b', joinedMs: 2000, seen: 1 },
        { id: 'a', joinedMs: 1000, seen: 2 },
      ]),
      ['a', 'b'],
    );
  });

  test('equal join times keep the order first seen, for any input order', () => {
    const a = { id: 'a', joinedMs: 5000, seen: 1 };
    const b = { id: 'b', joinedMs: 5000, seen: 2 };
    const c = { id: 'c', joinedMs: 5000, seen: 3 };
    for (const input of [[a, b, c], [c, b, a], [b, a, c], [b, c, a]]) {
      assert.deepEqual(order(input), ['a', 'b', 'c']);
    }
  });

  test('an unknown join time sorts last', () => {
    assert.deepEqual(
      order([
        { id: 'x', seen: 1 },
        { id: 'a', joinedMs: 9000, seen: 2 },
      ]),
      ['a', 'x'],
    );
    assert.equal(compareJoin({ seen: 1 }, { seen: 2 }), -1);
  });
});
