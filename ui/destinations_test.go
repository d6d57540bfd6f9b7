package ui

import (
	"fmt"
	"image/color"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"github.com/livekit/protocol/livekit"

	"roomcast/engine/request"
)

const (
	twitch  = "rtmp://live.example.com/app/live_1234_secretkey"
	youtube = "rtmps://a.rtmp.example.com:443/live2/abcd-efgh-ijkl"
	backup  = "rtmp://backup.example.com/live/zzzz-yyyy-xxxx"
)

// TestDestinations adds and removes destinations before going live and
// while live (through UpdateStream: the stream and the recording go on),
// with the stream keys masked unless revealed.
func TestDestinations(t *testing.T) {
	eng := newFakeStudio()
	h := newHarness(t, eng.connector(demoRooms...))
	add := func(u string) {
		t.Helper()
		test.Type(h.s.dests.entry, u)
		test.Tap(h.s.dests.add)
		h.drain()
		if msg := h.s.dests.field.errorText(); msg != "" {
			t.Fatalf("adding %s: %s", request.RedactURL(u), msg)
		}
	}
	// keyShown reports whether the stream key is anywhere in the window.
	keyShown := func() bool {
		found := false
		walk(h.w.Canvas().Content(), func(o fyne.CanvasObject) {
			if t, ok := o.(*canvas.Text); ok && strings.Contains(t.Text, "secretkey") {
				found = true
			}
		})
		return found
	}

	add(twitch)
	add(youtube)
	if got := h.s.dests.list(); len(got) != 2 || got[0] != twitch || got[1] != youtube {
		t.Fatalf("destinations %v", got)
	}
	if got := h.s.dests.byURL[twitch].url.Text; got != request.RedactURL(twitch) || keyShown() {
		t.Errorf("destination shown as %q before the keys are revealed", got)
	}
	if h.s.dests.entry.Text != "" {
		t.Error("the entry keeps the added URL")
	}

	t.Run("duplicate", func(t *testing.T) {
		test.Type(h.s.dests.entry, strings.Replace(twitch, "example.com/", "example.com:1935/", 1))
		if got := h.s.dests.field.errorText(); got != "This destination is in the list already." {
			t.Errorf("message %q", got)
		}
		h.s.dests.entry.SetText("")
	})

	t.Run("reveal", func(t *testing.T) {
		test.Tap(h.s.dests.reveal)
		h.relayout()
		if h.s.dests.byURL[twitch].url.Text != twitch {
			t.Error("Show keys does not show the key")
		}
		test.Tap(h.s.dests.reveal)
		if keyShown() {
			t.Error("Hide keys leaves the key shown")
		}
	})

	t.Run("remove", func(t *testing.T) {
		test.Tap(h.s.dests.byURL[youtube].remove)
		if got := h.s.dests.list(); len(got) != 1 || got[0] != twitch {
			t.Errorf("destinations %v", got)
		}
	})

	t.Run("while live", func(t *testing.T) {
		test.Tap(h.s.controls.record)
		test.Tap(h.s.controls.stream)
		h.settle("recording and streaming", func() bool { return h.s.rec.phase == active && h.s.live.phase == active })
		started, _, _ := eng.snapshot()
		i := slices.IndexFunc(started, func(r *livekit.RoomCompositeEgressRequest) bool { return len(r.StreamOutputs) > 0 })
		if urls := started[i].StreamOutputs[0].Urls; len(urls) != 1 || urls[0] != twitch {
			t.Fatalf("stream started with %v", urls)
		}
		if c, _ := h.lightOf(twitch); c != colorOK {
			t.Errorf("light of a live destination %v", c)
		}

		add(backup)
		h.settle("added live", func() bool {
			_, text := h.lightOf(backup)
			return text == "live"
		})
		test.Tap(h.s.dests.byURL[twitch].remove)
		h.settle("removed live", func() bool { return len(h.s.dests.list()) == 1 })

		_, stopped, updates := eng.snapshot()
		if len(updates) != 2 ||
			len(updates[0].AddOutputUrls) != 1 || updates[0].AddOutputUrls[0] != backup ||
			len(updates[1].RemoveOutputUrls) != 1 || updates[1].RemoveOutputUrls[0] != twitch {
			t.Errorf("UpdateStream calls %v", updates)
		}
		for _, u := range updates {
			if u.EgressId != h.s.live.id {
				t.Errorf("UpdateStream for %s, want the stream %s", u.EgressId, h.s.live.id)
			}
		}
		if len(stopped) != 0 || h.s.rec.phase != active || h.s.live.phase != active {
			t.Error("editing destinations stopped the recording or the stream")
		}
	})
}

// lightOf is the light and state text of u's row.
func (h *harness) lightOf(u string) (color.Color, string) {
	row := h.s.dests.byURL[u]
	if row == nil {
		h.t.Fatalf("no row for %s", request.RedactURL(u))
	}
	return row.light.FillColor, row.state.Text
}

