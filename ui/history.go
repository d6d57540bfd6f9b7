package ui

import (
	"fmt"
	"image/color"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"github.com/livekit/protocol/livekit"

	"roomcast/engine"
	"roomcast/engine/request"
)

// historyPanel lists the egresses since the studio started, newest first,
// with their results and errors, what happened on the way (the engine's
// details: a browser relaunched, LiveKit lost a while) and the studio's
// own warnings about them (a disk filling up).
type historyPanel struct {
	list  *widget.List
	empty *widget.Label
	order []string // egress IDs, newest first
	infos map[string]*livekit.EgressInfo
	notes map[string][]string // by egress ID, oldest first
	// members are the egresses of the people recorded on their own with
	// a recording, by its egress ID, in the order they started; lead is
	// the reverse. A recording and its people are one entry.
	members map[string][]string
	lead    map[string]string
}

func newHistoryPanel() *historyPanel {
	return &historyPanel{infos: map[string]*livekit.EgressInfo{}, notes: map[string][]string{},
		members: map[string][]string{}, lead: map[string]string{}}
}

func (h *historyPanel) buildUI() fyne.CanvasObject {
	h.list = widget.NewList(func() int { return len(h.order) },
		func() fyne.CanvasObject { return newHistoryRow() },
		func(i widget.ListItemID, o fyne.CanvasObject) {
			id := h.order[i]
			o.(*historyRow).set(h.infos[id], h.notes[id], h.people(id))
		})
	h.list.HideSeparators = true
	h.empty = &widget.Label{Text: "Recordings and streams since the studio started show here.", Importance: widget.LowImportance}
	return container.NewStack(h.list, container.NewVBox(h.empty))
}

// update records info and reports whether it was news (not older than
// what is known).
func (h *historyPanel) update(info *livekit.EgressInfo) bool {
	old, ok := h.infos[info.EgressId]
	if ok && !engine.Supersedes(old.Status, info.Status) {
		return false
	}
	h.infos[info.EgressId] = info
	if !ok && h.lead[info.EgressId] == "" {
		h.order = append([]string{info.EgressId}, h.order...)
		setShown(h.empty, false)
	}
	h.list.Refresh()
	return true
}

// join makes a person's egress part of the recording lead's entry.
func (h *historyPanel) join(lead, member string) {
	if h.lead[member] != "" {
		return
	}
	h.lead[member] = lead
	h.members[lead] = append(h.members[lead], member)
	h.order = slices.DeleteFunc(h.order, func(id string) bool { return id == member })
	h.list.Refresh()
}

// people are the infos of lead's people, known so far.
func (h *historyPanel) people(lead string) []*livekit.EgressInfo {
	var out []*livekit.EgressInfo
	for _, id := range h.members[lead] {
		if info := h.infos[id]; info != nil {
			out = append(out, info)
		}
	}
	return out
}

// note adds the studio's warning about an egress to its row.
func (h *historyPanel) note(id, text string) {
	h.notes[id] = append(h.notes[id], text)
	h.list.Refresh()
}

// get returns the latest known info of an egress, or nil.
func (h *historyPanel) get(id string) *livekit.EgressInfo { return h.infos[id] }

// historyRow is one egress: a light, what and when, the outcome, and
// (only when there are any) its incidents and warnings.
type historyRow struct {
	widget.BaseWidget
	dot    *canvas.Circle
	title  *widget.Label
	detail *widget.Label
	people *widget.Label
	notes  *widget.Label
}

func newHistoryRow() *historyRow {
	caption := func(imp widget.Importance) *widget.Label {
		return &widget.Label{Importance: imp, SizeName: theme.SizeNameCaptionText, Truncation: fyne.TextTruncateEllipsis}
	}
	r := &historyRow{
		dot:    canvas.NewCircle(colorIdle),
		title:  &widget.Label{TextStyle: fyne.TextStyle{Bold: true}, Truncation: fyne.TextTruncateEllipsis},
		detail: caption(widget.LowImportance),
		people: caption(widget.LowImportance),
		notes:  caption(widget.WarningImportance),
	}
	r.ExtendBaseWidget(r)
	return r
}

func (r *historyRow) CreateRenderer() fyne.WidgetRenderer {
	dot := container.NewCenter(container.NewGridWrap(fyne.NewSize(8, 8), r.dot))
	return widget.NewSimpleRenderer(container.NewBorder(nil, nil, dot, nil, lines(r.title, r.detail, r.people, r.notes)))
}

