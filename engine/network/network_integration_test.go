//go:build integration

package network_test

import (
	"context"
	"fmt"
	"image"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	protologger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"roomcast/engine"
	"roomcast/engine/demo/demotest"
	"roomcast/engine/internal/testhost"
	"roomcast/engine/local"
	"roomcast/engine/local/localtest"
	"roomcast/engine/mediatest"
	"roomcast/engine/waittest"
)

func TestMain(m *testing.M) {
	lksdk.SetLogger(protologger.GetDiscardLogger())
	testhost.Main(m)
}

// room is the test host's room; two people, so a 1280x720 grid shows
// both side by side.
const room = "field"

// seconds is how long each case records.
const seconds = 10

// TestReachServer records the test host's server by its name, over each
// path a producer's network may leave open.
func TestReachServer(t *testing.T) {
	h := testhost.Start(t)
	ca := testhost.NewCA(t, "Roomcast Test CA")
	cert, key := ca.Issue(t, testhost.TURNName)
	srv := h.StartServer(t, testhost.ServerOptions{TURNCert: cert, TURNKey: key})
	people := srv.Publish(t, room, 2)

	cases := []struct {
		name  string
		block func(t *testing.T)         // firewall rules on the way to the host
		path  func(selected string) bool // how the recorder's media must come
	}{
		{"open network", func(*testing.T) {}, directUDP},
		{"UDP blocked: ICE over TCP", func(t *testing.T) {
			h.Block(t, "udp", testhost.MediaPort)
			h.Block(t, "udp", testhost.TURNPort)
			h.Block(t, "tcp", testhost.TURNTLS) // or TURN over TLS may carry it
		}, iceTCP},
		{"UDP media and ICE over TCP blocked: TURN", func(t *testing.T) {
			h.Block(t, "udp", testhost.MediaPort)
			h.Block(t, "tcp", testhost.ICETCPPort)
		}, testhost.Relayed},
		// Only TLS to the TURN server is left, as in an office that
		// allows HTTPS alone: TURN over TLS, through the browser's guard,
		// with the certificate from the CA in livekit.tls_ca.
		{"everything but TURN over TLS blocked", func(t *testing.T) {
			h.Block(t, "udp", testhost.MediaPort)
			h.Block(t, "udp", testhost.TURNPort)
			h.Block(t, "tcp", testhost.ICETCPPort)
		}, testhost.Relayed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.block(t)
			eng := localtest.New(t, local.Config{LiveKitURL: srv.URL(), APIKey: srv.Key, APISecret: srv.Secret, TLSCA: ca.File})
			path := filepath.Join(t.TempDir(), "rec.mp4")
			demotest.VerifyRecording(t, path, 1280, 720, record(t, eng, path, seconds*time.Second), people)
			if got := srv.Selected("EG_"); !c.path(got) {
				t.Errorf("the server selected %q for the recorder: not the path this case leaves open", got)
			}
		})
	}
}

// The paths a recorder's media can take, as the server's log shows them.
func directUDP(selected string) bool {
	return strings.HasPrefix(selected, "udp ") && !testhost.Relayed(selected)
}

func iceTCP(selected string) bool { return strings.HasPrefix(selected, "tcp ") }

