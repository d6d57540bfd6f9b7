package audio

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"roomcast/engine/audio/audiotest"
	"roomcast/engine/mediatest"
	"roomcast/engine/proctest"
	"roomcast/engine/waittest"
)

// server returns a server that the test closes however it ends. Without a
// PulseAudio on the machine (the usual case here) it starts a private one.
func server(t *testing.T) *Server {
	t.Helper()
	proctest.Need(t, "pactl")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	t0 := time.Now()
	s, err := EnsureServer(ctx)
	if err != nil {
		if errors.Is(err, errPulseaudioNotFound) {
			t.Skip(err)
		}
		t.Fatalf("EnsureServer: %v", err)
	}
	t.Logf("PulseAudio at %s (started by us: %v) answered after %v", s.Address(), s.Started(), time.Since(t0).Round(time.Millisecond))
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Server.Close: %v", err)
		}
	})
	return s
}

func sink(t *testing.T, s *Server, label string) *Sink {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	k, err := s.NewSink(ctx, label)
	if err != nil {
		t.Fatalf("NewSink(%q): %v", label, err)
	}
	t.Cleanup(func() {
		if err := k.Close(); err != nil {
			t.Errorf("Sink.Close: %v", err)
		}
	})
	return k
}

// TestToneStaysInItsSink plays 440 Hz into one of two sinks and finds it on
// that sink's monitor only, read both with parec and with GStreamer's
// pulsesrc (server property), as the capture pipeline will. The tone goes
// to the sink that is not the server's default, through the sink's Env
// alone, as Chromium's audio will.
func TestToneStaysInItsSink(t *testing.T) {
	proctest.Need(t, "pacat", "parec", "gst-launch-1.0")
	s := server(t)
	other := sink(t, s, "comp-a")
	k := sink(t, s, "comp-b")
	if other.Name() == k.Name() {
		t.Fatalf("two sinks named %s", k.Name())
	}
	for _, x := range []*Sink{other, k} {
		if x.Monitor() != x.Name()+".monitor" {
			t.Errorf("Monitor() = %q for sink %q", x.Monitor(), x.Name())
		}
	}
	if def, _ := pactl(context.Background(), s.Address(), "get-default-sink"); strings.TrimSpace(def) == k.Name() {
		t.Fatalf("%s is the default sink; the test would not prove that PULSE_SINK routes", k.Name())
	}

	rec := audiotest.Record(t, s.Address(), k.Monitor())
	gst := audiotest.RecordPulsesrc(t, s.Address(), k.Monitor())
	recOther := audiotest.Record(t, s.Address(), other.Monitor())
	for _, r := range []*audiotest.Recording{rec, gst, recOther} {
		r.WaitFor(50 * time.Millisecond) // recording for sure
	}

	audiotest.Play(t, k.Env(), audiotest.Sine(440, 0.5, time.Second))
	for _, r := range []*audiotest.Recording{rec, gst, recOther} {
		r.WaitFor(200 * time.Millisecond) // the tail of the tone, through the sink's latency
	}

	for name, r := range map[string]*audiotest.Recording{"parec": rec, "pulsesrc": gst} {
		var tone int
		var level float64
		for _, blk := range audiotest.Blocks(r.Samples(), 100*time.Millisecond) {
			at, off := mediatest.ToneLevel(blk, audiotest.Rate, 440), mediatest.ToneLevel(blk, audiotest.Rate, 1000)
			if at > 0.3 && off < 0.02 {
				tone++
				level += at
			}
		}
		t.Logf("%s of %s: 440 Hz in %d blocks of 100 ms, mean level %.3f (played at 0.5)", name, k.Monitor(), tone, level/float64(max(tone, 1)))
		// 10 blocks of tone were played; the first and last may straddle it.
		if tone < 8 {
			t.Errorf("%s of %s: 440 Hz in %d blocks of 100 ms, want at least 8 of the 10 played", name, k.Monitor(), tone)
		}
	}
	silence := recOther.Samples()
	t.Logf("%s (the other sink): %d samples, peak %.5f", other.Monitor(), len(silence), audiotest.Peak(silence))
	if p := audiotest.Peak(silence); p > 0.001 {
		t.Errorf("%s (the other sink) peaks at %.4f, want silence (440 Hz level %.4f)", other.Monitor(), p,
			mediatest.ToneLevel(silence, audiotest.Rate, 440))
	}
}

