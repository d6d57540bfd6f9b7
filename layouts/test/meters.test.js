// Unit tests for the people's meters: node --test (a fake AudioContext).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { FLOOR_DB, IDLE_MS, PeopleMeters, levelOf, toDb } from '../src/meters.js';

describe('levelOf', () => {
  const sine = (amp, n = 4800) => Float32Array.from({ length: n }, (_, i) => amp * Math.sin((2 * Math.PI * 440 * i) / 48000));
  for (const [name, samples, rms, peak] of [
    ['full-scale sine', sine(1), -3.01, 0],
    ['half-scale sine', sine(0.5), -9.03, -6.02],
    ['digital silence', new Float32Array(2048), FLOOR_DB, FLOOR_DB],
    ['nothing', [], FLOOR_DB, FLOOR_DB],
  ]) {
    test(name, () => {
      const got = levelOf(samples);
      assert.ok(Math.abs(got.rms - rms) < 0.05, `rms ${got.rms}, want ${rms}`);
      assert.ok(Math.abs(got.peak - peak) < 0.05, `peak ${got.peak}, want ${peak}`);
    });
  }
  test('toDb floors', () => {
    assert.equal(toDb(0), FLOOR_DB);
    assert.equal(toDb(1e-9), FLOOR_DB);
    assert.equal(toDb(1), 0);
  });
});

describe('PeopleMeters', () => {
  // A fake WebAudio: each analyser gives the samples of its track.
  globalThis.MediaStream = class {
    constructor(tracks) {
      this.tracks = tracks;
    }
  };
  const fakeContext = (counts) => ({
    close() {
      counts.closed++;
    },
    createMediaStreamSource(stream) {
      counts.sources++;
      return {
        track: stream.tracks[0],
        connect(an) {
          an.track = this.track;
        },
        disconnect() {
          counts.disconnected++;
        },
      };
    },
    createAnalyser() {
      return {
        getFloatTimeDomainData(buf) {
          buf.fill(this.track.amp);
        },
      };
    },
  });

  // Timers run only when the test says (fire).
  const fakeTimers = () => {
    const timers = { next: 1, pending: new Map() };
    timers.setTimer = (f, ms) => {
      timers.pending.set(timers.next, { f, ms });
      return timers.next++;
    };
    timers.clearTimer = (id) => timers.pending.delete(id);
    timers.fire = () => {
      const due = [...timers.pending.values()];
      timers.pending.clear();
      for (const { f } of due) f();
    };
    return timers;
  };
  const newMeters = (counts, timers = fakeTimers()) =>
    new PeopleMeters(() => {
      counts.contexts++;
      return fakeContext(counts);
    }, timers);

  test('taps each microphone once, reads it, and lets go of one gone', () => {
    const counts = { contexts: 0, sources: 0, disconnected: 0, closed: 0 };
    const meters = newMeters(counts);
    assert.equal(counts.contexts, 0, 'no AudioContext before the first read');
    const alice = { id: 'TR_a', amp: 0.5 };
    const bob = { id: 'TR_b', amp: 0.1 };
    const people = [
      { identity: 'alice', name: 'Alice', micOn: true, track: alice },
      { identity: 'bob', name: 'Bob', micOn: true, track: bob },
      { identity: 'carol', name: 'Carol', micOn: false, track: null },
    ];
    let got = meters.read(people);
    got = meters.read(people);
    assert.equal(counts.contexts, 1);
    assert.equal(counts.sources, 2, 'one tap per microphone, kept between reads');
    assert.deepEqual(
      got.map(({ identity, micOn, rms }) => [identity, micOn, Math.round(rms)]),
      [
        ['alice', true, -6],
        ['bob', true, -20],
        ['carol', false, FLOOR_DB],
      ],
    );
    meters.read(people.slice(0, 1));
    assert.equal(counts.disconnected, 1, "bob's tap let go");
    assert.equal(meters.taps.size, 1);
  });

  test('lets go of the AudioContext when nobody reads, and starts again at the next read', () => {
    const counts = { contexts: 0, sources: 0, disconnected: 0, closed: 0 };
    const timers = fakeTimers();
    const meters = newMeters(counts, timers);
    const people = [{ identity: 'alice', name: 'Alice', micOn: true, track: { id: 'TR_a', amp: 0.5 } }];
    meters.read(people);
    meters.read(people);
    assert.equal(timers.pending.size, 1, 'one idle timer, moved on by each read');
    assert.equal([...timers.pending.values()][0].ms, IDLE_MS);
    timers.fire();
    assert.deepEqual([counts.closed, counts.disconnected, meters.taps.size], [1, 1, 0], 'closed, taps let go');
    const [alice] = meters.read(people);
    assert.equal(Math.round(alice.rms), -6, 'read again after the release');
    assert.deepEqual([counts.contexts, counts.sources], [2, 2], 'a new context and tap');
  });

  test("calls the page's own timers as a browser wants them, not as methods", () => {
    // A browser's setTimeout throws "Illegal invocation" when called with
    // another object as this; node's does not, so stand one in.
    const { setTimeout: realSet, clearTimeout: realClear } = globalThis;
    const calls = [];
    const strict = (name) =>
      function (...args) {
        if (this !== undefined && this !== globalThis) throw new TypeError('Illegal invocation');
        calls.push(name);
        return name === 'set' ? 7 : undefined;
      };
    globalThis.setTimeout = strict('set');
    globalThis.clearTimeout = strict('clear');
    try {
      const counts = { contexts: 0, sources: 0, disconnected: 0, closed: 0 };
      const meters = new PeopleMeters(() => fakeContext(counts));
      meters.read([{ identity: 'alice', name: 'Alice', micOn: true, track: { id: 'TR_a', amp: 0.5 } }]);
      assert.deepEqual(calls, ['clear', 'set']);
    } finally {
      globalThis.setTimeout = realSet;
      globalThis.clearTimeout = realClear;
    }
  });
});
