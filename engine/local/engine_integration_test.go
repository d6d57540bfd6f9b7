//go:build integration

package local_test

import (
	"context"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	protologger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"roomcast/engine"
	"roomcast/engine/demo"
	"roomcast/engine/demo/demotest"
	"roomcast/engine/local"
	"roomcast/engine/local/localtest"
	"roomcast/engine/mediatest"
	"roomcast/engine/proctest"
	"roomcast/engine/waittest"
)

func TestMain(m *testing.M) {
	lksdk.SetLogger(protologger.GetDiscardLogger())
	os.Exit(m.Run())
}

// studio is the demo room with the embedded engine pointed at it.
type studio struct {
	demo   *demo.Demo
	engine *local.Local
	out    string // the engine's output folder
	log    *engineLog
}

func newStudio(t *testing.T, participants int) *studio {
	t.Helper()
	d := demotest.Start(t, demo.Options{Participants: participants})
	out := t.TempDir()
	log := &engineLog{t: t}
	l := localtest.New(t, local.Config{LiveKitURL: d.URL(), APIKey: d.APIKey(), APISecret: d.APISecret(), OutputDir: out, Logf: log.logf})
	return &studio{demo: d, engine: l, out: out, log: log}
}

// engineLog passes the engine's lines to the test's log and keeps them.
type engineLog struct {
	t     testing.TB
	mu    sync.Mutex
	lines []string
}

func (l *engineLog) logf(format string, args ...any) {
	l.t.Helper() // the engine's line, not this one
	line := fmt.Sprintf(format, args...)
	l.t.Log(line)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
}

// with returns the lines so far that contain any of substrs.
func (l *engineLog) with(substrs ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.lines {
		for _, s := range substrs {
			if strings.Contains(line, s) {
				out = append(out, line)
				break
			}
		}
	}
	return out
}