func TestSinkClose(t *testing.T) {
	s := server(t)
	k := sink(t, s, "close me")
	if !strings.HasPrefix(k.Name(), "roomcast_close_me_") {
		t.Errorf("Name() = %q, want the label cleaned up into it", k.Name())
	}
	if !listed(t, s, k.Name()) {
		t.Fatalf("%s not listed after NewSink", k.Name())
	}
	if err := k.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := k.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if listed(t, s, k.Name()) {
		t.Fatalf("%s still listed after Close", k.Name())
	}
}

func TestSameLabelTwice(t *testing.T) {
	s := server(t)
	a, b := sink(t, s, "same"), sink(t, s, "same")
	if a.Name() == b.Name() || a.Monitor() == b.Monitor() {
		t.Fatalf("same label gave %s and %s", a.Name(), b.Name())
	}
}

func TestCloseStopsOurDaemon(t *testing.T) {
	s := server(t)
	if !s.Started() {
		t.Skip("a PulseAudio server was running already; nothing of ours to stop")
	}
	pid := s.proc.Pid()
	k := sink(t, s, "x")
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if proctest.Alive(pid) {
		t.Fatalf("pulseaudio (pid %d) runs after Close", pid)
	}
	if err := k.Close(); err != nil {
		t.Errorf("Sink.Close after its daemon stopped: %v", err)
	}
	if _, err := s.NewSink(context.Background(), "late"); err == nil {
		t.Error("NewSink on a closed server succeeded")
	}
	if err := exec.Command("pactl", "--server="+s.Address(), "info").Run(); err == nil {
		t.Error("the daemon still answers after Close")
	}
}

func TestPulseServerThatDoesNotAnswer(t *testing.T) {
	proctest.Need(t, "pactl")
	t.Setenv("PULSE_SERVER", "unix:"+t.TempDir()+"/nothing")
	_, err := EnsureServer(context.Background())
	if err == nil || !strings.Contains(err.Error(), "does not answer") {
		t.Fatalf("EnsureServer with a dead PULSE_SERVER: %v", err)
	}
}

func TestUsesRunningServer(t *testing.T) {
	s := server(t)
	t.Setenv("PULSE_SERVER", s.Address())
	s2, err := EnsureServer(context.Background())
	if err != nil {
		t.Fatalf("EnsureServer with PULSE_SERVER set: %v", err)
	}
	if s2.Started() || s2.Address() != s.Address() {
		t.Fatalf("got %s (started %v), want the running %s", s2.Address(), s2.Started(), s.Address())
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	// Closing the borrowed handle leaves the server running.
	if _, err := serverInfo(context.Background(), s.Address()); err != nil {
		t.Fatalf("server gone after closing a handle that did not start it: %v", err)
	}
}

// TestUsesSessionServer: in a login session, the session's server (at
// $XDG_RUNTIME_DIR/pulse/native) is used and not replaced.
func TestUsesSessionServer(t *testing.T) {
	s := server(t)
	if !s.Started() {
		t.Skip("a PulseAudio server was running already")
	}
	runtimeDir := t.TempDir()
	if err := os.Chmod(runtimeDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(runtimeDir, "pulse"), 0o700); err != nil {
		t.Fatal(err)
	}
	socket := strings.TrimPrefix(s.Address(), "unix:")
	if err := os.Symlink(socket, filepath.Join(runtimeDir, "pulse", "native")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PULSE_SERVER", "") // restored at the end
	os.Unsetenv("PULSE_SERVER")
	t.Setenv("XDG_RUNTIME_DIR", runtimeDir)
	s2, err := EnsureServer(context.Background())
	if err != nil {
		t.Fatalf("EnsureServer in a session: %v", err)
	}
	defer s2.Close()
	if s2.Started() || !strings.Contains(s2.Address(), runtimeDir) {
		t.Fatalf("got %s (started %v), want the session's server in %s", s2.Address(), s2.Started(), runtimeDir)
	}
}

func TestPactlMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := EnsureServer(context.Background())
	if err == nil || err.Error() != "pactl not found: run make deps" {
		t.Fatalf("EnsureServer without pactl: %v", err)
	}
}

func listed(t *testing.T, s *Server, name string) bool {
	t.Helper()
	out, err := pactl(context.Background(), s.Address(), "list", "short", "sinks")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(out, "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[1] == name {
			return true
		}
	}
	return false
}

