// Package demotest starts the demo room for a test and stops it when the
// test ends, so that no test leaves a LiveKit server or a participant
// behind, even when it fails.
package demotest

import (
	"context"
	"testing"
	"time"

	"roomcast/engine/demo"
)

// startTimeout bounds the server's start and the participants' joining:
// seconds on an idle box, tens of seconds on a loaded 2-core one.
const startTimeout = 2 * time.Minute

// Start starts the demo room with opts, logging to the test unless
// opts.Logf is set; it fails the test if the room does not start, and
// closes it when the test ends.
func Start(t testing.TB, opts demo.Options) *demo.Demo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	d, err := demo.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}
