//go:build integration

package network_test

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	protologger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"roomcast/engine/demo/demotest"
	"roomcast/engine/internal/testhost"
	"roomcast/engine/local"
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
	srv := h.StartServer(t)
	people := srv.Publish(t, room, 2)

	cases := []struct {
		name  string
		block func(t *testing.T) // firewall rules on the way to the host
		path  string             // how the recorder's media must come (a regexp)
	}{
		{"open network", func(*testing.T) {}, "^udp (host|srflx|prflx) "},
		{"UDP blocked: ICE over TCP", func(t *testing.T) {
			h.Block(t, "udp", testhost.MediaPort)
			h.Block(t, "udp", testhost.TURNPort)
		}, "^tcp "},
		{"UDP media and ICE over TCP blocked: TURN", func(t *testing.T) {
			h.Block(t, "udp", testhost.MediaPort)
			h.Block(t, "tcp", testhost.ICETCPPort)
		}, "^udp relay "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.block(t)
			eng := newEngine(t, local.Config{LiveKitURL: srv.URL(), APIKey: srv.Key, APISecret: srv.Secret})
			path := filepath.Join(t.TempDir(), "rec.mp4")
			record(t, eng, path, seconds*time.Second)
			demotest.VerifyRecording(t, path, 1280, 720, seconds, people)
			if got := srv.Selected("EG_"); !regexp.MustCompile(c.path).MatchString(got) {
				t.Errorf("the server selected %q for the recorder, want %s", got, c.path)
			}
		})
	}
}

// TestTLS records the test host's server behind a TLS front whose
// certificate a CA of the test signed, given as livekit.tls_ca; and
// fails at once, naming the certificate, before any browser starts, when
// the front's certificate comes from a CA nobody gave.
func TestTLS(t *testing.T) {
	h := testhost.Start(t)
	srv := h.StartServer(t)
	people := srv.Publish(t, room, 2)
	ca := testhost.NewCA(t, "Roomcast Test CA")
	cert, key := ca.Issue(t, testhost.ServerName)
	trusted := srv.ServeTLS(t, testhost.TLSPort, cert, key)
	cert, key = testhost.NewCA(t, "Stranger CA").Issue(t, testhost.ServerName)
	untrusted := srv.ServeTLS(t, testhost.TLSPort+1, cert, key)

	t.Run("signed by the CA in livekit.tls_ca", func(t *testing.T) {
		eng := newEngine(t, local.Config{LiveKitURL: trusted, APIKey: srv.Key, APISecret: srv.Secret, TLSCA: ca.File})
		path := filepath.Join(t.TempDir(), "rec.mp4")
		record(t, eng, path, seconds*time.Second)
		demotest.VerifyRecording(t, path, 1280, 720, seconds, people)
	})

	t.Run("signed by a CA nobody gave", func(t *testing.T) {
		var logs logLines
		eng := newEngine(t, local.Config{LiveKitURL: untrusted, APIKey: srv.Key, APISecret: srv.Secret, TLSCA: ca.File, Logf: logs.add})
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

// logLines keeps an engine's log lines.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
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

func newEngine(t *testing.T, cfg local.Config) *local.Local {
	t.Helper()
	if cfg.Logf == nil {
		cfg.Logf = t.Logf
	}
	l, err := local.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("engine close: %v", err)
		}
	})
	return l
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
func record(t *testing.T, eng *local.Local, path string, d time.Duration) *livekit.EgressInfo {
	t.Helper()
	info, err := eng.Start(context.Background(), fileRequest(path))
	if err != nil {
		t.Fatal(err)
	}
	waittest.AwaitStatus(t, eng, info.EgressId, livekit.EgressStatus_EGRESS_ACTIVE, time.Minute)
	time.Sleep(d)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	final, err := eng.Stop(ctx, info.EgressId)
	if err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if final.Status != livekit.EgressStatus_EGRESS_COMPLETE {
		t.Fatalf("final status %s (%q), want EGRESS_COMPLETE", final.Status, final.Error)
	}
	return final
}
