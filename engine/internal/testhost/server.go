package testhost

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"roomcast/engine/demo"
	"roomcast/engine/internal/child"
)

// The test host's ports: LiveKit's defaults, so that a firewall rule reads
// as it would in a producer's network.
const (
	SignalPort = 7880 // HTTP and WebSocket signalling
	ICETCPPort = 7881 // ICE over TCP
	MediaPort  = 7882 // ICE over UDP, one port for every participant
	TURNPort   = 3478 // the built-in TURN, over UDP
	TLSPort    = 7443 // the TLS front (nginx) before SignalPort
	TURNTLS    = 443  // the built-in TURN over TLS (ServerOptions.TURNCert): 443, which the server announces
	// RelayFirst and RelayLast bound the ports TURN relays from.
	RelayFirst = 31000
	RelayLast  = 31100
)

// ServerOptions adds to the server's configuration.
type ServerOptions struct {
	// TURNCert and TURNKey (PEM files), when set, give its TURN a TLS
	// port too (TURNTLS), for TURNName.
	TURNCert, TURNKey string
	// SeparateStreams turns the server's room.sync_streams off: each
	// person's camera and microphone then come in WebRTC streams of their
	// own, as from a server left at LiveKit's default.
	SeparateStreams bool
}

// Server is livekit-server running on the test host.
type Server struct {
	Key, Secret string
	host        *Host
	dir         string
	proc        *child.Process
}

// StartServer runs livekit-server on the test host with ICE over UDP and
// TCP and its TURN (over UDP, and TLS if opt says so; named TURNName), and
// stops it when t ends.
func (h *Host) StartServer(t testing.TB, opt ServerOptions) *Server {
	t.Helper()
	bin, err := demo.FindServer()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Key: "testhost", Secret: strings.Repeat("s3cr3t", 6), host: h, dir: t.TempDir()}
	// stun_servers names the TURN (which answers STUN too): left out, the
	// server hands out public STUN servers, which the browser would try.
	// The transport logs at debug for its "selected ICE candidate pair
	// changed", which Selected reads.
	conf := fmt.Sprintf(`port: %d
bind_addresses: [%s]
logging:
  level: info
  component_levels:
    transport: debug
rtc:
  tcp_port: %d
  udp_port: %d
  use_external_ip: false
  node_ip: %s
  ips:
    includes: [%s/32]
  stun_servers: [%s:%d]
room:
  sync_streams: %t
turn:
  enabled: true
  domain: %s
  udp_port: %d
  relay_range_start: %d
  relay_range_end: %d
%skeys:
  %s: %s
`, SignalPort, Addr, ICETCPPort, MediaPort, Addr, Addr, Addr, TURNPort, !opt.SeparateStreams, TURNName, TURNPort, RelayFirst, RelayLast, turnTLS(opt), s.Key, s.Secret)
	if err := os.WriteFile(filepath.Join(s.dir, "livekit.yaml"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	s.run(t, bin)
	t.Cleanup(s.Stop)
	return s
}

// turnTLS is the turn block's TLS lines for opt, "" for none.
func turnTLS(opt ServerOptions) string {
	if opt.TURNCert == "" {
		return ""
	}
	return fmt.Sprintf("  tls_port: %d\n  cert_file: %s\n  key_file: %s\n", TURNTLS, opt.TURNCert, opt.TURNKey)
}

// URL is the server's signalling URL by name, as a producer configures it.
func (s *Server) URL() string { return fmt.Sprintf("ws://%s:%d", ServerName, SignalPort) }

// inside is the URL publishers inside the test host use.
func (s *Server) inside() string { return fmt.Sprintf("ws://%s:%d", Addr, SignalPort) }

func (s *Server) run(t testing.TB, bin string) {
	t.Helper()
	log, err := os.OpenFile(filepath.Join(s.dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd := s.host.Command(bin, "--config", filepath.Join(s.dir, "livekit.yaml"))
	cmd.Stdout, cmd.Stderr = log, log
	if s.proc, err = child.Start(cmd); err != nil {
		t.Fatal(err)
	}
	if err := awaitPort(Addr, SignalPort, 15*time.Second, s.proc.Done()); err != nil {
		t.Fatalf("livekit-server on the test host: %v; its log:\n%s", err, s.Log())
	}
}

// Restart stops the server as an operator's restart does (SIGTERM: it
// closes its rooms; killed if it still runs after a second: it drains for
// longer) and starts it again with the same configuration; it returns
// once the server answers. Its rooms come back as their people rejoin.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	bin, err := demo.FindServer()
	if err != nil {
		t.Fatal(err)
	}
	s.run(t, bin)
}

// Stop stops the server for good (SIGTERM, then SIGKILL after a second).
func (s *Server) Stop() {
	if s.proc != nil {
		s.proc.Stop(time.Second)
	}
}

// Log is the server's log so far, for a failing test.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return strings.Join(lines, "\n")
}

// awaitPort waits until addr:port accepts TCP connections.
func awaitPort(addr string, port int, timeout time.Duration, died <-chan struct{}) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(addr, fmt.Sprint(port)), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-died:
			return fmt.Errorf("exited at start")
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listened on %s:%d within %v: %w", addr, port, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// exe is this test binary, for Publish to run inside the test host.
func exe(t testing.TB) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return self
}

