//go:build integration

package worker_test

import (
	"context"
	"fmt"
	imgcolor "image/color"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
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
	"roomcast/engine/worker"
)

func TestMain(m *testing.M) {
	lksdk.SetLogger(protologger.GetDiscardLogger())
	os.Exit(m.Run())
}

// startRedis runs a Redis server on a free loopback port for the test.
func startRedis(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command("redis-server", "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("redis-server (make deps installs it): %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server never listened on %s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// awaitServerStatus polls the LiveKit server's own ListEgress until the
// egress has status want.
func awaitServerStatus(t *testing.T, c *lksdk.EgressClient, id string, want livekit.EgressStatus, timeout time.Duration) *livekit.EgressInfo {
	t.Helper()
	var last *livekit.EgressInfo
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		resp, err := c.ListEgress(context.Background(), &livekit.ListEgressRequest{EgressId: id})
		if err != nil {
			t.Fatalf("ListEgress on the LiveKit server: %v", err)
		}
		if len(resp.Items) == 1 {
			last = resp.Items[0]
			if last.Status == want {
				return last
			}
		}
	}
	t.Fatalf("egress %s on the LiveKit server: %s (%q), want %s after %v", id, last.GetStatus(), last.GetError(), want, timeout)
	return nil
}

// TestDispatchedByTheLiveKitServer: a LiveKit server with Redis takes a
// room composite request on its own Egress API and dispatches it to the
// roomcast worker on its bus; the server's ListEgress follows the
// egress from ACTIVE to COMPLETE as the worker reports it, the server's
// StopEgress reaches the worker, and the file verifies.
func TestDispatchedByTheLiveKitServer(t *testing.T) {
	redis := startRedis(t)
	d := demotest.Start(t, demo.Options{Participants: 2, Redis: redis})
	out := t.TempDir()
	engine := localtest.New(t, local.Config{LiveKitURL: d.URL(), APIKey: d.APIKey(), APISecret: d.APISecret(), OutputDir: out})
	w, err := worker.New(engine, worker.Config{Redis: lkredis.RedisConfig{Address: redis}, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)

	client := lksdk.NewEgressClient(d.HTTPURL(), d.APIKey(), d.APISecret())
	info, err := client.StartRoomCompositeEgress(context.Background(), &livekit.RoomCompositeEgressRequest{
		RoomName:    d.Room(),
		Layout:      "grid",
		FileOutputs: []*livekit.EncodedFileOutput{{Filepath: "dispatched.mp4"}},
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
	active := awaitServerStatus(t, client, info.EgressId, livekit.EgressStatus_EGRESS_ACTIVE, 40*time.Second)
	time.Sleep(time.Until(time.Unix(0, active.StartedAt).Add(5 * time.Second)))

	stopped, err := client.StopEgress(context.Background(), &livekit.StopEgressRequest{EgressId: info.EgressId})
	if err != nil {
		t.Fatalf("StopEgress at the LiveKit server: %v", err)
	}
	if stopped.Status != livekit.EgressStatus_EGRESS_ENDING {
		t.Errorf("StopEgress answered %s, want EGRESS_ENDING", stopped.Status)
	}
	final := awaitServerStatus(t, client, info.EgressId, livekit.EgressStatus_EGRESS_COMPLETE, 20*time.Second)
	if len(final.FileResults) != 1 || final.FileResults[0].Size == 0 {
		t.Fatalf("the server's file results %v, want one file with a size", final.FileResults)
	}
	var colors []imgcolor.RGBA
	for _, p := range d.Participants() {
		colors = append(colors, p.Color)
	}
	mediatest.VerifyVideo(t, filepath.Join(out, "dispatched.mp4"), mediatest.Expect{
		Width: 640, Height: 360, FPS: 15, Seconds: 5, Tolerance: 1.5, Audio: "aac", Colors: colors,
	})
}
