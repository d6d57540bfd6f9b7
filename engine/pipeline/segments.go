package pipeline

/*
HLS segments are cut on key frames by the branch itself, as hlssink does:
before the first key frame on or after each segment boundary, a probe on
the segments' h264parse pushes a GstForceKeyUnit event; mpegtsmux sends it
on (with PAT/PMT again) just before that frame's packets, and multifilesink
(next-file=key-unit-event) closes the segment there and announces it.

splitmuxsink, used before, decides to close a segment only once the GOP
after the cut is complete, so each segment was listed a GOP (one segment
duration) after its last frame.
*/

import (
	"fmt"
	"time"

	"github.com/go-gst/go-gst/gst"
)

// cutter decides which key frames start a segment: the first one on or
// after each multiple of every. Others (such as one a joining RTMP
// destination asks for) do not, so segments stay a full duration.
type cutter struct {
	every time.Duration
	// slack counts a key frame this close before a boundary as on it:
	// one frame, since timestamps round.
	slack time.Duration
	next  time.Duration // the boundary the next cut waits for
}

func newCutter(every, slack time.Duration) *cutter {
	return &cutter{every: every, slack: slack, next: every}
}

// keyFrame reports whether the key frame at running time rt starts a new
// segment.
func (c *cutter) keyFrame(rt time.Duration) bool {
	if rt+c.slack < c.next {
		return false
	}
	c.next = ((rt+c.slack)/c.every + 1) * c.every
	return true
}

// cutSegments installs the probes that cut and count the segments, and has
// detach wait for the last one's announcement.
func (b *Branch) cutSegments() error {
	n := b.cfg.Name
	parse, err := b.tap.bin.GetElementByName(n + "_hls_parse")
	if err != nil {
		return fmt.Errorf("%s: %w", n, err)
	}
	sink, err := b.tap.bin.GetElementByName(n + "_hls")
	if err != nil {
		return fmt.Errorf("%s: %w", n, err)
	}
	slack := time.Second / 30
	if fps := b.cfg.Video.FPS; fps > 0 {
		slack = time.Second / time.Duration(fps)
	}
	c := newCutter(b.cfg.Segments.Duration, slack)
	// The encoder announces every key frame it was asked for downstream,
	// through the shared tee: one asked for by a joining RTMP destination
	// would reach multifilesink and cut a short segment. Only the cuts
	// pushed below (after this pad) pass.
	parse.GetStaticPad("sink").AddProbe(gst.PadProbeTypeEventDownstream, func(_ *gst.Pad, info *gst.PadProbeInfo) gst.PadProbeReturn {
		// Only custom events are sure to hold a structure.
		if ev := info.GetEvent(); ev != nil && ev.Type() == gst.EventTypeCustomDownstream && ev.GetStructure().Name() == "GstForceKeyUnit" {
			return gst.PadProbeDrop
		}
		return gst.PadProbeOK
	})
	var count uint // multifilesink ignores an event with the count of the one before
	parse.GetStaticPad("src").AddProbe(gst.PadProbeTypeBuffer, func(pad *gst.Pad, info *gst.PadProbeInfo) gst.PadProbeReturn {
		buf := info.GetBuffer()
		if buf == nil || buf.HasFlags(gst.BufferFlagDeltaUnit) || buf.PresentationTimestamp() == gst.ClockTimeNone {
			return gst.PadProbeOK
		}
		ev := pad.GetStickyEvent(gst.EventTypeSegment, 0)
		if ev == nil {
			return gst.PadProbeOK
		}
		pts := uint64(buf.PresentationTimestamp())
		rt := ev.ParseSegment().ToRunningTime(gst.FormatTime, pts)
		if rt == uint64(gst.ClockTimeNone) || !c.keyFrame(time.Duration(rt)) {
			return gst.PadProbeOK
		}
		count++
		s := gst.NewStructure("GstForceKeyUnit")
		_ = s.SetValue("timestamp", pts)
		_ = s.SetValue("stream-time", pts)
		_ = s.SetValue("running-time", rt)
		_ = s.SetValue("all-headers", true) // mpegtsmux ignores the event without
		_ = s.SetValue("count", count)
		pad.PushEvent(gst.NewCustomEvent(gst.EventTypeCustomDownstream, s))
		return gst.PadProbeOK
	})
	// multifilesink opens a file at each key-unit event and, when none is
	// open, at a buffer; each is announced as it is closed, the last at EOS.
	open := false
	sink.GetStaticPad("sink").AddProbe(gst.PadProbeTypeBuffer|gst.PadProbeTypeEventDownstream, func(_ *gst.Pad, info *gst.PadProbeInfo) gst.PadProbeReturn {
		if ev := info.GetEvent(); ev != nil {
			// Only custom events are sure to hold a structure (go-gst
			// crashes on a missing one).
			if ev.Type() == gst.EventTypeCustomDownstream && ev.GetStructure().Name() == "GstForceKeyUnit" {
				b.segmentsOpened.Add(1)
				open = true
			}
			return gst.PadProbeOK
		}
		if !open {
			b.segmentsOpened.Add(1)
			open = true
		}
		return gst.PadProbeOK
	})
	// EOS reaches the sink's pad before the sink closes the last segment:
	// detach waits for its announcement before taking the bin down (whose
	// bus would drop it).
	b.segmentClosed = make(chan struct{}, 1)
	b.tap.beforeRemove = b.waitLastSegment
	return nil
}

// segmentDone records a closed segment, announced by the sink with the
// running time it ended (the next one's first key frame, or the last
// buffer at EOS): each segment runs from where the previous one ended.
func (b *Branch) segmentDone(path string, end time.Duration) {
	b.mu.Lock()
	start := b.segmentEnd
	b.segmentEnd = end
	b.segmentsClosed++
	b.mu.Unlock()
	if seg := b.cfg.Segments; seg.OnSegment != nil {
		seg.OnSegment(path, start, end-start)
	}
	select {
	case b.segmentClosed <- struct{}{}:
	default:
	}
}

// waitLastSegment returns once every segment the sink opened is closed and
// announced. The bus is drained before each look.
func (b *Branch) waitLastSegment() {
	deadline := time.Now().Add(eosTimeout)
	for time.Now().Before(deadline) {
		b.cap.drainBus(time.Second)
		b.mu.Lock()
		done := b.segmentsClosed >= b.segmentsOpened.Load()
		b.mu.Unlock()
		if done {
			return
		}
		select {
		case <-b.segmentClosed:
		case <-time.After(200 * time.Millisecond):
		}
	}
}
