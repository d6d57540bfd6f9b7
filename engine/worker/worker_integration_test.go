//go:build integration

package worker_test

import (
	"context"
	imgcolor "image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	protologger "github.com/livekit/protocol/logger"
	lkredis "github.com/livekit/protocol/redis"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"roomcast/engine/demo"
	"roomcast/engine/demo/demotest"
	"roomcast/engine/local"
	"roomcast/engine/local/localtest"
	"roomcast/engine/mediatest"
	"roomcast/engine/rtmptest"
	"roomcast/engine/worker"
	"roomcast/engine/worker/workertest"
)

func TestMain(m *testing.M) {
	lksdk.SetLogger(protologger.GetDiscardLogger())
	os.Exit(m.Run())
}

// TestDispatchedByTheLiveKitServer: a LiveKit server with Redis takes a
// room composite request on its own Egress API and dispatches it to the
// roomcast worker on its bus; the server's ListEgress follows the
// egress from ACTIVE to COMPLETE as the worker reports it; the server's
// UpdateLayout, UpdateStream and StopEgress reach the worker; the file
// verifies and both stream destinations got the stream.
func TestDispatchedByTheLiveKitServer(t *testing.T) {
	redis := workertest.StartRedis(t)
	d := demotest.Start(t, demo.Options{Participants: 2, Redis: redis})
	out := t.TempDir()
	engine := localtest.New(t, local.Config{LiveKitURL: d.URL(), APIKey: d.APIKey(), APISecret: d.APISecret(), OutputDir: out})
	w, err := worker.New(engine, worker.Config{Redis: lkredis.RedisConfig{Address: redis}, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)

	rtmp := rtmptest.Start(t)
	client := lksdk.NewEgressClient(d.HTTPURL(), d.APIKey(), d.APISecret())
	// A request the server passes on but roomcast refuses: its caller gets
	// the worker's reason, naming the field.
	if _, err := client.StartRoomCompositeEgress(context.Background(), &livekit.RoomCompositeEgressRequest{
		RoomName: d.Room(), Layout: "mosaic", FileOutputs: []*livekit.EncodedFileOutput{{Filepath: "refused.mp4"}},
	}); err == nil || !strings.Contains(err.Error(), "layout") {
		t.Errorf("a request for layout mosaic: %v, want the worker's refusal naming the layout", err)
	} else {
		t.Logf("refused through the server: %v", err)
	}
	info, err := client.StartRoomCompositeEgress(context.Background(), &livekit.RoomCompositeEgressRequest{
		RoomName:      d.Room(),
		Layout:        "grid",
		FileOutputs:   []*livekit.EncodedFileOutput{{Filepath: "dispatched.mp4"}},
		StreamOutputs: []*livekit.StreamOutput{{Urls: []string{rtmp.URL("first")}}},
		Options: &livekit.RoomCompositeEgressRequest_Advanced{Advanced: &livekit.EncodingOptions{
			Width: 640, Height: 360, Framerate: 15, VideoBitrate: 800,
		}},
	})
	if err != nil {
		t.Fatalf("StartRoomCompositeEgress at the LiveKit server: %v", err)
	}
	if info.Status != livekit.EgressStatus_EGRESS_STARTING || info.RoomName != d.Room() {
		t.Errorf("started %s in room %q, want EGRESS_STARTING in %q", info.Status, info.RoomName, d.Room())
	}
	active := workertest.AwaitServerStatus(t, client, info.EgressId, livekit.EgressStatus_EGRESS_ACTIVE, 40*time.Second)
	// UpdateLayout is not on the bus: the server sets the metadata of the
	// participant whose identity is the egress ID, the worker's recorder.
	time.Sleep(time.Until(time.Unix(0, active.StartedAt).Add(2 * time.Second)))
	if _, err := client.UpdateLayout(context.Background(), &livekit.UpdateLayoutRequest{EgressId: info.EgressId, Layout: "grid-light"}); err != nil {
		t.Errorf("UpdateLayout at the LiveKit server: %v", err)
	}
	// UpdateStream is on the bus, to the worker that runs the egress.
	if _, err := client.UpdateStream(context.Background(), &livekit.UpdateStreamRequest{EgressId: info.EgressId, AddOutputUrls: []string{rtmp.URL("added")}}); err != nil {
		t.Errorf("UpdateStream at the LiveKit server: %v", err)
	}
	time.Sleep(time.Until(time.Unix(0, active.StartedAt).Add(5 * time.Second)))
	for _, key := range []string{"first", "added"} {
		if rtmp.Received(key) == 0 {
			t.Errorf("the RTMP server got nothing for %q", key)
		}
	}

	stopped, err := client.StopEgress(context.Background(), &livekit.StopEgressRequest{EgressId: info.EgressId})
	if err != nil {
		t.Fatalf("StopEgress at the LiveKit server: %v", err)
	}
	if stopped.Status != livekit.EgressStatus_EGRESS_ENDING {
		t.Errorf("StopEgress answered %s, want EGRESS_ENDING", stopped.Status)
	}
	final := workertest.AwaitServerStatus(t, client, info.EgressId, livekit.EgressStatus_EGRESS_COMPLETE, 20*time.Second)
	if len(final.FileResults) != 1 || final.FileResults[0].Size == 0 {
		t.Fatalf("the server's file results %v, want one file with a size", final.FileResults)
	}
	var colors []imgcolor.RGBA
	for _, p := range d.Participants() {
		colors = append(colors, p.Color)
	}
	path := filepath.Join(out, "dispatched.mp4")
	mediatest.VerifyVideo(t, path, mediatest.Expect{
		Width: 640, Height: 360, FPS: 15, Seconds: 5, Tolerance: 1.5, Audio: "aac", Colors: colors,
	})
	// The layout's background, at the picture's corner: dark grid, then
	// grid-light.
	for _, c := range []struct {
		at   float64
		want imgcolor.RGBA
	}{{1, imgcolor.RGBA{0x0b, 0x0d, 0x10, 0xff}}, {4.5, imgcolor.RGBA{0xf4, 0xf5, 0xf7, 0xff}}} {
		frame, err := mediatest.FrameAt(path, c.at)
		if err != nil {
			t.Fatal(err)
		}
		if got := frame.At(2, 2); !mediatest.Near(got, c.want, 24) {
			t.Errorf("at %.1f s the background is %v, want %v", c.at, got, c.want)
		}
	}
}
