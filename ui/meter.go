package ui

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"

	"roomcast/engine"
)

// The program meter: the composite's sound as it is recorded, beside the
// preview. A bar for the RMS, a line for the peak, on a scale of meterFloor
// to 0 dBFS; a clip light that stays on clipHold after a clip; "No audio"
// once the sound has been silent for silentAfter while someone's microphone
// is on.
const (
	meterFloor  = -60.0 // dBFS at the bottom of the scale
	meterRate   = 10    // readings a second, the preview's frame rate
	clipHold    = 2 * time.Second
	silentAfter = 5 * time.Second
	meterWidth  = 14
)

// meterState is what the meter shows for one reading.
type meterState struct {
	on         bool    // a composite is metered
	rms, peak  float32 // 0 (meterFloor or less) to 1 (0 dBFS)
	clip, mute bool    // the clip light; "No audio"
	text       string  // under the bar
}

// meterShows turns a reading into what the meter shows at now: "No
// audio" only while someone's microphone is on (mics), as a room where all
// are muted is meant to be silent.
func meterShows(l engine.AudioLevel, ok, mics bool, now time.Time) meterState {
	if !ok || l.At.IsZero() {
		return meterState{text: "–"}
	}
	s := meterState{on: true, rms: meterScale(l.RMS), peak: meterScale(l.Peak)}
	s.clip = !l.ClippedAt.IsZero() && now.Sub(l.ClippedAt) < clipHold
	s.mute = mics && !l.SilentSince.IsZero() && now.Sub(l.SilentSince) >= silentAfter
	switch {
	case s.mute:
		s.text = "No audio"
	case l.RMS <= meterFloor:
		s.text = "-∞ dB"
	default:
		s.text = fmt.Sprintf("%.0f dB", l.RMS)
	}
	return s
}

// meterScale puts dBFS on the meter's 0..1 scale.
func meterScale(db float64) float32 {
	if math.IsNaN(db) || db <= meterFloor {
		return 0
	}
	return float32(min(1, 1-db/meterFloor))
}

// meterColour is the bar's colour at a level: green, amber from -18 dBFS
// (a voice's loud end), red from -6.
func meterColour(level float32) color.Color {
	switch {
	case level >= meterScale(-6):
		return colorRec
	case level >= meterScale(-18):
		return colorWarn
	}
	return colorOK
}

// programMeter draws meterState beside the preview.
type programMeter struct {
	track, bar, peak, clip *canvas.Rectangle
	label                  *canvas.Text
	box                    *fyne.Container
	shown                  meterState
}

func newProgramMeter() *programMeter {
	m := &programMeter{
		track: canvas.NewRectangle(colorInput),
		bar:   canvas.NewRectangle(colorOK),
		peak:  canvas.NewRectangle(colorMuted),
		clip:  canvas.NewRectangle(colorIdle),
		label: canvas.NewText("–", colorMuted),
	}
	m.label.TextSize = 10
	m.label.Alignment = fyne.TextAlignCenter
	m.box = container.New(&meterLayout{m: m}, m.track, m.bar, m.peak, m.clip, m.label)
	m.shown = meterState{text: "–"}
	m.draw()
	return m
}

// show draws s (UI goroutine).
func (m *programMeter) show(s meterState) {
	if s == m.shown {
		return
	}
	m.shown = s
	m.draw()
}

func (m *programMeter) draw() {
	s := m.shown
	m.bar.FillColor = meterColour(s.rms)
	m.peak.FillColor = meterColour(s.peak)
	m.bar.Hidden, m.peak.Hidden = !s.on || s.rms == 0, !s.on || s.peak == 0
	m.clip.FillColor = colorIdle
	if s.clip {
		m.clip.FillColor = colorRec
	}
	m.label.Text = s.text
	m.label.Color = colorMuted
	if s.mute {
		m.label.Color = colorWarn
	}
	m.box.Refresh()
}

