// Package testhost gives tests a LiveKit server off loopback, as producers
// meet one: a "test host" (a network namespace with an address of its own,
// joined to this machine by a veth pair), reached by host names, running
// livekit-server with its built-in TURN, the test's publishers inside it, a
// TLS front (nginx) with a certificate from a CA the test makes, and
// firewall rules on the way to it. Every packet stays on this machine:
// loopback, the veth pair and the namespace, all removed at the end.
//
// It needs root (ip netns, policy rules, a private mount namespace). A test
// binary using it calls Main from its TestMain: that runs the tests in a
// mount namespace of their own whose /etc/hosts maps the test host's
// names, so the machine's own /etc/hosts is never edited (a crashed test
// cannot leave it changed), and every process the tests start (Chromium,
// the engine's own lookups) resolves the names alike.
package testhost

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The test host's addresses (TEST-NET-2, never routed on the Internet)
// and names (.test is reserved for testing).
const (
	// Namespace is the test host's network namespace.
	Namespace = "roomcast-testhost"
	// LocalAddr is this machine's end of the veth pair.
	LocalAddr = "198.51.100.1"
	// Addr is the test host's address.
	Addr = "198.51.100.2"
	// ServerName is the LiveKit server's name; TURNName its TURN's, so
	// that a TURN server named in the join response has to be resolved.
	ServerName = "livekit.roomcast.test"
	TURNName   = "turn.roomcast.test"

	vethLocal = "rc-th0"
	vethPeer  = "rc-th1"
)

// roleEnv tells a re-executed test binary what it is for.
const roleEnv = "ROOMCAST_TESTHOST_ROLE"

const (
	roleTests   = "tests"   // in the private mount namespace: run the tests
	rolePublish = "publish" // inside the test host: run publishers
)

// Main runs the tests (m) in a private mount namespace whose /etc/hosts
// maps ServerName and TURNName to Addr, or, in a copy of the binary that
// Publish started inside the test host, runs publishers. Without root the
// tests run as they are (and Start skips them).
func Main(m *testing.M) {
	switch os.Getenv(roleEnv) {
	case rolePublish:
		os.Exit(publish())
	case roleTests:
		os.Exit(m.Run())
	}
	if os.Geteuid() != 0 {
		os.Exit(m.Run())
	}
	code, err := runWithHosts()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testhost:", err)
		os.Exit(2)
	}
	os.Exit(code)
}

// runWithHosts runs this binary again, with the same arguments, in a new
// mount namespace where a copy of /etc/hosts with the test host's names is
// bound over /etc/hosts. The namespace (and the binding) dies with it.
func runWithHosts() (int, error) {
	dir, err := os.MkdirTemp("", "roomcast-testhost-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	hosts, err := os.ReadFile("/etc/hosts")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, err
	}
	hosts = fmt.Appendf(hosts, "\n%s %s %s\n", Addr, ServerName, TURNName)
	path := filepath.Join(dir, "hosts")
	if err := os.WriteFile(path, hosts, 0o644); err != nil {
		return 0, err
	}
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	args := append([]string{"--mount", "--propagation", "private", "--",
		"/bin/sh", "-c", `mount --bind "$0" /etc/hosts && exec "$@"`, path, self}, os.Args[1:]...)
	cmd := exec.Command("unshare", args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), roleEnv+"="+roleTests)
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), nil
	}
	if err != nil {
		return 0, fmt.Errorf("unshare: %w (util-linux)", err)
	}
	return 0, nil
}

// Host is the test host: its namespace and veth pair.
type Host struct{}

// Start makes the test host for t and removes it when t ends; a host left
// by a crashed run is removed first. It skips t without root.
func Start(t testing.TB) *Host {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the test host is a network namespace")
	}
	if os.Getenv(roleEnv) != roleTests {
		t.Fatal("testhost: call testhost.Main from TestMain")
	}
	remove()
	steps := [][]string{
		{"netns", "add", Namespace},
		{"link", "add", vethLocal, "type", "veth", "peer", "name", vethPeer},
		{"link", "set", vethPeer, "netns", Namespace},
		{"addr", "add", LocalAddr + "/30", "dev", vethLocal},
		{"link", "set", vethLocal, "up"},
		{"-n", Namespace, "addr", "add", Addr + "/30", "dev", vethPeer},
		{"-n", Namespace, "link", "set", vethPeer, "up"},
		{"-n", Namespace, "link", "set", "lo", "up"},
		{"-n", Namespace, "route", "add", "default", "via", LocalAddr},
	}
	t.Cleanup(remove)
	for _, s := range steps {
		if err := ip(s...); err != nil {
			t.Fatal(err)
		}
	}
	return &Host{}
}

// remove deletes the namespace (which takes its end of the veth pair, and
// so the pair) and any policy rule of ours; missing parts are no error.
func remove() {
	_ = ip("netns", "del", Namespace)
	_ = ip("link", "del", vethLocal)
	out, _ := exec.Command("ip", "rule", "show").Output()
	for _, line := range strings.Split(string(out), "\n") {
		pref, rule, ok := strings.Cut(line, ":")
		if ok && strings.Contains(rule, " to "+Addr+" ") {
			_ = ip("rule", "del", "pref", strings.TrimSpace(pref))
		}
	}
}

// Block refuses this machine's packets of proto ("udp" or "tcp") to the
// test host's port, as a firewall would, until t ends (or the returned
// func is called). Packets inside the test host are not affected.
func (h *Host) Block(t testing.TB, proto string, port int) (unblock func()) {
	t.Helper()
	rule := []string{"to", Addr, "ipproto", proto, "dport", fmt.Sprint(port), "prohibit"}
	if err := ip(append([]string{"rule", "add"}, rule...)...); err != nil {
		t.Fatal(err)
	}
	done := false
	unblock = func() {
		if !done {
			done = true
			_ = ip(append([]string{"rule", "del"}, rule...)...)
		}
	}
	t.Cleanup(unblock)
	return unblock
}

// Command is name run inside the test host.
func (h *Host) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", Namespace, name}, args...)...)
}

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
