//go:build integration

package pipeline_test

import (
	"context"
	"fmt"
	"image"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"roomcast/engine/audio"
	"roomcast/engine/display"
	"roomcast/engine/mediatest"
	"roomcast/engine/pipeline"
)

// rig is a real X screen and PulseAudio sink with a 523 Hz tone playing into
// it: what a composite's browser would provide, without the browser.
type rig struct {
	screen *display.Screen
	sink   *audio.Sink
	pulse  *audio.Server
}

func newRig(t *testing.T, w, h int) *rig {
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
	tone := exec.Command("gst-launch-1.0", "-q", "audiotestsrc", "is-live=true", "wave=sine", "freq=523", "volume=0.5",
		"!", "pulsesink", "device="+sink.Name(), "server="+pulse.Address())
	tone.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := tone.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tone.Process.Kill(); tone.Wait() })
	return &rig{screen: screen, sink: sink, pulse: pulse}
}

func (r *rig) capture(t *testing.T, fps int, preview *pipeline.PreviewConfig) *pipeline.Capture {
	t.Helper()
	c, err := pipeline.NewCapture(pipeline.CaptureConfig{
		Display: r.screen.Name(), Width: r.screen.Width(), Height: r.screen.Height(), FPS: fps,
		PulseServer: r.pulse.Address(), PulseDevice: r.sink.Monitor(), Preview: preview, Logf: t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func mp4Branch(name, path string) pipeline.BranchConfig {
	return pipeline.BranchConfig{
		Name:  name,
		Video: &pipeline.VideoEncoding{BitrateKbps: 3000, FPS: 30, KeyFrameInterval: 2},
		Audio: &pipeline.AudioEncoding{BitrateKbps: 128},
		File:  &pipeline.FileOutput{Path: path, Container: pipeline.MP4},
	}
}

// stopWithin fails the test if Detach blocks for more than d.
func stopWithin(t *testing.T, c *pipeline.Capture, b *pipeline.Branch, d time.Duration) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- c.Detach(b) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(d):
		t.Fatalf("Detach did not return within %s", d)
	}
}

func TestBranchesOnOneCapture(t *testing.T) {
	r := newRig(t, 1280, 720)
	var previews atomic.Int64
	var lastPreview atomic.Pointer[image.RGBA]
	c := r.capture(t, 30, &pipeline.PreviewConfig{Width: 480, FPS: 10, OnFrame: func(img *image.RGBA) {
		previews.Add(1)
		lastPreview.Store(img)
	}})

	dir := t.TempDir()
	firstPath := filepath.Join(dir, "first.mp4")
	secondPath := filepath.Join(dir, "second.mp4")
	active := make(chan struct{})
	b1, err := pipeline.NewBranch(mp4Branch("eg1", firstPath), pipeline.BranchEvents{Active: func(time.Time) { close(active) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Attach(b1); err != nil {
		t.Fatal(err)
	}
	attached1 := time.Now()
	select {
	case <-active:
	case <-time.After(5 * time.Second):
		t.Fatal("first branch never became active")
	}
	time.Sleep(2 * time.Second) // recording time

	// A second branch on the running capture: its first write is timed.
	written := make(chan time.Time, 1)
	b2, err := pipeline.NewBranch(mp4Branch("eg2", secondPath), pipeline.BranchEvents{FirstWrite: func() { written <- time.Now() }})
	if err != nil {
		t.Fatal(err)
	}
	attachAt := time.Now()
	if err := c.Attach(b2); err != nil {
		t.Fatal(err)
	}
	attached2 := time.Now()
	select {
	case at := <-written:
		t.Logf("warm start: first buffer at the second file's sink %v after Attach", at.Sub(attachAt).Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		t.Fatal("second branch wrote nothing")
	}
	time.Sleep(3 * time.Second)
	// Each file lasts from its Attach to its Detach: measured, since on a
	// loaded machine attaching and detaching take time of their own.
	second := time.Since(attached2).Seconds()
	stopWithin(t, c, b2, 3*time.Second)
	time.Sleep(time.Second)
	first := time.Since(attached1).Seconds()
	stopWithin(t, c, b1, 3*time.Second)

	checkMP4(t, firstPath, 1280, 720, first, 0.5)
	checkMP4(t, secondPath, 1280, 720, second, 0.5)

	if n := previews.Load(); n < 40 {
		t.Errorf("preview delivered %d frames in about 6 s, want >= 40 (10 fps)", n)
	}
	if img := lastPreview.Load(); img == nil || img.Bounds().Dx() != 480 || img.Bounds().Dy() != 270 {
		t.Errorf("preview frame size = %v, want 480x270", img.Bounds())
	}
	// The capture goes on after every branch is gone.
	before := c.RawFrames()
	time.Sleep(time.Second)
	if after := c.RawFrames(); after-before < 20 {
		t.Errorf("capture delivered %d frames in the second after the branches stopped, want about 30", after-before)
	}
}

func TestAudioOnlyOGG(t *testing.T) {
	r := newRig(t, 640, 480)
	c, err := pipeline.NewCapture(pipeline.CaptureConfig{
		PulseServer: r.pulse.Address(), PulseDevice: r.sink.Monitor(), Logf: t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	path := filepath.Join(t.TempDir(), "a.ogg")
	active := make(chan struct{})
	b, err := pipeline.NewBranch(pipeline.BranchConfig{
		Name: "aud", Audio: &pipeline.AudioEncoding{BitrateKbps: 96, Opus: true},
		File: &pipeline.FileOutput{Path: path, Container: pipeline.OGG},
	}, pipeline.BranchEvents{Active: func(time.Time) { close(active) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Attach(b); err != nil {
		t.Fatal(err)
	}
	// The file starts at the first sound, not at Attach: the monitor of a
	// sink gives nothing until something plays into it, and the rig's tone
	// takes a second or two to start.
	select {
	case <-active:
	case <-time.After(10 * time.Second):
		t.Fatal("no audio reached the branch within 10 s")
	}
	time.Sleep(4 * time.Second)
	stopWithin(t, c, b, 3*time.Second)
	p, err := mediatest.ProbeFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	if p.First("video") != nil {
		t.Error("audio-only OGG has a video stream")
	}
	a := p.First("audio")
	if a == nil || a.CodecName != "opus" {
		t.Fatalf("audio stream = %+v, want opus", a)
	}
	if d := p.Duration(); math.Abs(d-4) > 0.5 {
		t.Errorf("duration %.2f s, want 4 +/- 0.5", d)
	}
	checkTone(t, path, 523)
}

// TestSegmentsClosedAtTheNextKeyFrame: 2 s segments, each announced as
// the next one starts. The branch's images, taken every 100 ms from the
// same frames, serve as a clock in media time: when a segment is announced,
// no image from the second half of the next one has been. (splitmuxsink
// announced a segment only once the GOP after it was complete, images a
// whole segment later among them.) The segments follow each other, last
// 2 s each, hold video and audio, and the last is announced by Detach.
func TestSegmentsClosedAtTheNextKeyFrame(t *testing.T) {
	r := newRig(t, 640, 360)
	c := r.capture(t, 30, nil)
	// The branch joins a capture that has run a while: its times still
	// start at zero, so the first segment is no longer than the others.
	time.Sleep(3 * time.Second)
	dir := t.TempDir()
	const every = 2 * time.Second
	type segment struct {
		path       string
		start, dur time.Duration
		newestShot time.Duration // the newest image announced before it
	}
	var (
		mu         sync.Mutex
		segs       []segment
		newestShot time.Duration
		shots      []time.Duration
	)
	b, err := pipeline.NewBranch(pipeline.BranchConfig{
		Name:  "seg",
		Video: &pipeline.VideoEncoding{BitrateKbps: 1000, FPS: 30, KeyFrameInterval: every.Seconds()},
		Audio: &pipeline.AudioEncoding{BitrateKbps: 96},
		Segments: &pipeline.SegmentOutput{Dir: dir, Prefix: "seg", Duration: every, OnSegment: func(path string, start, dur time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			segs = append(segs, segment{path, start, dur, newestShot})
		}},
		Images: &pipeline.ImageOutput{Dir: dir, Prefix: "shot", Interval: 100 * time.Millisecond, Width: 160, Height: 90, OnImage: func(_ string, at time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			newestShot = max(newestShot, at)
			shots = append(shots, at)
		}},
	}, pipeline.BranchEvents{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Attach(b); err != nil {
		t.Fatal(err)
	}
	time.Sleep(9 * time.Second)
	// Its elements' clock runs from its own zero, or a live muxer would
	// take every buffer for 3 s late and never wait for its other input.
	for name, shift := range pipeline.BaseTimeShifts(c, b) {
		if shift < 3*time.Second || shift > 4*time.Second {
			t.Errorf("%s: base time %v after the capture's, want the branch's zero, 3 s in", name, shift)
		}
	}
	stopWithin(t, c, b, 5*time.Second)

	mu.Lock()
	defer mu.Unlock()
	files, _ := filepath.Glob(filepath.Join(dir, "seg_*.ts"))
	if len(segs) != len(files) || len(segs) < 4 {
		t.Errorf("%d segments announced, %d files; want the same, at least 4", len(segs), len(files))
	}
	// One image every 100 ms of the branch's time, from its start: none
	// closer than a frame short of that (a picker misled by the capture's
	// older timestamps let a burst through at the start).
	for i := 1; i < len(shots); i++ {
		if gap := shots[i] - shots[i-1]; gap < 100*time.Millisecond-time.Second/30 {
			t.Errorf("images %d and %d are %v apart, want 100 ms (all: %v)", i-1, i, gap, shots[:min(len(shots), 8)])
			break
		}
	}
	if len(shots) == 0 || shots[0] > 100*time.Millisecond {
		t.Errorf("first image at %v, want at the branch's start (%d images)", shots[:min(len(shots), 1)], len(shots))
	}
	var end time.Duration
	for i, s := range segs {
		t.Logf("%s: %v + %v, newest image then %v", filepath.Base(s.path), s.start, s.dur, s.newestShot)
		if want := filepath.Join(dir, fmt.Sprintf("seg_%05d.ts", i)); s.path != want || s.start != end {
			t.Errorf("segment %d: %s from %v, want %s from %v", i, s.path, s.start, want, end)
		}
		end = s.start + s.dur
		if i == len(segs)-1 {
			break
		}
		if math.Abs((s.dur - every).Seconds()) > 0.1 {
			t.Errorf("%s lasts %v, want %v", filepath.Base(s.path), s.dur, every)
		}
		if s.newestShot > end+every/2 {
			t.Errorf("%s (to %v) was announced after an image at %v: a segment late", filepath.Base(s.path), end, s.newestShot)
		}
		p, err := mediatest.ProbeFile(s.path, false)
		if err != nil {
			t.Fatal(err)
		}
		if v, a := p.First("video"), p.First("audio"); v == nil || v.CodecName != "h264" || a == nil || a.CodecName != "aac" {
			t.Errorf("%s: streams %+v / %+v, want h264 and aac", filepath.Base(s.path), v, a)
		}
	}
}

func TestBadBranchConfigs(t *testing.T) {
	cases := []struct {
		name string
		cfg  pipeline.BranchConfig
	}{
		{"no media", pipeline.BranchConfig{Name: "x", File: &pipeline.FileOutput{Path: "/tmp/x.mp4"}}},
		{"no output", pipeline.BranchConfig{Name: "x", Audio: &pipeline.AudioEncoding{BitrateKbps: 64}}},
		{"mp4 without video", pipeline.BranchConfig{Name: "x", Audio: &pipeline.AudioEncoding{BitrateKbps: 64}, File: &pipeline.FileOutput{Path: "/tmp/x.mp4", Container: pipeline.MP4}}},
		{"ogg with video", pipeline.BranchConfig{Name: "x", Video: &pipeline.VideoEncoding{BitrateKbps: 1000, FPS: 30}, File: &pipeline.FileOutput{Path: "/tmp/x.ogg", Container: pipeline.OGG}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := pipeline.NewBranch(tc.cfg, pipeline.BranchEvents{}); err == nil {
				t.Fatal("NewBranch accepted a config it cannot build")
			}
		})
	}
}

func checkMP4(t *testing.T, path string, w, h int, seconds, tol float64) {
	t.Helper()
	p, err := mediatest.ProbeFile(path, true)
	if err != nil {
		t.Fatal(err)
	}
	v := p.First("video")
	if v == nil || v.CodecName != "h264" || v.Width != w || v.Height != h {
		t.Fatalf("%s: video = %+v, want h264 %dx%d", filepath.Base(path), v, w, h)
	}
	if fps := v.FPS(); math.Abs(fps-30) > 1 {
		t.Errorf("%s: %.2f fps, want 30 +/- 1", filepath.Base(path), fps)
	}
	if d := p.Duration(); math.Abs(d-seconds) > tol {
		t.Errorf("%s: duration %.2f s, want %.2f +/- %g", filepath.Base(path), d, seconds, tol)
	}
	if a := p.First("audio"); a == nil || a.CodecName != "aac" {
		t.Errorf("%s: audio = %+v, want aac", filepath.Base(path), a)
	}
	t.Logf("%s: %dx%d %.2f fps, %.2f s, %s frames decoded", filepath.Base(path), v.Width, v.Height, v.FPS(), p.Duration(), v.NbReadFrames)
	checkTone(t, path, 523)
}

func checkTone(t *testing.T, path string, hz float64) {
	t.Helper()
	pcm, err := mediatest.AudioPCM(path, 48000, 0.5, 2)
	if err != nil {
		t.Fatal(err)
	}
	tone := mediatest.ToneLevel(pcm, 48000, hz)
	off := mediatest.ToneLevel(pcm, 48000, hz*1.37)
	// The level depends on PulseAudio's volumes; what matters is that the
	// tone stands far above a frequency nobody plays.
	if tone < 0.01 || tone < 10*off {
		t.Errorf("%s: %g Hz at level %.3f (off-tone %.3f), want a clear tone", filepath.Base(path), hz, tone, off)
	}
}

func TestMain(m *testing.M) {
	if _, err := exec.LookPath("Xvfb"); err != nil {
		fmt.Println("Xvfb missing: run make deps")
		os.Exit(1)
	}
	os.Exit(m.Run())
}
