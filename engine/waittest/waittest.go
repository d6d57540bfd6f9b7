// Package waittest bounds the waits of tests: a condition polled until it
// holds, a call that must return in time, an egress reaching a state. Each fails the test, saying what
// it waited for, rather than let it hang.
package waittest

import (
	"context"
	"runtime"
	"testing"
	"time"
	"weak"

	"github.com/livekit/protocol/livekit"

	"roomcast/engine"
)

// Until polls ok every 100 ms until it holds, and fails the test with
// what it waited for after timeout.
func Until(t testing.TB, timeout time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for: %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Collected fails the test unless the collector frees what p points to
// within 2 s: 20 collections, one every 100 ms.
func Collected[T any](t testing.TB, p weak.Pointer[T], what string) {
	t.Helper()
	Until(t, 2*time.Second, what+" freed by the collector", func() bool {
		runtime.GC()
		return p.Value() == nil
	})
}

// Returns runs f and fails the test if it returns an error or does not
// return within limit (a Close or a Stop that blocks).
func Returns(t testing.TB, limit time.Duration, what string, f func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("%s: %v", what, err)
		}
	case <-time.After(limit):
		t.Fatalf("%s did not return within %s", what, limit)
	}
}

// AwaitStatus polls s's List until egress id is in status want and
// returns its info; it fails the test when the egress ends in another
// status (with its error) or is not there after timeout. List, not Watch:
// a watcher may miss an update, List never does.
func AwaitStatus(t testing.TB, s engine.Studio, id string, want livekit.EgressStatus, timeout time.Duration) *livekit.EgressInfo {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		resp, err := s.List(context.Background(), &livekit.ListEgressRequest{EgressId: id})
		if err != nil || len(resp.Items) != 1 {
			t.Fatalf("List %s: %v, %v", id, resp, err)
		}
		info := resp.Items[0]
		switch {
		case info.Status == want:
			return info
		case engine.IsFinal(info.Status):
			t.Fatalf("egress %s ended %s (%s), want %s", id, info.Status, info.Error, want)
		case time.Now().After(deadline):
			t.Fatalf("egress %s still %s after %s, want %s", id, info.Status, timeout, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
