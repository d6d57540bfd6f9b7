// Roomcast layout template: joins a LiveKit room as the (hidden,
// subscribe-only) recorder and draws it. The contract is LiveKit Egress's:
//
//   query: url (LiveKit ws URL), token (recorder's access token), layout
//   console.log('START_RECORDING') once the room is on screen: after the
//     first video frame is shown and every unmuted microphone is heard
//     (at most VOICE_WAIT_MS after that frame), or ~1 s after connecting
//     when nobody publishes video (at most 5 s after connecting in any
//     case);
//   console.log('END_RECORDING') when the room ends (deleted or closed,
//     or the recorder removed from it);
//   errors: shown in div.error and console.error'd.
// Roomcast's additions: the connection's state, for the engine to show,
//   console.log('ROOMCAST_CONNECTION', state, detail), state one of
//   'reconnecting', 'reconnected' and 'lost' (no connection within
//   REJOIN_WINDOW_MS: the engine fails the recording with detail);
//   console.log('ROOMCAST_UNSYNCED', JSON list of identities) when the
//   people whose camera and microphone come in separate streams (so the
//   browser cannot lip-sync them) change.
//
// Live layout changes: window.roomcastSetLayout(name) (what the Roomcast
// engine calls), or recorder metadata {"layout": name} (what LiveKit Egress's
// UpdateLayout does through the egress SDK).
// Kept ready by the engine (query standby=1): the page loads but joins only
//   when window.roomcastJoin(join) is called, with the query's url, token
//   and layout, or with those of join ({url, token, layout}) when given.
// Each person's sound level, for the producer's meters:
//   window.roomcastLevels() -> [{identity, name, micOn, rms, peak}] (dBFS),
//   the people shown, in join order.
// How late the page shows each person's camera, to line their own
//   recording up with the composite: window.roomcastDisplayDelays() ->
//   {identity: ms from a frame's arrival to its expected display}.

import {
  ConnectionErrorReason,
  DisconnectReason,
  ParticipantEvent,
  Room,
  RoomEvent,
  Track,
  setLogLevel,
} from 'livekit-client';
import { LAYOUT_NAMES, parseLayout } from './geometry.js';
import { compareJoin, isShown } from './people.js';
import { PeopleMeters } from './meters.js';
import { SpeakerSelector } from './speaker.js';
import { Stage } from './stage.js';
import { voicesNotPlaying } from './ready.js';
import { LipSync } from './lipsync.js';
import { UnsyncedReporter } from './sync.js';

/** With nobody publishing video, start this long after connecting. */
const NO_VIDEO_START_MS = 1000;
/** Start anyway if published video has not shown a frame by then (Egress waits 5 s too). */
const FIRST_FRAME_TIMEOUT_MS = 5000;
/** After the first frame, wait at most this long for every microphone to be heard. */
const VOICE_WAIT_MS = 2000;
/** How often the wait for the microphones looks again. */
const VOICE_POLL_MS = 50;
/** Disconnect reasons that mean the room is over: the recording ends. */
const ROOM_OVER = new Set([
  DisconnectReason.ROOM_DELETED,
  DisconnectReason.ROOM_CLOSED,
  DisconnectReason.PARTICIPANT_REMOVED,
  DisconnectReason.CLIENT_INITIATED,
]);

const errorEl = document.querySelector('div.error');
const audioEl = document.getElementById('audio');
const params = new URLSearchParams(window.location.search);
/**
 * After losing the server, livekit-client reconnects and then this page
 * rejoins (for another reason than the room's end) until this long after
 * the loss, before giving up: a LiveKit server restarts in seconds, and
 * its rooms come back as their people rejoin. The engine may set it
 * (rejoin_window_ms).
 */
const REJOIN_WINDOW_MS = Number(params.get('rejoin_window_ms')) || 60000;
// How long the engine waits for START_RECORDING (its start timeout), from
// about when this page began to load. The first join is tried again within
// it: a media connection that failed once (it did, on loopback, under
// load) usually works the next time, and a producer gets a recording
// instead of a failure 20 s later.
const START_TIMEOUT_MS = Number(params.get('start_timeout_ms')) || 20000;
// One try's bound on the media connection (ICE, over TURN and TLS
// included); livekit-client's 15 s would leave no time for a second try.
const PEER_CONNECTION_TIMEOUT_MS = 8000;
// What a try must leave of the start timeout for the first frame.
const FIRST_FRAME_MARGIN_MS = 2000;

let layoutError = '';
let fatalError = '';

