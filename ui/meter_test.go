package ui

import (
	"math"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"roomcast/engine"
)

func TestMeterShows(t *testing.T) {
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	for _, c := range []struct {
		name  string
		level engine.AudioLevel
		ok    bool
		mics  bool // someone's microphone is on
		want  meterState
	}{
		{"no composite", engine.AudioLevel{}, false, true, meterState{text: "–"}},
		{"no reading yet", engine.AudioLevel{}, true, true, meterState{text: "–"}},
		{"a voice", engine.AudioLevel{RMS: -18, Peak: -6, At: ago(0)}, true, true,
			meterState{on: true, rms: 0.7, peak: 0.9, text: "-18 dB"}},
		{"clipped a second ago", engine.AudioLevel{RMS: -3, Peak: 0, At: now, ClippedAt: ago(time.Second)}, true, true,
			meterState{on: true, rms: 0.95, peak: 1, clip: true, text: "-3 dB"}},
		{"clipped over 2 s ago", engine.AudioLevel{RMS: -3, Peak: -1, At: now, ClippedAt: ago(2 * time.Second)}, true, true,
			meterState{on: true, rms: 0.95, peak: meterScale(-1), text: "-3 dB"}},
		{"silent for 2 s", engine.AudioLevel{RMS: math.Inf(-1), Peak: math.Inf(-1), At: now, SilentSince: ago(2 * time.Second)}, true, true,
			meterState{on: true, text: "-∞ dB"}},
		{"silent for 5 s", engine.AudioLevel{RMS: -70, Peak: -65, At: now, SilentSince: ago(5 * time.Second)}, true, true,
			meterState{on: true, mute: true, text: "No audio"}},
		{"silent for 5 s, every microphone off", engine.AudioLevel{RMS: -70, Peak: -65, At: now, SilentSince: ago(5 * time.Second)}, true, false,
			meterState{on: true, text: "-∞ dB"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := meterShows(c.level, c.ok, c.mics, now)
			const eps = 1e-6
			if got.on != c.want.on || got.clip != c.want.clip || got.mute != c.want.mute || got.text != c.want.text ||
				math.Abs(float64(got.rms-c.want.rms)) > eps || math.Abs(float64(got.peak-c.want.peak)) > eps {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestMicsOn(t *testing.T) {
	for _, c := range []struct {
		name   string
		people []engine.PersonLevel
		want   bool
	}{
		{"the page does not say", nil, true},
		{"nobody", []engine.PersonLevel{}, false},
		{"all muted", []engine.PersonLevel{{Identity: "a"}, {Identity: "b"}}, false},
		{"one on", []engine.PersonLevel{{Identity: "a"}, {Identity: "b", MicOn: true}}, true},
	} {
		if got := micsOn(c.people); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// TestProgramMeter: the window meters the composite it previews, beside
// the preview, and draws the reading: the bar to its level, the clip light
// on after a clip, "No audio" after 5 s of silence.
func TestProgramMeter(t *testing.T) {
	f := newFakeStudio()
	f.level = engine.AudioLevel{RMS: -12, Peak: -4, At: time.Now()}
	f.people = []engine.PersonLevel{
		{Identity: "alice", Name: "Alice", MicOn: true, RMS: -12, Peak: -6},
		{Identity: "bob", Name: "Bob", MicOn: false, RMS: -100, Peak: -100},
	}
	h := newHarness(t, f.connector(&livekit.Room{Name: "standup", NumParticipants: 2}))
	m := h.s.meter
	h.settle("the meter reads the tone", func() bool { return m.shown.text == "-12 dB" })
	f.mu.Lock()
	metered := f.metered[len(f.metered)-1]
	f.mu.Unlock()
	if room := h.s.rooms.room(); metered != room {
		t.Errorf("the meter read room %q, want the previewed %q", metered, room)
	}
	if got, want := m.bar.Size().Height, m.track.Size().Height*meterScale(-12); m.bar.Hidden || math.Abs(float64(got-want)) > 1 {
		t.Errorf("bar %.0f px high (hidden %v), want %.0f: 80 %% of the track", got, m.bar.Hidden, want)
	}
	if m.clip.FillColor != colorIdle {
		t.Error("the clip light is on without a clip")
	}
	preview, meter := h.s.stage.Objects[0], m.box
	if right := preview.Position().X + preview.Size().Width; meter.Position().X < right || meter.Size().Height != preview.Size().Height {
		t.Errorf("the meter at x=%.0f (%.0f high) is not beside the preview, which ends at x=%.0f (%.0f high)",
			meter.Position().X, meter.Size().Height, right, preview.Size().Height)
	}

	// Each person's meter, in the room's list.
	h.settle("the people's meters", func() bool { return len(h.s.people.rows) == 2 })
	alice, bob := h.s.people.rows[0], h.s.people.rows[1]
	if alice.name.Text != "Alice" || alice.muted.Visible() || alice.bar.Hidden || alice.level != meterScale(-12) {
		t.Errorf("alice's row: %q, muted %v, bar hidden %v at %.2f", alice.name.Text, alice.muted.Visible(), alice.bar.Hidden, alice.level)
	}
	if bob.name.Text != "Bob" || !bob.muted.Visible() || !bob.bar.Hidden {
		t.Errorf("bob's row: %q, muted %v, bar hidden %v; want the muted microphone and no bar", bob.name.Text, bob.muted.Visible(), bob.bar.Hidden)
	}

	f.mu.Lock()
	f.level.ClippedAt = time.Now()
	f.mu.Unlock()
	h.settle("the clip light", func() bool { return m.shown.clip })
	if m.clip.FillColor != colorRec {
		t.Error("the clip light is not red")
	}

	f.mu.Lock()
	f.level = engine.AudioLevel{RMS: -80, Peak: -75, At: time.Now(), SilentSince: time.Now().Add(-6 * time.Second)}
	f.mu.Unlock()
	h.settle("no audio", func() bool { return m.shown.text == "No audio" })
	if m.label.Color != colorWarn || !m.bar.Hidden {
		t.Errorf("silent: label colour %v, bar hidden %v; want amber, hidden", m.label.Color, m.bar.Hidden)
	}
}

// TestSecondly: the paint clock's calls (10 a second, or fewer when held
// up) run the once-a-second work at the first call of each second, and
// once, not in a burst, after a hold-up.
func TestSecondly(t *testing.T) {
	start := time.Date(2026, 12, 7, 14, 0, 0, 0, time.UTC)
	c := secondly{next: start.Add(time.Second)}
	for _, step := range []struct {
		at   time.Duration
		want bool
	}{
		{100 * time.Millisecond, false},
		{999 * time.Millisecond, false},
		{1000 * time.Millisecond, true},
		{1100 * time.Millisecond, false},
		{2050 * time.Millisecond, true},
		{2950 * time.Millisecond, false},
		{7500 * time.Millisecond, true}, // held up for four seconds
		{7600 * time.Millisecond, false},
		{8400 * time.Millisecond, false},
		{8500 * time.Millisecond, true},
	} {
		if got := c.due(start.Add(step.at)); got != step.want {
			t.Errorf("at %s: due %v, want %v", step.at, got, step.want)
		}
	}
}
