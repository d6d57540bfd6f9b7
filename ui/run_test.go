package ui

import (
	"os"
	"testing"
)

func TestDrawOnGLThread(t *testing.T) {
	for _, c := range []struct {
		name   string
		preset string // "" leaves it unset
		want   string
	}{
		{"unset: the GL thread draws", "", "0"},
		{"the user's setting is kept", "4", "4"},
		{"the user's zero is kept", "0", "0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(softwareGLThreads, c.preset) // restored after the case
			if c.preset == "" {
				if err := os.Unsetenv(softwareGLThreads); err != nil {
					t.Fatal(err)
				}
			}
			drawOnGLThread()
			if got, set := os.LookupEnv(softwareGLThreads); !set || got != c.want {
				t.Errorf("%s = %q (set %v), want %q", softwareGLThreads, got, set, c.want)
			}
		})
	}
}
