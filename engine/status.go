package engine

import "github.com/livekit/protocol/livekit"

// statusRank orders egress states: an egress only ever moves forward, so a
// late event (a stop racing a failure, an old poll) cannot move it back.
var statusRank = map[livekit.EgressStatus]int{
	livekit.EgressStatus_EGRESS_STARTING:      0,
	livekit.EgressStatus_EGRESS_ACTIVE:        1,
	livekit.EgressStatus_EGRESS_ENDING:        2,
	livekit.EgressStatus_EGRESS_COMPLETE:      3,
	livekit.EgressStatus_EGRESS_FAILED:        3,
	livekit.EgressStatus_EGRESS_ABORTED:       3,
	livekit.EgressStatus_EGRESS_LIMIT_REACHED: 3,
}

// IsFinal reports whether an egress in status s has ended.
func IsFinal(s livekit.EgressStatus) bool { return statusRank[s] == 3 }

// Supersedes reports whether an update in status next may replace what is
// known in status prev: not once prev is final, and never backwards.
func Supersedes(prev, next livekit.EgressStatus) bool {
	return !IsFinal(prev) && statusRank[next] >= statusRank[prev]
}
