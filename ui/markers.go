package ui

import (
	"context"
	"fmt"
	"slices"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"roomcast/engine"
)

// markersShown is how many of the recording's markers the panel lists:
// the newest, each with its label to type.
const markersShown = 3

// markersPanel is the Mark button and the newest markers of the running
// recording, each with an entry for its label (typed after the mark,
// nothing stopped: Enter saves it).
type markersPanel struct {
	mark  *widget.Button
	why   *widget.Label // why Mark is off, when it is
	rows  *fyne.Container
	index map[fyne.CanvasObject]int // each row's marker
}

func newMarkersPanel(onMark func()) *markersPanel {
	p := &markersPanel{
		mark:  &widget.Button{Text: "Mark", Icon: theme.ContentAddIcon(), OnTapped: onMark},
		why:   &widget.Label{Importance: widget.LowImportance, SizeName: theme.SizeNameCaptionText, Truncation: fyne.TextTruncateEllipsis},
		rows:  container.NewVBox(),
		index: map[fyne.CanvasObject]int{},
	}
	p.mark.Disable()
	return p
}

func (p *markersPanel) buildUI() fyne.CanvasObject {
	return container.NewVBox(container.NewBorder(nil, nil, p.mark, nil, p.why), p.rows)
}

// setEnabled turns Mark on, or off saying why ("" for no reason given).
func (p *markersPanel) setEnabled(on bool, why string) {
	setEnabled(p.mark, on)
	p.why.SetText(why)
}

// clear empties the list (a new recording).
func (p *markersPanel) clear() {
	p.rows.Objects = nil
	clear(p.index)
	relayout(p.rows)
}

// add lists marker m made at offset into the recording; onLabel gets the
// label typed for it.
func (p *markersPanel) add(m engine.Mark, offset time.Duration, onLabel func(string)) {
	e := &widget.Entry{PlaceHolder: "label (Enter to save)"}
	e.OnSubmitted = func(s string) { onLabel(s) }
	e.ExtendBaseWidget(e)
	title := &widget.Label{Text: fmt.Sprintf("Marker %d · %s", m.Index, formatClock(offset)), TextStyle: fyne.TextStyle{Monospace: true}}
	row := container.NewBorder(nil, nil, title, nil, e)
	p.index[row] = m.Index
	// Marks made in quick succession may come back out of order.
	rows := append(p.rows.Objects, row)
	slices.SortFunc(rows, func(a, b fyne.CanvasObject) int { return p.index[a] - p.index[b] })
	if n := len(rows); n > markersShown {
		for _, gone := range rows[:n-markersShown] {
			delete(p.index, gone)
		}
		rows = rows[n-markersShown:]
	}
	p.rows.Objects = rows
	relayout(p.rows)
}

// markable is the Studio's Marker, when it has one and a recording runs;
// else why Mark is off.
func (s *studio) markable() (engine.Marker, string) {
	return recordingStudio[engine.Marker](s, "Markers need this machine's engine.")
}

// recordingStudio is the connected Studio as a T (an interface of the
// embedded engine's) while a recording runs; else nothing, with lacking
// when the Studio is no T ("" when nothing records).
func recordingStudio[T any](s *studio, lacking string) (T, string) {
	var none T
	if s.back == nil || s.rec.phase != active {
		return none, ""
	}
	t, ok := s.back.Studio.(T)
	if !ok {
		return none, lacking
	}
	return t, ""
}

// onMark marks the running recording now; the marker is listed with an
// entry for its label, and noted in the recording's history.
func (s *studio) onMark() {
	marker, _ := s.markable()
	if marker == nil {
		return
	}
	id := s.rec.id
	s.spawn(func() {
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		defer cancel()
		m, err := marker.Mark(ctx, id, "")
		s.do(func() {
			if err != nil {
				s.controls.showError("No marker: " + err.Error())
				return
			}
			offset := s.rec.recorded(m.At)
			s.history.note(id, fmt.Sprintf("Marker %d at %s", m.Index, formatClock(offset)))
			s.markers.add(m, offset, func(label string) { s.onLabel(marker, id, m.Index, label) })
		})
	})
}

// onLabel saves a marker's label.
func (s *studio) onLabel(marker engine.Marker, id string, index int, label string) {
	s.spawn(func() {
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		defer cancel()
		err := marker.Relabel(ctx, id, index, label)
		s.do(func() {
			if err != nil {
				s.controls.showError(fmt.Sprintf("Marker %d not labelled: %v", index, err))
				return
			}
			s.history.note(id, fmt.Sprintf("Marker %d: %s", index, label))
		})
	})
}
