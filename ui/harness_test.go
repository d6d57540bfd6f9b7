package ui

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"

	"roomcast/engine"
	"roomcast/engine/request"
)

// harness runs the studio window on Fyne's test driver. Its do queues UI
// work for the test goroutine, which runs it in settle: as in the app,
// where all of it runs on the UI goroutine, so tests read widgets without
// racing the background goroutines.
type harness struct {
	t     *testing.T
	s     *studio
	w     fyne.Window
	queue chan func()
	cfg   Config
}

// newHarness opens the window on connect and waits until it is connected
// and has listed the rooms once.
func newHarness(t *testing.T, connect engine.Connector) *harness {
	t.Helper()
	return openHarness(t, connect, 10*time.Second)
}

func openHarness(t *testing.T, connect engine.Connector, connectWithin time.Duration) *harness {
	t.Helper()
	return openHarnessIn(t, connect, connectWithin, t.TempDir())
}

// openHarnessIn opens the window with its config in configDir, as a studio
// opened again on the same machine.
func openHarnessIn(t *testing.T, connect engine.Connector, connectWithin time.Duration, configDir string) *harness {
	t.Helper()
	a := test.NewTempApp(t)
	a.Settings().SetTheme(newStudioTheme())
	h := &harness{t: t, queue: make(chan func(), 4096)}
	h.cfg = Config{ConfigDir: configDir, OutputDir: t.TempDir(), Logf: t.Logf}
	h.w = test.NewTempWindow(t, nil)
	h.s = newStudio(h.w, h.cfg, connect, h.do)
	h.s.debounce = 0
	h.s.sampling = false
	h.w.SetContent(h.s.buildUI())
	h.w.Resize(fyne.NewSize(1280, 800))
	t.Cleanup(func() {
		done := make(chan error)
		go func() { done <- h.s.shutdown() }()
		for {
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("shutdown: %v", err)
				}
				return
			case f := <-h.queue:
				f() // as the app's loop does until it ends
			case <-time.After(30 * time.Second):
				t.Error("shutdown did not finish in 30 s")
				return
			}
		}
	})
	h.s.start()
	h.settleWithin("connected, rooms listed", connectWithin, func() bool { return h.s.back != nil && !h.s.pickRoom })
	return h
}

func (h *harness) do(f func()) { h.queue <- f }

// settle runs queued UI work until ok holds.
func (h *harness) settle(what string, ok func() bool) {
	h.t.Helper()
	h.settleWithin(what, 10*time.Second, ok)
}

func (h *harness) settleWithin(what string, timeout time.Duration, ok func() bool) {
	h.t.Helper()
	deadline := time.After(timeout)
	for !ok() {
		select {
		case f := <-h.queue:
			f()
		case <-time.After(5 * time.Millisecond):
		case <-deadline:
			h.t.Fatalf("timed out after %s waiting for: %s", timeout, what)
		}
	}
}

// drain runs the UI work queued until none has come for a moment.
func (h *harness) drain() {
	for {
		select {
		case f := <-h.queue:
			f()
		case <-time.After(50 * time.Millisecond):
			return
		}
	}
}

// tapText taps what shows text (a list row, a menu item), looking in the
// pop-ups first.
func (h *harness) tapText(text string) {
	h.t.Helper()
	c := h.w.Canvas()
	for _, root := range append(c.Overlays().List(), c.Content()) {
		if o := findText(root, text); o != nil {
			pos := fyne.CurrentApp().Driver().AbsolutePositionForObject(o)
			test.TapCanvas(c, pos.AddXY(2, o.Size().Height/2))
			return
		}
	}
	h.t.Fatalf("nothing shows %q", text)
}

// choose picks an option of a Select as the operator does: tap, then tap
// the option in the pop-up.
func (h *harness) choose(s *widget.Select, option string) {
	h.t.Helper()
	test.Tap(s)
	h.tapText(option)
	if s.Selected != option {
		h.t.Fatalf("select shows %q after choosing %q", s.Selected, option)
	}
}

// button finds a visible button by its text, pop-ups first.
func (h *harness) button(text string) *widget.Button {
	h.t.Helper()
	c := h.w.Canvas()
	for _, root := range append(c.Overlays().List(), c.Content()) {
		var found *widget.Button
		walk(root, func(o fyne.CanvasObject) {
			if b, ok := o.(*widget.Button); ok && b.Text == text && b.Visible() && found == nil {
				found = b
			}
		})
		if found != nil {
			return found
		}
	}
	h.t.Fatalf("no button %q", text)
	return nil
}