func (r *historyRow) set(info *livekit.EgressInfo, notes []string, people []*livekit.EgressInfo) {
	r.dot.FillColor = statusColor(info.Status)
	r.dot.Refresh()
	r.title.SetText(historyTitle(info))
	r.detail.SetText(historyDetail(info))
	r.detail.Importance = widget.LowImportance
	if info.Error != "" {
		r.detail.Importance = widget.DangerImportance
	}
	r.detail.Refresh()
	r.people.SetText(historyPeople(people))
	setShown(r.people, r.people.Text != "")
	r.notes.SetText(historyNotes(info, notes))
	setShown(r.notes, r.notes.Text != "")
}

// historyPeople reads "each on their own: alice ✓, bob ✓, dave ●, eve ✗"
// (complete, recording, failed); "" for none.
func historyPeople(people []*livekit.EgressInfo) string {
	if len(people) == 0 {
		return ""
	}
	parts := make([]string, len(people))
	for i, p := range people {
		mark := "●"
		switch p.Status {
		case livekit.EgressStatus_EGRESS_COMPLETE:
			mark = "✓"
		case livekit.EgressStatus_EGRESS_FAILED, livekit.EgressStatus_EGRESS_ABORTED, livekit.EgressStatus_EGRESS_LIMIT_REACHED:
			mark = "✗"
		}
		parts[i] = p.GetParticipant().GetIdentity() + " " + mark
	}
	return "each on their own: " + strings.Join(parts, ", ")
}

func statusColor(s livekit.EgressStatus) color.Color {
	switch s {
	case livekit.EgressStatus_EGRESS_ACTIVE:
		return colorRec
	case livekit.EgressStatus_EGRESS_COMPLETE:
		return colorOK
	case livekit.EgressStatus_EGRESS_FAILED, livekit.EgressStatus_EGRESS_ABORTED, livekit.EgressStatus_EGRESS_LIMIT_REACHED:
		return colorWarn
	}
	return colorIdle
}

// historyTitle reads "21:30:05  Recording  demo · complete".
func historyTitle(info *livekit.EgressInfo) string {
	t := time.Unix(0, info.StartedAt)
	if info.StartedAt == 0 {
		t = time.Unix(0, info.UpdatedAt)
	}
	kind := "Recording"
	if rc := request.RoomCompositeOf(info); rc != nil && len(rc.StreamOutputs) > 0 {
		kind = "Stream"
	}
	status := strings.ToLower(strings.TrimPrefix(info.Status.String(), "EGRESS_"))
	return fmt.Sprintf("%s  %s  %s · %s", t.Format("15:04:05"), kind, info.RoomName, strings.ReplaceAll(status, "_", " "))
}

// historyNotes is what happened on the way (the engine's details, unless
// the error already says it) and the studio's warnings, one line.
func historyNotes(info *livekit.EgressInfo, notes []string) string {
	var parts []string
	if info.Details != "" && info.Details != info.Error {
		parts = append(parts, info.Details)
	}
	return strings.Join(append(parts, notes...), "; ")
}

// historyDetail is the outcome: files with size and length, streams with
// their state, segments, images, or the error.
func historyDetail(info *livekit.EgressInfo) string {
	if info.Error != "" {
		return info.Error
	}
	var parts []string
	for _, f := range info.FileResults {
		parts = append(parts, fmt.Sprintf("%s · %s · %s", f.Filename, formatBytes(f.Size), formatClock(time.Duration(f.Duration))))
	}
	for _, s := range info.StreamResults {
		parts = append(parts, fmt.Sprintf("%s %s", s.Url, strings.ToLower(s.Status.String())))
	}
	for _, s := range info.SegmentResults {
		parts = append(parts, fmt.Sprintf("%s · %d segments", s.PlaylistName, s.SegmentCount))
	}
	for _, im := range info.ImageResults {
		parts = append(parts, fmt.Sprintf("%s · %d images", im.FilenamePrefix, im.ImageCount))
	}
	if len(parts) == 0 {
		// running: its results come when it ends
		if rc := request.RoomCompositeOf(info); rc != nil && len(rc.FileOutputs) > 0 {
			return "to " + rc.FileOutputs[0].Filepath
		}
		return info.EgressId
	}
	return strings.Join(parts, "  ·  ")
}
