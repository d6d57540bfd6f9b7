// Each person's sound as the page plays it, for the producer's meters: a
// WebAudio analyser on each microphone, read when the engine asks
// (window.roomcastLevels()). The AudioContext starts at the first read and
// closes when reads stop for IDLE_MS, so a composite nobody meters (one an
// API request started, or the studio's once its window closed) plays
// exactly as before, and pays nothing for its meters.

/** The quietest level reported, in dBFS (JSON has no -Infinity). */
export const FLOOR_DB = -100;

/** An amplitude (0..1) in dBFS, at least FLOOR_DB. */
export function toDb(x) {
  return x > 0 ? Math.max(FLOOR_DB, 20 * Math.log10(x)) : FLOOR_DB;
}

/**
 * The RMS and peak, in dBFS, of samples in [-1, 1].
 * @param {ArrayLike<number>} samples
 */
export function levelOf(samples) {
  let peak = 0;
  let sum = 0;
  for (let i = 0; i < samples.length; i++) {
    const x = samples[i];
    peak = Math.max(peak, Math.abs(x));
    sum += x * x;
  }
  const rms = samples.length > 0 ? Math.sqrt(sum / samples.length) : 0;
  return { rms: toDb(rms), peak: toDb(peak) };
}

/** Analyser window: 2048 samples, about 43 ms at 48 kHz. */
const WINDOW = 2048;

/** Without a read for this long, the meters let go of their AudioContext. */
export const IDLE_MS = 2000;

export class PeopleMeters {
  /**
   * @param {() => AudioContext} newContext
   * @param {{setTimer?: typeof setTimeout, clearTimer?: typeof clearTimeout}} [timers] for tests
   */
  constructor(newContext, { setTimer = (f, ms) => setTimeout(f, ms), clearTimer = (id) => clearTimeout(id) } = {}) {
    // (Wrapped: a browser's setTimeout called as a method of another
    // object throws "Illegal invocation".)
    this.newContext = newContext;
    this.setTimer = setTimer;
    this.clearTimer = clearTimer;
    this.idle = null;
    this.ctx = null;
    /** @type {Map<string, {source: AudioNode, analyser: AnalyserNode, buf: Float32Array}>} by track id */
    this.taps = new Map();
  }

  /** Closes the AudioContext and lets go of every tap, until the next read. */
  release() {
    for (const tap of this.taps.values()) tap.source.disconnect();
    this.taps.clear();
    this.ctx?.close();
    this.ctx = null;
  }

  /**
   * Reads everyone's level now, tapping microphones not tapped yet and
   * letting go of those gone.
   * @param {{identity: string, name: string, micOn: boolean, track: MediaStreamTrack|null}[]} people
   * @returns {{identity: string, name: string, micOn: boolean, rms: number, peak: number}[]}
   */
  read(people) {
    this.clearTimer(this.idle);
    this.idle = this.setTimer(() => this.release(), IDLE_MS);
    this.ctx ??= this.newContext();
    const live = new Set();
    const out = people.map(({ identity, name, micOn, track }) => {
      let level = { rms: FLOOR_DB, peak: FLOOR_DB };
      if (track) {
        live.add(track.id);
        let tap = this.taps.get(track.id);
        if (!tap) {
          const source = this.ctx.createMediaStreamSource(new MediaStream([track]));
          const analyser = this.ctx.createAnalyser();
          analyser.fftSize = WINDOW;
          source.connect(analyser);
          tap = { source, analyser, buf: new Float32Array(WINDOW) };
          this.taps.set(track.id, tap);
        }
        tap.analyser.getFloatTimeDomainData(tap.buf);
        level = levelOf(tap.buf);
      }
      return { identity, name, micOn, ...level };
    });
    for (const [id, tap] of this.taps) {
      if (live.has(id)) continue;
      tap.source.disconnect();
      this.taps.delete(id);
    }
    return out;
  }
}
