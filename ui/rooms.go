package ui

import (
	"fmt"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"github.com/livekit/protocol/livekit"
)

// roomsPanel picks the room: the rooms on the LiveKit server with their
// participant counts, refreshed by the window, or any name typed in (a
// room that does not exist yet is recorded once it does).
type roomsPanel struct {
	onChanged func()

	entry *widget.Entry
	field *field
	list  *widget.List
	note  *widget.Label
	rooms []*livekit.Room
	// listed: the server's rooms were listed at least once.
	listed bool
}

func newRoomsPanel(onChanged func()) *roomsPanel {
	return &roomsPanel{onChanged: onChanged}
}

func (r *roomsPanel) buildUI() fyne.CanvasObject {
	r.entry = &widget.Entry{PlaceHolder: "Room name", Validator: r.validate, OnChanged: r.onEntryChanged}
	r.entry.ExtendBaseWidget(r.entry)
	r.field = newField("Room", r.entry)
	r.list = widget.NewList(r.length, r.createRow, r.updateRow)
	r.list.OnSelected = r.onSelected
	r.note = &widget.Label{Text: "Looking for rooms…", Importance: widget.LowImportance, SizeName: theme.SizeNameCaptionText, Wrapping: fyne.TextWrapWord}
	// room for three rooms without scrolling
	list := container.NewGridWrap(fyne.NewSize(236, 117), r.list)
	return container.NewVBox(r.field.object(), list, r.note)
}

func (r *roomsPanel) validate(name string) error {
	return validatorErr(fieldCheck(&livekit.RoomCompositeEgressRequest{RoomName: strings.TrimSpace(name)}, "room_name"))
}

func (r *roomsPanel) length() int { return len(r.rooms) }

func (r *roomsPanel) createRow() fyne.CanvasObject { return newRoomRow() }

func (r *roomsPanel) updateRow(i widget.ListItemID, o fyne.CanvasObject) {
	o.(*roomRow).set(r.rooms[i])
}

func people(n uint32) string {
	if n == 1 {
		return "1 person"
	}
	return fmt.Sprintf("%d people", n)
}

func (r *roomsPanel) onSelected(i widget.ListItemID) {
	if r.entry.Disabled() {
		r.syncSelection() // the room of a running recording stays
		return
	}
	if i < len(r.rooms) && r.entry.Text != r.rooms[i].Name {
		r.entry.SetText(r.rooms[i].Name)
	}
}

func (r *roomsPanel) onEntryChanged(string) {
	r.syncSelection()
	r.onChanged()
}

// syncSelection highlights the typed room in the list.
func (r *roomsPanel) syncSelection() {
	i := slices.IndexFunc(r.rooms, func(room *livekit.Room) bool { return room.Name == strings.TrimSpace(r.entry.Text) })
	if i < 0 {
		r.list.UnselectAll()
		return
	}
	r.list.Select(i)
}

// setRooms shows the server's rooms, or why they cannot be listed.
func (r *roomsPanel) setRooms(rooms []*livekit.Room, err error) {
	if err != nil {
		r.note.SetText("Cannot list the server's rooms: " + userMessage(err))
		r.note.Importance = widget.DangerImportance
		r.note.Refresh()
		return
	}
	slices.SortFunc(rooms, func(a, b *livekit.Room) int { return strings.Compare(a.Name, b.Name) })
	r.rooms, r.listed = rooms, true
	r.list.Refresh()
	r.syncSelection()
	r.note.Importance = widget.LowImportance
	switch len(rooms) {
	case 0:
		r.note.SetText("No rooms on the server yet; type a room's name.")
	case 1:
		r.note.SetText("1 room on the server.")
	default:
		r.note.SetText(fmt.Sprintf("%d rooms on the server.", len(rooms)))
	}
}

// setNote shows the connection's state under the list.
func (r *roomsPanel) setNote(text string) {
	r.note.Importance = widget.LowImportance
	r.note.SetText(text)
}

// participants is how many people room has, as last listed (a room the
// server does not list has nobody); known is false before a listing.
func (r *roomsPanel) participants(room string) (n uint32, known bool) {
	if !r.listed {
		return 0, false
	}
	i := slices.IndexFunc(r.rooms, func(x *livekit.Room) bool { return x.Name == room })
	if i < 0 {
		return 0, true
	}
	return r.rooms[i].NumParticipants, true
}

func (r *roomsPanel) room() string { return strings.TrimSpace(r.entry.Text) }

func (r *roomsPanel) setRoom(name string) { r.field.setText(name) }

func (r *roomsPanel) setEnabled(on bool) {
	if on {
		r.entry.Enable()
	} else {
		r.entry.Disable()
	}
}

// roomRow is one room in the list: a light (someone is in), the name and
// the participant count.
type roomRow struct {
	widget.BaseWidget
	dot   *canvas.Circle
	name  *widget.Label
	count *widget.Label
}

func newRoomRow() *roomRow {
	r := &roomRow{
		dot:   canvas.NewCircle(colorIdle),
		name:  widget.NewLabel(""),
		count: &widget.Label{Importance: widget.LowImportance},
	}
	r.ExtendBaseWidget(r)
	return r
}

func (r *roomRow) CreateRenderer() fyne.WidgetRenderer {
	dot := container.NewCenter(container.NewGridWrap(fyne.NewSize(8, 8), r.dot))
	return widget.NewSimpleRenderer(container.NewBorder(nil, nil, container.NewHBox(dot, r.name), r.count))
}

func (r *roomRow) set(room *livekit.Room) {
	r.dot.FillColor = colorIdle
	if room.NumParticipants > 0 {
		r.dot.FillColor = colorOK
	}
	r.dot.Refresh()
	r.name.SetText(room.Name)
	r.count.SetText(people(room.NumParticipants))
}
