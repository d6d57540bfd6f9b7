//go:build integration

package demo_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	protologger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/ivfwriter"
	"github.com/pion/webrtc/v4/pkg/media/oggwriter"

	"roomcast/engine/demo"
	"roomcast/engine/demo/demotest"
	"roomcast/engine/mediatest"
	"roomcast/engine/proctest"
	"roomcast/engine/waittest"
)

func TestMain(m *testing.M) {
	// pion's loggers go through the SDK's global logger; keep test output
	// to what the tests say.
	lksdk.SetLogger(protologger.GetDiscardLogger())
	os.Exit(m.Run())
}

// TestDemoRoomDeliversMedia starts the real livekit-server with three
// synthetic participants, checks the room through the RoomService API,
// subscribes as a real client, and decodes what each track delivers: the
// participant's colour in the video and its tone in the audio.
func TestDemoRoomDeliversMedia(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := demotest.Start(t, demo.Options{Participants: 3})
	started := proctest.Descendants(os.Getpid())
	if len(started) < 7 { // server + 2 media processes per participant
		t.Fatalf("expected the server and 6 media processes, found %d: %v", len(started), started)
	}

	personas := d.Participants()
	wantIDs := []string{"alice", "bob", "carol"}
	if got := identities(personas); strings.Join(got, ",") != strings.Join(wantIDs, ",") {
		t.Fatalf("participants = %v, want %v", got, wantIDs)
	}

	rooms := lksdk.NewRoomServiceClient(d.HTTPURL(), d.APIKey(), d.APISecret())
	waittest.Until(t, 10*time.Second, "room demo lists 3 participants with 2 tracks each", func() bool {
		res, err := rooms.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: demo.DefaultRoom})
		if err != nil || len(res.Participants) != 3 {
			return false
		}
		for _, p := range res.Participants {
			if len(p.Tracks) != 2 {
				return false
			}
		}
		return true
	})
	// The room's participant count is refreshed by the server on its own
	// schedule, so it is polled too.
	waittest.Until(t, 15*time.Second, "ListRooms shows room demo with 3 participants", func() bool {
		list, err := rooms.ListRooms(ctx, &livekit.ListRoomsRequest{})
		return err == nil && len(list.Rooms) == 1 && list.Rooms[0].Name == demo.DefaultRoom && list.Rooms[0].NumParticipants == 3
	})

	// Subscribe as a real client and write every track to a file.
	dir := t.TempDir()
	var wg sync.WaitGroup
	var mu sync.Mutex
	packets := map[string]int{}
	streams := map[string]string{} // the WebRTC stream ID of each track
	cb := lksdk.NewRoomCallback()
	cb.OnTrackSubscribed = func(track *webrtc.TrackRemote, _ *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
		key := rp.Identity() + "-" + track.Kind().String()
		mu.Lock()
		streams[key] = track.StreamID()
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := saveTrack(t, track, dir, key)
			mu.Lock()
			packets[key] = n
			mu.Unlock()
		}()
	}
	sub, err := lksdk.ConnectToRoom(d.URL(), lksdk.ConnectInfo{
		APIKey: d.APIKey(), APISecret: d.APISecret(), RoomName: demo.DefaultRoom, ParticipantIdentity: "checker",
	}, cb, lksdk.WithLogger(protologger.GetDiscardLogger()))
	if err != nil {
		t.Fatalf("subscriber could not join: %v", err)
	}
	time.Sleep(5 * time.Second) // media to record, not a wait for an event
	sub.Disconnect()
	wg.Wait()

	for _, p := range personas {
		video := filepath.Join(dir, p.Identity+"-video.ivf")
		audio := filepath.Join(dir, p.Identity+"-audio.ogg")
		t.Run(p.Identity, func(t *testing.T) {
			mu.Lock()
			t.Logf("packets: video %d, audio %d", packets[p.Identity+"-video"], packets[p.Identity+"-audio"])
			// One stream for a person's camera and microphone (the
			// server's sync_streams): a browser lip-syncs only the tracks
			// of one stream, and the composite is a browser.
			if v, a := streams[p.Identity+"-video"], streams[p.Identity+"-audio"]; v == "" || v != a {
				t.Errorf("camera in stream %q, microphone in %q: want one stream, so that they play in sync", v, a)
			}
			mu.Unlock()
			probe, err := mediatest.ProbeFile(video, true)
			if err != nil {
				t.Fatal(err)
			}
			v := probe.First("video")
			if v == nil || v.CodecName != "vp8" {
				t.Fatalf("video stream = %+v, want vp8", v)
			}
			if frames := v.Frames(); frames < 60 {
				t.Errorf("decoded %d video frames in ~5 s, want at least 60", frames)
			}
			img, err := mediatest.FrameAt(video, 1.0)
			if err != nil {
				t.Fatal(err)
			}
			// The IVF header holds the writer's default size; the decoded
			// frame holds the size the participant encoded.
			if size := img.Bounds().Size(); size.X != 640 || size.Y != 360 {
				t.Errorf("decoded frame is %v, want 640x360", size)
			}
			centre := img.At(img.Bounds().Dx()/2, img.Bounds().Dy()/3)
			if !mediatest.Near(centre, p.Color, 40) {
				t.Errorf("decoded frame colour %v, want %v", centre, p.Color)
			}

			pcm, err := mediatest.AudioPCM(audio, 48000, 0.5, 3)
			if err != nil {
				t.Fatal(err)
			}
			own := mediatest.ToneLevel(pcm, 48000, p.ToneHz)
			if own < 0.05 {
				t.Errorf("tone %g Hz level %.3f in its own track, want >= 0.05", p.ToneHz, own)
			}
			for _, other := range personas {
				if other.Identity == p.Identity {
					continue
				}
				if lvl := mediatest.ToneLevel(pcm, 48000, other.ToneHz); lvl > own/10 {
					t.Errorf("tone %g Hz (of %s) at %.3f in %s's track, own tone %.3f", other.ToneHz, other.Identity, lvl, p.Identity, own)
				}
			}
		})
	}

	// Live edits the later layout tests rely on.
	if err := d.SetMuted("bob", true, true); err != nil {
		t.Fatal(err)
	}
	waittest.Until(t, 5*time.Second, "bob's camera muted on the server", func() bool {
		res, err := rooms.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: demo.DefaultRoom})
		if err != nil {
			return false
		}
		for _, p := range res.Participants {
			for _, tr := range p.Tracks {
				if p.Identity == "bob" && tr.Type == livekit.TrackType_VIDEO {
					return tr.Muted
				}
			}
		}
		return false
	})
	if _, err := d.AddParticipant(); err != nil {
		t.Fatal(err)
	}
	if err := d.RemoveParticipant("alice"); err != nil {
		t.Fatal(err)
	}
	if err := d.RemoveParticipant("nobody"); err == nil || !strings.Contains(err.Error(), "nobody") {
		t.Errorf("removing an unknown participant: err = %v, want one naming it", err)
	}
	waittest.Until(t, 10*time.Second, "room holds bob, carol, dave", func() bool {
		res, err := rooms.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: demo.DefaultRoom})
		if err != nil {
			return false
		}
		var ids []string
		for _, p := range res.Participants {
			ids = append(ids, p.Identity)
		}
		sort.Strings(ids)
		return strings.Join(ids, ",") == "bob,carol,dave"
	})

	// Close leaves nothing behind: no process, and the server's port free.
	closeLeavesNoProcess(t, d)
	addr := strings.TrimPrefix(d.URL(), "ws://")
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Errorf("port %s still taken after Close: %v", addr, err)
	} else {
		l.Close()
	}
}

