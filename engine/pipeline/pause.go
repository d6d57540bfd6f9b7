package pipeline

/*
Pausing a branch cuts a stretch out of its time line while the capture, its
encoders and every other branch go on:

	Pause at capture time P:   media captured before P pass, the rest is dropped
	Resume at capture time R:  the first key frame K at or after R (its first
	                           frame for raw video, its first audio buffer
	                           without video) goes on where P was, and so
	                           does the audio from K: the pad offsets and the
	                           bin's clock base move by K-P

Both inputs are cut at the same capture times, so sound and picture keep
the pairing they had when captured, and the branch's timestamps run on
without a gap: a muxer sees one continuous stream. An audio frame (21 ms
of AAC) that straddles P or K is kept whole or dropped whole.

The cut is made on the input queues' src pads, as the branch's zero is
(attach.go), by blocking probes: only the branch's own streaming threads
wait (its audio for the video's K), never a tee.
*/

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-gst/go-gst/gst"
)

// Why a branch cannot pause or resume now.
var (
	ErrNotStarted    = errors.New("nothing recorded yet")
	ErrPaused        = errors.New("already paused")
	ErrNotPaused     = errors.New("not paused")
	errDetachedPause = errors.New("already stopped")
)

// pauseState is a branch's pauses: the one under way, if any, and how much
// capture time the finished ones cut out.
type pauseState struct {
	mu    sync.Mutex
	cur   *cut  // the pause under way, until its resume point is known
	shift int64 // running time cut out by the finished pauses
}

// cut is one pause: the capture running times it drops media between.
type cut struct {
	at      int64         // where it began
	from    atomic.Int64  // when Resume was called; -1 until then
	resumed chan struct{} // closed once key and shift are set
	key     int64         // the resume point: the first media kept after it
	shift   int64         // running time cut out by every pause up to this one
}

// Pause drops the branch's media from the capture's present moment on,
// until Resume. It returns the branch's time (from its zero, earlier pauses
// cut out) where its media stop.
func (a *Attachment) Pause() (time.Duration, error) {
	zero := a.zero.Load()
	if zero < 0 {
		return 0, ErrNotStarted
	}
	a.padMu.Lock()
	defer a.padMu.Unlock()
	if a.detached {
		return 0, errDetachedPause
	}
	p := &a.pause
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur != nil {
		return 0, ErrPaused
	}
	c := &cut{at: int64(a.cap.RunningTime()), resumed: make(chan struct{})}
	c.from.Store(-1)
	p.cur = c
	for _, in := range a.tap.inputs {
		a.cutFromPause(in, c)
	}
	return time.Duration(c.at - zero - p.shift), nil
}

// Resume continues the branch's media from the next key frame after now,
// at the time where they paused. Events.Resumed is told when that frame
// was captured.
func (a *Attachment) Resume() error {
	a.padMu.Lock()
	defer a.padMu.Unlock()
	if a.detached {
		return errDetachedPause
	}
	p := &a.pause
	p.mu.Lock()
	c := p.cur
	p.mu.Unlock()
	if c == nil || c.from.Load() >= 0 {
		return ErrNotPaused
	}
	from := a.cap.RunningTime()
	c.from.Store(int64(from))
	if in := a.tap.input(videoKind); in != nil && a.encoded {
		forceKeyUnit(in.teePad, gst.ClockTime(from))
	}
	return nil
}

// cutFromPause installs the probe that drops in's media from c's start
// until its resume point, and then moves its time line back by what the
// pauses cut out.
func (a *Attachment) cutFromPause(in *input, c *cut) {
	pad := in.queue.GetStaticPad("src")
	leads := in.kind == videoKind || a.tap.input(videoKind) == nil // it picks the resume point
	askedNext := false
	a.Probe(pad, gst.PadProbeTypeBuffer|gst.PadProbeTypeBlock, func(_ *gst.Pad, info *gst.PadProbeInfo) gst.PadProbeReturn {
		buf := info.GetBuffer()
		rt, ok := runningTime(pad, buf)
		if !ok {
			return gst.PadProbePass
		}
		if int64(rt) < c.at {
			return gst.PadProbePass // captured before the pause
		}
		if from := c.from.Load(); from < 0 || int64(rt) < from {
			return gst.PadProbeDrop
		}
		if leads {
			if in.kind == videoKind && a.encoded && buf.HasFlags(gst.BufferFlagDeltaUnit) {
				// The key frame asked for at from may be ignored (see
				// zeroAtFirstFrame): then the next one.
				if !askedNext {
					a.forceKeyFrame(in, gst.ClockTimeNone)
					askedNext = true
				}
				return gst.PadProbeDrop
			}
			a.resumeAt(c, rt)
		} else {
			select {
			case <-c.resumed:
			case <-a.canceled:
				return gst.PadProbeDrop
			}
		}
		if int64(rt) < c.key {
			return gst.PadProbeDrop
		}
		pad.SetOffset(-(a.zero.Load() + c.shift))
		return gst.PadProbeRemove
	})
}

// resumeAt ends pause c at capture running time key: the branch's time
// line moves back by what it cut out, its clock base too (a live muxer
// would otherwise take its media as late and stop waiting for its other
// input), and Events.Resumed is told.
func (a *Attachment) resumeAt(c *cut, key gst.ClockTime) {
	p := &a.pause
	p.mu.Lock()
	branchAt := time.Duration(c.at - a.zero.Load() - p.shift)
	p.shift += int64(key) - c.at
	c.key, c.shift = int64(key), p.shift
	p.cur = nil
	p.mu.Unlock()
	close(c.resumed)
	a.cap.rebase(a.tap.bin, gst.ClockTime(a.zero.Load()+c.shift))
	if a.events.Resumed != nil {
		a.events.Resumed(branchAt, time.Now().Add(-a.cap.sinceCapture(key)))
	}
}
