package ui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"roomcast/engine"
)

// TestRecordingLeft: the disk warning comes when the recording's rate
// would fill what is free within 10 minutes, not before.
func TestRecordingLeft(t *testing.T) {
	const mbps3 = 3_000_000 / 8 // bytes a second at 3 Mb/s
	cases := []struct {
		name        string
		free        int64
		bytesPerSec float64
		left        time.Duration
		warn        bool
	}{
		{"not recording", 1 << 30, 0, 0, false},
		{"an hour left", 3600 * mbps3, mbps3, time.Hour, false},
		{"ten minutes left", 600 * mbps3, mbps3, 10 * time.Minute, false},
		{"nine minutes left", 540 * mbps3, mbps3, 9 * time.Minute, true},
		{"full", 0, mbps3, 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			left, warn := recordingLeft(c.free, c.bytesPerSec)
			if left != c.left || warn != c.warn {
				t.Errorf("recordingLeft(%d, %.0f) = %v, %v; want %v, %v", c.free, c.bytesPerSec, left, warn, c.left, c.warn)
			}
		})
	}
}

// TestDiskFillingWarnedOnce: a recording whose file grows fast enough to
// fill what is free within 10 minutes is warned of once (for the history),
// while the status bar says it on every sample; a new recording is
// warned of again. The free space is given (a real disk has too much to
// fill in a test); the file and its growth are real.
func TestDiskFillingWarnedOnce(t *testing.T) {
	dir := t.TempDir()
	free := int64(1 << 40)
	s := sampler{freeSpace: func(string) (int64, error) { return free, nil }}
	at := time.Date(2026, 12, 4, 21, 30, 0, 0, time.UTC)
	record := func(file string, bytes int) figures {
		t.Helper()
		f, err := os.OpenFile(file, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.Write(make([]byte, bytes)); err != nil {
			t.Fatal(err)
		}
		at = at.Add(time.Second)
		return s.sample(at, dir, file, nil, 0)
	}
	first, second := filepath.Join(dir, "first.mp4"), filepath.Join(dir, "second.mp4")
	steps := []struct {
		name       string
		file       string
		free       int64
		warn, want string // the warning (a part of it), the status bar's disk text
	}{
		{"the first sample has no rate yet", first, 1 << 40, "", "free"},
		{"plenty of room", first, 1 << 40, "", "free"},
		{"ten minutes at 100 kB/s is 60 MB", first, 50_000_000, "disk full in about 9 min at this rate", "disk full in about 9 min"},
		{"said once", first, 40_000_000, "", "disk full in about 7 min"},
		{"a new recording", second, 40_000_000, "", "free"},
		{"is warned of again", second, 40_000_000, "disk full in about 7 min", "disk full in about 7 min"},
	}
	for _, st := range steps {
		free = st.free
		f := record(st.file, 100_000)
		if (st.warn == "") != (f.diskFilling == "") || !strings.Contains(f.diskFilling, st.warn) {
			t.Errorf("%s: warning %q, want %q", st.name, f.diskFilling, st.warn)
		}
		if !strings.Contains(f.disk, st.want) {
			t.Errorf("%s: status bar %q, want %q in it", st.name, f.disk, st.want)
		}
	}
}

// fakeStats stands in for the engine's composite figures: what a test of
// the sampler needs is the list the page reported, not a browser.
type fakeStats []engine.CompositeStats

func (f fakeStats) Stats() []engine.CompositeStats { return f }

// TestUnsyncedWarned: people the composite cannot lip-sync are named in
// the status bar on every sample, with the server setting that fixes it,
// and go to the history each time the list changes to a new one.
func TestUnsyncedWarned(t *testing.T) {
	s := sampler{freeSpace: func(string) (int64, error) { return 1 << 40, nil }}
	at := time.Date(2026, 12, 4, 23, 0, 0, 0, time.UTC)
	steps := []struct {
		name      string
		composite [][]string // each composite's unsynced people
		bar       string     // a part of the status bar's text, "" for none
		history   bool
	}{
		{"all in sync", [][]string{nil}, "", false},
		{"one person", [][]string{{"bob"}}, "No lip sync for bob: ", true},
		{"said once", [][]string{{"bob"}}, "No lip sync for bob: ", false},
		{"two composites, sorted, once each", [][]string{{"carol", "bob"}, {"bob"}}, "No lip sync for bob, carol: ", true},
		{"fixed", [][]string{nil, nil}, "", false},
		{"back again", [][]string{{"bob"}}, "No lip sync for bob: ", true},
	}
	for _, st := range steps {
		var stats fakeStats
		for _, u := range st.composite {
			stats = append(stats, engine.CompositeStats{Unsynced: u})
		}
		at = at.Add(time.Second)
		f := s.sample(at, t.TempDir(), "", stats, 0)
		if (st.bar == "") != (f.unsynced == "") || !strings.Contains(f.unsynced, st.bar) {
			t.Errorf("%s: status bar %q, want %q in it", st.name, f.unsynced, st.bar)
		}
		if f.unsynced != "" && !strings.Contains(f.unsynced, "room.sync_streams: true") {
			t.Errorf("%s: %q does not say the fix", st.name, f.unsynced)
		}
		if (f.unsyncedNew != "") != st.history {
			t.Errorf("%s: history note %q, want one: %v", st.name, f.unsyncedNew, st.history)
		}
	}
}

// TestEncoderOverloadWarned: frames an encoder lets go count as dropped
// beside those never grabbed; the status bar says the encoder is
// overloaded at each sample where it let more go, and the history hears
// of it at the first drop, and again only after overloadQuiet without.
func TestEncoderOverloadWarned(t *testing.T) {
	s := sampler{freeSpace: func(string) (int64, error) { return 1 << 40, nil }}
	at := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
	steps := []struct {
		name             string
		after            time.Duration // since the last sample
		grabbed, dropped uint64        // at 10 s of 30 fps: 300 expected
		bar              string
		overloaded       bool
		history          bool
	}{
		{"every frame kept", time.Second, 300, 0, "Dropped 0 (0.0%)", false, false},
		{"grabs missed", time.Second, 294, 0, "Dropped 6 (2.0%)", false, false},
		{"the encoder lets frames go", time.Second, 300, 12, "Dropped 12 (4.0%): encoder overloaded", true, true},
		{"and more, warned once", time.Second, 300, 15, "Dropped 15 (5.0%): encoder overloaded", true, false},
		{"caught up", time.Second, 300, 15, "Dropped 15 (5.0%)", false, false},
		{"again within the quiet time", 10 * time.Second, 300, 16, "Dropped 16 (5.3%): encoder overloaded", true, false},
		{"again after it", overloadQuiet, 300, 20, "Dropped 20 (6.7%): encoder overloaded", true, true},
	}
	for _, st := range steps {
		at = at.Add(st.after)
		stats := fakeStats{{GrabbedFrames: st.grabbed, EncoderDroppedFrames: st.dropped, FPS: 30, Running: 10 * time.Second}}
		f := s.sample(at, t.TempDir(), "", stats, 0)
		if f.dropped != st.bar || f.overloaded != st.overloaded {
			t.Errorf("%s: status bar %q (overloaded %v), want %q (%v)", st.name, f.dropped, f.overloaded, st.bar, st.overloaded)
		}
		if (f.overloadNew != "") != st.history || (st.history && !strings.Contains(f.overloadNew, "lower resolution or frame rate")) {
			t.Errorf("%s: history note %q, want one saying the fix: %v", st.name, f.overloadNew, st.history)
		}
	}
}