function paintError() {
  errorEl.textContent = [fatalError, layoutError].filter(Boolean).join('\n');
}

function fail(message, err) {
  fatalError = message;
  paintError();
  console.error(`roomcast: ${message}`, err ?? '');
}

// ---- recording signals ------------------------------------------------------

let connected = false;
let joining = false; // the first join's tries are under way
let started = false;
let ended = false;
let frameSeen = 0; // when the first video frame was shown (performance.now()); 0 before
let voiceTimer = 0;

function startRecording() {
  if (started || ended) return;
  started = true;
  console.log('START_RECORDING');
}

/**
 * Starts once connected with a frame on screen and every unmuted microphone
 * heard, or VOICE_WAIT_MS after that frame with some still silent.
 */
function startWhenHeard() {
  clearTimeout(voiceTimer);
  if (started || ended || !connected || !frameSeen) return;
  const silent = voicesNotPlaying(room.remoteParticipants.values());
  if (silent.length === 0) {
    logStep('every microphone heard');
  } else if (performance.now() - frameSeen < VOICE_WAIT_MS) {
    voiceTimer = setTimeout(startWhenHeard, VOICE_POLL_MS);
    return;
  } else {
    console.warn(`roomcast: starting without the sound of ${silent.join(', ')}: not heard ${VOICE_WAIT_MS} ms after the first frame`);
  }
  startRecording();
}

function endRecording() {
  if (ended) return;
  ended = true;
  console.log('END_RECORDING');
}

function reportConnection(state, detail = '') {
  console.log('ROOMCAST_CONNECTION', state, detail);
}

const unsynced = new UnsyncedReporter((identities) => console.log('ROOMCAST_UNSYNCED', JSON.stringify(identities)));
const lipSync = new LipSync();

// ---- stage and layout -------------------------------------------------------

/** Logs a step of the start with its time since navigation began, so the recorder's log shows where a slow start goes. */
function logStep(step) {
  console.log(`roomcast: ${step} ${Math.round(performance.now())} ms after navigation`);
}

const stage = new Stage(document.getElementById('stage'), {
  onFirstFrame: () => {
    if (frameSeen) return;
    logStep('first video frame on screen');
    frameSeen = performance.now();
    startWhenHeard();
  },
});

/**
 * Switches the layout without reloading. Returns the layout's canonical name;
 * throws (and leaves the layout as it is) for an unknown name.
 * @param {string} name
 */
function setLayout(name) {
  const parsed = parseLayout(name);
  if (!parsed) {
    throw new Error(`unknown layout ${JSON.stringify(name)}; expected one of ${LAYOUT_NAMES.join(', ')}`);
  }
  layoutError = '';
  paintError();
  stage.setLayout(parsed);
  return parsed.name;
}
window.roomcastSetLayout = setLayout;

// 'playback': the analysers need no low latency, and larger buffers wake
// the audio thread less often. No output device (sinkId 'none'): the
// analysers need none, and one opened a second sound stream to PulseAudio
// that cost the meters 0.074 core against 0.007-0.010 without (bench's
// meters step, two runs each).
const meters = new PeopleMeters(() => new AudioContext({ latencyHint: 'playback', sinkId: { type: 'none' } }));
window.roomcastLevels = () =>
  meters.read(
    shownParticipants().map((p) => {
      const mic = p.getTrackPublication(Track.Source.Microphone);
      return {
        identity: p.identity,
        name: p.name || p.identity,
        micOn: Boolean(mic) && !mic.isMuted,
        track: mic?.isSubscribed && mic.audioTrack ? mic.audioTrack.mediaStreamTrack : null,
      };
    }),
  );

window.roomcastDisplayDelays = () => stage.displayDelays();

const requested = params.get('layout');
if (parseLayout(requested)) {
  setLayout(requested);
} else {
  // Still record (as a grid), but make the mistake visible.
  layoutError = `unknown layout ${JSON.stringify(requested)}; showing "grid". Expected one of: ${LAYOUT_NAMES.join(', ')}`;
  paintError();
  console.error(`roomcast: ${layoutError}`);
  stage.setLayout(parseLayout('grid'));
}

// ---- room -> view models ----------------------------------------------------

