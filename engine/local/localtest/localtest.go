// Package localtest runs the embedded engine for a test and closes it
// when the test ends (finalising what it recorded), failing the test if
// it does not start or close cleanly.
package localtest

import (
	"testing"

	"roomcast/engine/local"
)

// New starts the engine with cfg, logging to the test unless cfg.Logf is
// set.
func New(t testing.TB, cfg local.Config) *local.Local {
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
