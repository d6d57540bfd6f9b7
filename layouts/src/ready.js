// A recording's first second should have every voice in it: the page waits
// (briefly) after its first video frame for each microphone to be heard
// before it signals START_RECORDING. Under load a person's audio track was
// subscribed and played a second or more after the picture, and the
// recording began without their voice.

/**
 * The identities, sorted, of the people with an unmuted microphone that
 * this page does not play yet: not subscribed, or no audio from it has
 * reached the speaker (its receiver reports no synchronisation source
 * until the first played packet).
 * @param {Iterable<{identity: string, audioTrackPublications: Map<string, {source: string, isMuted: boolean, track?: {receiver?: {getSynchronizationSources(): unknown[]}}}>}>} participants
 */
export function voicesNotPlaying(participants) {
  const waiting = new Set();
  for (const p of participants) {
    for (const pub of p.audioTrackPublications.values()) {
      if (pub.source !== 'microphone' || pub.isMuted) continue;
      const receiver = pub.track?.receiver;
      if (!receiver || receiver.getSynchronizationSources().length === 0) waiting.add(p.identity);
    }
  }
  return [...waiting].sort();
}