// TestScreenShare: a participant's screen share reaches a subscriber as a
// second video track with source SCREEN_SHARE, 1280x720 and grey; it stops
// (unpublished, the camera still there) and starts again; the calls that
// cannot work say why; and Close ends a running share with the rest.
func TestScreenShare(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := demotest.Start(t, demo.Options{Participants: 2})
	for _, c := range []struct {
		what string
		call func() error
		want string
	}{
		{"start for an unknown identity", func() error { return d.StartScreenShare("nobody") }, "nobody"},
		{"stop without a share", func() error { return d.StopScreenShare("alice") }, "not sharing"},
	} {
		if err := c.call(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one saying %q", c.what, err, c.want)
		}
	}

	// A subscriber records the share from its first packet.
	dir := t.TempDir()
	video := filepath.Join(dir, "alice-screen.ivf")
	subscribed := make(chan struct{})
	var wg sync.WaitGroup
	cb := lksdk.NewRoomCallback()
	cb.OnTrackSubscribed = func(track *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
		if pub.Source() != livekit.TrackSource_SCREEN_SHARE {
			return
		}
		wg.Go(func() {
			close(subscribed)
			saveTrack(t, track, dir, rp.Identity()+"-screen")
		})
	}
	sub, err := lksdk.ConnectToRoom(d.URL(), lksdk.ConnectInfo{
		APIKey: d.APIKey(), APISecret: d.APISecret(), RoomName: d.Room(), ParticipantIdentity: "checker",
	}, cb, lksdk.WithLogger(protologger.GetDiscardLogger()))
	if err != nil {
		t.Fatalf("subscriber could not join: %v", err)
	}
	if err := d.StartScreenShare("alice"); err != nil {
		t.Fatal(err)
	}
	if err := d.StartScreenShare("alice"); err == nil || !strings.Contains(err.Error(), "already") {
		t.Errorf("a second share: err = %v, want one saying alice is sharing already", err)
	}
	select {
	case <-subscribed:
	case <-time.After(10 * time.Second):
		t.Fatal("the subscriber got no screen share track within 10 s")
	}
	time.Sleep(3 * time.Second) // media to record, not a wait for an event
	sub.Disconnect()
	wg.Wait()
	img, err := mediatest.FrameAt(video, 1.0)
	if err != nil {
		t.Fatal(err)
	}
	if size := img.Bounds().Size(); size.X != 1280 || size.Y != 720 {
		t.Errorf("decoded share frame is %v, want 1280x720", size)
	}
	if centre := img.At(640, 240); !mediatest.Near(centre, demo.ScreenShareColor, 40) {
		t.Errorf("decoded share frame colour %v, want %v", centre, demo.ScreenShareColor)
	}

	rooms := lksdk.NewRoomServiceClient(d.HTTPURL(), d.APIKey(), d.APISecret())
	// sources lists alice's published tracks by source, with the size of
	// the videos, as the server sees them.
	sources := func() string {
		res, err := rooms.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: d.Room()})
		if err != nil {
			return err.Error()
		}
		var out []string
		for _, p := range res.Participants {
			for _, tr := range p.Tracks {
				if p.Identity == "alice" {
					out = append(out, fmt.Sprintf("%s %dx%d", tr.Source, tr.Width, tr.Height))
				}
			}
		}
		sort.Strings(out)
		return strings.Join(out, ", ")
	}
	const sharing = "CAMERA 640x360, MICROPHONE 0x0, SCREEN_SHARE 1280x720"
	if got := sources(); got != sharing {
		t.Errorf("alice publishes %s, want %s", got, sharing)
	}
	if err := d.StopScreenShare("alice"); err != nil {
		t.Fatal(err)
	}
	waittest.Until(t, 10*time.Second, "alice's share unpublished, her camera and microphone still there", func() bool {
		return sources() == "CAMERA 640x360, MICROPHONE 0x0"
	})
	if err := d.StartScreenShare("alice"); err != nil {
		t.Fatalf("sharing again: %v", err)
	}
	waittest.Until(t, 10*time.Second, "alice sharing again", func() bool { return sources() == sharing })

	// Close ends the running share too.
	closeLeavesNoProcess(t, d)
}

