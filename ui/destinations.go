package ui

import (
	"errors"
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

	"roomcast/engine/request"
)

// retryWindow is how long the engine retries an RTMP server that was live
// and dropped before it fails the destination (engine streamRetryFor,
// LiveKit Egress's bound); the countdown shows what is left of it.
const retryWindow = 30 * time.Second

// destinationsPanel lists the RTMP/RTMPS destinations of Start Streaming.
// Stream keys are masked (request.RedactURL) unless revealed; each has a
// light for its state in the running stream. Adding and removing go
// through the window, which asks the engine while live.
type destinationsPanel struct {
	onAdd    func(url string)
	onRemove func(url string)
	onSwitch func(url string, on bool)

	entry   *widget.Entry
	add     *widget.Button
	field   *field
	reveal  *widget.Button
	rows    *fyne.Container
	empty   *widget.Label
	urls    []string
	byURL   map[string]*destRow
	shown   bool // stream keys revealed
	results []*livekit.StreamInfo
	live    bool
	outage  map[string]time.Time // since when a destination is reconnecting
	off     map[string]bool      // switched off: listed, not streamed to
	rates   map[string]float64   // kbit/s sent, by redacted URL
}

func newDestinationsPanel(onAdd, onRemove func(string), onSwitch func(string, bool)) *destinationsPanel {
	return &destinationsPanel{onAdd: onAdd, onRemove: onRemove, onSwitch: onSwitch,
		byURL: map[string]*destRow{}, outage: map[string]time.Time{}, off: map[string]bool{}}
}

func (d *destinationsPanel) buildUI() fyne.CanvasObject {
	d.entry = &widget.Entry{PlaceHolder: "rtmp://host/app/stream-key", Password: true, Validator: d.validate, OnSubmitted: func(string) { d.onAddTapped() }}
	d.entry.ExtendBaseWidget(d.entry)
	d.add = &widget.Button{Text: "Add", Icon: theme.ContentAddIcon(), OnTapped: d.onAddTapped}
	d.reveal = &widget.Button{Text: "Show keys", Icon: theme.VisibilityIcon(), Importance: widget.LowImportance, OnTapped: d.onReveal}
	d.field = newField("Add a destination (RTMP or RTMPS)", container.NewBorder(nil, nil, nil, d.add, d.entry)).watch(d.entry)
	d.empty = &widget.Label{Text: "No destinations yet.", Importance: widget.LowImportance}
	d.rows = container.NewVBox(d.empty)
	return container.NewVBox(d.rows, d.field.object(), container.NewHBox(d.reveal))
}

// validate checks a URL as typed: rtmp:// or rtmps://, host, app and key,
// not listed yet.
func (d *destinationsPanel) validate(s string) error {
	if strings.TrimSpace(s) == "" {
		return nil // nothing to add yet
	}
	u, err := request.CheckStreamURL("url", s)
	if err != nil {
		return validatorErr(err)
	}
	if slices.ContainsFunc(d.urls, func(have string) bool { return request.SameStreamURL(have, u) }) {
		return errors.New("this destination is in the list already")
	}
	return nil
}

func (d *destinationsPanel) onAddTapped() {
	s := strings.TrimSpace(d.entry.Text)
	if s == "" {
		d.field.setError(errors.New("type or paste an rtmp:// or rtmps:// URL with its stream key"))
		return
	}
	if err := d.validate(s); err != nil {
		d.field.setError(err)
		return
	}
	u, _ := request.CheckStreamURL("url", s)
	d.entry.SetText("")
	d.field.setError(nil)
	d.onAdd(u)
}

func (d *destinationsPanel) onReveal() {
	d.shown = !d.shown
	if d.shown {
		d.reveal.SetText("Hide keys")
		d.reveal.SetIcon(theme.VisibilityOffIcon())
	} else {
		d.reveal.SetText("Show keys")
		d.reveal.SetIcon(theme.VisibilityIcon())
	}
	for _, u := range d.urls {
		d.byURL[u].setURL(d.display(u))
	}
}