// TestTLS records the test host's server behind a TLS front whose
// certificate a CA of the test signed, given as livekit.tls_ca; and
// fails at once, naming the certificate, before any browser starts, when
// the front's certificate comes from a CA nobody gave.
func TestTLS(t *testing.T) {
	h := testhost.Start(t)
	srv := h.StartServer(t, testhost.ServerOptions{})
	people := srv.Publish(t, room, 2)
	ca := testhost.NewCA(t, "Roomcast Test CA")
	cert, key := ca.Issue(t, testhost.ServerName)
	trusted := srv.ServeTLS(t, testhost.TLSPort, cert, key)
	cert, key = testhost.NewCA(t, "Stranger CA").Issue(t, testhost.ServerName)
	untrusted := srv.ServeTLS(t, testhost.TLSPort+1, cert, key)

	t.Run("signed by the CA in livekit.tls_ca", func(t *testing.T) {
		eng := localtest.New(t, local.Config{LiveKitURL: trusted, APIKey: srv.Key, APISecret: srv.Secret, TLSCA: ca.File})
		path := filepath.Join(t.TempDir(), "rec.mp4")
		demotest.VerifyRecording(t, path, 1280, 720, record(t, eng, path, seconds*time.Second), people)
	})

	// With no browser, the SDK's own connection to the room must trust
	// the CA too: a person recorded and a track copied through the front.
	t.Run("a person and a track recorded without a browser", func(t *testing.T) {
		eng := localtest.New(t, local.Config{LiveKitURL: trusted, APIKey: srv.Key, APISecret: srv.Secret, TLSCA: ca.File})
		bob := people[1]
		listed, err := lksdk.NewRoomServiceClient(srv.URL(), srv.Key, srv.Secret).ListParticipants(context.Background(), &livekit.ListParticipantsRequest{Room: room})
		if err != nil {
			t.Fatal(err)
		}
		var mic string
		for _, p := range listed.Participants {
			for _, tr := range p.Tracks {
				if p.Identity == bob.Identity && tr.Type == livekit.TrackType_AUDIO {
					mic = tr.Sid
				}
			}
		}
		dir := t.TempDir()
		person, err := eng.StartParticipant(context.Background(), &livekit.ParticipantEgressRequest{RoomName: room, Identity: bob.Identity,
			Options:     &livekit.ParticipantEgressRequest_Advanced{Advanced: &livekit.EncodingOptions{Width: 640, Height: 360, Framerate: 15}},
			FileOutputs: []*livekit.EncodedFileOutput{{Filepath: filepath.Join(dir, "bob.mp4")}}})
		if err != nil {
			t.Fatal(err)
		}
		track, err := eng.StartTrack(context.Background(), &livekit.TrackEgressRequest{RoomName: room, TrackId: mic,
			Output: &livekit.TrackEgressRequest_File{File: &livekit.DirectFileOutput{Filepath: filepath.Join(dir, "bob-mic")}}})
		if err != nil {
			t.Fatal(err)
		}
		waittest.AwaitStatus(t, eng, person.EgressId, livekit.EgressStatus_EGRESS_ACTIVE, time.Minute)
		time.Sleep(5 * time.Second)
		stopRecording(t, eng, person.EgressId)
		stopRecording(t, eng, track.EgressId)
		frame, err := mediatest.FrameAt(filepath.Join(dir, "bob.mp4"), 2)
		if err != nil {
			t.Fatal(err)
		}
		if !mediatest.Contains(frame, bob.Color, 40, 8) {
			t.Errorf("bob's recording does not show his colour %v", bob.Color)
		}
		mediatest.CheckTone(t, filepath.Join(dir, "bob-mic.ogg"), bob.ToneHz)
	})

	t.Run("signed by a CA nobody gave", func(t *testing.T) {
		logs := newLogLines(t)
		eng := localtest.New(t, local.Config{LiveKitURL: untrusted, APIKey: srv.Key, APISecret: srv.Secret, TLSCA: ca.File, Logf: logs.add})
		began := time.Now()
		_, err := eng.Start(context.Background(), fileRequest(filepath.Join(t.TempDir(), "never.mp4")))
		t.Logf("Start refused it after %v: %v", time.Since(began).Round(time.Millisecond), err)
		for _, want := range []string{"certificate", "Stranger CA", "livekit.tls_ca"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Start: %v; want an error saying %q", err, want)
			}
		}
		if logs.contains("chromium (pid") {
			t.Error("a browser was started for a server whose certificate does not verify")
		}
	})
}

// TestFirstJoinTriedAgain: the media connection of the page's first join
// cannot come up (every media path to the server blocked for 16 s, longer
// than livekit-client's own 15 s wait for it, as in a network blip while a
// producer clicks Record): the page joins again within the start timeout,
// and the recording starts and holds both people, where it used to fail.
func TestFirstJoinTriedAgain(t *testing.T) {
	h := testhost.Start(t)
	srv := h.StartServer(t, testhost.ServerOptions{})
	people := srv.Publish(t, room, 2)
	var unblock []func()
	for _, b := range []struct {
		proto string
		port  int
	}{{"udp", testhost.MediaPort}, {"udp", testhost.TURNPort}, {"tcp", testhost.ICETCPPort}} {
		unblock = append(unblock, h.Block(t, b.proto, b.port))
	}
	logs := newLogLines(t)
	eng := localtest.New(t, local.Config{LiveKitURL: srv.URL(), APIKey: srv.Key, APISecret: srv.Secret, Logf: logs.add,
		StartTimeout: 40 * time.Second})
	path := filepath.Join(t.TempDir(), "rec.mp4")
	info, err := eng.Start(context.Background(), fileRequest(path))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(16 * time.Second)
	for _, u := range unblock {
		u()
	}
	waittest.AwaitStatus(t, eng, info.EgressId, livekit.EgressStatus_EGRESS_ACTIVE, time.Minute)
	if !logs.contains("join attempt 1 failed") {
		t.Error("the recording started, but the page's first join did not fail: the test blocked nothing")
	}
	time.Sleep(seconds * time.Second)
	demotest.VerifyRecording(t, path, 1280, 720, stopRecording(t, eng, info.EgressId), people)
}

