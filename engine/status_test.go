package engine

import (
	"testing"

	"github.com/livekit/protocol/livekit"
)

func TestSupersedes(t *testing.T) {
	const (
		starting = livekit.EgressStatus_EGRESS_STARTING
		active   = livekit.EgressStatus_EGRESS_ACTIVE
		ending   = livekit.EgressStatus_EGRESS_ENDING
		complete = livekit.EgressStatus_EGRESS_COMPLETE
		failed   = livekit.EgressStatus_EGRESS_FAILED
	)
	cases := []struct {
		prev, next livekit.EgressStatus
		want       bool
	}{
		{starting, active, true},
		{active, active, true}, // a new figure, same state
		{active, ending, true},
		{ending, complete, true},
		{active, failed, true},
		{ending, active, false},   // a late poll
		{active, starting, false}, // a late poll
		{complete, failed, false}, // ended is ended
		{failed, complete, false},
		{complete, complete, false},
	}
	for _, c := range cases {
		if got := Supersedes(c.prev, c.next); got != c.want {
			t.Errorf("Supersedes(%s, %s) = %v, want %v", c.prev, c.next, got, c.want)
		}
	}
}
