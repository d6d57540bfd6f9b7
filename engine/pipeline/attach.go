package pipeline

/*
An output's part of the pipeline is a Branch: its elements, linked among
themselves by the output, and the pads where video and audio enter. Attach
puts it in a tap fed by what its Feed asks for (a shared encoder's tee, or
the raw video tee for images) and gives it a time line of its own:

	tee (encoder or raw) ─► <name>-video-in (leaky 3 s) ─[zero: first key frame]─► Branch.Video
	tee (encoder)        ─► <name>-audio-in (leaky 3 s) ─[waits for that zero]──► Branch.Audio

Time zero is the branch's first key frame (its first frame for raw video,
its first audio buffer when it takes no video). The offset goes on the
input queues' src pads, from blocking probes: a pad whose offset changes
sends its sticky segment again, with the offset, ahead of that very
buffer. Audio waits in its own queue for the video's zero, so none of it
after zero is lost; audio that starts before zero is dropped, even if it
ends after: with the offset it has no running time, and flvmux never
takes such a buffer, holding all the audio behind it until EOS (mp4mux
and mpegtsmux take it). The branch's bin
then runs on a clock base of the capture's base plus zero: otherwise every
buffer looks as late as the capture is old, and a live muxer (mp4mux,
flvmux, mpegtsmux are aggregators) never waits for its other input.

The audio covers the video, from its first frame to its last:

  - At the start, the first key frame waits (at most audioWait: the
    capture's sound never stops) for the branch's first audio buffer. A
    key frame more than startSlack before it is dropped and one is asked
    for where the audio starts. The video can run half a second behind
    the sound (measured: 0.44 s when a capture and its encoders had just
    started), and the audio the branch needs to cover such a frame was
    captured before its tee pad was linked, so it never comes. MPEG-TS and
    FLV would start the audio late; a fragmented MP4 has no edit list, and
    mp4mux starts each track at its first sample: the sound would be
    early by the gap, and end that much before the picture.
  - At the end (Detach with finish), the inputs run on until each reaches
    the moment Detach was called, what comes past it held back
    (tap.endAt): media reach the branch late, by the encoders' latencies
    (which differ) and by however far an overloaded or stalled machine
    fell behind, and EOS at once would end the output before its stop,
    and one input before the other.

Lock order: Capture.mu, then Capture.ownersMu. Pad-probe callbacks take
neither; Detach waits for EOS without Capture.mu.
*/

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-gst/go-gst/gst"
)

// outputQueue is how much an output's inputs hold before dropping their
// oldest: a slow disk or server loses its own data, never the others'.
// Encoded inputs hold longer (encodedQueue): a branch's first key frame
// waits up to audioWait for its sound with all that follows it queued,
// and a frame dropped after it breaks the picture up to the next key frame
// (a branch whose sound was held 8 s decoded 93 of its 189 frames). Then
// an MPEG-TS branch waits again: mpegtsmux (1.22) takes nothing until
// each of its inputs has had a buffer, with no timeout, so its picture
// queues here until the first sound (or the stop) comes; with audioWait's
// 5 s alone queued, a sound 3 s late cost a segment 1.6 s of its picture.
// Twice audioWait of H.264 is a few megabytes.
const (
	outputQueue  = 3 * time.Second
	encodedQueue = 2 * audioWait
)

// eosTimeout bounds the wait for EOS to reach the sinks of a detached
// branch; it came 7-143 ms after it was sent on a 2-core box.
const eosTimeout = 10 * time.Second

