// Package pipelinetest gives tests of the capture pipeline and its outputs
// what a composite's browser would: a real X screen and a PulseAudio sink
// with a 523 Hz tone playing into it, captured by a real Capture.
package pipelinetest

import (
	"context"
	"fmt"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/go-gst/go-gst/gst"

	"roomcast/engine/audio"
	"roomcast/engine/demo"
	"roomcast/engine/display"
	"roomcast/engine/pipeline"
)

// ToneHz is the rig's tone.
const ToneHz = 523

// Rig is a screen and a sink with (or, quiet, without) a tone in it.
type Rig struct {
	Screen *display.Screen
	Sink   *audio.Sink
	Pulse  *audio.Server
}

// NewRig starts a w x h screen and a sink playing the tone; the test's
// cleanup stops them.
func NewRig(t testing.TB, w, h int) *Rig {
	t.Helper()
	r := NewQuietRig(t, w, h)
	r.StartTone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	waitPlaying(ctx, t, r.Pulse, r.Sink)
	return r
}

// NewQuietRig starts a w x h screen and a new sink that nothing plays
// into yet, as a composite's is before its page plays.
func NewQuietRig(t testing.TB, w, h int) *Rig {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	screen, err := display.Start(ctx, w, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { screen.Close() })
	pulse, err := audio.EnsureServer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pulse.Close() })
	sink, err := pulse.NewSink(ctx, "pipetest")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	// The sink has a reader from its start to the end, as a composite's
	// has until its capture reads it (see pipeline.ReadMonitor: a reader
	// joining a sink that plays, with no reader on it, stalls its player).
	// Without it, a CI run had the monitor give nothing for 4.5 s just
	// after the capture joined, and a file of silence.
	release, err := pipeline.ReadMonitor(pulse.Address(), sink.Monitor())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
	return &Rig{Screen: screen, Sink: sink, Pulse: pulse}
}

// StartTone plays the tone into the sink (NewRig does); the test's cleanup
// stops it.
func (r *Rig) StartTone(t testing.TB) {
	t.Helper()
	tone := exec.Command("gst-launch-1.0", "-q", "audiotestsrc", "is-live=true", "wave=sine", "freq=523", "volume=0.5",
		"!", "pulsesink", "device="+r.Sink.Name(), "server="+r.Pulse.Address())
	tone.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := tone.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tone.Process.Kill(); tone.Wait() })
}

// StartClapper shows the demo's clapper on the rig's screen (a window at
// its top left, the screen's size: the whole picture flips between dark
// and light every demo.ClapperPeriod) and plays its ticks into the sink,
// from one process on one clock: mediatest.AVOffsets measures how the
// capture pairs them. Start it on a quiet rig; the test's cleanup stops it.
func (r *Rig) StartClapper(t testing.TB) {
	t.Helper()
	clapper := exec.Command("gst-launch-1.0", "-q",
		"videotestsrc", "pattern=ball", "flip=true", "is-live=true",
		"!", fmt.Sprintf("video/x-raw,width=%d,height=%d,framerate=30/1", r.Screen.Width(), r.Screen.Height()),
		"!", "ximagesink", "display="+r.Screen.Name(), "sync=true",
		"audiotestsrc", "is-live=true", "wave=ticks", fmt.Sprintf("freq=%d", demo.ClapperHz),
		fmt.Sprintf("sine-periods-per-tick=%d", demo.ClapperHz/10), fmt.Sprintf("tick-interval=%d", (demo.ClapperPeriod+1).Nanoseconds()),
		"volume=0.5", "marker-tick-period=2", fmt.Sprintf("marker-tick-volume=%g", 0.5*demo.ClapperMarkerRatio),
		"!", "audio/x-raw,rate=48000,channels=2", "!", "pulsesink", "device="+r.Sink.Name(), "server="+r.Pulse.Address())
	clapper.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := clapper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { clapper.Process.Kill(); clapper.Wait() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	waitPlaying(ctx, t, r.Pulse, r.Sink)
}

// waitPlaying returns once the sink's monitor gives the tone: a sink
// just made gives nothing for a second or two after its first sound (1.2
// to 1.9 s measured, though pactl says it runs), and a recording started
// earlier would have no sound for that long.
func waitPlaying(ctx context.Context, t testing.TB, pulse *audio.Server, sink *audio.Sink) {
	t.Helper()
	out, err := exec.CommandContext(ctx, "gst-launch-1.0", "-q", "pulsesrc", "server="+pulse.Address(), "device="+sink.Monitor(),
		"num-buffers=1", "!", "fakesink").CombinedOutput()
	if err != nil {
		t.Fatalf("the rig's tone never came out of %s: %v: %s", sink.Monitor(), err, out)
	}
}

// Noise fills the rig's screen with moving noise (a window, at the top
// left of a screen with no window manager): a picture no encoder can
// squeeze below its bitrate, for tests of the bitrate itself.
func (r *Rig) Noise(t testing.TB) {
	t.Helper()
	snow := exec.Command("gst-launch-1.0", "-q", "videotestsrc", "is-live=true", "pattern=snow",
		"!", fmt.Sprintf("video/x-raw,width=%d,height=%d,framerate=30/1", r.Screen.Width(), r.Screen.Height()),
		"!", "ximagesink", "display="+r.Screen.Name(), "sync=false")
	snow.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := snow.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { snow.Process.Kill(); snow.Wait() })
}