// Relayed reports whether a candidate Selected returned came through the
// server's TURN: its port is a relay port. The server may call it relay,
// or peer-reflexive when a check from the relay came before the relay
// candidate itself.
func Relayed(candidate string) bool {
	f := strings.Fields(candidate) // protocol, type, address, [related address]
	if len(f) < 3 {
		return false
	}
	port, err := strconv.Atoi(f[2][strings.LastIndexByte(f[2], ':')+1:])
	return err == nil && port >= RelayFirst && port <= RelayLast
}

// Selected is the remote ICE candidate the server selected last for the
// latest participant whose identity starts with prefix (the composite's
// recorder is "EG_..."), such as "udp relay 198.51.10...:31024": how
// their media came. "" if none was selected.
//
// The server names the pair in three lines: "participant active" lists
// the candidates with the selected one marked, but may come before ICE
// has marked it (CI once found none); "selected ICE candidate pair
// changed" (the transport's debug) comes with every selection, the
// first included; "ice reconnected or switched pair" with every later
// one.
func (s *Server) Selected(prefix string) string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
	found := ""
	for _, line := range strings.Split(string(b), "\n") {
		if c, ok := selectedIn(line, prefix); ok {
			found = c
		}
	}
	return found
}

// candidatePair is a pair as the server logs it.
type candidatePair struct {
	RemoteProtocol, RemoteCandidateType, RemoteAddress string
	RemoteAdddress                                     string // so spelt by some server versions
	RemotePort                                         int
}

func (p *candidatePair) remote() (string, bool) {
	if p == nil || p.RemoteProtocol == "" {
		return "", false
	}
	return fmt.Sprintf("%s %s %s:%d", p.RemoteProtocol, p.RemoteCandidateType, p.RemoteAddress+p.RemoteAdddress, p.RemotePort), true
}

// selectedIn is the remote candidate a line of the server's log says was
// selected for a participant whose identity starts with prefix.
func selectedIn(line, prefix string) (string, bool) {
	i := strings.Index(line, "{")
	if i < 0 {
		return "", false
	}
	var entry struct {
		Participant          string
		PublisherCandidates  []string
		SubscriberCandidates []string
		Pair, NewPair        *candidatePair
	}
	if json.Unmarshal([]byte(line[i:]), &entry) != nil || !strings.HasPrefix(entry.Participant, prefix) {
		return "", false
	}
	switch msg := line[:i]; {
	case strings.Contains(msg, "participant active"):
		found, ok := "", false
		for _, c := range append(entry.SubscriberCandidates, entry.PublisherCandidates...) {
			if rest, marked := strings.CutPrefix(c, "[remote][selected:1]"); marked {
				found, ok = strings.TrimSpace(strings.TrimPrefix(rest, "[trickle]")), true
			}
		}
		return found, ok
	case strings.Contains(msg, "selected ICE candidate pair changed"):
		return entry.Pair.remote()
	case strings.Contains(msg, "ice reconnected or switched pair"):
		return entry.NewPair.remote()
	}
	return "", false
}
