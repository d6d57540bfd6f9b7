// Package audio gives each composite its own PulseAudio null sink.
package audio

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"roomcast/engine/internal/child"
	"roomcast/engine/internal/leftovers"
	"roomcast/engine/internal/tail"
)

// How long EnsureServer waits for a daemon it started to answer. PulseAudio
// with our two modules answers in about 50 ms on a 2-core box.
const startTimeout = 10 * time.Second

// How long Close waits for our daemon to exit after SIGTERM before SIGKILL.
const stopTimeout = 3 * time.Second

// How long one pactl call may take. Each answers in a few milliseconds; a
// server that does not answer in this time is not usable.
const pactlTimeout = 5 * time.Second

// The sample format of every null sink. 48 kHz is what the encoders want
// (Opus only knows 48 kHz; AAC at 48 kHz is the usual choice), so the
// pipeline need not resample. float32 loses nothing when several streams
// are mixed.
const sinkFormat = "rate=48000 channels=2 format=float32le"

// daemonConf is our daemon's own configuration: its default sample spec is
// the sinks' own. A player opens its stream at the server's default rate:
// at PulseAudio's 44.1 kHz, Chromium resampled WebRTC's 48 kHz sound to
// 44.1 kHz and PulseAudio resampled it back to the sink's 48 kHz (speex),
// twice the work for a worse sound.
const daemonConf = "default-sample-format = float32le\ndefault-sample-rate = 48000\nalternate-sample-rate = 48000\ndefault-sample-channels = 2\n"

var (
	errPactlNotFound      = errors.New("pactl not found: run make deps")
	errPulseaudioNotFound = errors.New("no PulseAudio server answers and pulseaudio is not installed: run make deps")
)

// Server is a PulseAudio server that answers: one that was running already,
// or a private daemon that EnsureServer started (then Close stops it). One
// Server serves every composite of the process, each with its own Sink.
// A composite's Chromium plays into its sink and the capture pipeline
// records the sink's monitor, so composites never hear each other:
//
//	Chromium, env Sink.Env() ──> null sink Sink.Name()
//	   (PULSE_SERVER, PULSE_SINK)        │
//	                                     ▼ monitor source
//	pulsesrc server=Server.Address() device=Sink.Monitor()
//
// Everything that talks to it must be told its Address, because a daemon we
// start listens on a socket in a private directory, not where libpulse looks
// by default:
//
//   - child processes (Chromium, parec, gst-launch-1.0): add Env() to their
//     environment;
//   - GStreamer in this process: set the server property of pulsesrc and
//     pulsesink to Address(), e.g. "pulsesrc server=<Address> device=<Monitor>".
//     Do not set PULSE_SERVER process-wide.
type Server struct {
	addr string

	// Set when we started the daemon.
	proc   *child.Process
	dir    string
	stderr *tail.Buffer

	closeOnce sync.Once
	closeErr  error
	closed    chan struct{}
}

// EnsureServer returns a PulseAudio server, starting one if none answers:
//
//  1. If PULSE_SERVER is set, that server; it is an error if it does not
//     answer.
//  2. Else, in a login session (XDG_RUNTIME_DIR set), the session's
//     default server if one answers (PulseAudio or PipeWire). Outside a
//     session there is none to find, and asking libpulse for it would
//     leave a /tmp/pulse-* directory behind.
//  3. Else a private daemon, "pulseaudio -n --daemonize=no" with only a
//     native-protocol socket in a fresh directory
//     $TMPDIR/roomcast-pulse-<uid>-*, anonymous auth (so no cookie file is
//     needed, whatever HOME a client has). It works as root without a login
//     session. It is our child: Close stops it, and it is killed if this
//     process dies. Each EnsureServer that gets here starts its own daemon,
//     so two processes (or two test binaries) never share one; share the
//     Server within the process instead.
//
// ctx bounds the start; the server runs until Close.
func EnsureServer(ctx context.Context) (*Server, error) {
	if _, err := exec.LookPath("pactl"); err != nil {
		return nil, errPactlNotFound
	}
	if env := os.Getenv("PULSE_SERVER"); env != "" {
		if _, err := serverInfo(ctx, env); err != nil {
			return nil, fmt.Errorf("PULSE_SERVER=%s does not answer: %w", env, err)
		}
		removeSinksLeftBehind(ctx, env)
		return &Server{addr: env, closed: make(chan struct{})}, nil
	}
	if os.Getenv("XDG_RUNTIME_DIR") != "" {
		if addr, err := serverInfo(ctx, ""); err == nil && addr != "" {
			removeSinksLeftBehind(ctx, addr)
			return &Server{addr: addr, closed: make(chan struct{})}, nil
		}
	}
	return startDaemon(ctx)
}