// TestSeparateStreamsNamed: on a server that sends each person's camera
// and microphone as separate streams (room.sync_streams off, LiveKit's
// default), the composite names everyone it cannot lip-sync, and the log
// says the fix; on one that sets it, nobody is named.
func TestSeparateStreamsNamed(t *testing.T) {
	const watch = 20 * time.Second // the page had everyone in 2-3 s
	cases := []struct {
		name     string
		separate bool
	}{
		{"sync_streams off", true},
		{"sync_streams on", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := testhost.Start(t)
			srv := h.StartServer(t, testhost.ServerOptions{SeparateStreams: c.separate})
			people := srv.Publish(t, room, 2)
			var want []string
			if c.separate {
				for _, p := range people {
					want = append(want, p.Identity)
				}
				slices.Sort(want)
			}
			logs := newLogLines(t)
			eng := localtest.New(t, local.Config{LiveKitURL: srv.URL(), APIKey: srv.Key, APISecret: srv.Secret, Logf: logs.add})
			stop, err := eng.Preview(context.Background(), fileRequest(""), func(*image.RGBA) {})
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			unsynced := func() []string {
				var got []string
				for _, st := range eng.Stats() {
					got = append(got, st.Unsynced...)
				}
				slices.Sort(got)
				return got
			}
			if c.separate {
				waittest.Until(t, watch, fmt.Sprintf("%v named as unsynced", want), func() bool { return slices.Equal(unsynced(), want) })
				if !logs.contains("set room.sync_streams: true") {
					t.Error("the log does not say how to fix it")
				}
				return
			}
			time.Sleep(watch)
			if got := unsynced(); len(got) > 0 {
				t.Errorf("%v named as unsynced on a server that syncs streams", got)
			}
		})
	}
}

// logLines keeps an engine's log lines, and logs them with the test's.
type logLines struct {
	t     testing.TB
	mu    sync.Mutex
	lines []string
}

func newLogLines(t testing.TB) *logLines { return &logLines{t: t} }

func (l *logLines) add(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	l.t.Log(line)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
}

func (l *logLines) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

// fileRequest records the test host's room to path.
func fileRequest(path string) *livekit.RoomCompositeEgressRequest {
	return &livekit.RoomCompositeEgressRequest{
		RoomName:    room,
		Layout:      "grid",
		FileOutputs: []*livekit.EncodedFileOutput{{Filepath: path}},
	}
}

// record records the room to path for d and returns the final info.
func record(t *testing.T, eng *local.Local, path string, d time.Duration) (recorded float64) {
	t.Helper()
	info, err := eng.Start(context.Background(), fileRequest(path))
	if err != nil {
		t.Fatal(err)
	}
	waittest.AwaitStatus(t, eng, info.EgressId, livekit.EgressStatus_EGRESS_ACTIVE, time.Minute)
	time.Sleep(d)
	return stopRecording(t, eng, info.EgressId)
}

// stopRecording stops the egress id, which must complete, and returns
// how long it recorded: from its first frame to the Stop call (its first
// frame reaches the engine, which then says it is ACTIVE, as late as its
// encoder is slow to start).
func stopRecording(t *testing.T, eng *local.Local, id string) (recorded float64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stopped := time.Now()
	final, err := eng.Stop(ctx, id)
	if err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if final.Status != livekit.EgressStatus_EGRESS_COMPLETE {
		t.Fatalf("final status %s (%q), want EGRESS_COMPLETE", final.Status, final.Error)
	}
	return stopped.Sub(time.Unix(0, final.StartedAt)).Seconds()
}