const room = new Room({
  adaptiveStream: { pauseVideoInBackground: false },
  dynacast: false,
  disconnectOnPageLeave: true,
  // livekit-client's own reconnection, within the rejoin window.
  reconnectPolicy: {
    nextRetryDelayInMs: ({ retryCount, elapsedMs }) =>
      elapsedMs >= REJOIN_WINDOW_MS ? null : Math.min(300 * 2 ** retryCount, 4000),
  },
});
const speakers = new SpeakerSelector();
const firstSeen = new Map(); // participant identity or track sid -> ms
let seq = 0;
let refreshQueued = false;
let recheckTimer = 0;

function seenAt(key) {
  if (!firstSeen.has(key)) firstSeen.set(key, ++seq);
  return firstSeen.get(key);
}

function videoSource(track) {
  return {
    id: `${track.sid}/${track.mediaStreamTrack?.id ?? ''}`,
    attach: (el) => track.attach(el),
    detach: (el) => track.detach(el),
  };
}

/** The participant's camera: a Camera track, else a video track of unknown source. */
function cameraPublication(p) {
  const pubs = [...p.trackPublications.values()].filter((pub) => pub.kind === Track.Kind.Video);
  return (
    pubs.find((pub) => pub.source === Track.Source.Camera) ??
    pubs.find((pub) => pub.source === Track.Source.Unknown) ??
    null
  );
}

/**
 * When p joined, in ms. LiveKit's joinedAt has whole seconds only, so people
 * who join within one second would tie: use the server's joined_at_ms
 * (ParticipantInfo, protected in livekit-client's types but there at run
 * time) when it is sent.
 */
function joinedMs(p) {
  const ms = Number(p.participantInfo?.joinedAtMs ?? 0);
  if (ms > 0) return ms;
  return p.joinedAt?.getTime();
}

/** The participants to draw, in join order (the grid's tile order). */
function shownParticipants() {
  const people = [...room.remoteParticipants.values()].filter((p) =>
    isShown({ identity: p.identity, hidden: p.permissions?.hidden }),
  );
  // Number newcomers in the room's order before sorting: a sort calls its
  // comparator in no set order (V8 compares the second element with the
  // first), so numbering inside it reversed people who joined together.
  const keyed = people.map((p) => ({ p, joinedMs: joinedMs(p), seen: seenAt(p.identity) }));
  return keyed.sort(compareJoin).map((k) => k.p);
}

function anyVideoPublished() {
  return shownParticipants().some((p) =>
    [...p.trackPublications.values()].some((pub) => pub.kind === Track.Kind.Video && !pub.isMuted),
  );
}

function refresh() {
  refreshQueued = false;
  const people = shownParticipants();
  const participants = [];
  const screens = [];
  for (const p of people) {
    seenAt(p.identity);
    const name = p.name || p.identity;
    const cam = cameraPublication(p);
    const camOn = cam && cam.isSubscribed && !cam.isMuted && cam.videoTrack;
    const mic = p.getTrackPublication(Track.Source.Microphone);
    participants.push({
      id: p.identity,
      name,
      video: camOn ? videoSource(cam.videoTrack) : null,
      micMuted: !mic || mic.isMuted,
      speaking: p.isSpeaking,
      lastSpokeAt: p.lastSpokeAt?.getTime(),
    });
    for (const pub of p.trackPublications.values()) {
      if (pub.source !== Track.Source.ScreenShare || pub.kind !== Track.Kind.Video) continue;
      if (!pub.isSubscribed || pub.isMuted || !pub.videoTrack) continue;
      const dims = pub.dimensions;
      screens.push({
        id: pub.trackSid,
        name,
        video: videoSource(pub.videoTrack),
        aspect: dims?.width && dims?.height ? dims.width / dims.height : undefined,
        order: seenAt(pub.trackSid),
      });
    }
  }
  screens.sort((a, b) => b.order - a.order); // the newest share is featured
  lipSync.update(
    people.map((p) => ({
      identity: p.identity,
      picture: receiverOf(cameraPublication(p)),
      voice: receiverOf(p.getTrackPublication(Track.Source.Microphone)),
    })),
  );
  unsynced.update(
    people.map((p) => ({
      identity: p.identity,
      camera: streamOf(cameraPublication(p)),
      microphone: streamOf(p.getTrackPublication(Track.Source.Microphone)),
    })),
  );

  const withVideo = participants.filter((p) => p.video).map((p) => p.id);
  const without = participants.filter((p) => !p.video).map((p) => p.id);
  const choice = speakers.select([...withVideo, ...without], Date.now());
  clearTimeout(recheckTimer);
  if (choice.recheckAt !== null) {
    recheckTimer = setTimeout(queueRefresh, Math.max(0, choice.recheckAt - Date.now()) + 10);
  }
  stage.render({ participants, screens, speakerId: choice.id });
}

