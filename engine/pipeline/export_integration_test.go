//go:build integration

package pipeline

import (
	"fmt"
	"sync/atomic"
	"time"
	"weak"

	"github.com/go-gst/go-gst/gst"
)

// BaseTimeShifts gives, for each element of the attachment's bin (the bin
// included), how far its clock base time is from the capture's: the
// branch's time zero on the capture's timeline, the same for all of them.
func BaseTimeShifts(c *Capture, a *Attachment) map[string]time.Duration {
	base := c.pipeline.GetBaseTime()
	bin := a.tap.bin
	shifts := map[string]time.Duration{bin.GetName(): time.Duration(bin.GetBaseTime() - base)}
	if elems, err := bin.GetElementsRecursive(); err == nil {
		for _, e := range elems {
			shifts[e.GetName()] = time.Duration(e.GetBaseTime() - base)
		}
	}
	return shifts
}

// HoldRaw holds the capture's raw video or audio ("video", "audio") for d,
// once, at its tee: from the next buffer on, that media comes d late (its
// queue keeps what is captured meanwhile), as a capture's video does while
// its encoders start.
func HoldRaw(c *Capture, kind string, d time.Duration) {
	rawTee(c, kind).GetStaticPad("sink").AddProbe(gst.PadProbeTypeBuffer, func(*gst.Pad, *gst.PadProbeInfo) gst.PadProbeReturn {
		time.Sleep(d)
		return gst.PadProbeRemove
	})
}

// HoldMixer holds the capture's mixed sound for d, once, as it leaves the
// mixer: the queue after it runs dry.
func HoldMixer(c *Capture, d time.Duration) {
	mixer, err := c.pipeline.GetElementByName("sound")
	if err != nil {
		panic(err)
	}
	mixer.GetStaticPad("src").AddProbe(gst.PadProbeTypeBuffer, func(*gst.Pad, *gst.PadProbeInfo) gst.PadProbeReturn {
		time.Sleep(d)
		return gst.PadProbeRemove
	})
}

// HoldEncoder holds the capture's video encoder for d, once, at the
// frame it takes next, as a machine short of CPU holds x264: its input
// queue fills meanwhile. It panics unless one video encoder runs.
func HoldEncoder(c *Capture, d time.Duration) {
	c.mu.Lock()
	var video []*encoder
	for _, e := range c.encoders {
		if e.kind == videoKind {
			video = append(video, e)
		}
	}
	c.mu.Unlock()
	if len(video) != 1 {
		panic(fmt.Sprintf("HoldEncoder: %d video encoders run, want one", len(video)))
	}
	in := video[0].tap.input(videoKind).queue
	in.GetStaticPad("src").AddProbe(gst.PadProbeTypeBuffer, func(*gst.Pad, *gst.PadProbeInfo) gst.PadProbeReturn {
		time.Sleep(d)
		return gst.PadProbeRemove
	})
}

// DropRaw drops the capture's raw audio (or video) at its tee for d: what
// is attached meanwhile gets none of it, not even its caps (they go with a
// buffer), and no thread of the capture waits.
func DropRaw(c *Capture, kind string, d time.Duration) {
	until := time.Now().Add(d)
	rawTee(c, kind).GetStaticPad("sink").AddProbe(gst.PadProbeTypeBuffer, func(*gst.Pad, *gst.PadProbeInfo) gst.PadProbeReturn {
		if time.Now().After(until) {
			return gst.PadProbeRemove
		}
		return gst.PadProbeDrop
	})
}

// WatchMonitor calls seen with each buffer the capture reads from its
// sink's monitor: its running time, the capture's running time as it
// comes, and its samples.
func WatchMonitor(c *Capture, seen func(pts, arrival time.Duration, samples int)) {
	src, err := c.pipeline.GetElementByName("monitor")
	if err != nil {
		panic(err)
	}
	pad := src.GetStaticPad("src")
	pad.AddProbe(gst.PadProbeTypeBuffer, func(_ *gst.Pad, info *gst.PadProbeInfo) gst.PadProbeReturn {
		arrival := c.RunningTime()
		buf := info.GetBuffer()
		if rt, ok := runningTime(pad, buf); ok {
			seen(time.Duration(rt), arrival, int(buf.GetSize())/8) // F32 stereo
		}
		return gst.PadProbeOK
	})
}

// rawTee is the capture's raw tee of kind ("video", "audio").
func rawTee(c *Capture, kind string) *gst.Element {
	if kind == audioKind {
		return c.audioTee
	}
	return c.videoTee
}

// StartSlowly plays the capture's own pipeline for cfg with the element
// after its mixer held for hold on its way to PLAYING, as a starved
// machine's state change is, and after settle more returns the running
// time and the time of the mixer's last buffer.
func StartSlowly(cfg CaptureConfig, hold, settle time.Duration) (running, mixed time.Duration, err error) {
	p, err := gst.NewPipelineFromString(captureDescription(cfg))
	if err != nil {
		return 0, 0, err
	}
	defer p.SetState(gst.StateNull)
	mixer, err := p.GetElementByName("sound")
	if err != nil {
		return 0, 0, err
	}
	out := mixer.GetStaticPad("src")
	after := out.GetPeer().GetParentElement().GetName()
	var last atomic.Int64
	out.AddProbe(gst.PadProbeTypeBuffer, func(_ *gst.Pad, info *gst.PadProbeInfo) gst.PadProbeReturn {
		last.Store(int64(info.GetBuffer().PresentationTimestamp()))
		return gst.PadProbeOK
	})
	// A sync handler runs in the thread that posts: the state change's.
	p.GetPipelineBus().SetSyncHandler(func(msg *gst.Message) gst.BusSyncReply {
		if msg.Type() == gst.MessageStateChanged && msg.Source() == after {
			if _, now := msg.ParseStateChanged(); now == gst.StatePlaying {
				time.Sleep(hold)
			}
		}
		return gst.BusPass
	})
	if err := setStateWait(p.Element, gst.StatePlaying); err != nil {
		return 0, 0, err
	}
	time.Sleep(settle)
	running = time.Duration(p.GetClock().GetTime() - p.GetBaseTime())
	return running, time.Duration(last.Load()), nil
}

// WeakPipeline is a weak pointer to the capture's pipeline: nil once
// nothing holds the pipeline any more.
func WeakPipeline(c *Capture) weak.Pointer[gst.Pipeline] { return weak.Make(c.pipeline) }

// CurrentState is the state the capture's pipeline is in now, without
// waiting for a change under way: PAUSED while a sink of a live pipeline
// still waits for its first buffer to complete the change to PLAYING.
func CurrentState(c *Capture) gst.State {
	_, cur := c.pipeline.GetState(gst.StatePlaying, 0)
	return cur
}