// Address is the server string, "unix:/path/native" or as PULSE_SERVER gave
// it. Use it as the server property of pulsesrc and pulsesink.
func (s *Server) Address() string { return s.addr }

// Env is what a child process needs in its environment to reach the server:
// PULSE_SERVER=<Address>.
func (s *Server) Env() []string { return []string{"PULSE_SERVER=" + s.addr} }

// Started reports whether EnsureServer started this daemon (and Close stops
// it).
func (s *Server) Started() bool { return s.proc != nil }

// Close stops the daemon if EnsureServer started it, and removes its
// directory. A server that was running already is left alone. Close is safe
// to call more than once; later calls return the first call's result. Close
// the sinks first: their modules go with a daemon we stop, but not with a
// server we found.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.closed)
		if s.proc == nil {
			return
		}
		s.proc.Stop(stopTimeout)
		if err := os.RemoveAll(s.dir); err != nil {
			s.closeErr = fmt.Errorf("close PulseAudio daemon: %w", err)
		}
	})
	return s.closeErr
}

func (s *Server) isClosed() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

// startDaemon runs a private pulseaudio in the foreground as our child.
func startDaemon(ctx context.Context) (*Server, error) {
	bin, err := exec.LookPath("pulseaudio")
	if err != nil {
		return nil, errPulseaudioNotFound
	}
	prefix := fmt.Sprintf("roomcast-pulse-%d-", os.Getuid())
	leftovers.RemoveOnce(prefix, nil) // the socket folders of daemons killed with an earlier run
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, fmt.Errorf("start PulseAudio: %w", err)
	}
	conf := filepath.Join(dir, "daemon.conf")
	if err := os.WriteFile(conf, []byte(daemonConf), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start PulseAudio: %w", err)
	}
	socket := filepath.Join(dir, "native")
	s := &Server{
		addr:   "unix:" + socket,
		dir:    dir,
		stderr: &tail.Buffer{Max: 4096},
		closed: make(chan struct{}),
	}
	cmd := exec.Command(bin,
		"-n", // no default.pa: no ALSA, udev, X11 or D-Bus modules
		"--daemonize=no",
		"--exit-idle-time=-1",
		"--use-pid-file=no",
		"--system=no",
		// Each sink's thread real-time (SCHED_RR; directly where the
		// process may, as root, else through RealtimeKit on the system
		// bus if there is one) and the main thread at a high priority. A
		// sink thread held past the 60 ms its player keeps buffered (what
		// Chromium asks for) plays silence: under CPU bursts beside a composite (two cores busy
		// for 400 ms every 2 s at nice -15), 143 dropouts in 90 s at
		// normal priority, 31 with this alone, none with Chromium's own
		// sound thread real-time too (browser.keepSoundRealtime).
		"--high-priority=yes", "--realtime=yes",
		"--disallow-exit",
		"--log-target=stderr",
		"-L", "module-native-protocol-unix socket="+socket+" auth-anonymous=1",
	)
	// A minimal environment: no DISPLAY (PulseAudio would try to reach the
	// X11 session) and no D-Bus address. HOME and the runtime directory are
	// ours, so nothing lands in the user's ~/.config/pulse.
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"XDG_RUNTIME_DIR=" + dir,
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
		"PULSE_RUNTIME_PATH=" + dir,
		"PULSE_CONFIG=" + conf, // read as root too, where ~/.config/pulse was not
		"LANG=C",
	}
	cmd.Stderr = s.stderr
	if s.proc, err = child.Start(cmd); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start PulseAudio: %w", err)
	}
	if err := s.waitReady(ctx, socket); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// waitReady polls until the socket accepts a connection and pactl gets an
