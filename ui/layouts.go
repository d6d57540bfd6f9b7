package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// sidebar is a scrolling column of a fixed width.
func sidebar(width float32, sections ...fyne.CanvasObject) fyne.CanvasObject {
	box := container.NewVBox(sections...)
	scroll := container.NewVScroll(container.NewPadded(box))
	return fixed(width, 0, scroll)
}

// section is a titled block of a sidebar.
func section(title string, content fyne.CanvasObject) fyne.CanvasObject {
	return container.NewVBox(heading(title), content, widget.NewSeparator())
}

// stageLayout puts the preview on top, with the program meter on its
// right, as large as its aspect allows while leaving the history
// minHistory, then the controls, then the history in what is left. Its
// objects: preview, controls, history, meter.
type stageLayout struct{ aspect *aspectLayout }

const minHistory = 120

func (l *stageLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	preview, controls, history, meter := objs[0], objs[1], objs[2], objs[3]
	pad := theme.Padding()
	// Wrapped text knows its height once it knows its width.
	controls.Resize(fyne.NewSize(size.Width, controls.MinSize().Height))
	ch := controls.MinSize().Height
	mw := meter.MinSize().Width
	pw := max(0, size.Width-mw-pad)
	ph := min(pw/l.aspect.ratio, size.Height-ch-minHistory-2*pad)
	ph = max(ph, preview.MinSize().Height)
	preview.Move(fyne.NewPos(0, 0))
	preview.Resize(fyne.NewSize(pw, ph))
	meter.Move(fyne.NewPos(size.Width-mw, 0))
	meter.Resize(fyne.NewSize(mw, ph))
	controls.Move(fyne.NewPos(0, ph+pad))
	controls.Resize(fyne.NewSize(size.Width, ch))
	y := ph + ch + 2*pad
	history.Move(fyne.NewPos(0, y))
	history.Resize(fyne.NewSize(size.Width, max(size.Height-y, 0)))
}

func (l *stageLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	w := max(objs[0].MinSize().Width+objs[3].MinSize().Width+theme.Padding(), objs[1].MinSize().Width)
	return fyne.NewSize(w, objs[0].MinSize().Height+objs[1].MinSize().Height+minHistory+2*theme.Padding())
}

// fixedLayout stacks its objects at a fixed minimum width or height (0:
// the objects' own).
type fixedLayout struct{ width, height float32 }

func (l *fixedLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Resize(size)
		o.Move(fyne.NewPos(0, 0))
	}
}

func (l *fixedLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var m fyne.Size
	for _, o := range objs {
		m = m.Max(o.MinSize())
	}
	if l.width > 0 {
		m.Width = l.width
	}
	if l.height > 0 {
		m.Height = l.height
	}
	return m
}

// fixed sizes o at width or height (0: its own).
func fixed(width, height float32, o fyne.CanvasObject) *fyne.Container {
	return container.New(&fixedLayout{width: width, height: height}, o)
}

// brand is the app's name beside the logo.
func brand() fyne.CanvasObject {
	return container.NewCenter(&widget.Label{Text: "Roomcast Studio", TextStyle: fyne.TextStyle{Bold: true}})
}

// lines stacks two or more labels as lines of one block: a label's own
// padding already spaces them, so the box adds none (it takes some back).
func lines(labels ...fyne.CanvasObject) *fyne.Container {
	return container.New(layout.NewCustomPaddedVBoxLayout(-2*theme.Padding()), labels...)
}

// relayout lays out again, top down, the window or dialog that shows o,
// after o was shown, hidden or resized. Fyne's canvas follows one changed
// size per frame up the tree (common.Canvas.EnsureMinSize keeps a single
// pending parent), so when two parts of the window change at once (a
// recording ends: a "saved" line and a history row) one of them is left
// overlapping its neighbour.
func relayout(o fyne.CanvasObject) {
	c := fyne.CurrentApp().Driver().CanvasForObject(o)
	if c == nil {
		return // not on screen yet: the first paint lays it out
	}
	if top := c.Overlays().Top(); top != nil {
		top.Refresh()
	}
	c.Content().Refresh()
}

// setShown shows or hides o, and lays its window out again.
func setShown(o fyne.CanvasObject, on bool) {
	if on == o.Visible() {
		return
	}
	if on {
		o.Show()
	} else {
		o.Hide()
	}
	relayout(o)
}