/** The receiver of a publication's track; null when it is not received. */
function receiverOf(pub) {
  return (pub?.isSubscribed && pub.track?.receiver) || null;
}

/** The ID of the stream a publication's track came in: null when it is not received, undefined with no stream. */
function streamOf(pub) {
  if (!pub?.isSubscribed || !pub.track) return null;
  return pub.track.mediaStream?.id;
}

/** Coalesces bursts of room events into one redraw. */
function queueRefresh() {
  if (refreshQueued) return;
  refreshQueued = true;
  queueMicrotask(refresh);
}

function attachAudio(track) {
  if (track.kind !== Track.Kind.Audio) return;
  const el = track.attach();
  el.dataset.sid = track.sid ?? '';
  audioEl.append(el);
}

function detachAudio(track) {
  if (track.kind !== Track.Kind.Audio) return;
  for (const el of track.detach()) el.remove();
}

function onMetadataChanged() {
  const metadata = room.localParticipant.metadata;
  if (!metadata) return;
  let layout;
  try {
    layout = JSON.parse(metadata).layout;
  } catch {
    return; // metadata that is not ours
  }
  if (typeof layout !== 'string' || layout === '' || layout === stage.layout.name) return;
  try {
    setLayout(layout);
  } catch (err) {
    console.error(`roomcast: ${err.message}`);
  }
}

let trackSeen = false;
room
  .once(RoomEvent.SignalConnected, () => logStep('signalling connected'))
  .on(RoomEvent.ParticipantConnected, queueRefresh)
  .on(RoomEvent.ParticipantDisconnected, queueRefresh)
  .on(RoomEvent.TrackPublished, queueRefresh)
  .on(RoomEvent.TrackUnpublished, queueRefresh)
  .on(RoomEvent.TrackSubscribed, (track) => {
    if (!trackSeen) logStep('first track subscribed');
    trackSeen = true;
    attachAudio(track);
    queueRefresh();
  })
  .on(RoomEvent.TrackUnsubscribed, (track) => {
    detachAudio(track);
    queueRefresh();
  })
  .on(RoomEvent.TrackMuted, queueRefresh)
  .on(RoomEvent.TrackUnmuted, queueRefresh)
  .on(RoomEvent.ParticipantNameChanged, queueRefresh)
  .on(RoomEvent.ParticipantPermissionsChanged, queueRefresh)
  .on(RoomEvent.ActiveSpeakersChanged, (active) => {
    speakers.setActive(active.map((p) => p.identity));
    queueRefresh();
  })
  .on(RoomEvent.Reconnecting, () => {
    lostSince ||= performance.now();
    reportConnection('reconnecting', 'livekit-client resuming');
  })
  .on(RoomEvent.Reconnected, () => {
    lostSince = 0;
    reportConnection('reconnected');
    queueRefresh();
  })
  .on(RoomEvent.AudioPlaybackStatusChanged, () => {
    if (!room.canPlaybackAudio) {
      console.warn('roomcast: audio playback blocked; start Chromium with --autoplay-policy=no-user-gesture-required');
      room.startAudio().catch(() => {});
    }
  })
  .on(RoomEvent.Disconnected, (reason) => {
    if (joining) return; // a failed try: join decides whether to try again
    if (!connected || ended || ROOM_OVER.has(reason)) {
      clearTimeout(recheckTimer);
      endRecording();
      return;
    }
    const name = Object.keys(DisconnectReason).find((k) => DisconnectReason[k] === reason);
    rejoin(name ? `disconnected: ${name}` : 'disconnected');
  });

let rejoining = false;
let lostSince = 0; // when the connection was lost; 0 while connected

/**
 * Joins the room again after the connection was lost (a server restart, a
 * network fault that outlasted livekit-client's own reconnection), while
 * the engine records what is on screen; reports 'lost' if it cannot
 * within REJOIN_WINDOW_MS.
 */
async function rejoin(why) {
  if (rejoining) return;
  rejoining = true;
  lostSince ||= performance.now();
  reportConnection('reconnecting', why);
  const deadline = lostSince + REJOIN_WINDOW_MS;
  let lastError;
  for (let delay = 500; performance.now() < deadline; delay = Math.min(2 * delay, 4000)) {
    await new Promise((resolve) => setTimeout(resolve, delay));
    try {
      await room.connect(params.get('url'), params.get('token'), { autoSubscribe: true });
      rejoining = false;
      lostSince = 0;
      reportConnection('reconnected');
      refresh();
      return;
    } catch (err) {
      lastError = err;
    }
  }
  reportConnection('lost', `${why}; could not rejoin within ${REJOIN_WINDOW_MS / 1000} s: ${lastError?.message ?? lastError}`);
}
room.localParticipant.on(ParticipantEvent.ParticipantMetadataChanged, onMetadataChanged);

