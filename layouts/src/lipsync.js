// Lip sync from a person's first frame. Chromium syncs a person's picture
// to their voice only once it has two RTCP sender reports of each (4-7 s
// after joining on LiveKit, whose server sends them every 3 s), and then
// moves the picture by at most 80 ms a second. Until then each plays as
// soon as it can, and the voice's jitter buffer starts deep (90-150 ms in
// a composite's first second on loopback, where the picture's took 60)
// and drains to about 55 ms over some 3 s: the clapper's first flips were
// 85-230 ms apart in cold starts, then settled.
//
// So the page holds each person's picture back, in its jitter buffer, by
// what their voice takes from arrival to the sound card (its jitter buffer
// and its playout), read from the voice's stats twice a second. Both start
// at the same arrival, so the two come out together, and Chromium's sync,
// once it runs, finds them in step. What its sync adds to the voice (to
// meet a late picture) is left out of the voice's delay: counted in, the
// page would hold the picture later still, and the sync delay the voice
// again, a loop (on a machine loaded beyond its cores, it put a
// composite's sound 0.5-0.9 s behind the people's own files in 20 s).

/** How often each person's voice delay is read. */
export const POLL_MS = 500;
/**
 * The picture's hold before its voice's delay is known, or without a
 * voice: about what a voice took on loopback once drained.
 */
export const PICTURE_INITIAL_MS = 80;
/** Chromium takes a jitterBufferTarget of at most 4 s. */
export const PICTURE_MAX_MS = 4000;
/** A change smaller than this is not worth a picture's jump. */
export const STEP_MS = 10;
/**
 * The voice's playout delay when the browser does not report it: what
 * it was on the composite's PulseAudio sink.
 */
export const PLAYOUT_DEFAULT_MS = 35;

/**
 * The counters of a voice receiver's stats that its delay comes from
 * (cumulative, in seconds and samples); null without its inbound-rtp.
 * @param {Iterable<any>} report the values of an RTCStatsReport
 */
export function voiceCounters(report) {
  let inbound = null;
  let playout = null;
  for (const s of report) {
    if (s.type === 'inbound-rtp' && s.kind === 'audio') inbound = s;
    if (s.type === 'media-playout') playout = s;
  }
  if (!inbound) return null;
  return {
    jitterDelay: inbound.jitterBufferDelay ?? 0,
    // The buffer's target, and what it would be without the sync's
    // (or any other) addition: their difference is that addition.
    targetDelay: inbound.jitterBufferTargetDelay ?? 0,
    minimumDelay: inbound.jitterBufferMinimumDelay ?? 0,
    emitted: inbound.jitterBufferEmittedCount ?? 0,
    playoutDelay: playout?.totalPlayoutDelay ?? 0,
    playoutSamples: playout?.totalSamplesCount ?? 0,
  };
}

/**
 * The voice's own delay from arrival to the sound card over the interval
 * between two readings of its counters (what the browser's sync adds left
 * out), in ms; null when no sound was played in it.
 */
export function voiceDelayMs(prev, now) {
  const emitted = now.emitted - prev.emitted;
  if (!(emitted > 0)) return null;
  const added = now.targetDelay - prev.targetDelay - (now.minimumDelay - prev.minimumDelay);
  const jitter = (1000 * (now.jitterDelay - prev.jitterDelay - Math.max(0, added))) / emitted;
  const samples = now.playoutSamples - prev.playoutSamples;
  const playout = samples > 0 ? (1000 * (now.playoutDelay - prev.playoutDelay)) / samples : PLAYOUT_DEFAULT_MS;
  return jitter + playout;
}

/** The picture's jitter buffer target for a voice that takes voiceMs. */
export function pictureTargetMs(voiceMs) {
  return Math.min(PICTURE_MAX_MS, Math.max(0, Math.round(voiceMs)));
}

/** A voice's counters before its first sample. */
const NO_SOUND = { jitterDelay: 0, emitted: 0, targetDelay: 0, minimumDelay: 0, playoutDelay: 0, playoutSamples: 0 };

/**
 * Holds each person's picture by their voice's delay (see above). update
 * is given everyone's receivers at each redraw; the readings run on a
 * timer of their own while anyone has both.
 */
export class LipSync {
  /**
   * @param {(fn: () => void, ms: number) => any} every setInterval, or a test's
   * @param {(timer: any) => void} stop clearInterval, or a test's
   */
  constructor(every = (fn, ms) => setInterval(fn, ms), stop = (timer) => clearInterval(timer)) {
    this.every = every;
    this.stop = stop;
    this.people = new Map(); // identity -> {picture, voice, last}
    this.timer = null;
  }

  /**
   * @param {{identity: string, picture?: RTCRtpReceiver|null, voice?: RTCRtpReceiver|null}[]} people
   *   each person's camera and microphone receivers, null when not received
   */
  update(people) {
    const seen = new Set();
    for (const { identity, picture, voice } of people) {
      if (!picture) continue;
      seen.add(identity);
      let p = this.people.get(identity);
      if (!p || p.picture !== picture) {
        p = { picture, voice: null, last: NO_SOUND };
        this.people.set(identity, p);
        hold(picture, PICTURE_INITIAL_MS);
      }
      if (p.voice !== (voice ?? null)) {
        p.voice = voice ?? null;
        p.last = NO_SOUND; // a receiver's counters start from zero
        if (!p.voice) hold(picture, PICTURE_INITIAL_MS);
      }
    }
    for (const identity of this.people.keys()) {
      if (!seen.has(identity)) this.people.delete(identity);
    }
    this.schedule();
  }

  /** Runs the timer while anyone has a picture and a voice. */
  schedule() {
    const any = [...this.people.values()].some((p) => p.voice);
    if (any && this.timer === null) this.timer = this.every(() => this.read(), POLL_MS);
    if (!any && this.timer !== null) {
      this.stop(this.timer);
      this.timer = null;
    }
  }

  /** Reads each voice's delay and holds its picture by it. */
  async read() {
    await Promise.all(
      [...this.people.values()].map(async (p) => {
        if (!p.voice) return;
        const voice = p.voice;
        let counters;
        try {
          counters = voiceCounters((await voice.getStats()).values());
        } catch {
          return; // a receiver closed meanwhile
        }
        if (!counters || p.voice !== voice) return;
        const delay = voiceDelayMs(p.last, counters);
        p.last = counters;
        if (delay !== null) hold(p.picture, pictureTargetMs(delay));
      }),
    );
  }
}

/** Sets a picture receiver's jitter buffer target, unless it is that already. */
function hold(receiver, ms) {
  if (!('jitterBufferTarget' in receiver)) return;
  const now = receiver.jitterBufferTarget;
  if (now !== null && Math.abs(now - ms) < STEP_MS) return;
  receiver.jitterBufferTarget = ms;
}