// display is the URL as shown: masked unless revealed.
func (d *destinationsPanel) display(u string) string {
	if d.shown {
		return u
	}
	return request.RedactURL(u)
}

// list returns the destinations.
func (d *destinationsPanel) list() []string { return slices.Clone(d.urls) }

// offList returns the destinations switched off, in list order.
func (d *destinationsPanel) offList() []string {
	return slices.DeleteFunc(slices.Clone(d.urls), func(u string) bool { return !d.off[u] })
}

// setList replaces the destinations (loading a profile), those in off
// switched off.
func (d *destinationsPanel) setList(urls, off []string) {
	for _, u := range slices.Clone(d.urls) {
		d.drop(u)
	}
	for _, u := range urls {
		d.append(u)
		d.setOn(u, !slices.Contains(off, u))
	}
	d.field.setError(nil)
}

// setOn switches u on or off in the list (the engine is the window's).
func (d *destinationsPanel) setOn(u string, on bool) {
	row := d.byURL[u]
	if row == nil {
		return
	}
	if on {
		delete(d.off, u)
	} else {
		d.off[u] = true
	}
	row.setSwitch(on)
	d.updateRow(u, time.Now())
}

// append adds a row for u.
func (d *destinationsPanel) append(u string) {
	if d.byURL[u] != nil {
		return
	}
	row := newDestRow(d.display(u), func() { d.onRemove(u) }, func(on bool) { d.onSwitch(u, on) })
	d.urls = append(d.urls, u)
	d.byURL[u] = row
	d.rows.Remove(d.empty)
	d.rows.Add(row)
	d.updateRow(u, time.Now())
	relayout(d.rows)
}

// drop removes u's row.
func (d *destinationsPanel) drop(u string) {
	row := d.byURL[u]
	if row == nil {
		return
	}
	delete(d.byURL, u)
	delete(d.off, u)
	d.urls = slices.DeleteFunc(d.urls, func(s string) bool { return s == u })
	d.rows.Remove(row)
	if len(d.urls) == 0 {
		d.rows.Add(d.empty)
	}
	relayout(d.rows)
}

// setBusy shows that u is being added or removed by the engine ("" when
// done).
func (d *destinationsPanel) setBusy(u, what string) {
	if row := d.byURL[u]; row != nil {
		row.busy = what
		d.updateRow(u, time.Now())
	}
}

// setStream shows the running stream's results (live false: no stream).
func (d *destinationsPanel) setStream(live bool, results []*livekit.StreamInfo) {
	d.live, d.results = live, results
	now := time.Now()
	for _, u := range d.urls {
		r := d.result(u)
		switch {
		case r == nil || !reconnecting(r):
			delete(d.outage, u)
		case d.outage[u].IsZero():
			d.outage[u] = now
		}
	}
	d.refresh(now)
}

// refresh updates every light and countdown.
func (d *destinationsPanel) refresh(now time.Time) {
	for _, u := range d.urls {
		d.updateRow(u, now)
	}
}

func (d *destinationsPanel) updateRow(u string, now time.Time) {
	row := d.byURL[u]
	if row.busy != "" {
		row.setState(colorWarn, row.busy)
		return
	}
	if d.off[u] {
		row.setState(colorIdle, "off")
		return
	}
	if !d.live {
		row.setState(colorIdle, "")
		return
	}
	c, text := streamState(d.result(u), now.Sub(d.outage[u]))
	row.setState(c, text)
	if rate := d.rates[request.RedactURL(u)]; text == "live" && rate > 0 {
		row.rate.SetText(fmt.Sprintf("%.0f kb/s", rate))
	}
}

// setRates sets what the engine measured each destination is sent (nil:
// nothing measured), shown at the next refresh.
func (d *destinationsPanel) setRates(rates map[string]float64) { d.rates = rates }

