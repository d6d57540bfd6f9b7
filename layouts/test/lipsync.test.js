// Unit tests for holding each person's picture by their voice's delay.
// The stats' delays are seconds summed over every sample (jitterBufferDelay
// over jitterBufferEmittedCount is the mean delay of a sample).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  LipSync,
  PICTURE_INITIAL_MS,
  PICTURE_MAX_MS,
  PLAYOUT_DEFAULT_MS,
  pictureTargetMs,
  voiceCounters,
  voiceDelayMs,
} from '../src/lipsync.js';

const inbound = (jitterBufferDelay, jitterBufferEmittedCount, jitterBufferTargetDelay = 0, jitterBufferMinimumDelay = 0) => ({
  type: 'inbound-rtp',
  kind: 'audio',
  jitterBufferDelay,
  jitterBufferEmittedCount,
  jitterBufferTargetDelay,
  jitterBufferMinimumDelay,
});
const playout = (totalPlayoutDelay, totalSamplesCount) => ({ type: 'media-playout', totalPlayoutDelay, totalSamplesCount });

describe('voiceCounters', () => {
  test('inbound audio and its playout', () =>
    assert.deepEqual(voiceCounters([{ type: 'codec' }, inbound(4.8, 48000, 2, 1.5), playout(1.68, 48000)]), {
      jitterDelay: 4.8,
      targetDelay: 2,
      minimumDelay: 1.5,
      emitted: 48000,
      playoutDelay: 1.68,
      playoutSamples: 48000,
    }));
  test('no playout stats', () =>
    assert.deepEqual(voiceCounters([inbound(1, 10)]), {
      jitterDelay: 1,
      targetDelay: 0,
      minimumDelay: 0,
      emitted: 10,
      playoutDelay: 0,
      playoutSamples: 0,
    }));
  test('no inbound audio', () => assert.equal(voiceCounters([{ type: 'inbound-rtp', kind: 'video' }]), null));
});

describe('voiceDelayMs', () => {
  const at = (jitterDelay, emitted, playoutDelay, playoutSamples, targetDelay = 0, minimumDelay = 0) => ({
    jitterDelay,
    emitted,
    playoutDelay,
    playoutSamples,
    targetDelay,
    minimumDelay,
  });
  const cases = [
    // 24000 samples held 100 ms each in the jitter buffer, 35 ms each in playout.
    { name: 'jitter buffer and playout', prev: at(1, 48000, 1, 48000), now: at(2401, 72000, 841, 72000), want: 135 },
    // The buffer drained: what counts is the interval, not the average since the start.
    { name: 'the interval alone', prev: at(10, 100000, 3.5, 100000), now: at(1330, 124000, 843.5, 124000), want: 90 },
    { name: 'no playout stats', prev: at(0, 0, 0, 0), now: at(1200, 24000, 0, 0), want: 50 + PLAYOUT_DEFAULT_MS },
    // The browser's sync raised the buffer's target 100 ms over its own
    // least: the voice's own delay leaves that out.
    {
      name: 'the sync\'s addition left out',
      prev: at(0, 0, 0, 0),
      now: at(3720, 24000, 840, 24000, 3360, 960),
      want: 55 + 35,
    },
    { name: 'nothing played', prev: at(1, 500, 1, 500), now: at(1, 500, 1, 500), want: null },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const got = voiceDelayMs(c.prev, c.now);
      if (c.want === null) assert.equal(got, null);
      else assert.ok(Math.abs(got - c.want) < 1e-6, `${got}, want ${c.want}`);
    });
  }
});

describe('pictureTargetMs', () => {
  const cases = [
    [92.4, 92],
    [-3, 0],
    [9000, PICTURE_MAX_MS],
  ];
  for (const [voice, want] of cases) test(`${voice} ms`, () => assert.equal(pictureTargetMs(voice), want));
});

/** A receiver whose stats a test sets, and whose target it reads. */
class FakeReceiver {
  constructor() {
    this.jitterBufferTarget = null;
    this.report = [];
  }
  async getStats() {
    return new Map(this.report.map((s, i) => [String(i), s]));
  }
}

/** A LipSync on a timer the test runs, counting its starts and stops. */
function lipSync() {
  const timer = { fn: null, started: 0, stopped: 0 };
  const ls = new LipSync(
    (fn) => {
      timer.fn = fn;
      timer.started++;
      return timer.started;
    },
    () => timer.stopped++,
  );
  return { ls, timer };
}

describe('LipSync', () => {
  test('holds the picture by the voice, reading by reading', async () => {
    const { ls, timer } = lipSync();
    const picture = new FakeReceiver();
    const voice = new FakeReceiver();
    ls.update([{ identity: 'alice', picture, voice }]);
    assert.equal(picture.jitterBufferTarget, PICTURE_INITIAL_MS, 'held at the start');
    assert.equal(timer.started, 1);
    const steps = [
      // 48000 samples at 100 + 35 ms: the first reading counts from zero.
      { report: [inbound(4800, 48000), playout(1680, 48000)], want: 135 },
      { report: [inbound(8400, 72000), playout(2520, 72000)], want: 185 }, // 150 + 35
      { report: [inbound(9720, 96000), playout(3360, 96000)], want: 90 }, // drained: 55 + 35
      { report: [inbound(11049.6, 120000), playout(4200, 120000)], want: 90 }, // 90.4: too small a change
      // The browser's sync adds 100 ms to the voice: not the voice's own.
      { report: [inbound(14769.6, 144000, 3360, 960), playout(5040, 144000)], want: 90 },
    ];
    for (const { report, want } of steps) {
      voice.report = report;
      await ls.read();
      assert.equal(picture.jitterBufferTarget, want);
    }
  });

  test('a person without a voice keeps the initial hold, and no timer runs', () => {
    const { ls, timer } = lipSync();
    const picture = new FakeReceiver();
    ls.update([{ identity: 'bob', picture, voice: null }]);
    assert.equal(picture.jitterBufferTarget, PICTURE_INITIAL_MS);
    assert.equal(timer.started, 0);
  });

  test('the timer stops when no one has a voice and a picture', () => {
    const { ls, timer } = lipSync();
    const picture = new FakeReceiver();
    ls.update([{ identity: 'carol', picture, voice: new FakeReceiver() }]);
    ls.update([{ identity: 'carol', picture, voice: new FakeReceiver() }]); // another voice: one timer still
    assert.equal(timer.started, 1);
    ls.update([]);
    assert.equal(timer.stopped, 1);
    assert.equal(ls.people.size, 0);
  });

  test('a new voice starts its readings afresh', async () => {
    const { ls } = lipSync();
    const picture = new FakeReceiver();
    const first = new FakeReceiver();
    first.report = [inbound(4800, 48000)]; // 100 ms, and the playout's default
    ls.update([{ identity: 'dave', picture, voice: first }]);
    await ls.read();
    assert.equal(picture.jitterBufferTarget, 100 + PLAYOUT_DEFAULT_MS);
    const second = new FakeReceiver();
    second.report = [inbound(60, 1000)]; // a new receiver's counters, from zero
    ls.update([{ identity: 'dave', picture, voice: second }]);
    await ls.read();
    assert.equal(picture.jitterBufferTarget, 60 + PLAYOUT_DEFAULT_MS);
  });
});
