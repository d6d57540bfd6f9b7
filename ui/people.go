package ui

import (
	"slices"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"roomcast/engine"
)

// peopleWidth is the width of a person's meter in the room's list.
const peopleWidth = 90

// peoplePanel lists the people of the previewed room, each with a small
// meter of their sound as the composite's page plays it (and a muted
// microphone shown as such), in join order.
type peoplePanel struct {
	box  *fyne.Container
	note *widget.Label
	rows []*personRow
	ids  []string // the identities the rows show, in order
}

type personRow struct {
	name  *widget.Label
	muted *widget.Icon
	track *canvas.Rectangle
	bar   *canvas.Rectangle
	level float32 // 0..1 on the meter's scale
	meter *fyne.Container
	box   *fyne.Container
}

func newPeoplePanel() *peoplePanel {
	p := &peoplePanel{note: &widget.Label{Text: "Nobody to meter yet.", Importance: widget.LowImportance}}
	p.box = container.NewVBox(p.note)
	return p
}

func (p *peoplePanel) buildUI() fyne.CanvasObject { return p.box }

// show draws the people's levels (UI goroutine); nil: nobody is metered.
func (p *peoplePanel) show(people []engine.PersonLevel) {
	ids := make([]string, len(people))
	for i, l := range people {
		ids[i] = l.Identity
	}
	if !slices.Equal(ids, p.ids) {
		p.ids = ids
		p.rows = p.rows[:0]
		objs := []fyne.CanvasObject{p.note}
		for range people {
			r := newPersonRow()
			p.rows = append(p.rows, r)
			objs = append(objs, r.box)
		}
		p.box.Objects = objs
		setShown(p.note, len(people) == 0)
		relayout(p.box)
	}
	for i, l := range people {
		p.rows[i].show(l)
	}
}

func newPersonRow() *personRow {
	r := &personRow{
		name:  &widget.Label{Truncation: fyne.TextTruncateEllipsis},
		muted: widget.NewIcon(theme.VolumeMuteIcon()),
		track: canvas.NewRectangle(colorInput),
		bar:   canvas.NewRectangle(colorOK),
	}
	r.bar.Hide() // at level 0 until a reading moves it
	r.meter = container.New(&barLayout{r: r}, r.track, r.bar)
	r.box = container.NewBorder(nil, nil, nil, container.NewHBox(r.muted, r.meter), r.name)
	return r
}

// show draws l, touching only what changed: a level moves the bar alone,
// as refreshing the row would lay out its name's text again, ten times a
// second for each person.
func (r *personRow) show(l engine.PersonLevel) {
	if r.name.Text != l.Name {
		r.name.SetText(l.Name)
	}
	setShown(r.muted, !l.MicOn)
	level := meterScale(l.RMS)
	if !l.MicOn {
		level = 0
	}
	if level == r.level {
		return
	}
	r.level = level
	r.bar.FillColor = meterColour(level)
	r.bar.Hidden = level == 0
	r.meter.Refresh()
}

// barLayout draws a person's meter: a horizontal bar on its track, grown
// from the left to the level.
type barLayout struct{ r *personRow }

func (l *barLayout) Layout(_ []fyne.CanvasObject, size fyne.Size) {
	const h = 6
	y := (size.Height - h) / 2
	l.r.track.Move(fyne.NewPos(0, y))
	l.r.track.Resize(fyne.NewSize(size.Width, h))
	l.r.bar.Move(fyne.NewPos(0, y))
	l.r.bar.Resize(fyne.NewSize(size.Width*l.r.level, h))
}

func (l *barLayout) MinSize([]fyne.CanvasObject) fyne.Size { return fyne.NewSize(peopleWidth, 6) }