// result finds u's entry in the stream results, which carry the URL
// redacted (or, from some engines, as given): the newest, since a
// destination switched off and on again has an ended entry before it.
func (d *destinationsPanel) result(u string) *livekit.StreamInfo {
	red := request.RedactURL(u)
	for i := len(d.results) - 1; i >= 0; i-- {
		if r := d.results[i]; r.Url == u || r.Url == red {
			return r
		}
	}
	return nil
}

// reconnecting: the engine lost the server and is retrying (an active
// stream carries an error only then).
func reconnecting(r *livekit.StreamInfo) bool {
	return r.Status == livekit.StreamInfo_ACTIVE && r.Error != ""
}

// streamState is the light and words for one destination of a running
// stream: connecting, live, reconnecting with the time left (out is how
// long it has been), ended, or failed with the reason.
func streamState(r *livekit.StreamInfo, out time.Duration) (color.Color, string) {
	switch {
	case r == nil:
		return colorWarn, "connecting"
	case r.Status == livekit.StreamInfo_FAILED:
		return colorRec, "failed: " + r.Error
	case r.Status == livekit.StreamInfo_FINISHED:
		return colorIdle, "ended"
	case reconnecting(r):
		left := max(0, int((retryWindow-out).Seconds()+0.5))
		return colorWarn, fmt.Sprintf("reconnecting · gives up in %d s · %s", left, r.Error)
	}
	return colorOK, "live"
}

// destRow is one destination: light, URL, state, on/off switch, remove
// button.
type destRow struct {
	widget.BaseWidget
	light    *canvas.Circle
	url      *widget.Label
	state    *widget.Label
	rate     *widget.Label // what a live destination is sent
	on       *widget.Check
	remove   *widget.Button
	busy     string // "adding…" / "removing…" while the engine works
	onSwitch func(bool)
	quiet    bool // the switch is being set by the program, not tapped
}

func newDestRow(url string, onRemove func(), onSwitch func(bool)) *destRow {
	r := &destRow{
		light:    canvas.NewCircle(colorIdle),
		url:      &widget.Label{Text: url, Wrapping: fyne.TextWrapBreak}, // a revealed key shows whole
		state:    &widget.Label{Importance: widget.LowImportance, SizeName: theme.SizeNameCaptionText, Truncation: fyne.TextTruncateEllipsis},
		rate:     &widget.Label{Importance: widget.LowImportance, SizeName: theme.SizeNameCaptionText},
		remove:   &widget.Button{Icon: theme.DeleteIcon(), Importance: widget.LowImportance, OnTapped: onRemove},
		onSwitch: onSwitch,
	}
	r.on = widget.NewCheck("On", func(on bool) {
		if !r.quiet {
			r.onSwitch(on)
		}
	})
	r.setSwitch(true)
	r.ExtendBaseWidget(r)
	return r
}

// setSwitch shows the switch on or off without calling back.
func (r *destRow) setSwitch(on bool) {
	r.quiet = true
	r.on.SetChecked(on)
	r.quiet = false
}

func (r *destRow) CreateRenderer() fyne.WidgetRenderer {
	light := container.NewCenter(container.NewGridWrap(fyne.NewSize(10, 10), r.light))
	text := lines(r.url, container.NewBorder(nil, nil, nil, r.rate, r.state))
	return widget.NewSimpleRenderer(container.NewBorder(nil, nil, light, container.NewHBox(container.NewCenter(r.on), r.remove), text))
}

func (r *destRow) setURL(s string) { r.url.SetText(s) }

// setState shows the light and the state, and clears the rate (updateRow
// shows it again while live).
func (r *destRow) setState(c color.Color, text string) {
	r.light.FillColor = c
	r.light.Refresh()
	if text == "" {
		text = "ready"
	}
	r.state.SetText(text)
	r.rate.SetText("")
}
