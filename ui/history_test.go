package ui

import (
	"testing"

	"github.com/livekit/protocol/livekit"
)

// TestHistoryNotes: a history row's last line holds what happened on the
// way (the engine's details) and the studio's warnings, and nothing the
// error above it already says.
func TestHistoryNotes(t *testing.T) {
	const crash = "browser died at 21:30:05, picture back after 2.1 s (crashed)"
	const disk = "21:40:00: disk full in about 9 min at this rate (540 MB free)"
	cases := []struct {
		name  string
		info  *livekit.EgressInfo
		notes []string
		want  string
	}{
		{"nothing happened", &livekit.EgressInfo{}, nil, ""},
		{"an incident", &livekit.EgressInfo{Details: crash}, nil, crash},
		{"a warning", &livekit.EgressInfo{}, []string{disk}, disk},
		{"both, incident first", &livekit.EgressInfo{Details: crash}, []string{disk}, crash + "; " + disk},
		{"details that are the error", &livekit.EgressInfo{Error: "disk full writing /x.mp4", Details: "disk full writing /x.mp4"}, nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := historyNotes(c.info, c.notes); got != c.want {
				t.Errorf("historyNotes = %q, want %q", got, c.want)
			}
		})
	}
}