// Capture captures the rig's screen at fps and its sink; the test's
// cleanup closes it.
func (r *Rig) Capture(t testing.TB, fps int, preview *pipeline.PreviewConfig) *pipeline.Capture {
	t.Helper()
	return r.capture(t, r.Config(t, fps, preview))
}

// Config is the configuration of a capture of the rig's screen at fps and
// its sink, for a test that starts and closes the capture itself.
func (r *Rig) Config(t testing.TB, fps int, preview *pipeline.PreviewConfig) pipeline.CaptureConfig {
	return pipeline.CaptureConfig{
		Display: r.Screen.Name(), Width: r.Screen.Width(), Height: r.Screen.Height(), FPS: fps,
		PulseServer: r.Pulse.Address(), PulseDevice: r.Sink.Monitor(), Preview: preview, Logf: t.Logf,
	}
}

// AudioCapture captures the rig's sink only, as an audio-only composite.
func (r *Rig) AudioCapture(t testing.TB) *pipeline.Capture {
	t.Helper()
	return r.capture(t, pipeline.CaptureConfig{PulseServer: r.Pulse.Address(), PulseDevice: r.Sink.Monitor(), Logf: t.Logf})
}

func (r *Rig) capture(t testing.TB, cfg pipeline.CaptureConfig) *pipeline.Capture {
	t.Helper()
	c, err := pipeline.NewCapture(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// MP4 is a branch writing an MP4 of H.264 (and AAC, with audio) to path,
// as a test's stand-in for the file output.
func MP4(t testing.TB, name, path string, audio bool) pipeline.Branch {
	t.Helper()
	var br pipeline.Branch
	b := pipeline.NewBinBuilder(name)
	parse := b.Make("h264parse", "parse", nil)
	mux := b.Make("mp4mux", "mux", pipeline.Props{"fragment-duration": 500})
	b.LinkRequest(parse, mux, "video_%u")
	br.Video = b.Pad(parse, "sink")
	if audio {
		br.Audio = b.Request(mux, "audio_%u")
		br.AudioCapsIfNone = pipeline.AudioCapsBeforeEOS
	}
	return fileSink(t, b, br, mux, path)
}

// TS is a branch writing MPEG-TS of H.264 and AAC to path, as a test's
// stand-in for the segments output.
func TS(t testing.TB, name, path string) pipeline.Branch {
	t.Helper()
	var br pipeline.Branch
	b := pipeline.NewBinBuilder(name)
	parse := b.Make("h264parse", "parse", nil)
	mux := b.Make("mpegtsmux", "mux", nil)
	b.LinkRequest(parse, mux, "sink_%d")
	br.Video = b.Pad(parse, "sink")
	br.Audio = b.Request(mux, "sink_%d")
	br.AudioCapsIfNone = pipeline.AudioCapsAtFirstFrame
	return fileSink(t, b, br, mux, path)
}

// RTMP is a branch sending H.264 and AAC to an RTMP url, muxed and sent
// as the stream output does.
func RTMP(t testing.TB, name, url string) pipeline.Branch {
	t.Helper()
	br := pipeline.Branch{EOSTimeout: 2 * time.Second}
	b := pipeline.NewBinBuilder(name)
	parse := b.Make("h264parse", "parse", nil)
	mux := b.Make("flvmux", "mux", pipeline.Props{"streamable": true, "latency": int64(time.Second)})
	b.LinkRequest(parse, mux, "video")
	br.Video = b.Pad(parse, "sink")
	br.Audio = b.Request(mux, "audio")
	br.AudioCapsIfNone = pipeline.AudioCapsAtFirstFrame
	return endIn(t, b, br, mux, b.Make("rtmp2sink", "sink", pipeline.Props{"location": url, "async": false, "sync": false}))
}

// OGG is a branch writing an OGG of Opus audio to path.
func OGG(t testing.TB, name, path string) pipeline.Branch {
	t.Helper()
	var br pipeline.Branch
	b := pipeline.NewBinBuilder(name)
	mux := b.Make("oggmux", "mux", nil)
	br.Audio = b.Request(mux, "audio_%u")
	return fileSink(t, b, br, mux, path)
}

// fileSink ends a test branch with a filesink at path after mux.
func fileSink(t testing.TB, b *pipeline.BinBuilder, br pipeline.Branch, mux *gst.Element, path string) pipeline.Branch {
	t.Helper()
	return endIn(t, b, br, mux, b.Make("filesink", "sink", pipeline.Props{"location": path, "sync": false, "async": false, "buffer-mode": "unbuffered"}))
}

// endIn ends a test branch with sink after mux, and makes its bin.
func endIn(t testing.TB, b *pipeline.BinBuilder, br pipeline.Branch, mux, sink *gst.Element) pipeline.Branch {
	t.Helper()
	b.Link(mux, sink)
	br.Sinks = []*gst.Element{sink}
	var err error
	if br.Bin, err = b.Bin(); err != nil {
		t.Fatal(err)
	}
	return br
}