// answer through it. The daemon gives no readiness signal in the
// foreground, so polling it is (every 20 ms, under startTimeout).
func (s *Server) waitReady(ctx context.Context, socket string) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if c, err := net.Dial("unix", socket); err == nil {
			c.Close()
			if _, err := serverInfo(ctx, s.addr); err == nil {
				return nil
			}
		}
		select {
		case <-s.proc.Done():
			return fmt.Errorf("pulseaudio exited at start (%v): %s", s.proc.Err(), s.stderr.String())
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("pulseaudio did not answer on %s within %v: %s", socket, startTimeout, s.stderr.String())
			}
			return fmt.Errorf("start PulseAudio: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// serverInfo runs "pactl info" against server ("" for the default one) and
// returns the server string it reports.
func serverInfo(ctx context.Context, server string) (string, error) {
	out, err := pactl(ctx, server, "info")
	if err != nil {
		return "", err
	}
	for line := range strings.SplitSeq(out, "\n") {
		if v, ok := strings.CutPrefix(line, "Server String: "); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("pactl info printed no server string: %q", out)
}

// pactl runs pactl against server and returns its standard output.
func pactl(ctx context.Context, server string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, pactlTimeout)
	defer cancel()
	if server != "" {
		args = append([]string{"--server=" + server}, args...)
	}
	cmd := exec.CommandContext(ctx, "pactl", args...)
	for _, kv := range os.Environ() {
		if kv != "PULSE_SERVER=" { // set but empty: libpulse takes it as an invalid server
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "LC_ALL=C") // parsed output: no translations
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return "", errPactlNotFound
		}
		msg := strings.TrimSpace(stderr.String())
		if ctx.Err() != nil {
			msg = ctx.Err().Error()
		}
		return "", fmt.Errorf("pactl %s: %w: %s", strings.Join(args, " "), err, msg)
	}
	return stdout.String(), nil
}

// Sink is a null sink: what plays into it goes nowhere but to its monitor
// source.
type Sink struct {
	server *Server
	module int
	name   string
	mon    string

	closeOnce sync.Once
	closeErr  error
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// sinkOwner finds the process ID in the name NewSink gives a sink.
var sinkOwner = regexp.MustCompile(`sink_name=roomcast_\S*_p(\d+)_[0-9a-f]{8}\b`)

// removeSinksLeftBehind unloads, on a server that was running before us
// (and outlives us), the null sinks of roomcast processes that are gone:
// a SIGKILL leaves them loaded. Failures are not errors: the sinks only
// clutter the server's list.
func removeSinksLeftBehind(ctx context.Context, server string) {
	out, err := pactl(ctx, server, "list", "short", "modules")
	if err != nil {
		return
	}
	for _, line := range strings.Split(out, "\n") {
		index, rest, _ := strings.Cut(line, "\t")
		m := sinkOwner.FindStringSubmatch(rest)
		if m == nil || !strings.Contains(rest, "module-null-sink") {
			continue
		}
		if _, err := os.Stat("/proc/" + m[1]); err == nil {
			continue // its process runs
		}
		_, _ = pactl(ctx, server, "unload-module", index)
	}
}

// NewSink loads a module-null-sink (48 kHz, stereo, float32) named
// "roomcast_<label>_p<pid>_<random>", so that labels need not be unique,
// two processes on one server never clash, and a sink whose process is
// gone is known (removeSinksLeftBehind). label is cut to characters PulseAudio
// takes in a module argument (letters, digits, '_' and '-').
func (s *Server) NewSink(ctx context.Context, label string) (*Sink, error) {
	if s.isClosed() {
		return nil, errors.New("new sink: the PulseAudio server is closed")
	}
	label = strings.Trim(unsafeName.ReplaceAllString(label, "_"), "_")
	if len(label) > 40 {
		label = label[:40]
	}
	var rnd [4]byte
	rand.Read(rnd[:])
	own := fmt.Sprintf("p%d_%s", os.Getpid(), hex.EncodeToString(rnd[:]))
	want := "roomcast_" + label + "_" + own
	if label == "" {
		want = "roomcast_" + own
	}

	args := append([]string{"load-module", "module-null-sink", "sink_name=" + want},
		strings.Fields(sinkFormat)...)
	args = append(args, "sink_properties=device.description="+want)
	out, err := pactl(ctx, s.addr, args...)
	if err != nil {
		return nil, fmt.Errorf("new sink %s: %w", want, err)
	}
	module, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		return nil, fmt.Errorf("new sink %s: pactl load-module printed %q, not a module index", want, strings.TrimSpace(out))
	}
	k := &Sink{server: s, module: module}
	// PulseAudio renames a sink whose name is taken ("x" becomes "x.2"), so
	// read back the sink that our module owns.
	if err := k.lookup(ctx); err != nil {
		k.Close()
		return nil, fmt.Errorf("new sink %s: %w", want, err)
	}
	return k, nil
}