// paintClock is the window's one clock for what moves: each new preview
// frame reads the meters and shows them with the frame, in one call on
// the UI goroutine, so that the window (repainted whole by Fyne's GL
// driver on any change, about 14 ms of CPU in software GL at 1280x800)
// paints once for both; meters on a clock of their own beside a 10 fps
// preview painted 25 times a second. Without frames (no preview, or a
// stalled one) a ticker reads the meters meterRate times a second
// instead. What moves once a second (everySecond: timers, status bar)
// rides on the first of these calls after each second: on two tickers of
// their own they made it 11.6-11.7 paints a second, against 10.4.
func (s *studio) paintClock() {
	period := time.Second / meterRate
	t := time.NewTicker(period)
	defer t.Stop()
	var lastFrame time.Time
	second := secondly{next: time.Now().Add(time.Second)}
	paint := func(now time.Time) {
		var also func()
		if second.due(now) {
			also = s.everySecond(now)
		}
		s.readMeters(now, also)
	}
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.preview.fresh:
			lastFrame = time.Now()
			paint(lastFrame)
		case now := <-t.C:
			// Frames come every period: a tick finds one painted
			// within it, give or take their jitter, while they flow.
			if now.Sub(lastFrame) > period*3/2 {
				paint(now)
			}
		}
	}
}

// secondly says, at each of the paint clock's calls, whether the
// once-a-second work is due.
type secondly struct{ next time.Time }

func (c *secondly) due(now time.Time) bool {
	if now.Before(c.next) {
		return false
	}
	c.next = c.next.Add(time.Second)
	if c.next.Before(now) { // held up for seconds: once, not a catch-up burst
		c.next = now.Add(time.Second)
	}
	return true
}

// readMeters reads the meters of the composite the preview shows (its
// sound, and each person's) and shows them with its latest frame, and
// what also moves now (nil for nothing), in one call on the UI goroutine.
func (s *studio) readMeters(now time.Time, also func()) {
	var level engine.AudioLevel
	var people []engine.PersonLevel
	ok := false
	if studio, req := s.preview.metered(); studio != nil {
		if level, ok = studio.AudioLevel(req); ok {
			// A page that cannot say is shown as nobody: the program
			// meter still reads the sound.
			people, _ = studio.PeopleLevels(s.ctx, req)
		}
	}
	shown := meterShows(level, ok, micsOn(people), now)
	s.do(func() {
		if also != nil {
			also()
		}
		s.meter.show(shown)
		s.people.show(people)
		s.preview.paint()
	})
}

// micsOn says whether anyone's microphone is on; true when the page does
// not say (a template without meters).
func micsOn(people []engine.PersonLevel) bool {
	if people == nil {
		return true
	}
	return slices.ContainsFunc(people, func(p engine.PersonLevel) bool { return p.MicOn })
}

// meterLayout stacks the clip light, the bar on its track and the label
// in a column meterWidth wide; the bar grows from the bottom of the
// track.
type meterLayout struct{ m *programMeter }

func (l *meterLayout) Layout(_ []fyne.CanvasObject, size fyne.Size) {
	m := l.m
	labelH := m.label.MinSize().Height
	const clipH, gap = 8, 3
	x := (size.Width - meterWidth) / 2
	m.clip.Move(fyne.NewPos(x, 0))
	m.clip.Resize(fyne.NewSize(meterWidth, clipH))
	trackTop := float32(clipH + gap)
	trackH := max(0, size.Height-trackTop-labelH-gap)
	m.track.Move(fyne.NewPos(x, trackTop))
	m.track.Resize(fyne.NewSize(meterWidth, trackH))
	barH := trackH * m.shown.rms
	m.bar.Move(fyne.NewPos(x, trackTop+trackH-barH))
	m.bar.Resize(fyne.NewSize(meterWidth, barH))
	m.peak.Move(fyne.NewPos(x, trackTop+trackH*(1-m.shown.peak)))
	m.peak.Resize(fyne.NewSize(meterWidth, 2))
	m.label.Move(fyne.NewPos(0, size.Height-labelH))
	m.label.Resize(fyne.NewSize(size.Width, labelH))
}

// MinSize is wide enough for the widest label, "No audio", so that the
// column keeps its width whatever it says.
func (l *meterLayout) MinSize([]fyne.CanvasObject) fyne.Size {
	w := fyne.MeasureText("No audio", l.m.label.TextSize, l.m.label.TextStyle).Width
	return fyne.NewSize(max(meterWidth, w), 60)
}