// A branch's start and end, lined up between its video and its audio (see
// the top of this file).
const (
	// startSlack: a branch may start at a key frame this much before its
	// first audio; its audio then starts at most this much, or an audio
	// frame (21 ms of AAC), after its first frame. An MP4 moves its audio
	// that much earlier (see above); less would cost more key frames.
	startSlack = 25 * time.Millisecond
	// audioWait bounds the wait of a branch's first key frame for its
	// first audio. The capture's sound never stops (see
	// captureDescription), so it comes: within 0.1 s on a quiet machine,
	// 1.9 s after the first frame when two composites started at once on
	// 2 cores (the branch then started without it, and its MP4's sound
	// was early by that much). Only a broken audio encoder is waited out.
	audioWait = 5 * time.Second
	// endWait bounds how long Detach lets a branch's media catch up with
	// the moment it was called: a branch fed by an encoder that fell
	// behind (a CI run lost the last 2.9 s of an HLS output and 5.3 s of
	// an MP4's sound, stopped at once) gets this much to write what was
	// captured before the stop. endIdle: an input that got nothing for
	// this long (its media come every 21-33 ms while the capture runs) has
	// stopped, and is not waited for; a machine that stalls for less, its
	// media held up, is.
	endWait = 5 * time.Second
	endIdle = 2 * time.Second
)

// Branch is an output's elements in a bin, linked among themselves, with
// the pads where each kind of media enters.
type Branch struct {
	// Bin holds the elements (NewBin). Its name is unique on the capture
	// and prefixes every element's name.
	Bin *gst.Bin
	// Video and Audio are sink pads of elements of Bin; nil for a kind it
	// does not take.
	Video, Audio *gst.Pad
	// Sinks are the elements whose EOS means the output is finalised.
	Sinks []*gst.Element
	// BeforeRemove, if set, runs on Detach after EOS reached the sinks and
	// before the bin goes down: for a sink that announces its last file
	// after its EOS (multifilesink). drainBus returns once the bus has
	// delivered every message posted before it was called (or after
	// timeout); the bin's bus would drop what comes after.
	BeforeRemove func(drainBus func(timeout time.Duration))
	// EOSTimeout bounds Detach's wait for EOS at the sinks; 0 is
	// eosTimeout.
	EOSTimeout time.Duration
	// AudioCapsIfNone says when Audio, if no sound reached it, is given
	// caps made from its encoding (see AudioEncoding.trackCaps).
	AudioCapsIfNone AudioCaps
}

// AudioCaps is when a branch's audio input that got no caps of its own is
// given made-up ones: a muxer needs them to describe its sound track.
type AudioCaps int

const (
	// NoAudioCaps: never. An Ogg file without sound ends at once, empty.
	NoAudioCaps AudioCaps = iota
	// AudioCapsBeforeEOS: at the stop, if still none came. mp4mux writes
	// a track it never had caps for without a sample description, and no
	// player opens the file; given caps, it plays with its sound track
	// empty. (An MP4 puts its first sound at its start whenever it
	// comes, so caps any earlier would not help it.)
	AudioCapsBeforeEOS
	// AudioCapsAtFirstFrame: when the picture starts without sound
	// (audioWait ran out). mpegtsmux and flvmux start muxing then, and
	// mpegtsmux fails on a pad without caps ("Could not create handler
	// for stream") and never ends; caps sent with EOS came too late for
	// it. They place a sound that comes later at its own time.
	AudioCapsAtFirstFrame
)

// Feed is what a branch is fed: H.264 from the shared encoder with Video's
// settings or the raw frames (RawVideo), and audio from the shared encoder
// with Audio's settings.
type Feed struct {
	Video    *VideoEncoding
	RawVideo bool
	Audio    *AudioEncoding
}

// Events are the moments a branch reports. They are called from
// GStreamer's threads or the bus goroutine and must not block.
type Events struct {
	// Active: the branch's first buffer passed time zero; zero is when
	// it was captured, on the wall clock.
	Active func(zero time.Time)
	// Failed: an element of the branch (or its encoder) posted an error
	// (an *ElementError, or one wrapping it). The output should end:
	// Detach(false).
	Failed func(error)
	// Message: an element of the branch posted an element message (a
	// multifilesink's file announcement), on the bus goroutine.
	Message func(element string, st *gst.Structure)
	// Resumed: after a Pause and Resume, the branch's media go on from
	// its time at (where they paused) with a frame captured at captured,
	// on the wall clock.
	Resumed func(at time.Duration, captured time.Time)
}