// startActive starts req and waits (30 s at most) until it is ACTIVE.
func (s *studio) startActive(t *testing.T, req *livekit.RoomCompositeEgressRequest) *livekit.EgressInfo {
	t.Helper()
	info, err := s.engine.Start(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if info.Status != livekit.EgressStatus_EGRESS_STARTING || !strings.HasPrefix(info.EgressId, "EG_") {
		t.Fatalf("Start returned %s %q, want EGRESS_STARTING and an EG_ id", info.Status, info.EgressId)
	}
	return waittest.AwaitStatus(t, s.engine, info.EgressId, livekit.EgressStatus_EGRESS_ACTIVE, 30*time.Second)
}

// record starts req, waits until it is ACTIVE, records for d from its
// first frame (which reaches the engine, ACTIVE then, as late as a new
// encoder is slow to start), stops it and returns its final info. It fails
// the test if Stop takes over 5 s.
func (s *studio) record(t *testing.T, req *livekit.RoomCompositeEgressRequest, d time.Duration) *livekit.EgressInfo {
	t.Helper()
	info := s.startActive(t, req)
	time.Sleep(time.Until(time.Unix(0, info.StartedAt).Add(d))) // the recording itself
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	final, err := s.engine.Stop(ctx, info.EgressId)
	if err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if final.Status != livekit.EgressStatus_EGRESS_COMPLETE || final.Error != "" {
		t.Fatalf("final status %s (%q), want EGRESS_COMPLETE", final.Status, final.Error)
	}
	if len(final.FileResults) != 1 || final.FileResults[0].Size == 0 || final.FileResults[0].Duration <= 0 {
		t.Fatalf("file results = %v, want one file with a size and a duration", final.FileResults)
	}
	return final
}

func fileRequest(path string, preset livekit.EncodingOptionsPreset) *livekit.RoomCompositeEgressRequest {
	req := &livekit.RoomCompositeEgressRequest{
		RoomName:    demo.DefaultRoom,
		Layout:      "grid",
		FileOutputs: []*livekit.EncodedFileOutput{{Filepath: path}},
	}
	if preset != livekit.EncodingOptionsPreset_H264_720P_30 {
		req.Options = &livekit.RoomCompositeEgressRequest_Preset{Preset: preset}
	}
	return req
}

func TestRecordDemoRoom(t *testing.T) {
	s := newStudio(t, 3)
	people := s.demo.Participants()
	dir := t.TempDir()

	t.Run("landscape default preset with a preview and a warm second egress", func(t *testing.T) {
		// A preview keeps the composite up, as in the studio window.
		var frames atomic.Int64
		var last atomic.Pointer[image.RGBA]
		stop, err := s.engine.Preview(context.Background(), fileRequest("", livekit.EncodingOptionsPreset_H264_720P_30), func(img *image.RGBA) {
			frames.Add(1)
			last.Store(img)
		})
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
		waittest.Until(t, 30*time.Second, "first preview frame", func() bool { return frames.Load() > 0 })
		screens := proctest.Screens()

		first := filepath.Join(dir, "landscape.mp4")
		second := filepath.Join(dir, "warm.mp4")
		done := make(chan *livekit.EgressInfo)
		go func() {
			time.Sleep(3 * time.Second)
			began := time.Now()
			info := s.record(t, fileRequest(second, livekit.EncodingOptionsPreset_H264_720P_30), 4*time.Second)
			t.Logf("warm egress: Start to ACTIVE %v", time.Unix(0, info.StartedAt).Sub(began).Round(time.Millisecond))
			done <- info
		}()
		info := s.record(t, fileRequest(first, livekit.EncodingOptionsPreset_H264_720P_30), 10*time.Second)
		<-done
		// The composite's meter reads the room's tones now; a composite
		// that does not run has no reading.
		var meter engine.Meter = s.engine
		level, ok := meter.AudioLevel(fileRequest("", livekit.EncodingOptionsPreset_H264_720P_30))
		if !ok || time.Since(level.At) > time.Second || level.RMS < -40 || !level.SilentSince.IsZero() {
			t.Errorf("meter of the running composite: %+v (running %v), want a reading of the tones within the last second", level, ok)
		}
		if _, ok := meter.AudioLevel(fileRequest("", livekit.EncodingOptionsPreset_PORTRAIT_H264_720P_30)); ok {
			t.Error("a composite that is not running has a meter reading")
		}
		// The page's meters: everyone, in join order, microphone on, their
		// tone heard (the first read starts them).
		var heard []engine.PersonLevel
		waittest.Until(t, 5*time.Second, "everyone's tone on the page's meters", func() bool {
			levels, err := meter.PeopleLevels(context.Background(), fileRequest("", livekit.EncodingOptionsPreset_H264_720P_30))
			if err != nil {
				t.Fatal(err)
			}
			heard = levels
			if len(levels) != len(people) {
				return false
			}
			for i, l := range levels {
				if l.Identity != people[i].Identity || !l.MicOn || l.RMS < -40 {
					return false
				}
			}
			return true
		})
		t.Logf("the page's meters: %+v", heard)
		if got := proctest.Screens(); got != screens {
			t.Errorf("virtual screens went from %d to %d: the egresses did not share the running composite", screens, got)
		}
		if info.FileResults[0].Filename != first {
			t.Errorf("file result %q, want %q", info.FileResults[0].Filename, first)
		}
		demotest.VerifyRecording(t, first, 1280, 720, 10, people)
		demotest.VerifyRecording(t, second, 1280, 720, 4, people)

		n := frames.Load()
		if n < 100 {
			t.Errorf("preview delivered %d frames over about 15 s, want >= 100 (10 fps)", n)
		}
		img := last.Load()
		if b := img.Bounds(); b.Dx() != 480 || b.Dy() != 270 {
			t.Errorf("preview frame %v, want 480x270", b)
		}
		for _, p := range people {
			if !mediatest.Contains(img, p.Color, 60, 3) {
				t.Errorf("preview frame has no %s", p.Identity)
			}
		}
	})

	t.Run("stopped before it starts", func(t *testing.T) {
		// Portrait is a composite of its own, not yet up: the stop comes
		// while it starts.
		info, err := s.engine.Start(context.Background(), fileRequest(filepath.Join(dir, "never.mp4"), livekit.EncodingOptionsPreset_PORTRAIT_H264_720P_30))
		if err != nil {
			t.Fatal(err)
		}
		final, err := s.engine.Stop(context.Background(), info.EgressId)
		if err != nil {
			t.Fatal(err)
		}
		// LiveKit Egress's words and code for it.
		want := fmt.Sprintf("ABORTED %q %d %q", livekit.MsgStoppedBeforeStarted, 412, "End reason: "+livekit.EndReasonAPI)
		if got := fmt.Sprintf("%s %q %d %q", strings.TrimPrefix(final.Status.String(), "EGRESS_"), final.Error, final.ErrorCode, final.Details); got != want {
			t.Errorf("stopped while starting: %s, want %s", got, want)
		}
	})

	t.Run("portrait", func(t *testing.T) {
		path := filepath.Join(dir, "portrait.mp4")
		s.record(t, fileRequest(path, livekit.EncodingOptionsPreset_PORTRAIT_H264_720P_30), 5*time.Second)
		demotest.VerifyRecording(t, path, 720, 1280, 5, people)
	})

	t.Run("audio only", func(t *testing.T) {
		path := filepath.Join(dir, "audio.ogg")
		req := fileRequest(path, livekit.EncodingOptionsPreset_H264_720P_30)
		req.AudioOnly = true
		s.record(t, req, 5*time.Second)
		p, err := mediatest.ProbeFile(path, false)
		if err != nil {
			t.Fatal(err)
		}
		if p.First("video") != nil {
			t.Error("audio-only file has a video stream")
		}
		if a := p.First("audio"); a == nil || a.CodecName != "opus" {
			t.Fatalf("audio = %+v, want opus", a)
		}
		if d := p.Duration(); math.Abs(d-5) > 1 {
			t.Errorf("duration %.2f s, want 5 +/- 1", d)
		}
		demotest.VerifyTones(t, path, people)
	})

	t.Run("bad request starts nothing", func(t *testing.T) {
		before := len(proctest.Descendants(os.Getpid()))
		req := fileRequest(filepath.Join(dir, "x.mp4"), livekit.EncodingOptionsPreset_H264_720P_30)
		req.Layout = "mosaic"
		_, err := s.engine.Start(context.Background(), req)
		if err == nil || !strings.Contains(err.Error(), "layout") || !strings.Contains(err.Error(), "grid") {
			t.Fatalf("err = %v, want one naming the layout field and listing the layouts", err)
		}
		if after := len(proctest.Descendants(os.Getpid())); after > before {
			t.Errorf("a refused request started %d processes", after-before)
		}
	})
}

// TestRoomEndCompletesEgress: deleting the room ends the page (END_RECORDING
// or disconnect), and the egress completes with a playable file.
func TestRoomEndCompletesEgress(t *testing.T) {
	s := newStudio(t, 2)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ended.mp4")
	info := s.startActive(t, fileRequest(path, livekit.EncodingOptionsPreset_H264_720P_30))
	time.Sleep(3 * time.Second)
	rooms := lksdk.NewRoomServiceClient(s.demo.HTTPURL(), s.demo.APIKey(), s.demo.APISecret())
	if _, err := rooms.DeleteRoom(ctx, &livekit.DeleteRoomRequest{Room: demo.DefaultRoom}); err != nil {
		t.Fatal(err)
	}
	final := waittest.AwaitStatus(t, s.engine, info.EgressId, livekit.EgressStatus_EGRESS_COMPLETE, 20*time.Second)
	if len(final.FileResults) != 1 {
		t.Fatalf("file results = %v", final.FileResults)
	}
	if want := "End reason: " + livekit.EndReasonSrcClosed; !strings.HasPrefix(final.Details, want) {
		t.Errorf("details %q, want %q first", final.Details, want)
	}
	p, err := mediatest.ProbeFile(path, true)
	if err != nil {
		t.Fatal(err)
	}
	if v := p.First("video"); v == nil || v.Frames() < 60 {
		t.Errorf("video = %+v, want at least 60 decoded frames", v)
	}
}
