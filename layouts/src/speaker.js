// Active-speaker choice with a hold, so the speaker layouts do not flicker
// between two people talking over each other. Pure: time is passed in.

/**
 * Minimum time between two speaker switches. 1.5 s keeps back-and-forth
 * chatter from flashing the main tile, and is below the 2 s within which a
 * new loudest speaker must be on screen.
 */
export const SPEAKER_HOLD_MS = 1500;

export class SpeakerSelector {
  /** @param {number} holdMs */
  constructor(holdMs = SPEAKER_HOLD_MS) {
    this.holdMs = holdMs;
    /** @type {string|null} */
    this.current = null;
    this.lastSwitch = -Infinity;
    /** @type {string[]} */
    this.active = [];
  }

  /**
   * setActive records LiveKit's active speakers, loudest first.
   * @param {string[]} ids
   */
  setActive(ids) {
    this.active = ids.slice();
  }

  /**
   * select returns the speaker to feature now and, when a switch is held
   * back, the time at which select should be called again.
   *
   * @param {string[]} present ids that can be shown, in preference order
   *   for the fallback (e.g. people with video first)
   * @param {number} now ms
   * @returns {{id: string|null, recheckAt: number|null}}
   */
  select(present, now) {
    if (this.current !== null && !present.includes(this.current)) {
      this.current = null; // left: replace at once, no hold
    }
    const candidate = this.active.find((id) => present.includes(id)) ?? null;
    if (this.current === null) {
      if (candidate !== null) {
        this.current = candidate;
        this.lastSwitch = now;
      } else {
        // Nobody speaking: show someone, but do not start a hold for it, so
        // the first real speaker takes over at once.
        this.current = present[0] ?? null;
        this.lastSwitch = -Infinity;
      }
      return { id: this.current, recheckAt: null };
    }
    if (candidate === null || candidate === this.current) {
      return { id: this.current, recheckAt: null };
    }
    if (now - this.lastSwitch >= this.holdMs) {
      this.current = candidate;
      this.lastSwitch = now;
      return { id: this.current, recheckAt: null };
    }
    return { id: this.current, recheckAt: this.lastSwitch + this.holdMs };
  }
}
