//go:build integration

package main

import (
	"context"
	"errors"
	"image/color"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/twitchtv/twirp"

	"roomcast/engine/demo"
	"roomcast/engine/demo/demotest"
	"roomcast/engine/hooks/hookstest"
	"roomcast/engine/mediatest"
	"roomcast/engine/rtmptest"
	"roomcast/engine/worker/workertest"
)

// TestServeAsEgressWorkers: two `roomcast serve --redis` processes are
// the Egress workers of a LiveKit server (livekit-server v1.13.5 with
// Redis), each with room for one small composite. Through the LiveKit
// server's own Egress API, two rooms' composites start, one on each
// worker; a third finds no worker with room and is refused as LiveKit
// refuses when none bids; the server's ListEgress shows both ACTIVE, then
// COMPLETE after its StopEgress; its UpdateLayout and UpdateStream reach
// the worker of their egress; its webhooks arrive and verify; each file,
// on its worker's disk, shows its own room's people only.
func TestServeAsEgressWorkers(t *testing.T) {
	bin := buildRoomcast(t)
	redis := workertest.StartRedis(t)
	// The server posts webhooks from its start (room_started…): the
	// receiver knows its key before.
	key, secret := "workers", strings.Repeat("s", 32)
	hooks, hookURL := hookstest.New(t, key, secret)
	d := demotest.Start(t, demo.Options{Participants: 2, Redis: redis, Webhooks: []string{hookURL}, APIKey: key, APISecret: secret})
	other, err := d.AddRoom(context.Background(), "other", 2)
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"LIVEKIT_URL=" + d.URL(), "LIVEKIT_API_KEY=" + d.APIKey(), "LIVEKIT_API_SECRET=" + d.APISecret()}
	dirs := []string{t.TempDir(), t.TempDir()}
	for _, dir := range dirs {
		// A 640x360 at 15 fps composite costs 0.58 of a 720p30's core
		// under the default costs: one fits in a CPU, two do not.
		_, _, lines := startRoomcastEnv(t, bin, env, "serve", "--redis", redis, "--listen", "", "--cpus", "1", "--output-dir", dir)
		waitLine(t, lines, "Egress worker of the LiveKit server", 60*time.Second)
	}

	client := lksdk.NewEgressClient(d.HTTPURL(), d.APIKey(), d.APISecret())
	small := &livekit.RoomCompositeEgressRequest_Advanced{Advanced: &livekit.EncodingOptions{Width: 640, Height: 360, Framerate: 15, VideoBitrate: 800}}
	dark, light := color.RGBA{0x0b, 0x0d, 0x10, 0xff}, color.RGBA{0xf4, 0xf5, 0xf7, 0xff}
	rooms := []struct {
		name   string
		colors []color.RGBA
		late   color.RGBA // the layout's background at the end
	}{
		{d.Room(), []color.RGBA{d.Participants()[0].Color, d.Participants()[1].Color}, light},
		{"other", []color.RGBA{other[0].Color, other[1].Color}, dark},
	}
	rtmp := rtmptest.Start(t)
	var ids []string
	for _, r := range rooms {
		info, err := client.StartRoomCompositeEgress(context.Background(), &livekit.RoomCompositeEgressRequest{
			RoomName: r.name, Layout: "grid", Options: small,
			FileOutputs:   []*livekit.EncodedFileOutput{{Filepath: r.name + ".mp4"}},
			StreamOutputs: []*livekit.StreamOutput{{Urls: []string{rtmp.URL(r.name + "-first")}}},
		})
		if err != nil {
			t.Fatalf("start %s at the LiveKit server: %v", r.name, err)
		}
		ids = append(ids, info.EgressId)
	}
	var startedAt []time.Time
	for _, id := range ids {
		active := workertest.AwaitServerStatus(t, client, id, livekit.EgressStatus_EGRESS_ACTIVE, 60*time.Second)
		startedAt = append(startedAt, time.Unix(0, active.StartedAt))
	}

	// The SDK gives up after 10 s, while the server still retries: the
	// generated client, without a deadline, hears the server's answer.
	tok, err := auth.NewAccessToken(d.APIKey(), d.APISecret()).SetVideoGrant(&auth.VideoGrant{RoomRecord: true}).ToJWT()
	if err != nil {
		t.Fatal(err)
	}
	ctx, err := twirp.WithHTTPRequestHeaders(context.Background(), http.Header{"Authorization": {"Bearer " + tok}})
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	third, err := livekit.NewEgressProtobufClient(d.HTTPURL(), http.DefaultClient).StartRoomCompositeEgress(ctx, &livekit.RoomCompositeEgressRequest{
		RoomName: d.Room(), Layout: "speaker", Options: small,
		FileOutputs: []*livekit.EncodedFileOutput{{Filepath: "third.mp4"}},
	})
	var terr twirp.Error
	switch {
	case err == nil:
		t.Errorf("a third composite started (%s) with both workers full", third.EgressId)
	case !errors.As(err, &terr) || terr.Code() == twirp.Internal:
		t.Errorf("the third composite: %v, want the LiveKit server's refusal", err)
	default:
		t.Logf("the third composite, refused by the LiveKit server after %.1f s: %v", time.Since(began).Seconds(), err)
	}

	// Each update goes to the worker of its egress: the first room's
	// layout turns light, the second room gets a stream destination.
	if _, err := client.UpdateLayout(context.Background(), &livekit.UpdateLayoutRequest{EgressId: ids[0], Layout: "grid-light"}); err != nil {
		t.Errorf("UpdateLayout at the LiveKit server: %v", err)
	}
	if _, err := client.UpdateStream(context.Background(), &livekit.UpdateStreamRequest{EgressId: ids[1], AddOutputUrls: []string{rtmp.URL("other")}}); err != nil {
		t.Errorf("UpdateStream at the LiveKit server: %v", err)
	}
	time.Sleep(3 * time.Second) // the refusal took long; the updates take effect
	time.Sleep(time.Until(startedAt[len(startedAt)-1].Add(5 * time.Second)))
	if rtmp.Received("other") == 0 {
		t.Error("the second room's added stream destination got nothing")
	}
	stoppedAt := time.Now()
	for _, id := range ids {
		if _, err := client.StopEgress(context.Background(), &livekit.StopEgressRequest{EgressId: id}); err != nil {
			t.Fatalf("StopEgress %s at the LiveKit server: %v", id, err)
		}
	}
	workerOf := make([]string, len(rooms)) // the folder of the worker that recorded each
	for i, r := range rooms {
		final := workertest.AwaitServerStatus(t, client, ids[i], livekit.EgressStatus_EGRESS_COMPLETE, 30*time.Second)
		if len(final.FileResults) != 1 || final.FileResults[0].Size == 0 {
			t.Errorf("%s: the server's file results %v, want one file with a size", r.name, final.FileResults)
		}
		hookstest.CheckOrder(t, hooks.WaitEnded(t, ids[i], 20*time.Second))
		var found []string
		for _, dir := range dirs {
			if _, err := os.Stat(filepath.Join(dir, r.name+".mp4")); err == nil {
				found = append(found, dir)
			}
		}
		if len(found) != 1 {
			t.Fatalf("%s.mp4 is in %d worker folders, want 1", r.name, len(found))
		}
		workerOf[i] = found[0]
		path := filepath.Join(found[0], r.name+".mp4")
		mediatest.VerifyVideo(t, path, mediatest.Expect{
			Width: 640, Height: 360, FPS: 15, Seconds: stoppedAt.Sub(startedAt[i]).Seconds(), Tolerance: 1.5, Audio: "aac", Colors: r.colors,
		})
		late := stoppedAt.Sub(startedAt[i]).Seconds() - 1 // 2 s after the updates
		frame, err := mediatest.FrameAt(path, late)
		if err != nil {
			t.Fatal(err)
		}
		if got := frame.At(2, 2); !mediatest.Near(got, r.late, 24) {
			t.Errorf("%s: the background at %.1f s is %v, want %v", r.name, late, got, r.late)
		}
		// Only its own room's people: the other room's colours are absent.
		for j, o := range rooms {
			for _, c := range o.colors {
				if j != i && mediatest.Contains(frame, c, 24, 4) {
					t.Errorf("%s shows %v, a colour of room %s", r.name, c, o.name)
				}
			}
		}
	}
	if workerOf[0] == workerOf[1] {
		t.Errorf("both composites ran on the worker of %s", workerOf[0])
	}
}

