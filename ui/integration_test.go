//go:build integration

package ui

import (
	"context"
	"image/color"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	"github.com/livekit/protocol/livekit"
	protologger "github.com/livekit/protocol/logger"
	lkredis "github.com/livekit/protocol/redis"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"roomcast/engine"
	"roomcast/engine/api"
	"roomcast/engine/demo"
	"roomcast/engine/demo/demotest"
	"roomcast/engine/launch"
	"roomcast/engine/local"
	"roomcast/engine/mediatest"
	"roomcast/engine/rtmptest"
	"roomcast/engine/worker"
	"roomcast/engine/worker/workertest"
)

func TestMain(m *testing.M) {
	lksdk.SetLogger(protologger.GetDiscardLogger())
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild()) // the real window, for TestRealWindow
	}
	os.Exit(m.Run())
}

// participants are the demo room's participants, in its palette's order.
func participants() []demo.Persona {
	return []demo.Persona{demo.PersonaFor(0), demo.PersonaFor(1), demo.PersonaFor(2)}
}

// showsEveryone reports whether img has each participant's colour.
func showsEveryone(f func(c color.RGBA) bool) bool {
	for _, p := range participants() {
		if !f(p.Color) {
			return false
		}
	}
	return true
}

// TestRecordDemoRoom drives the window logic (on Fyne's test driver) on
// the real engine and the demo room, started as the app starts them: the
// preview shows the participants; Start Recording, 5 s, Stop; the file is
// what the preset says, with everyone in it.
func TestRecordDemoRoom(t *testing.T) {
	h := openHarness(t, launch.Open, 2*time.Minute)
	if h.s.rooms.room() != demo.DefaultRoom {
		t.Fatalf("room %q, want the demo room", h.s.rooms.room())
	}

	h.settleWithin("a preview frame with alice, bob and carol", time.Minute, func() bool {
		f := h.s.preview.latestFrame()
		return f != nil && showsEveryone(func(c color.RGBA) bool { return mediatest.Contains(f, c, 60, 3) })
	})
	n0, t0 := h.s.preview.received.Load(), time.Now()
	h.settleWithin("5 s of preview", 10*time.Second, func() bool { return time.Since(t0) >= 5*time.Second })
	fps := float64(h.s.preview.received.Load()-n0) / time.Since(t0).Seconds()
	t.Logf("preview: %.1f frames/s from the engine, %v", fps, h.s.preview.latestFrame().Bounds())
	if fps < 8 {
		t.Errorf("preview at %.1f frames/s, want about 10", fps)
	}
	h.drain()
	h.relayout()
	img := h.w.Canvas().Capture()
	area := h.areaOf(h.s.preview.raster, img)
	if !showsEveryone(func(c color.RGBA) bool { return mediatest.RegionContains(img, area, c, 60, 2) }) {
		t.Errorf("the preview area %v of the window does not show everyone", area)
	}

	test.Tap(h.s.controls.record)
	h.settleWithin("recording", 30*time.Second, func() bool { return h.s.rec.phase == active })
	began := time.Now()
	h.settleWithin("5 s of recording", 10*time.Second, func() bool { return time.Since(began) >= 5*time.Second })
	test.Tap(h.s.controls.record)
	stopAsked := time.Now()
	h.settleWithin("saved", 30*time.Second, func() bool { return h.s.controls.savedBox.Visible() })
	t.Logf("stop to \"saved\": %v; %s", time.Since(stopAsked).Round(time.Millisecond), h.s.controls.saved.Text)

	info := h.s.history.get(h.s.history.order[0])
	if len(info.FileResults) != 1 {
		t.Fatalf("file results %v", info.FileResults)
	}
	// The file holds from its first frame's capture (which a stalled
	// machine may hand on late, after the window saw ACTIVE) to the stop.
	recorded := stopAsked.Sub(time.Unix(0, info.FileResults[0].StartedAt)).Seconds()
	demotest.VerifyRecording(t, info.FileResults[0].Location, 1280, 720, recorded, participants())

	t.Run("stream while recording, destinations edited live", func(t *testing.T) {
		srv := rtmptest.Start(t)
		one, two := srv.URL("one"), srv.URL("two")
		test.Type(h.s.dests.entry, one)
		test.Tap(h.s.dests.add)
		test.Tap(h.s.controls.record)
		h.settleWithin("recording", 30*time.Second, func() bool { return h.s.rec.phase == active })
		began := time.Now()
		test.Tap(h.s.controls.stream)
		h.settleWithin("live to one", 30*time.Second, func() bool {
			_, state := h.lightOf(one)
			return h.s.live.phase == active && state == "live" && srv.Received("one") > 100_000
		})

		test.Type(h.s.dests.entry, two)
		test.Tap(h.s.dests.add)
		h.settleWithin("live to two", 30*time.Second, func() bool {
			_, state := h.lightOf(two)
			return state == "live" && srv.Received("two") > 100_000
		})
		test.Tap(h.s.dests.byURL[one].remove)
		h.settleWithin("one removed", 30*time.Second, func() bool { return len(h.s.dests.list()) == 1 })
		sent := srv.Received("one")
		h.settleWithin("3 s more", 10*time.Second, func() bool { return time.Since(began) >= 12*time.Second })
		if got := srv.Received("one"); got != sent {
			t.Errorf("one still receives after its removal: %d -> %d bytes", sent, got)
		}
		if h.s.rec.phase != active || h.s.live.phase != active {
			t.Fatal("editing the destinations stopped the recording or the stream")
		}

		test.Tap(h.s.controls.stream)
		h.settleWithin("stream stopped", 30*time.Second, func() bool { return h.s.live.phase == idle })
		secs := time.Since(began).Seconds()
		test.Tap(h.s.controls.record)
		h.settleWithin("recording stopped", 30*time.Second, func() bool { return h.s.rec.phase == idle })
		rec := h.s.history.get(h.s.history.order[1]) // newest first: the stream, then this recording
		if len(rec.FileResults) != 1 {
			t.Fatalf("recording's results %v (%s)", rec.FileResults, rec.Error)
		}
		demotest.VerifyRecording(t, rec.FileResults[0].Location, 1280, 720, secs, participants())
		for _, key := range []string{"one", "two"} {
			for _, flv := range srv.Recordings(key) {
				p, err := mediatest.ProbeFile(flv, false)
				if err != nil {
					t.Fatal(err)
				}
				if v := p.First("video"); v == nil || v.CodecName != "h264" || p.First("audio") == nil {
					t.Errorf("%s: %+v", flv, p.Streams)
				}
				t.Logf("%s: %.1f s", flv, p.Duration())
			}
		}
	})
}