func findText(root fyne.CanvasObject, text string) fyne.CanvasObject {
	return findTextWhere(root, func(s string) bool { return s == text })
}

// findTextPrefix is the first text under root that starts with prefix.
func findTextPrefix(root fyne.CanvasObject, prefix string) fyne.CanvasObject {
	return findTextWhere(root, func(s string) bool { return strings.HasPrefix(s, prefix) })
}

func findTextWhere(root fyne.CanvasObject, ok func(string) bool) fyne.CanvasObject {
	var found fyne.CanvasObject
	walk(root, func(o fyne.CanvasObject) {
		if t, isText := o.(*canvas.Text); isText && ok(t.Text) && found == nil {
			found = t
		}
	})
	return found
}

// walk visits every visible object under o, widgets' insides included.
func walk(o fyne.CanvasObject, fn func(fyne.CanvasObject)) {
	if o == nil || !o.Visible() {
		return
	}
	fn(o)
	switch x := o.(type) {
	case *fyne.Container:
		for _, c := range x.Objects {
			walk(c, fn)
		}
	case fyne.Widget:
		for _, c := range test.WidgetRenderer(x).Objects() {
			walk(c, fn)
		}
	}
}

// fakeStudio stands in for the engine in the window's unit tests, which
// then need no browser, X server or GStreamer. The real engine.Local is
// driven through the same window by the integration tests.
type fakeStudio struct {
	mu       sync.Mutex
	started  []*livekit.RoomCompositeEgressRequest
	stopped  []string
	updates  []*livekit.UpdateStreamRequest
	layouts  []string
	previews []*livekit.RoomCompositeEgressRequest
	startErr error
	infos    map[string]*livekit.EgressInfo
	watchers map[chan *livekit.EgressInfo]bool
	n        int
	rooms    []*livekit.Room
	level    engine.AudioLevel    // what its meter reads
	people   []engine.PersonLevel // what the page's meters read
	marks    []string             // the markers' labels, by index-1
	rate     float64              // kbit/s each destination is sent
	metered  []string             // the rooms whose sound was metered
	paused   map[string]bool      // egresses paused
	pauses   []string             // "pause <id>", "resume <id>" as called
	persons  []string             // the people in the room (People)
	recorded []string             // the people recorded on their own, as started
}

// People lists f.persons, as the embedded engine lists a room's people.
func (f *fakeStudio) People(context.Context, string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.persons), nil
}

// StartParticipant records one person, ACTIVE at once.
func (f *fakeStudio) StartParticipant(_ context.Context, req *livekit.ParticipantEgressRequest) (*livekit.EgressInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.recorded = append(f.recorded, req.Identity)
	f.n++
	info := &livekit.EgressInfo{EgressId: fmt.Sprintf("EG_fake%d", f.n), RoomName: req.RoomName,
		Status: livekit.EgressStatus_EGRESS_ACTIVE, StartedAt: time.Now().UnixNano(),
		Request: &livekit.EgressInfo_Participant{Participant: request.RedactParticipant(req)}}
	f.infos[info.EgressId] = info
	f.publishLocked(info)
	return proto.Clone(info).(*livekit.EgressInfo), nil
}

func (f *fakeStudio) StartTrack(context.Context, *livekit.TrackEgressRequest) (*livekit.EgressInfo, error) {
	return nil, errors.New("the studio window does not start track egresses")
}

func (f *fakeStudio) StartTrackComposite(context.Context, *livekit.TrackCompositeEgressRequest) (*livekit.EgressInfo, error) {
	return nil, errors.New("the studio window does not start track composite egresses")
}

// Pause pauses a running egress, as the embedded engine does.
func (f *fakeStudio) Pause(_ context.Context, id string) error {
	return f.setPaused(id, true)
}

// Resume resumes a paused egress.
func (f *fakeStudio) Resume(_ context.Context, id string) error {
	return f.setPaused(id, false)
}

func (f *fakeStudio) setPaused(id string, paused bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.infos[id] == nil {
		return fmt.Errorf("egress %q not found", id)
	}
	if f.paused[id] == paused {
		return fmt.Errorf("file_outputs[0]: %s", map[bool]string{true: "already paused", false: "not paused"}[paused])
	}
	if f.paused == nil {
		f.paused = map[string]bool{}
	}
	f.paused[id] = paused
	f.pauses = append(f.pauses, map[bool]string{true: "pause ", false: "resume "}[paused]+id)
	return nil
}