// TestServerRestart restarts the LiveKit server 5 s into a 20 s
// recording: the recording goes on, with both people back after the
// restart, and its info says what happened.
func TestServerRestart(t *testing.T) {
	h := testhost.Start(t)
	srv := h.StartServer(t, testhost.ServerOptions{})
	people := srv.Publish(t, room, 2)
	eng := localtest.New(t, local.Config{LiveKitURL: srv.URL(), APIKey: srv.Key, APISecret: srv.Secret})
	path := filepath.Join(t.TempDir(), "rec.mp4")
	info, err := eng.Start(context.Background(), fileRequest(path))
	if err != nil {
		t.Fatal(err)
	}
	active := waittest.AwaitStatus(t, eng, info.EgressId, livekit.EgressStatus_EGRESS_ACTIVE, time.Minute)
	began := time.Unix(0, active.StartedAt)
	time.Sleep(time.Until(began.Add(5 * time.Second)))
	srv.Restart(t)
	t.Logf("server back %.1f s into the recording", time.Since(began).Seconds())
	waittest.Until(t, 30*time.Second, "the restart in the egress's details", func() bool {
		infos, err := engine.Items(eng.List(context.Background(), &livekit.ListEgressRequest{EgressId: info.EgressId}))
		return err == nil && len(infos) == 1 && strings.Contains(infos[0].Details, "reconnecting to LiveKit since")
	})
	time.Sleep(time.Until(began.Add(20 * time.Second)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	final, err := eng.Stop(ctx, info.EgressId)
	if err != nil {
		t.Fatalf("Stop: %v", err)
	}
	t.Logf("final: %s; details %q", final.Status, final.Details)
	if final.Status != livekit.EgressStatus_EGRESS_COMPLETE {
		t.Fatalf("final status %s (%q), want EGRESS_COMPLETE", final.Status, final.Error)
	}
	if !regexp.MustCompile(`LiveKit connection lost at \d\d:\d\d:\d\d for \d+\.\d s.*, reconnected`).MatchString(final.Details) {
		t.Errorf("details %q do not say the connection was lost and back", final.Details)
	}
	// The whole file plays; both people are in the picture and in the
	// sound at its end, when they are back in the room (their own
	// rejoining, after the restart, takes a few seconds more).
	demotest.VerifyRecording(t, path, 1280, 720, 20, nil)
	img, err := mediatest.FrameAt(path, 18)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range people {
		if !mediatest.Contains(img, p.Color, 60, 3) {
			t.Errorf("%s is not in the picture at 18 s", p.Identity)
		}
	}
	demotest.VerifyTonesFrom(t, path, 15.5, people)
}

// TestServerGone stops the LiveKit server for good 3 s into a recording:
// after the page's rejoin window (shortened here) the egress fails, saying
// so, with what was recorded kept.
func TestServerGone(t *testing.T) {
	h := testhost.Start(t)
	srv := h.StartServer(t, testhost.ServerOptions{})
	srv.Publish(t, room, 2)
	const window = 8 * time.Second
	eng := localtest.New(t, local.Config{LiveKitURL: srv.URL(), APIKey: srv.Key, APISecret: srv.Secret, RejoinWindow: window})
	path := filepath.Join(t.TempDir(), "rec.mp4")
	info, err := eng.Start(context.Background(), fileRequest(path))
	if err != nil {
		t.Fatal(err)
	}
	waittest.AwaitStatus(t, eng, info.EgressId, livekit.EgressStatus_EGRESS_ACTIVE, time.Minute)
	time.Sleep(3 * time.Second)
	srv.Stop()
	stopped := time.Now()
	final := waittest.AwaitStatus(t, eng, info.EgressId, livekit.EgressStatus_EGRESS_FAILED, window+30*time.Second)
	t.Logf("failed %v after the server stopped: %s; details %q", time.Since(stopped).Round(time.Millisecond), final.Error, final.Details)
	if !strings.Contains(final.Error, "lost the LiveKit server") || !strings.Contains(final.Details, "reconnecting to LiveKit since") {
		t.Errorf("error %q, details %q: want them to say the server was lost", final.Error, final.Details)
	}
	if len(final.FileResults) != 1 || final.FileResults[0].Duration <= 0 {
		t.Fatalf("file results %v, want the file recorded until the end", final.FileResults)
	}
	mediatest.VerifyVideo(t, path, mediatest.Expect{Width: 1280, Height: 720, Seconds: float64(final.FileResults[0].Duration) / 1e9, Tolerance: 0.5})
}
