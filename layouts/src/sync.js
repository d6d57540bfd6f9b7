// Lip sync needs each person's camera and microphone in one WebRTC stream:
// a browser synchronises the playout of the tracks of one MediaStream only.
// A LiveKit server sends them so when its config sets room.sync_streams;
// without it each track comes in a stream of its own and the recording's
// sound and picture of a person may drift apart by hundreds of ms. The page
// cannot fix that, but it can see it and tell the engine, which tells the
// producer.

/**
 * The identities, sorted, of the people whose camera and microphone are
 * both received but not in one stream.
 * @param {{identity: string, camera?: string|null, microphone?: string|null}[]} people
 *   each person's stream IDs ('' or null when the track is not received,
 *   undefined when it is received with no stream)
 */
export function unsyncedPeople(people) {
  return people
    .filter(({ camera, microphone }) => camera !== null && camera !== '' && microphone !== null && microphone !== '')
    .filter(({ camera, microphone }) => camera === undefined || camera !== microphone)
    .map(({ identity }) => identity)
    .sort();
}

/** Calls report(list) when the list of unsynced people changes, and not otherwise. */
export class UnsyncedReporter {
  constructor(report) {
    this.report = report;
    this.last = '[]';
  }

  update(people) {
    const list = unsyncedPeople(people);
    const key = JSON.stringify(list);
    if (key === this.last) return;
    this.last = key;
    this.report(list);
  }
}
