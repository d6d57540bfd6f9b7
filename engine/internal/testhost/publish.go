package testhost

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"roomcast/engine/demo"
	"roomcast/engine/internal/child"
)

// The publishers' settings, passed to the copy of the test binary that
// runs them inside the test host.
const (
	publishURLEnv    = "ROOMCAST_TESTHOST_URL"
	publishKeyEnv    = "ROOMCAST_TESTHOST_KEY"
	publishSecretEnv = "ROOMCAST_TESTHOST_SECRET"
	publishRoomEnv   = "ROOMCAST_TESTHOST_ROOM"
	publishCountEnv  = "ROOMCAST_TESTHOST_PEOPLE"
)

// readyLine is what the publishers print once everyone has joined.
const readyLine = "PUBLISHERS READY"

// Publish joins n of the demo's people (a coloured camera and a tone
// each) to room, from inside the test host, so that this machine's
// firewall rules do not touch them; they leave when t ends. It returns
// them in the demo's order.
func (s *Server) Publish(t testing.TB, room string, n int) []demo.Persona {
	t.Helper()
	cmd := s.host.Command(exe(t))
	cmd.Env = append(os.Environ(),
		roleEnv+"="+rolePublish,
		publishURLEnv+"="+s.inside(),
		publishKeyEnv+"="+s.Key,
		publishSecretEnv+"="+s.Secret,
		publishRoomEnv+"="+room,
		publishCountEnv+"="+strconv.Itoa(n),
	)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	proc, err := child.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close() // they leave on EOF
		select {
		case <-proc.Done():
		case <-time.After(10 * time.Second):
			proc.Stop(time.Second)
		}
	})
	ready := make(chan error, 1)
	go func() {
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			if lines.Text() == readyLine {
				ready <- nil
				_, _ = io.Copy(io.Discard, stdout)
				return
			}
			t.Log("publishers:", lines.Text())
		}
		ready <- fmt.Errorf("publishers exited before joining (%v)", proc.Err())
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("publishers did not join within a minute")
	}
	people := make([]demo.Persona, n)
	for i := range people {
		people[i] = demo.PersonaFor(i)
	}
	return people
}

// publish is the publishers' side: join, say so, stay until stdin closes.
func publish() int {
	n, _ := strconv.Atoi(os.Getenv(publishCountEnv))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := demo.Start(ctx, demo.Options{
		ServerURL:    os.Getenv(publishURLEnv),
		APIKey:       os.Getenv(publishKeyEnv),
		APISecret:    os.Getenv(publishSecretEnv),
		Room:         os.Getenv(publishRoomEnv),
		Participants: n,
		Logf: func(f string, a ...any) {
			fmt.Println(strings.TrimSpace(fmt.Sprintf(f, a...)))
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "publishers:", err)
		return 1
	}
	defer d.Close()
	fmt.Println(readyLine)
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}
