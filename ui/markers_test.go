package ui

import (
	"context"
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"roomcast/engine"
)

// TestMarkersInTheWindow: Mark (and its hotkey) marks the running
// recording; each marker is listed with an entry for its label, typed
// after without stopping anything; the history notes them. Mark is off
// while nothing records, and says why on an engine without markers.
func TestMarkersInTheWindow(t *testing.T) {
	eng := newFakeStudio()
	h := newHarness(t, eng.connector(demoRooms...))
	if !h.s.markers.mark.Disabled() {
		t.Error("Mark is on with nothing recording")
	}
	test.Tap(h.s.controls.record)
	h.settle("recording", func() bool { return h.s.rec.phase == active && !h.s.markers.mark.Disabled() })
	test.Tap(h.s.markers.mark)
	h.settle("marker 1 listed", func() bool { return len(h.s.markers.rows.Objects) == 1 })
	h.press("Ctrl+M")
	h.settle("marker 2 listed", func() bool { return len(h.s.markers.rows.Objects) == 2 })
	// Times are to the second: a loaded machine may take one to mark.
	if findTextPrefix(h.s.markers.rows, "Marker 2 · 00:00:0") == nil {
		t.Error("marker 2 is not listed with its time")
	}

	entry := findEntry(h.s.markers.rows.Objects[0])
	test.Type(entry, "Intro")
	entry.OnSubmitted(entry.Text)
	h.settle("labelled", func() bool {
		eng.mu.Lock()
		defer eng.mu.Unlock()
		return slices.Equal(eng.marks, []string{"Intro", ""})
	})
	h.drain()
	if h.s.rec.phase != active {
		t.Error("labelling stopped the recording")
	}
	notes := strings.Join(h.s.history.notes[h.s.rec.id], "; ")
	for _, want := range []string{"Marker 1 at 00:00:0", "Marker 2 at 00:00:0", "Marker 1: Intro"} {
		if !strings.Contains(notes, want) {
			t.Errorf("history notes %q lack %q", notes, want)
		}
	}
	for range markersShown + 1 {
		h.press("Ctrl+M")
	}
	h.settle("the newest listed", func() bool { return findTextPrefix(h.s.markers.rows, "Marker 6 · 00:00:0") != nil })
	if n := len(h.s.markers.rows.Objects); n != markersShown {
		t.Errorf("%d markers listed, want the newest %d", n, markersShown)
	}
}

func TestMarkNeedsThisMachinesEngine(t *testing.T) {
	eng := newFakeStudio()
	remote := func(ctx context.Context, c engine.Connection) (*engine.Session, error) {
		s, err := eng.connector(demoRooms...)(ctx, c)
		if err != nil {
			return nil, err
		}
		s.Studio = struct{ engine.Studio }{s.Studio} // no Marker
		return s, nil
	}
	h := newHarness(t, remote)
	test.Tap(h.s.controls.record)
	h.settle("recording", func() bool { return h.s.rec.phase == active })
	if !h.s.markers.mark.Disabled() || !strings.Contains(h.s.markers.why.Text, "this machine's engine") {
		t.Errorf("Mark on a remote engine: disabled %v, %q", h.s.markers.mark.Disabled(), h.s.markers.why.Text)
	}
}

// findEntry is the first entry under o.
func findEntry(o fyne.CanvasObject) *widget.Entry {
	var found *widget.Entry
	walk(o, func(x fyne.CanvasObject) {
		if e, ok := x.(*widget.Entry); ok && found == nil {
			found = e
		}
	})
	return found
}
