package ui

import (
	"fmt"
	"image/color"
	"os/exec"
	"path/filepath"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// phase is where a recording or a stream is in its life, as the buttons
// show it.
type phase int

const (
	idle     phase = iota
	starting       // asked the engine; not active yet
	active
	stopping
)

// egressRun is the window's recording or stream.
type egressRun struct {
	phase phase
	id    string
	since time.Time // when it became active
	file  string    // the recording's file, known before it ends
	// paused is when the recording's pause under way began (zero when it
	// records); pausedFor, how long its earlier pauses lasted.
	paused    time.Time
	pausedFor time.Duration
}

// recorded is how much the run has recorded by t: its time since it
// became active, its pauses cut out.
func (r egressRun) recorded(t time.Time) time.Duration {
	d := t.Sub(r.since) - r.pausedFor
	if !r.paused.IsZero() && t.After(r.paused) {
		d -= t.Sub(r.paused)
	}
	return max(d, 0)
}

// controlsPanel holds Start/Stop Recording and Streaming, the REC and
// LIVE lights with their timers, and what the last recording became.
type controlsPanel struct {
	onRecord, onStream, onPause func()

	record, stream *widget.Button
	pause          *widget.Button
	pauseWhy       *widget.Label // why Pause is off, when it is
	rec, live      *onAirLight
	message        *widget.Label
	saved          *widget.Label
	savedIn        *widget.Label
	openFolder     *widget.Button
	savedBox       *fyne.Container
	savedDir       string
}

func newControlsPanel(onRecord, onStream, onPause func()) *controlsPanel {
	return &controlsPanel{onRecord: onRecord, onStream: onStream, onPause: onPause}
}

func (c *controlsPanel) buildUI() fyne.CanvasObject {
	c.record = &widget.Button{Text: "Start Recording", Icon: theme.MediaRecordIcon(), Importance: widget.HighImportance, OnTapped: c.onRecord}
	c.stream = &widget.Button{Text: "Start Streaming", Icon: theme.MediaPlayIcon(), Importance: widget.HighImportance, OnTapped: c.onStream}
	c.pause = &widget.Button{Text: "Pause", Icon: theme.MediaPauseIcon(), OnTapped: c.onPause}
	c.pause.Disable()
	c.pauseWhy = &widget.Label{Importance: widget.LowImportance, SizeName: theme.SizeNameCaptionText, Truncation: fyne.TextTruncateEllipsis}
	c.rec = newOnAirLight("REC", colorRec)
	c.live = newOnAirLight("LIVE", colorLive)
	c.message = &widget.Label{Importance: widget.DangerImportance, Wrapping: fyne.TextWrapWord}
	c.message.Hide()
	c.saved = &widget.Label{Truncation: fyne.TextTruncateEllipsis, Importance: widget.SuccessImportance}
	c.savedIn = &widget.Label{Truncation: fyne.TextTruncateEllipsis, Importance: widget.LowImportance, SizeName: theme.SizeNameCaptionText}
	c.openFolder = widget.NewButtonWithIcon("Open Folder", theme.FolderOpenIcon(), c.onOpenFolder)
	c.savedBox = container.NewBorder(nil, nil, nil, container.NewCenter(c.openFolder),
		lines(c.saved, c.savedIn))
	c.savedBox.Hide()

	lights := container.NewHBox(c.rec.object(), layout.NewSpacer(), c.live.object())
	buttons := container.NewGridWithColumns(2, c.record, c.stream)
	pause := container.NewBorder(nil, nil, c.pause, nil, c.pauseWhy)
	return container.NewVBox(lights, buttons, pause, c.message, c.savedBox)
}

// setRecord shows the recording's phase on its button and light.
func (c *controlsPanel) setRecord(r egressRun, connected bool) {
	setButton(c.record, r.phase, connected, "Recording", theme.MediaRecordIcon())
	c.rec.set(r, time.Now())
}

// setPause shows whether the recording can pause (or resume) now, or
// why not ("" for no reason given).
func (c *controlsPanel) setPause(r egressRun, can bool, why string) {
	if r.paused.IsZero() {
		c.pause.SetText("Pause")
		c.pause.SetIcon(theme.MediaPauseIcon())
		c.pause.Importance = widget.MediumImportance
	} else {
		c.pause.SetText("Resume")
		c.pause.SetIcon(theme.MediaRecordIcon())
		c.pause.Importance = widget.WarningImportance
	}
	setEnabled(c.pause, can)
	c.pauseWhy.SetText(why)
	c.pause.Refresh()
}

// setStream shows the stream's phase on its button and light.
func (c *controlsPanel) setStream(r egressRun, connected bool) {
	setButton(c.stream, r.phase, connected, "Streaming", theme.MediaPlayIcon())
	c.live.set(r, time.Now())
}

// setButton shows a phase on a Start/Stop button; start is its idle icon.
func setButton(b *widget.Button, p phase, connected bool, what string, start fyne.Resource) {
	b.Icon = theme.MediaStopIcon()
	switch p {
	case idle:
		b.SetText("Start " + what)
		b.Icon = start
		b.Importance = widget.HighImportance
		setEnabled(b, connected)
	case starting:
		b.SetText("Starting…")
		b.Importance = widget.MediumImportance
		b.Disable()
	case active:
		b.SetText("Stop " + what)
		b.Importance = widget.DangerImportance
		b.Enable()
	case stopping:
		b.SetText("Stopping…")
		b.Importance = widget.MediumImportance
		b.Disable()
	}
	b.Refresh()
}

func setEnabled(w fyne.Disableable, on bool) {
	if on {
		w.Enable()
	} else {
		w.Disable()
	}
}

// tick moves the timers on.
func (c *controlsPanel) tick(rec, live egressRun, now time.Time) {
	c.rec.set(rec, now)
	c.live.set(live, now)
}

// showError says why a start or stop failed ("" clears it).
func (c *controlsPanel) showError(msg string) {
	c.message.SetText(msg)
	setShown(c.message, msg != "")
	relayout(c.message) // a new message may wrap to another height
}

// showSaved says where the recording went, with a button to its folder:
// the file on one line, its folder (which may be long) under it.
func (c *controlsPanel) showSaved(path string, size int64, d time.Duration) {
	c.savedDir = filepath.Dir(path)
	c.saved.SetText(fmt.Sprintf("Recording saved to %s (%s, %s)", filepath.Base(path), formatBytes(size), formatClock(d)))
	c.savedIn.SetText("in " + c.savedDir)
	setShown(c.savedBox, true)
}

func (c *controlsPanel) onOpenFolder() {
	cmd := exec.Command("xdg-open", c.savedDir)
	if err := cmd.Start(); err != nil {
		c.showError("Cannot open the folder: " + err.Error())
		return
	}
	go cmd.Wait() // reap it; xdg-open hands over to the file manager
}

// onAirLight is the REC or LIVE light with its timer.
type onAirLight struct {
	dot   *canvas.Circle
	label *canvas.Text
	clock *canvas.Text
	on    color.Color
}

func newOnAirLight(label string, on color.Color) *onAirLight {
	l := &onAirLight{
		dot:   canvas.NewCircle(colorIdle),
		label: &canvas.Text{Text: label, Color: colorMuted, TextStyle: fyne.TextStyle{Bold: true}, TextSize: theme.TextSize()},
		clock: &canvas.Text{Text: "00:00:00", Color: colorMuted, TextStyle: fyne.TextStyle{Monospace: true}, TextSize: theme.TextSize()},
		on:    on,
	}
	return l
}

func (l *onAirLight) object() fyne.CanvasObject {
	dot := container.NewCenter(container.NewGridWrap(fyne.NewSize(12, 12), l.dot))
	return container.NewHBox(dot, container.NewCenter(l.label), container.NewCenter(l.clock))
}

// set shows r at now: lit while active, its timer the time recorded;
// while paused the dot blinks (a second on, a second off) and the timer
// stands still.
func (l *onAirLight) set(r egressRun, now time.Time) {
	var dot, text color.Color = colorIdle, colorMuted
	clock := "00:00:00"
	switch r.phase {
	case starting, stopping:
		dot, text = colorWarn, colorMuted
	case active:
		dot, text = l.on, theme.Color(theme.ColorNameForeground)
		clock = formatClock(r.recorded(now))
		if !r.paused.IsZero() && now.Sub(r.paused)/time.Second%2 == 1 {
			dot = colorIdle
		}
	}
	l.dot.FillColor = dot
	l.label.Color, l.clock.Color = text, text
	if r.phase == active {
		l.label.Color = l.on
	}
	l.clock.Text = clock
	l.dot.Refresh()
	l.label.Refresh()
	l.clock.Refresh()
}

// formatClock shows a duration as hh:mm:ss.
func formatClock(d time.Duration) string {
	s := int(max(d, 0).Round(time.Second).Seconds())
	return fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
}

// formatBytes shows a size in B, KB, MB or GB (powers of 1000, as file
// managers on Linux show them).
func formatBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n), 0
	for f >= unit && i < 3 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f %cB", f, " KMG"[i])
}
