package ui

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"roomcast/engine/session"
)

// TestRecordEachPersonSeparately: "Also record each person separately"
// is kept in the profile; Start Recording then records the composite and
// every person in the room on their own, and whoever joins; the history
// shows them as one entry, the manifest lists their files beside the
// composite's, and Stop Recording stops them all.
func TestRecordEachPersonSeparately(t *testing.T) {
	eng := newFakeStudio()
	eng.persons = []string{"alice", "bob"}
	h := newHarness(t, eng.connector(demoRooms...))
	test.Tap(h.s.outputs.people)
	if p := h.s.snapshot(); !p.Record.People {
		t.Fatal("the profile does not keep the choice")
	}
	test.Tap(h.s.controls.record)
	h.settle("alice and bob recorded on their own", func() bool {
		eng.mu.Lock()
		defer eng.mu.Unlock()
		return len(eng.recorded) == 2
	})
	eng.mu.Lock()
	eng.persons = append(eng.persons, "dave")
	eng.mu.Unlock()
	h.settle("dave, who joined, recorded too", func() bool {
		eng.mu.Lock()
		defer eng.mu.Unlock()
		return slices.Contains(eng.recorded, "dave")
	})
	h.settle("one history entry, with the people", func() bool {
		return len(h.s.history.order) == 1 && len(h.s.history.people(h.s.rec.id)) == 3
	})
	lead := h.s.rec.id
	test.Tap(h.s.controls.record)
	h.settle("stopped", func() bool { return h.s.rec.phase == idle })
	h.settle("everyone's egress stopped", func() bool {
		eng.mu.Lock()
		defer eng.mu.Unlock()
		return len(eng.stopped) >= 4
	})
	h.settle("each shown complete in the entry", func() bool {
		return historyPeople(h.s.history.people(lead)) == "each on their own: alice ✓, bob ✓, dave ✓"
	})
	started, _, _ := eng.snapshot()
	file := started[0].FileOutputs[0].Filepath
	data, err := os.ReadFile(strings.TrimSuffix(file, filepath.Ext(file)) + "-session.json")
	if err != nil {
		t.Fatal(err)
	}
	var m session.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.People) != 3 || m.Composite.File != file {
		t.Fatalf("manifest %s, want the composite's %s and 3 people", data, file)
	}
	for _, p := range m.People {
		if filepath.Dir(p.File) != filepath.Dir(file) || !strings.Contains(filepath.Base(p.File), "-"+p.Identity+"-") || p.OffsetSeconds == nil {
			t.Errorf("%s: %+v, want a file beside the composite's, named for them, with an offset", p.Identity, p)
		}
	}
}