// lookup finds the name and monitor of the sink that k.module owns.
func (k *Sink) lookup(ctx context.Context) error {
	out, err := pactl(ctx, k.server.addr, "--format=json", "list", "sinks")
	if err != nil {
		return err
	}
	var sinks []struct {
		Name          string `json:"name"`
		OwnerModule   int    `json:"owner_module"`
		MonitorSource string `json:"monitor_source"`
	}
	if err := json.Unmarshal([]byte(out), &sinks); err != nil {
		return fmt.Errorf("pactl --format=json list sinks (pactl 16 or later needed): %w", err)
	}
	for _, sk := range sinks {
		if sk.OwnerModule == k.module {
			k.name, k.mon = sk.Name, sk.MonitorSource
			if k.mon == "" {
				k.mon = sk.Name + ".monitor"
			}
			return nil
		}
	}
	return fmt.Errorf("module %d loaded but owns no sink", k.module)
}

// Name is the sink's name: for PULSE_SINK, pulsesink's device property and
// pacat's --device.
func (k *Sink) Name() string { return k.name }

// Monitor is the sink's monitor source, "<Name>.monitor": for pulsesrc's
// device property and parec's --device.
func (k *Sink) Monitor() string { return k.mon }

// Env is what a player (Chromium) needs in its environment to play into this
// sink: the server's Env plus PULSE_SINK=<Name>, and a buffer of
// playerLatency.
func (k *Sink) Env() []string {
	return append(k.server.Env(), "PULSE_SINK="+k.name, fmt.Sprintf("PULSE_LATENCY_MSEC=%d", playerLatency.Milliseconds()))
}

// playerLatency is how much sound a player keeps in its stream to the
// sink (libpulse reads PULSE_LATENCY_MSEC for every stream its process
// opens). Left to itself, Chromium kept under 1 ms there, and on a busy
// machine the sink found the stream empty: 24 s cold 1080p30 recordings
// on two cores had 0-20 holes of digital silence (up to 0.57 s, one an
// underrun the stream took that long to recover from); with 60 ms, 1 hole
// of 17 ms in 5 runs. Chromium counts the buffer in the delay it reports
// for A/V sync, so the picture waits for the sound as before.
const playerLatency = 60 * time.Millisecond

// Close unloads the sink's module. Players still connected to it move to
// another sink or stop. Close is safe to call more than once; later calls
// return the first call's result. If the daemon that Close would talk to
// was ours and is closed, the sink went with it and Close returns nil.
func (k *Sink) Close() error {
	k.closeOnce.Do(func() {
		if k.server.isClosed() && k.server.Started() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), pactlTimeout)
		defer cancel()
		if _, err := pactl(ctx, k.server.addr, "unload-module", strconv.Itoa(k.module)); err != nil {
			k.closeErr = fmt.Errorf("close sink %s: %w", k.name, err)
		}
	})
	return k.closeErr
}
