package ui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"roomcast/engine"
)

// TestPauseInTheWindow: Pause (and its hotkey) pauses the running
// recording and Resume resumes it; while paused the REC timer stands still
// and its dot blinks; the history notes both at their recorded times; a
// marker's time is its recorded time; Pause is off while nothing records.
func TestPauseInTheWindow(t *testing.T) {
	eng := newFakeStudio()
	h := newHarness(t, eng.connector(demoRooms...))
	if !h.s.controls.pause.Disabled() {
		t.Error("Pause is on with nothing recording")
	}
	test.Tap(h.s.controls.record)
	h.settle("recording", func() bool { return h.s.rec.phase == active && !h.s.controls.pause.Disabled() })
	id := h.s.rec.id
	test.Tap(h.s.controls.pause)
	h.settle("paused", func() bool { return !h.s.rec.paused.IsZero() && h.s.controls.pause.Text == "Resume" })

	// Pretend the recording ran 70 s, then paused 50 s ago: the timer
	// shows the 20 s recorded, and stands still; the dot blinks.
	h.do(func() {
		now := time.Now()
		h.s.rec.since, h.s.rec.paused = now.Add(-70*time.Second), now.Add(-50*time.Second)
	})
	h.drain()
	var clocks []string
	dots := map[string]bool{}
	for i := range 4 {
		h.do(func() {
			h.s.controls.tick(h.s.rec, h.s.live, time.Now().Add(time.Duration(i)*time.Second))
			clocks = append(clocks, h.s.controls.rec.clock.Text)
			dots[fmt.Sprint(h.s.controls.rec.dot.FillColor)] = true
		})
	}
	h.drain()
	for _, c := range clocks {
		if c != "00:00:20" {
			t.Errorf("the paused REC timer read %v over 4 s, want 00:00:20 throughout", clocks)
			break
		}
	}
	if len(dots) != 2 {
		t.Errorf("the paused REC dot took %d colours over 4 s, want it blinking between 2", len(dots))
	}
	test.Tap(h.s.markers.mark)
	h.settle("marker listed", func() bool { return findText(h.s.markers.rows, "Marker 1 · 00:00:20") != nil })

	h.press("Ctrl+P")
	h.settle("resumed", func() bool { return h.s.rec.paused.IsZero() && h.s.controls.pause.Text == "Pause" })
	if got := h.s.rec.recorded(time.Now()); got < 20*time.Second || got > 22*time.Second {
		t.Errorf("resumed, the recording counts %v recorded, want the 20 s before the pause", got)
	}
	notes := strings.Join(h.s.history.notes[id], "; ")
	for _, want := range []string{"Paused at 00:00:", "Resumed at 00:00:20 after 00:00:50 paused"} {
		if !strings.Contains(notes, want) {
			t.Errorf("history notes %q lack %q", notes, want)
		}
	}
	eng.mu.Lock()
	calls := slices.Clone(eng.pauses)
	eng.mu.Unlock()
	if want := []string{"pause " + id, "resume " + id}; !slices.Equal(calls, want) {
		t.Errorf("the engine was asked %v, want %v", calls, want)
	}

	test.Tap(h.s.controls.pause)
	h.settle("paused again", func() bool { return !h.s.rec.paused.IsZero() })
	test.Tap(h.s.controls.record) // stop while paused
	h.settle("stopped", func() bool { return h.s.rec.phase == idle })
	if !h.s.controls.pause.Disabled() || h.s.controls.pause.Text != "Pause" {
		t.Errorf("after the stop, Pause reads %q, disabled %v; want Pause, off", h.s.controls.pause.Text, h.s.controls.pause.Disabled())
	}
}

func TestPauseNeedsThisMachinesEngine(t *testing.T) {
	eng := newFakeStudio()
	remote := func(ctx context.Context, c engine.Connection) (*engine.Session, error) {
		s, err := eng.connector(demoRooms...)(ctx, c)
		if err != nil {
			return nil, err
		}
		s.Studio = struct{ engine.Studio }{s.Studio} // no Pauser
		return s, nil
	}
	h := newHarness(t, remote)
	test.Tap(h.s.controls.record)
	h.settle("recording", func() bool { return h.s.rec.phase == active })
	if !h.s.controls.pause.Disabled() || !strings.Contains(h.s.controls.pauseWhy.Text, "this machine's engine") {
		t.Errorf("Pause on a remote engine: disabled %v, %q", h.s.controls.pause.Disabled(), h.s.controls.pauseWhy.Text)
	}
	h.press("Ctrl+P")
	h.drain()
	eng.mu.Lock()
	defer eng.mu.Unlock()
	if len(eng.pauses) > 0 {
		t.Errorf("the hotkey paused through a remote engine: %v", eng.pauses)
	}
}
