package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"roomcast/engine/internal/child"
	"roomcast/engine/internal/leftovers"
)

// serverBinaryName is what `make deps` installs into the repository's bin/.
const serverBinaryName = "livekit-server"

// serverReadyTimeout bounds the wait for the server's HTTP port; it answered
// about 0.1 s after start on a 2-core box, so 15 s only trips on a
// server that is broken, not slow.
const serverReadyTimeout = 15 * time.Second

var errServerMissing = errors.New("livekit-server not found: run `make deps` (it installs the pinned server into bin/), or set ROOMCAST_LIVEKIT_SERVER to its path")

// server is one livekit-server process in development mode, bound to
// 127.0.0.1 only: HTTP/WebSocket on a free port, WebRTC over one UDP port
// with loopback candidates, ICE over TCP switched off (its listener ignores
// bind_addresses and would listen on every address).
type server struct {
	proc   *child.Process
	dir    string
	url    string
	key    string
	secret string
}

// FindServer locates the livekit-server binary: $ROOMCAST_LIVEKIT_SERVER,
// then bin/livekit-server in this module's root (searched upward from the
// working directory and from the running executable), then $PATH.
func FindServer() (string, error) {
	if p := os.Getenv("ROOMCAST_LIVEKIT_SERVER"); p != "" {
		if isExecutable(p) {
			return p, nil
		}
		return "", fmt.Errorf("ROOMCAST_LIVEKIT_SERVER=%q is not an executable file: %w", p, errServerMissing)
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	for _, dir := range starts {
		for d := dir; ; d = filepath.Dir(d) {
			if p := filepath.Join(d, "bin", serverBinaryName); isExecutable(p) {
				return p, nil
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	if p, err := exec.LookPath(serverBinaryName); err == nil {
		return p, nil
	}
	return "", errServerMissing
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// startServer writes a loopback-only configuration and starts the server.
// An empty key or secret gets a fresh random one, so that each run of the
// demo has its own credentials unless the operator configured them.
func startServer(ctx context.Context, binary string, opt Options) (*server, error) {
	key, secret, logf := opt.APIKey, opt.APISecret, opt.Logf
	if key == "" {
		key = "roomcast-" + randomHex(4)
	}
	if secret == "" {
		secret = randomHex(24)
	}
	if len(secret) < 32 {
		return nil, fmt.Errorf("api secret: %d characters is too short; livekit-server needs 32 or more", len(secret))
	}
	httpPort, err := freePort("tcp")
	if err != nil {
		return nil, fmt.Errorf("livekit-server: no free TCP port on 127.0.0.1: %w", err)
	}
	udpPort, err := freePort("udp")
	if err != nil {
		return nil, fmt.Errorf("livekit-server: no free UDP port on 127.0.0.1: %w", err)
	}
	leftovers.RemoveOnce(serverDirPrefix, logf) // the logs of servers killed with an earlier run
	dir, err := os.MkdirTemp("", serverDirPrefix)
	if err != nil {
		return nil, fmt.Errorf("livekit-server: config folder: %w", err)
	}
	conf := serverConfig(httpPort, udpPort, key, secret, opt)
	confPath := filepath.Join(dir, "livekit.yaml")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("livekit-server: write config: %w", err)
	}

	cmd := exec.Command(binary, "--config", confPath)
	logPath := filepath.Join(dir, "server.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("livekit-server: log file: %w", err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Killed with us if we die: the demo must not leave a server behind
	// even when the test that started it panics.
	proc, err := child.Start(cmd)
	logFile.Close() // the server has its own copy
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("livekit-server: start %s: %w", binary, err)
	}
	s := &server{
		proc:   proc,
		dir:    dir,
		url:    fmt.Sprintf("ws://127.0.0.1:%d", httpPort),
		key:    key,
		secret: secret,
	}
	if err := s.waitReady(ctx, httpPort); err != nil {
		s.stop()
		return nil, err
	}
	logf("livekit-server ready on %s (pid %d)", s.url, cmd.Process.Pid)
	return s, nil
}

// serverDirPrefix names the temporary folders of the server's
// configuration and log.
const serverDirPrefix = "roomcast-livekit-"

func serverConfig(httpPort, udpPort int, key, secret string, opt Options) string {
	// development: true keeps the server from probing for an external IP;
	// stun_servers points at a closed loopback port so clients are never
	// handed a public STUN server; tcp_port 0 turns ICE/TCP off.
	// sync_streams puts each person's camera and microphone in one WebRTC
	// stream, the only tracks a browser (the composite's page) lip-syncs:
	// without it the bench's A/V offset medians ranged from -8 to +155 ms
	// over seven runs, with it from -12 to +46 ms over four.
	conf := fmt.Sprintf(`port: %d
bind_addresses: [127.0.0.1]
development: true
log_level: info
rtc:
  tcp_port: 0
  udp_port: %d
  use_external_ip: false
  node_ip: 127.0.0.1
  enable_loopback_candidate: true
  ips:
    includes: [127.0.0.1/32]
  stun_servers: [127.0.0.1:9]
room:
  sync_streams: true
keys:
  %s: %s
`, httpPort, udpPort, key, secret)
	if opt.Redis != "" {
		conf += fmt.Sprintf("redis:\n  address: %s\n", opt.Redis)
	}
	if len(opt.Webhooks) > 0 {
		conf += fmt.Sprintf("webhook:\n  api_key: %s\n  urls:\n", key)
		for _, u := range opt.Webhooks {
			conf += fmt.Sprintf("    - %q\n", u)
		}
	}
	return conf
}

func (s *server) waitReady(ctx context.Context, port int) error {
	ctx, cancel := context.WithTimeout(ctx, serverReadyTimeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-s.proc.Done():
			return fmt.Errorf("livekit-server exited at start (%v); its log:\n%s", s.proc.Err(), s.logTail())
		case <-ctx.Done():
			return fmt.Errorf("livekit-server did not answer on 127.0.0.1:%d within %s; its log:\n%s", port, serverReadyTimeout, s.logTail())
		case <-tick.C:
		}
	}
}

func (s *server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}

// stop asks the server to leave (SIGTERM), kills it after 5 s, and removes
// its folder; a server the demo did not start is left alone. Safe to call
// more than once.
func (s *server) stop() {
	if s.proc == nil {
		return
	}
	s.proc.Stop(5 * time.Second)
	os.RemoveAll(s.dir)
}

// freePort asks the kernel for a free port on 127.0.0.1. The port is free
// again when this returns; a clash with another process in between makes the
// server fail to start, which startServer reports.
func freePort(network string) (int, error) {
	switch network {
	case "udp":
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port, nil
	default:
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port, nil
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
