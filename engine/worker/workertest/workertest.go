// Package workertest gives tests of egress dispatched by a LiveKit server
// a Redis server of their own on loopback, and the server's view of an
// egress.
package workertest

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
)

// StartRedis runs a Redis server on a free loopback port, without
// persistence, and returns its host:port; the test's cleanup stops it.
func StartRedis(t testing.TB) string {
	t.Helper()
	addr, stop, err := Redis()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return addr
}

// Redis is StartRedis for a caller that is not a test (the bench): stop
// ends the server.
func Redis() (addr string, stop func(), err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command("redis-server", "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("redis-server (make deps installs it): %w", err)
	}
	stop = func() { cmd.Process.Kill(); cmd.Wait() }
	addr = fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr, stop, nil
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("redis-server never listened on %s", addr)
		}
	}
}

// AwaitServerStatus polls the LiveKit server's own ListEgress until the
// egress has status want, and fails the test if it does not within
// timeout.
func AwaitServerStatus(t testing.TB, c *lksdk.EgressClient, id string, want livekit.EgressStatus, timeout time.Duration) *livekit.EgressInfo {
	t.Helper()
	info, err := ServerStatus(c, id, want, timeout)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// ServerStatus polls the LiveKit server's ListEgress (every 20 ms: the
// bench times starts with it) until the egress has status want; an
// egress that ended otherwise, or a timeout, is an error.
func ServerStatus(c *lksdk.EgressClient, id string, want livekit.EgressStatus, timeout time.Duration) (*livekit.EgressInfo, error) {
	var last *livekit.EgressInfo
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := c.ListEgress(context.Background(), &livekit.ListEgressRequest{EgressId: id})
		if err != nil {
			return nil, fmt.Errorf("ListEgress on the LiveKit server: %w", err)
		}
		if len(resp.Items) != 1 {
			continue
		}
		last = resp.Items[0]
		if last.Status == want {
			return last, nil
		}
		if last.EndedAt != 0 {
			break
		}
	}
	return nil, fmt.Errorf("egress %s on the LiveKit server: %s (%q), want %s within %v", id, last.GetStatus(), last.GetError(), want, timeout)
}