// TestRecordThroughRemoteEngine: the window set to a remote engine
// records through that service: the Egress API over another engine, as
// `roomcast serve` runs it, or a LiveKit server that dispatches to a
// roomcast worker on its Redis bus (the window then talks to the LiveKit
// server alone). The recording runs on the service's engine, the window
// follows it, Stop ends it there, and the file verifies. The preview says
// there is none remotely.
func TestRecordThroughRemoteEngine(t *testing.T) {
	for _, c := range []struct {
		name       string
		dispatched bool // by a LiveKit server, else served by roomcast's API
	}{
		{"roomcast serve", false},
		{"a LiveKit server dispatching to a worker", true},
	} {
		t.Run(c.name, func(t *testing.T) { recordThroughRemoteEngine(t, c.dispatched) })
	}
}

func recordThroughRemoteEngine(t *testing.T, dispatched bool) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var opts demo.Options
	if dispatched {
		opts.Redis = workertest.StartRedis(t)
	}
	d := demotest.Start(t, opts)
	service, err := local.New(local.Config{LiveKitURL: d.URL(), APIKey: d.APIKey(), APISecret: d.APISecret(), Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := service.Close(); err != nil {
			t.Errorf("service engine close: %v", err)
		}
	})
	engineURL := d.HTTPURL()
	if dispatched {
		w, err := worker.New(service, worker.Config{Redis: lkredis.RedisConfig{Address: opts.Redis}, Logf: t.Logf})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Close)
	} else {
		srv, err := api.New(service, api.Config{APIKey: d.APIKey(), APISecret: d.APISecret(), Logf: t.Logf})
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(srv)
		t.Cleanup(func() { hs.Close(); srv.Close() })
		engineURL = hs.URL
	}
	remote := connection{LiveKitURL: d.URL(), APIKey: d.APIKey(), APISecret: d.APISecret(), EngineURL: engineURL}
	h := openHarness(t, func(ctx context.Context, c engine.Connection) (*engine.Session, error) {
		return launch.Open(ctx, remote.engineConnection(c.OutputDir, c.Logf))
	}, time.Minute)
	if _, ok := h.s.back.Studio.(*engine.Remote); !ok {
		t.Fatalf("the window records with %T, want the remote engine", h.s.back.Studio)
	}
	h.settleWithin("the preview's message", 10*time.Second, func() bool {
		return h.s.rooms.room() == demo.DefaultRoom && strings.Contains(h.s.preview.message.Text, "no preview is available from a remote engine")
	})

	test.Tap(h.s.controls.record)
	h.settleWithin("recording", time.Minute, func() bool { return h.s.rec.phase == active })
	running, err := engine.Items(service.List(ctx, &livekit.ListEgressRequest{Active: true}))
	if err != nil || len(running) != 1 {
		t.Fatalf("the service runs %v (%v), want the window's recording", running, err)
	}
	began := time.Now()
	h.settleWithin("5 s of recording", 10*time.Second, func() bool { return time.Since(began) >= 5*time.Second })
	stopped := time.Now()
	test.Tap(h.s.controls.record)
	h.settleWithin("saved", 30*time.Second, func() bool { return h.s.controls.savedBox.Visible() })
	final, err := engine.Items(service.List(ctx, &livekit.ListEgressRequest{EgressId: running[0].EgressId}))
	if err != nil || len(final) != 1 || final[0].Status != livekit.EgressStatus_EGRESS_COMPLETE {
		t.Fatalf("on the service: %v (%v), want COMPLETE", final, err)
	}
	info := h.s.history.get(h.s.history.order[0])
	if len(info.FileResults) != 1 {
		t.Fatalf("file results %v", info.FileResults)
	}
	// The service's own clock: from its ACTIVE to the stop.
	demotest.VerifyRecording(t, info.FileResults[0].Location, 1280, 720, stopped.Sub(time.Unix(0, final[0].StartedAt)).Seconds(), participants())
}