/**
 * Joins the room, trying again while a try still fits in the start timeout
 * (counted from since, in performance.now() ms); a refused token is final.
 */
async function join(url, token, since) {
  for (let attempt = 1; ; attempt++) {
    try {
      // The ICE servers (STUN, TURN) are the LiveKit server's, from its
      // join response, and so is relay-only mode when it forces relay: any
      // rtcConfig.iceServers here, even an empty list, would replace them
      // for good. The embedded demo's server hands out only a closed
      // loopback port, so nothing leaves this machine there.
      await room.connect(url, token, { autoSubscribe: true, peerConnectionTimeout: PEER_CONNECTION_TIMEOUT_MS });
      return;
    } catch (err) {
      const delay = Math.min(500 * attempt, 2000);
      const next = performance.now() - since + delay;
      const fits = next + PEER_CONNECTION_TIMEOUT_MS + FIRST_FRAME_MARGIN_MS <= START_TIMEOUT_MS;
      if (err?.reason === ConnectionErrorReason.NotAllowed || !fits) throw err;
      console.warn(`roomcast: join attempt ${attempt} failed (${err?.message ?? err}); trying again`);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/**
 * Starts, while the page waits to be called in, what a page's first join
 * would otherwise wait for: WebRTC's threads, codecs and network list
 * (the first peer connection's offer) and the audio output (the first
 * AudioContext). Both are let go at once. A composite's spare
 * (standby=spare) opens no audio output: its sink is the composite's, live,
 * and an output opened there by a browser running idle cut holes of
 * 0.1-0.3 s in the recording's sound.
 */
async function warmUp() {
  const pc = new RTCPeerConnection();
  const audio = params.get('standby') === 'spare' ? null : new AudioContext({ latencyHint: 'playback' });
  try {
    pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.addTransceiver('video', { direction: 'recvonly' });
    await pc.createOffer();
  } catch (err) {
    console.warn('roomcast: warming up WebRTC:', err?.message ?? err);
  } finally {
    pc.close();
    await audio?.close().catch(() => {});
  }
  logStep('warmed up');
}

async function main() {
  logStep('script running');
  setLogLevel('warn');
  let since = 0; // the start timeout runs from navigation
  if (params.has('standby')) {
    // A page the engine keeps ready: loaded, in the room only once called
    // in. A composite's spare is called in with nothing, and joins as its
    // query says (two pages with one identity would push each other out
    // before); a page kept ready for any room is called in with the room's
    // {url, token, layout}, which replace the query's.
    await warmUp();
    const given = await new Promise((resolve) => {
      window.roomcastJoin = (join) => {
        // A layout the page does not know refuses the call, which the
        // engine reports, rather than joining with the wrong picture.
        if (join?.layout) setLayout(join.layout);
        resolve(join);
      };
    });
    for (const [key, value] of Object.entries(given ?? {})) params.set(key, value);
    logStep('called in from standby');
    since = performance.now();
  }
  const url = params.get('url');
  const token = params.get('token');
  if (!url || !token) {
    fail(`missing ${!url ? 'url' : 'token'} query parameter; the page expects ?url=<LiveKit ws URL>&token=<access token>&layout=<name>`);
    return;
  }
  joining = true;
  try {
    await join(url, token, since);
  } catch (err) {
    fail(`could not connect to ${url}: ${err?.message ?? err}`, err);
    endRecording(); // no use waiting for the start timeout
    return;
  } finally {
    joining = false;
  }
  connected = true;
  logStep('in the room');
  stage.setEmptyText('Waiting for participants');
  onMetadataChanged();
  room.startAudio().catch((err) => console.warn('roomcast: startAudio:', err?.message ?? err));
  refresh();
  startWhenHeard();
  setTimeout(() => {
    if (!anyVideoPublished()) startRecording();
  }, NO_VIDEO_START_MS);
  setTimeout(() => {
    if (!started && !ended) {
      console.warn(`roomcast: no video frame within ${FIRST_FRAME_TIMEOUT_MS} ms; starting anyway`);
      startRecording();
    }
  }, FIRST_FRAME_TIMEOUT_MS);
}

main();