// TestKilledEgressWorker: a worker killed with SIGKILL 6 s into a
// dispatched recording leaves a file that decodes for at least 5 s on its
// disk, and the test records what the LiveKit server then shows of the
// egress (the README says it).
func TestKilledEgressWorker(t *testing.T) {
	bin := buildRoomcast(t)
	redis := workertest.StartRedis(t)
	d := demotest.Start(t, demo.Options{Participants: 2, Redis: redis})
	dir := t.TempDir()
	env := []string{"LIVEKIT_URL=" + d.URL(), "LIVEKIT_API_KEY=" + d.APIKey(), "LIVEKIT_API_SECRET=" + d.APISecret()}
	cmd, _, lines := startRoomcastEnv(t, bin, env, "serve", "--redis", redis, "--listen", "", "--output-dir", dir)
	waitLine(t, lines, "Egress worker of the LiveKit server", 60*time.Second)

	client := lksdk.NewEgressClient(d.HTTPURL(), d.APIKey(), d.APISecret())
	info, err := client.StartRoomCompositeEgress(context.Background(), &livekit.RoomCompositeEgressRequest{
		RoomName: d.Room(), Layout: "grid",
		Options:     &livekit.RoomCompositeEgressRequest_Advanced{Advanced: &livekit.EncodingOptions{Width: 640, Height: 360, Framerate: 15, VideoBitrate: 800}},
		FileOutputs: []*livekit.EncodedFileOutput{{Filepath: "killed.mp4"}},
	})
	if err != nil {
		t.Fatalf("start at the LiveKit server: %v", err)
	}
	active := workertest.AwaitServerStatus(t, client, info.EgressId, livekit.EgressStatus_EGRESS_ACTIVE, 60*time.Second)
	time.Sleep(time.Until(time.Unix(0, active.StartedAt).Add(6 * time.Second)))
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	go func() {
		for range lines {
		}
	}()

	frames, err := decodedFrames(filepath.Join(dir, "killed.mp4"))
	if err != nil {
		t.Fatalf("the killed worker's recording does not decode: %v", err)
	}
	if secs := float64(frames) / 15; secs < 5 {
		t.Errorf("the killed worker's recording decodes for %.2f s (%d frames), want at least 5 s", secs, frames)
	}
	// What the server shows, 20 s on: LiveKit's servers learn an egress's
	// state only from its worker.
	time.Sleep(20 * time.Second)
	resp, err := client.ListEgress(context.Background(), &livekit.ListEgressRequest{EgressId: info.EgressId})
	if err != nil || len(resp.Items) != 1 {
		t.Fatalf("ListEgress on the LiveKit server after the kill: %v %v", resp, err)
	}
	shown := resp.Items[0]
	t.Logf("20 s after its worker was killed, the LiveKit server shows the egress %s (error %q, updated %.1f s before)",
		shown.Status, shown.Error, time.Since(time.Unix(0, shown.UpdatedAt)).Seconds())
	if _, err := client.StopEgress(context.Background(), &livekit.StopEgressRequest{EgressId: info.EgressId}); err != nil {
		t.Logf("StopEgress at the LiveKit server then answers: %v", err)
	}
}