// TestSinksLeftBehind: on a server that outlives us, the sinks of a
// roomcast whose process is gone are unloaded; a running process's, and a
// sink that is not roomcast's, stay.
func TestSinksLeftBehind(t *testing.T) {
	s := server(t)
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	load := func(name string) {
		t.Helper()
		if _, err := pactl(context.Background(), s.Address(), "load-module", "module-null-sink", "sink_name="+name); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			out, _ := pactl(context.Background(), s.Address(), "list", "short", "modules")
			for line := range strings.SplitSeq(out, "\n") {
				if index, rest, _ := strings.Cut(line, "\t"); strings.Contains(rest, "sink_name="+name+" ") || strings.HasSuffix(rest, "sink_name="+name) {
					_, _ = pactl(context.Background(), s.Address(), "unload-module", index)
				}
			}
		})
	}
	left := fmt.Sprintf("roomcast_composite_p%d_0badf00d", gone.Process.Pid)
	other := "someone_elses_sink"
	load(left)
	load(other)
	ours := sink(t, s, "composite")

	removeSinksLeftBehind(context.Background(), s.Address())
	for name, kept := range map[string]bool{left: false, other: true, ours.Name(): true} {
		if got := listed(t, s, name); got != kept {
			t.Errorf("%s: listed %v, want %v", name, got, kept)
		}
	}
}

// TestOurDaemonDefaultsToTheSinksFormat: a player opens its stream at the
// server's default sample spec (Chromium does), which on our daemon is the
// sinks' own, so that nothing resamples.
func TestOurDaemonDefaultsToTheSinksFormat(t *testing.T) {
	s := server(t)
	if !s.Started() {
		t.Skip("a PulseAudio server was running already; its defaults are its own")
	}
	out, err := pactl(context.Background(), s.Address(), "info")
	if err != nil {
		t.Fatal(err)
	}
	if want := "Default Sample Specification: float32le 2ch 48000Hz"; !strings.Contains(out, want) {
		t.Errorf("pactl info says:\n%s\nwant %q", out, want)
	}
}

// TestOurDaemonRunsSinksRealtime: our daemon's sink threads run under
// SCHED_RR where this process may grant it (as root here), so that a busy
// machine does not hold a sink past what its players keep buffered.
func TestOurDaemonRunsSinksRealtime(t *testing.T) {
	s := server(t)
	if !s.Started() {
		t.Skip("a PulseAudio server was running already; its scheduling is its own")
	}
	if os.Geteuid() != 0 {
		t.Skip("real-time scheduling is granted to root here; another user needs RealtimeKit")
	}
	sink(t, s, "realtime")
	pid := s.proc.Pid()
	// A sink's thread makes itself real-time as it starts.
	var policies []uint32
	waittest.Until(t, 2*time.Second, "pulseaudio's sink thread under SCHED_RR", func() bool {
		policies = sinkPolicies(t, pid)
		return len(policies) > 0 && !slices.ContainsFunc(policies, func(p uint32) bool { return p != unix.SCHED_RR })
	})
	t.Logf("sink threads' policies: %v", policies)
}

// sinkPolicies are the scheduling policies of pulseaudio pid's sink
// threads.
func sinkPolicies(t *testing.T, pid int) []uint32 {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	var policies []uint32
	for _, task := range tasks {
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/comm", pid, task.Name()))
		if err != nil || strings.TrimSpace(string(comm)) != "null-sink" {
			continue
		}
		tid, _ := strconv.Atoi(task.Name())
		if attr, err := unix.SchedGetAttr(tid, 0); err == nil {
			policies = append(policies, attr.Policy)
		}
	}
	return policies
}