// Attachment is one branch on a running capture.
type Attachment struct {
	cap      *Capture
	name     string
	tap      *tap
	encoded  bool // its video comes from an encoder (key frames matter)
	eosWait  time.Duration
	encoders []any
	users    []*encoder
	events   Events

	zero      atomic.Int64  // capture running time at the branch's time zero; -1 until known
	zeroKnown chan struct{} // closed once zero is set
	zeroOnce  sync.Once
	canceled  chan struct{} // closed by Detach: nothing waits for zero any more

	audioAt    atomic.Int64  // capture running time of the branch's first audio buffer
	audioKnown chan struct{} // closed once audioAt is set
	audioOnce  sync.Once

	failOnce   sync.Once
	detachOnce sync.Once
	detachErr  error

	padMu    sync.Mutex // held while an event goes up a tee pad
	detached bool       // set before the tee pads go; guarded by padMu

	probesMu      sync.Mutex
	probes        []func() // each removes a probe of the branch's, if still there
	probesRemoved bool     // Detach removed them: a probe added now goes at once

	pause pauseState
}

// Attach starts a branch on the capture: its encoders (shared, started if
// none runs with its settings), its tap, its time zero. On error nothing
// of it is left in the capture.
func (c *Capture) Attach(b Branch, f Feed, ev Events) (*Attachment, error) {
	if b.Bin == nil {
		return nil, errors.New("a branch needs a bin")
	}
	name := b.Bin.GetName()
	if f.Video != nil && f.RawVideo {
		return nil, fmt.Errorf("%s: takes encoded or raw video, not both", name)
	}
	var entries []entry
	if b.Video != nil {
		if f.Video == nil && !f.RawVideo {
			return nil, fmt.Errorf("%s: takes video, but its feed has none", name)
		}
		entries = append(entries, entry{kind: videoKind, pad: b.Video})
	}
	if b.Audio != nil {
		if f.Audio == nil {
			return nil, fmt.Errorf("%s: takes audio, but its feed has none", name)
		}
		e := entry{kind: audioKind, pad: b.Audio, capsWhen: b.AudioCapsIfNone}
		if b.AudioCapsIfNone != NoAudioCaps {
			e.capsIfNone = f.Audio.trackCaps()
		}
		entries = append(entries, e)
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("%s: takes neither video nor audio", name)
	}
	queue := encodedQueue
	if f.RawVideo {
		queue = outputQueue // raw frames are large; nothing waits before them
	}
	t, err := newTap(b.Bin, entries, queue)
	if err != nil {
		return nil, err
	}
	for _, s := range b.Sinks {
		if err := t.watchSink(s); err != nil {
			return nil, err
		}
	}
	a := &Attachment{
		cap: c, name: name, tap: t, encoded: f.Video != nil, eosWait: b.EOSTimeout, events: ev,
		zeroKnown: make(chan struct{}), canceled: make(chan struct{}), audioKnown: make(chan struct{}),
	}
	a.zero.Store(-1)
	if b.BeforeRemove != nil {
		t.beforeRemove = func() { b.BeforeRemove(c.drainBus) }
	}
	if a.eosWait <= 0 {
		a.eosWait = eosTimeout
	}
	if in := t.input(videoKind); in != nil {
		a.zeroAtFirstFrame(in, t.input(audioKind) != nil)
	}
	if in := t.input(audioKind); in != nil {
		a.audioFromZero(in, t.input(videoKind) != nil)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errors.New("capture is closed")
	}
	if _, dup := c.attachments[name]; dup {
		return nil, fmt.Errorf("%s is already attached", name)
	}
	tees := map[string]*gst.Element{}
	if b.Video != nil {
		if f.RawVideo {
			if c.videoTee == nil {
				return nil, fmt.Errorf("%s: the capture has no video", name)
			}
			tees[videoKind] = c.videoTee
		} else if tees[videoKind], err = a.useEncoderLocked(videoKind, *f.Video); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	if b.Audio != nil {
		if tees[audioKind], err = a.useEncoderLocked(audioKind, *f.Audio); err != nil {
			a.releaseEncodersLocked()
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	c.setOwners(t.elementNames(), a)
	err = t.attach(c.pipeline.Bin, tees, func(in *input) {
		if in.kind == videoKind && a.encoded {
			// A running encoder is mid-GOP: ask it for a key frame now.
			forceKeyUnit(in.teePad, gst.ClockTimeNone)
		}
	})
	if err != nil {
		c.setOwners(t.elementNames(), nil)
		a.releaseEncodersLocked()
		return nil, err
	}
	c.attachments[name] = a
	return a, nil
}

func (a *Attachment) useEncoderLocked(kind string, key any) (*gst.Element, error) {
	e, err := a.cap.encoderLocked(kind, key)
	if err != nil {
		return nil, err
	}
	a.encoders = append(a.encoders, key)
	a.users = append(a.users, e)
	return e.tee, nil
}

func (a *Attachment) releaseEncodersLocked() {
	for _, key := range a.encoders {
		a.cap.releaseEncoderLocked(key)
	}
	a.encoders, a.users = nil, nil
}

func (a *Attachment) uses(e *encoder) bool { return slices.Contains(a.users, e) }

// Name is the branch's name.
func (a *Attachment) Name() string { return a.name }

// zeroAtFirstFrame sets the branch's zero at the first frame it can start
// with (a key frame, for encoded video) and drops those before it. With
// audio, that frame must not come before the branch's first audio (see
// the top of this file): an earlier one is dropped, and a key frame is
// asked for where the audio starts.
func (a *Attachment) zeroAtFirstFrame(in *input, audio bool) {
	pad := in.queue.GetStaticPad("src")
	asked := int64(-1) // where a key frame was asked for
	askedNext := false // and then for the next frame
	// A blocking probe runs before the pad checks its sticky events, so
	// the segment goes again, with the offset, ahead of this very buffer.
	// It must not return OK, which would hold the pad.
	a.Probe(pad, gst.PadProbeTypeBuffer|gst.PadProbeTypeBlock, func(_ *gst.Pad, info *gst.PadProbeInfo) gst.PadProbeReturn {
		buf := info.GetBuffer()
		rt, ok := runningTime(pad, buf)
		if !ok {
			return gst.PadProbePass
		}
		if a.encoded && buf.HasFlags(gst.BufferFlagDeltaUnit) {
			// An encoder can ignore a key frame asked for at a running
			// time: GstVideoEncoder (1.22) takes x264enc's first frames
			// for 1000 hours in (its min-pts shift, before its output
			// segment has it), and after a request met there drops every
			// request for an earlier time. Past that time, the next frame.
			if asked >= 0 && !askedNext && int64(rt) >= asked {
				a.forceKeyFrame(in, gst.ClockTimeNone)
				askedNext = true
			}
			return gst.PadProbeDrop // undecodable without the key frame before it
		}
		if audio {
			start, known, canceled := a.firstAudio()
			if canceled {
				return gst.PadProbeDrop
			}
			if sound := a.tap.input(audioKind); !known && sound != nil {
				sound.describeIfBare(AudioCapsAtFirstFrame)
			}
			if known && int64(rt)+int64(startSlack) < start {
				if a.encoded && asked < 0 {
					a.forceKeyFrame(in, gst.ClockTime(start))
					asked = start
				}
				return gst.PadProbeDrop // the sound it needs was never captured for the branch
			}
		}
		a.setZero(rt)
		pad.SetOffset(-a.zero.Load())
		return gst.PadProbeRemove
	})
}

// audioFromZero starts the branch's audio at its zero, with the first
// buffer that starts there or after: with video, it waits (in its own
// queue) until the video's first frame set it; without, its first buffer
// sets it.
func (a *Attachment) audioFromZero(in *input, video bool) {
	pad := in.queue.GetStaticPad("src")
	a.Probe(pad, gst.PadProbeTypeBuffer|gst.PadProbeTypeBlock, func(_ *gst.Pad, info *gst.PadProbeInfo) gst.PadProbeReturn {
		buf := info.GetBuffer()
		rt, ok := runningTime(pad, buf)
		if !ok {
			return gst.PadProbePass
		}
		if video {
			a.audioOnce.Do(func() {
				a.audioAt.Store(int64(rt))
				close(a.audioKnown)
			})
			select {
			case <-a.zeroKnown:
			case <-a.canceled:
				return gst.PadProbeDrop
			}
		} else {
			a.setZero(rt)
		}
		zero := a.zero.Load()
		if int64(rt) < zero {
			return gst.PadProbeDrop // before zero (see the top of this file)
		}
		pad.SetOffset(-zero)
		return gst.PadProbeRemove
	})
}

// Probe adds a probe to one of the branch's pads for no longer than the
// branch lasts: Detach removes it if it has not removed itself, and one
// added after Detach goes at once. go-gst keeps a probe's closure in a
// table of its own until the probe goes; a closure that holds the
// attachment (or an output that holds it) holds the capture too, and one
// left on a pad (a branch detached before its first frame or sound, a
// stream destination that never took data) held the whole pipeline for
// good (TestClosedCaptureIsFreed).
func (a *Attachment) Probe(pad *gst.Pad, mask gst.PadProbeType, f gst.PadProbeCallback) {
	var gone atomic.Bool
	id := pad.AddProbe(mask, func(p *gst.Pad, info *gst.PadProbeInfo) gst.PadProbeReturn {
		ret := f(p, info)
		if ret == gst.PadProbeRemove {
			gone.Store(true)
		}
		return ret
	})
	remove := func() {
		if !gone.Load() {
			pad.RemoveProbe(id)
		}
	}
	a.probesMu.Lock()
	removed := a.probesRemoved
	if !removed {
		a.probes = append(a.probes, remove)
	}
	a.probesMu.Unlock()
	if removed {
		remove()
	}
}

// removeProbes removes the branch's probes still on their pads, once its
// elements stopped.
func (a *Attachment) removeProbes() {
	a.probesMu.Lock()
	probes := a.probes
	a.probes, a.probesRemoved = nil, true
	a.probesMu.Unlock()
	for _, remove := range probes {
		remove()
	}
}

// firstAudio is the capture running time of the branch's first audio
// buffer, once known: it waits for it (at most audioWait). canceled: the
// branch was detached meanwhile.
func (a *Attachment) firstAudio() (start int64, known, canceled bool) {
	select {
	case <-a.audioKnown:
		return a.audioAt.Load(), true, false
	default:
	}
	timer := time.NewTimer(audioWait)
	defer timer.Stop()
	select {
	case <-a.audioKnown:
		return a.audioAt.Load(), true, false
	case <-a.canceled:
		return 0, false, true
	case <-timer.C:
		return 0, false, false
	}
}

// forceKeyFrame asks the branch's video encoder for a key frame at the
// capture running time at; a no-op once Detach began.
func (a *Attachment) forceKeyFrame(in *input, at gst.ClockTime) {
	a.padMu.Lock()
	defer a.padMu.Unlock()
	if !a.detached {
		forceKeyUnit(in.teePad, at)
	}
}

// runningTime is the running time of buf on pad, from the pad's segment:
// the capture's clock time of the media less its base time, whatever the
// timestamps (an encoder's output segment may start 1000 hours in, as
// x264enc's does, to leave room for B-frames' decode times).
func runningTime(pad *gst.Pad, buf *gst.Buffer) (gst.ClockTime, bool) {
	if buf == nil {
		return 0, false
	}
	return segmentRunningTime(pad, buf.PresentationTimestamp())
}

// segmentRunningTime is the running time of the timestamp pts on pad.
func segmentRunningTime(pad *gst.Pad, pts gst.ClockTime) (gst.ClockTime, bool) {
	if pts == gst.ClockTimeNone {
		return 0, false
	}
	ev := pad.GetStickyEvent(gst.EventTypeSegment, 0)
	if ev == nil {
		return 0, false
	}
	rt := ev.ParseSegment().ToRunningTime(gst.FormatTime, uint64(pts))
	if rt == uint64(gst.ClockTimeNone) {
		return 0, false
	}
	return gst.ClockTime(rt), true
}

// setZero fixes the branch's time zero at the capture's running time rt:
// the bin's clock base follows, and Active is told when that was captured.
func (a *Attachment) setZero(rt gst.ClockTime) {
	a.zeroOnce.Do(func() {
		wall := time.Now().Add(-a.cap.sinceCapture(rt))
		a.cap.rebase(a.tap.bin, rt)
		a.zero.Store(int64(rt))
		close(a.zeroKnown)
		if a.events.Active != nil {
			a.events.Active(wall)
		}
	})
}

// RequestKeyFrame asks the branch's encoder for a key frame at time at of
// the branch (from its zero, pauses cut out), for an output that cuts its
// media at times of its own (HLS segments). A no-op before zero or after
// Detach.
func (a *Attachment) RequestKeyFrame(at time.Duration) {
	zero := a.zero.Load()
	in := a.tap.input(videoKind)
	if zero < 0 || in == nil || !a.encoded {
		return
	}
	a.pause.mu.Lock()
	shift := a.pause.shift
	a.pause.mu.Unlock()
	a.forceKeyFrame(in, gst.ClockTime(zero+shift+int64(at)))
}

func (a *Attachment) fail(err error) {
	a.failOnce.Do(func() {
		if a.events.Failed != nil {
			a.events.Failed(err)
		}
	})
}

func (a *Attachment) message(src string, st *gst.Structure) {
	if a.events.Message != nil {
		a.events.Message(src, st)
	}
}

// Detach ends the branch. With finish, its video and audio first run on
// until both reach the moment of the call (at most endWait more), then EOS
// goes down its inputs (and only its inputs) and Detach waits until it
// reached every sink, so its files are finalised; without, it is dropped as
// it is (a failed output). The capture, its encoders and the other branches
// go on; an encoder nobody uses any more stops. Safe to call more than
// once.
func (a *Attachment) Detach(finish bool) error {
	a.detachOnce.Do(func() {
		close(a.canceled)
		a.padMu.Lock()
		a.detached = true
		a.padMu.Unlock()
		if finish && a.zero.Load() >= 0 {
			seen := a.tap.endAt(gst.ClockTime(a.cap.RunningTime()), endWait, endIdle)
			a.cap.cfg.Logf("capture: branch %s (zero %v) %s", a.name, time.Duration(a.zero.Load()), seen)
		}
		a.detachErr = a.tap.detach(finish, a.eosWait)
		a.removeProbes()
		if in := a.tap.input(audioKind); in != nil && in.described.Load() && in.neverFed() {
			a.cap.cfg.Logf("capture: branch %s ended before any sound reached it: its sound track is empty", a.name)
		}
		// Messages the branch posted before it went (its last image) still
		// reach its owner.
		a.cap.drainBus(2 * time.Second)
		c := a.cap
		c.mu.Lock()
		defer c.mu.Unlock()
		c.setOwners(a.tap.elementNames(), nil)
		delete(c.attachments, a.name)
		a.releaseEncodersLocked()
	})
	return a.detachErr
}
