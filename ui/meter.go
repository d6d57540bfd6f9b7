package ui

import (
	"context"
	"fmt"
	"image/color"
	"math"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"github.com/livekit/protocol/livekit"

	"roomcast/engine"
)

// The program meter: the composite's sound as it is recorded, beside the
// preview. A bar for the RMS, a line for the peak, on a scale of meterFloor
// to 0 dBFS; a clip light that stays on clipHold after a clip; "No audio"
// once the sound has been silent for silentAfter.
const (
	meterFloor  = -60.0 // dBFS at the bottom of the scale
	meterRate   = 15    // readings a second
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

// meterShows turns a reading into what the meter shows at now.
func meterShows(l engine.AudioLevel, ok bool, now time.Time) meterState {
	if !ok || l.At.IsZero() {
		return meterState{text: "–"}
	}
	s := meterState{on: true, rms: meterScale(l.RMS), peak: meterScale(l.Peak)}
	s.clip = !l.ClippedAt.IsZero() && now.Sub(l.ClippedAt) < clipHold
	s.mute = !l.SilentSince.IsZero() && now.Sub(l.SilentSince) >= silentAfter
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

// run reads the meter of the composite the preview shows, meterRate times
// a second, until ctx ends. source gives that composite's request, and
// the Studio to ask (nil when none is shown or it has no meter).
func (m *programMeter) run(ctx context.Context, source func() (engine.Meter, *livekit.RoomCompositeEgressRequest), do func(func())) {
	t := time.NewTicker(time.Second / meterRate)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			var level engine.AudioLevel
			ok := false
			if studio, req := source(); studio != nil {
				level, ok = studio.AudioLevel(req)
			}
			s := meterShows(level, ok, now)
			do(func() { m.show(s) })
		}
	}
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