// closeLeavesNoProcess closes the demo and fails the test for each process
// it had started that still runs.
func closeLeavesNoProcess(t *testing.T, d *demo.Demo) {
	t.Helper()
	all := proctest.Descendants(os.Getpid())
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range all {
		if proctest.Alive(pid) {
			t.Errorf("process %d (%s) still running after Close", pid, proctest.Command(pid))
		}
	}
}

// TestDemoMissingServer checks the one-line error when the binary is absent.
func TestDemoMissingServer(t *testing.T) {
	t.Setenv("ROOMCAST_LIVEKIT_SERVER", filepath.Join(t.TempDir(), "nope"))
	_, err := demo.Start(context.Background(), demo.Options{})
	if err == nil || !strings.Contains(err.Error(), "make deps") {
		t.Fatalf("err = %v, want one that says to run make deps", err)
	}
}

func saveTrack(t *testing.T, track *webrtc.TrackRemote, dir, key string) int {
	var write func() error
	var closer func() error
	if track.Kind() == webrtc.RTPCodecTypeVideo {
		w, err := ivfwriter.New(filepath.Join(dir, key+".ivf"), ivfwriter.WithCodec(track.Codec().MimeType))
		if err != nil {
			t.Error(err)
			return 0
		}
		write = func() error {
			pkt, _, err := track.ReadRTP()
			if err != nil {
				return err
			}
			return w.WriteRTP(pkt)
		}
		closer = w.Close
	} else {
		w, err := oggwriter.New(filepath.Join(dir, key+".ogg"), 48000, 2)
		if err != nil {
			t.Error(err)
			return 0
		}
		write = func() error {
			pkt, _, err := track.ReadRTP()
			if err != nil {
				return err
			}
			return w.WriteRTP(pkt)
		}
		closer = w.Close
	}
	n := 0
	for write() == nil {
		n++
	}
	_ = closer()
	return n
}

func identities(ps []demo.Persona) []string {
	var ids []string
	for _, p := range ps {
		ids = append(ids, p.Identity)
	}
	return ids
}