// StreamRates gives every destination of a running stream rate kbit/s.
func (f *fakeStudio) StreamRates(id string) (map[string]float64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	info := f.infos[id]
	if info == nil {
		return nil, fmt.Errorf("egress %q not found", id)
	}
	rates := map[string]float64{}
	for _, r := range info.StreamResults {
		rates[r.Url] = f.rate
	}
	return rates, nil
}

// Mark records a marker of a running egress.
func (f *fakeStudio) Mark(_ context.Context, id, label string) (engine.Mark, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.infos[id] == nil {
		return engine.Mark{}, fmt.Errorf("egress %q not found", id)
	}
	f.marks = append(f.marks, label)
	return engine.Mark{Index: len(f.marks), At: time.Now(), Label: label, Outputs: []string{"file_outputs[0]"}}, nil
}

// Relabel records a marker's new label.
func (f *fakeStudio) Relabel(_ context.Context, _ string, index int, label string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if index < 1 || index > len(f.marks) {
		return fmt.Errorf("no marker %d", index)
	}
	f.marks[index-1] = label
	return nil
}

// PeopleLevels gives people for a composite that is previewed.
func (f *fakeStudio) PeopleLevels(_ context.Context, req *livekit.RoomCompositeEgressRequest) ([]engine.PersonLevel, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.previews {
		if p.RoomName == req.RoomName {
			return f.people, nil
		}
	}
	return nil, nil
}

// AudioLevel reads level for a composite that is previewed.
func (f *fakeStudio) AudioLevel(req *livekit.RoomCompositeEgressRequest) (engine.AudioLevel, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.metered = append(f.metered, req.RoomName)
	for _, p := range f.previews {
		if p.RoomName == req.RoomName {
			return f.level, true
		}
	}
	return engine.AudioLevel{}, false
}

func newFakeStudio() *fakeStudio {
	return &fakeStudio{infos: map[string]*livekit.EgressInfo{}, watchers: map[chan *livekit.EgressInfo]bool{}}
}

// connector returns a connector to f with rooms listed, like the demo.
func (f *fakeStudio) connector(rooms ...*livekit.Room) engine.Connector {
	return func(context.Context, engine.Connection) (*engine.Session, error) {
		f.mu.Lock()
		f.rooms = rooms
		f.mu.Unlock()
		return &engine.Session{Studio: f, Server: "fake", DemoRoom: "demo"}, nil
	}
}

// StartEgress: the window starts RoomComposite requests only.
func (f *fakeStudio) StartEgress(context.Context, *livekit.StartEgressRequest) (*livekit.EgressInfo, error) {
	return nil, errors.New("the studio window does not start unified requests")
}

func (f *fakeStudio) Start(_ context.Context, req *livekit.RoomCompositeEgressRequest) (*livekit.EgressInfo, error) {
	if _, err := request.Build(req, request.Options{}); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.startErr != nil {
		return nil, f.startErr
	}
	f.started = append(f.started, req)
	f.n++
	info := &livekit.EgressInfo{
		EgressId: fmt.Sprintf("EG_fake%d", f.n), RoomName: req.RoomName,
		Status:  livekit.EgressStatus_EGRESS_STARTING,
		Request: &livekit.EgressInfo_RoomComposite{RoomComposite: request.RedactRequest(req)},
	}
	f.infos[info.EgressId] = info
	starting := proto.Clone(info).(*livekit.EgressInfo)
	f.publishLocked(starting)
	info.Status, info.StartedAt = livekit.EgressStatus_EGRESS_ACTIVE, time.Now().UnixNano()
	for _, s := range req.StreamOutputs {
		for _, u := range s.Urls {
			info.StreamResults = append(info.StreamResults, &livekit.StreamInfo{Url: request.RedactURL(u), StartedAt: info.StartedAt})
		}
	}
	f.publishLocked(info)
	return starting, nil
}

func (f *fakeStudio) Stop(_ context.Context, id string) (*livekit.EgressInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	info := f.infos[id]
	if info == nil {
		return nil, fmt.Errorf("egress %q not found", id)
	}
	f.stopped = append(f.stopped, id)
	info.Status, info.EndedAt = livekit.EgressStatus_EGRESS_COMPLETE, time.Now().UnixNano()
	for _, fo := range append(info.GetRoomComposite().GetFileOutputs(), info.GetParticipant().GetFileOutputs()...) {
		info.FileResults = append(info.FileResults, &livekit.FileInfo{Filename: fo.Filepath, Location: fo.Filepath, Size: 1_250_000, Duration: int64(5 * time.Second)})
	}
	f.publishLocked(info)
	return proto.Clone(info).(*livekit.EgressInfo), nil
}