func TestStreamState(t *testing.T) {
	lost := "connection lost, retrying in 2s: connection refused"
	for _, c := range []struct {
		name string
		info *livekit.StreamInfo
		out  time.Duration
		want string
	}{
		{"no result yet", nil, 0, "connecting"},
		{"live", &livekit.StreamInfo{StartedAt: 1}, 0, "live"},
		{"reconnecting", &livekit.StreamInfo{StartedAt: 1, Retries: 2, Error: lost}, 12 * time.Second, "reconnecting · gives up in 18 s · " + lost},
		{"failed", &livekit.StreamInfo{Status: livekit.StreamInfo_FAILED, Error: "gave up after 30s of retries"}, 0, "failed: gave up after 30s of retries"},
		{"ended", &livekit.StreamInfo{Status: livekit.StreamInfo_FINISHED}, 0, "ended"},
	} {
		if _, got := streamState(c.info, c.out); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// TestDestinationSwitch: a destination switched off stays in the list (and
// the profile) but is not streamed to; switched off while live, the engine
// stops sending to it and the others go on; switched on again, it is added
// back and its newest result shows.
func TestDestinationSwitch(t *testing.T) {
	eng := newFakeStudio()
	h := newHarness(t, eng.connector(demoRooms...))
	h.s.dests.setList([]string{twitch, youtube}, nil)
	tap := func(u string) {
		t.Helper()
		test.Tap(h.s.dests.byURL[u].on)
		h.drain()
	}
	state := func(u string) string { return h.s.dests.byURL[u].state.Text }

	tap(youtube)
	if state(youtube) != "off" || !slices.Equal(h.s.snapshot().DestinationsOff, []string{youtube}) {
		t.Fatalf("switched off: state %q, profile's off list %v", state(youtube), h.s.snapshot().DestinationsOff)
	}
	test.Tap(h.s.controls.stream)
	h.settle("live", func() bool { return h.s.live.phase == active })
	eng.mu.Lock()
	urls := eng.started[len(eng.started)-1].StreamOutputs[0].Urls
	eng.mu.Unlock()
	if !slices.Equal(urls, []string{twitch}) {
		t.Errorf("Start Streaming sent to %v, want only the destination that is on", urls)
	}

	// Live: off, then on again, each through UpdateStream.
	tap(twitch)
	h.settle("twitch off", func() bool { return state(twitch) == "off" })
	tap(youtube)
	h.settle("youtube on", func() bool { return state(youtube) == "connecting" || state(youtube) == "live" })
	tap(twitch)
	h.settle("twitch on again", func() bool { return state(twitch) != "off" && !strings.HasPrefix(state(twitch), "switching") })
	if got := state(twitch); got == "ended" {
		t.Errorf("twitch switched on again shows %q: its old, ended result", got)
	}
	eng.mu.Lock()
	var calls []string
	for _, u := range eng.updates {
		calls = append(calls, fmt.Sprintf("+%d-%d", len(u.AddOutputUrls), len(u.RemoveOutputUrls)))
	}
	eng.mu.Unlock()
	if want := []string{"+0-1", "+1-0", "+1-0"}; !slices.Equal(calls, want) {
		t.Errorf("UpdateStream calls %v, want %v (twitch off, youtube on, twitch on)", calls, want)
	}
	if h.s.live.phase != active {
		t.Error("the stream did not go on")
	}

	test.Tap(h.s.controls.stream)
	h.settle("stopped", func() bool { return h.s.live.phase == idle })
	tap(twitch)
	tap(youtube)
	test.Tap(h.s.controls.stream)
	h.drain()
	if h.s.live.phase != idle || !strings.Contains(h.s.dests.field.errorText(), "switch one on") {
		t.Errorf("with every destination off: phase %v, message %q", h.s.live.phase, h.s.dests.field.errorText())
	}

	// A profile keeps the switches.
	p := h.s.snapshot()
	p.DestinationsOff = []string{twitch}
	h.s.apply(p)
	if h.s.dests.byURL[twitch].on.Checked || !h.s.dests.byURL[youtube].on.Checked {
		t.Error("a profile's switches are not applied")
	}
}

// TestDestinationRates: a live destination shows the rate the engine
// measures it is sent.
func TestDestinationRates(t *testing.T) {
	eng := newFakeStudio()
	eng.rate = 3140
	h := newHarness(t, eng.connector(demoRooms...))
	h.s.dests.setList([]string{twitch}, nil)
	test.Tap(h.s.controls.stream)
	h.settle("live", func() bool { return h.s.live.phase == active })
	h.settleWithin("the rate shown", 5*time.Second, func() bool {
		row := h.s.dests.byURL[twitch]
		return row.state.Text == "live" && row.rate.Text == "3140 kb/s"
	})
}
