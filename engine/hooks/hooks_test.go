package hooks

import (
	"strings"
	"testing"

	"github.com/livekit/protocol/livekit"
)

func TestWebhookEvents(t *testing.T) {
	const (
		starting = livekit.EgressStatus_EGRESS_STARTING
		active   = livekit.EgressStatus_EGRESS_ACTIVE
		ending   = livekit.EgressStatus_EGRESS_ENDING
		complete = livekit.EgressStatus_EGRESS_COMPLETE
		failed   = livekit.EgressStatus_EGRESS_FAILED
	)
	type step struct {
		status    livekit.EgressStatus
		reconcile bool
		want      string // events, comma separated
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"whole life", []step{{starting, false, "egress_started"}, {active, false, "egress_updated"}, {active, false, "egress_updated"}, {ending, false, "egress_updated"}, {complete, false, "egress_ended"}}},
		{"STARTING missed", []step{{active, false, "egress_started,egress_updated"}, {complete, false, "egress_ended"}}},
		{"seen only at the end", []step{{failed, false, "egress_started,egress_ended"}}},
		{"nothing after the end", []step{{starting, false, "egress_started"}, {failed, false, "egress_ended"}, {complete, false, ""}, {failed, true, ""}}},
		{"STARTING again is no news", []step{{starting, false, "egress_started"}, {starting, false, ""}}},
		{"catch-up with no change", []step{{starting, false, "egress_started"}, {active, false, "egress_updated"}, {active, true, ""}}},
		{"catch-up finds the end", []step{{starting, false, "egress_started"}, {active, false, "egress_updated"}, {complete, true, "egress_ended"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := &state{}
			for i, s := range c.steps {
				got := strings.Join(st.next(&livekit.EgressInfo{EgressId: "EG_x", Status: s.status}, s.reconcile), ",")
				if got != s.want {
					t.Errorf("step %d (%s): %q, want %q", i, s.status, got, s.want)
				}
			}
		})
	}
}

func TestTargetWants(t *testing.T) {
	cases := []struct {
		name             string
		include, exclude []string
		want             string // the events it takes, of started, updated, ended
	}{
		{"everything", nil, nil, "egress_started,egress_updated,egress_ended"},
		{"only the ends", []string{"egress_started", "egress_ended"}, nil, "egress_started,egress_ended"},
		{"no updates", nil, []string{"egress_updated"}, "egress_started,egress_ended"},
		{"both", []string{"egress_started", "egress_updated"}, []string{"egress_updated"}, "egress_started"},
		{"other events only", []string{"room_started"}, nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tg := Target{Include: c.include, Exclude: c.exclude}
			var got []string
			for _, ev := range []string{"egress_started", "egress_updated", "egress_ended"} {
				if tg.wants(ev) {
					got = append(got, ev)
				}
			}
			if strings.Join(got, ",") != c.want {
				t.Errorf("takes %v, want %s", got, c.want)
			}
		})
	}
}