func (f *fakeStudio) UpdateStream(_ context.Context, req *livekit.UpdateStreamRequest) (*livekit.EgressInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	info := f.infos[req.EgressId]
	if info == nil {
		return nil, fmt.Errorf("egress %q not found", req.EgressId)
	}
	for i, u := range req.AddOutputUrls {
		if _, err := request.CheckStreamURL(fmt.Sprintf("add_output_urls[%d]", i), u); err != nil {
			return nil, err
		}
	}
	f.updates = append(f.updates, req)
	for _, u := range req.AddOutputUrls {
		info.StreamResults = append(info.StreamResults, &livekit.StreamInfo{Url: request.RedactURL(u), StartedAt: time.Now().UnixNano()})
	}
	for _, u := range req.RemoveOutputUrls {
		for _, r := range info.StreamResults {
			if r.Url == request.RedactURL(u) {
				r.Status = livekit.StreamInfo_FINISHED
			}
		}
	}
	f.publishLocked(info)
	return proto.Clone(info).(*livekit.EgressInfo), nil
}

func (f *fakeStudio) UpdateLayout(_ context.Context, id, layout string) (*livekit.EgressInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.layouts = append(f.layouts, layout)
	return proto.Clone(f.infos[id]).(*livekit.EgressInfo), nil
}

func (f *fakeStudio) List(context.Context, *livekit.ListEgressRequest) (*livekit.ListEgressResponse, error) {
	return &livekit.ListEgressResponse{}, nil
}

func (f *fakeStudio) Watch(ctx context.Context) <-chan *livekit.EgressInfo {
	ch := make(chan *livekit.EgressInfo, 64)
	f.mu.Lock()
	f.watchers[ch] = true
	f.mu.Unlock()
	go func() {
		<-ctx.Done()
		f.mu.Lock()
		delete(f.watchers, ch)
		f.mu.Unlock()
		close(ch)
	}()
	return ch
}

func (f *fakeStudio) publishLocked(info *livekit.EgressInfo) {
	for ch := range f.watchers {
		ch <- proto.Clone(info).(*livekit.EgressInfo)
	}
}

// Preview hands one frame: red on the left half, green on the right, at
// the engine's preview width and the request's aspect.
func (f *fakeStudio) Preview(_ context.Context, req *livekit.RoomCompositeEgressRequest, onFrame func(*image.RGBA)) (func(), error) {
	plan, err := request.Build(req, request.Options{})
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.previews = append(f.previews, req)
	f.mu.Unlock()
	w, h := 480, 480*plan.Video.Height/plan.Video.Width
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.RGBA{R: 255, A: 255}
			if x >= w/2 {
				c = color.RGBA{G: 255, A: 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	onFrame(img)
	return func() {}, nil
}

func (f *fakeStudio) Close() error { return nil }

func (f *fakeStudio) snapshot() (started []*livekit.RoomCompositeEgressRequest, stopped []string, updates []*livekit.UpdateStreamRequest) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append(started, f.started...), append(stopped, f.stopped...), append(updates, f.updates...)
}

// Rooms lists the connector's rooms, which never change.
func (f *fakeStudio) Rooms(context.Context) ([]*livekit.Room, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]*livekit.Room, len(f.rooms))
	for i, room := range f.rooms {
		out[i] = proto.Clone(room).(*livekit.Room)
	}
	return out, nil
}

// relayout lays the whole window out again: the test canvas, unlike the
// real one, does not follow size changes (a message shown or hidden).
func (h *harness) relayout() {
	var lay func(o fyne.CanvasObject)
	lay = func(o fyne.CanvasObject) {
		switch x := o.(type) {
		case *fyne.Container:
			if x.Layout != nil {
				x.Layout.Layout(x.Objects, x.Size())
			}
			for _, c := range x.Objects {
				lay(c)
			}
		case fyne.Widget:
			r := test.WidgetRenderer(x)
			r.Layout(x.Size())
			for _, c := range r.Objects() {
				lay(c)
			}
		}
	}
	c := h.w.Canvas()
	for _, o := range append(c.Overlays().List(), c.Content()) {
		lay(o)
	}
}

// latestFrame is the preview's newest frame.
func (p *previewPanel) latestFrame() *image.RGBA {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.latest
}

// errorText is the message a field shows, "" when it is fine.
func (f *field) errorText() string { return f.message.Text }
