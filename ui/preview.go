package ui

import (
	"context"
	"image"
	"sync"
	"sync/atomic"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
	"github.com/livekit/protocol/livekit"

	"roomcast/engine"
	"roomcast/engine/request"
)

// previewPanel shows the composite as the engine renders it, before and
// during recording.
//
//	engine goroutine ─ onFrame ─► copy into ring[i] ─► latest ─► fresh
//	                                  (under mu)                    │
//	window's paint clock ─ paint: Refresh, once per paint ◄─────────┘
//	UI/paint ─ raster generator ◄─ shown = latest
//
// Frames are copied into a ring of three buffers, so the one being painted
// (shown) and the newest (latest) are never written. A frame does not
// refresh the raster itself: it wakes the window's paint clock (fresh),
// which shows it together with the meters' reading, so that both cost the
// window one paint, not two (see studio.paintClock). A Refresh is
// scheduled only when the last one was painted (pending), so a slow paint
// drops frames instead of queueing them. A canvas.Raster is the cheapest
// way to show them: about 0.12 core at 480x270 and 10 fps under Xvfb
// with software GL, against 1.05 cores for a canvas.Image drawn at
// another size with its default smooth scaling.
type previewPanel struct {
	do      func(func())
	raster  *canvas.Raster
	message *widget.Label
	busy    *widget.ProgressBarInfinite
	aspect  *aspectLayout
	box     *fyne.Container

	mu      sync.Mutex
	ring    [3]*image.RGBA
	next    int
	latest  *image.RGBA
	shown   *image.RGBA
	pending bool
	gen     uint64        // frames of a stopped preview are dropped
	fresh   chan struct{} // a frame came that is not painted yet

	received atomic.Uint64 // frames from the engine
	painted  atomic.Uint64 // frames drawn

	wantMu sync.Mutex
	want   previewWant
	wake   chan struct{}
}

// previewWant is the preview the window asks for; the zero value is none.
type previewWant struct {
	studio engine.Studio
	req    *livekit.RoomCompositeEgressRequest
	key    request.CompositeKey
}

func newPreviewPanel(do func(func())) *previewPanel {
	return &previewPanel{do: do, wake: make(chan struct{}, 1), fresh: make(chan struct{}, 1), aspect: &aspectLayout{ratio: 16.0 / 9}}
}

func (p *previewPanel) buildUI() fyne.CanvasObject {
	p.raster = canvas.NewRaster(p.generate)
	p.message = &widget.Label{Alignment: fyne.TextAlignCenter, Wrapping: fyne.TextWrapWord}
	p.busy = widget.NewProgressBarInfinite()
	p.busy.Hide()
	// No background under the raster: it paints the screen's colour itself
	// while it has no frame, and every pixel drawn costs each repaint (the
	// screen is a fifth of the window's).
	screen := container.NewStack(p.raster, container.NewCenter(fixed(360, 0, container.NewVBox(p.message, p.busy))))
	p.box = container.New(p.aspect, screen)
	return p.box
}

// generate runs once per painted frame, on the paint goroutine.
func (p *previewPanel) generate(w, h int) image.Image {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pending = false
	p.shown = p.latest
	if p.shown == nil {
		return image.NewUniform(colorPreviewBg)
	}
	p.painted.Add(1)
	return p.shown
}

// onFrame takes a frame from the engine (any goroutine) and wakes the
// paint clock.
func (p *previewPanel) onFrame(gen uint64, img *image.RGBA) {
	p.mu.Lock()
	if gen != p.gen {
		p.mu.Unlock()
		return
	}
	buf := p.freeBuffer(img.Bounds())
	copy(buf.Pix, img.Pix)
	p.latest = buf
	p.mu.Unlock()
	p.received.Add(1)
	select {
	case p.fresh <- struct{}{}:
	default:
	}
}

// paint has the raster show the latest frame, unless it shows it already
// or its last refresh is not painted yet. UI goroutine.
func (p *previewPanel) paint() {
	p.mu.Lock()
	refresh := p.latest != nil && p.latest != p.shown && !p.pending
	p.pending = p.pending || refresh
	p.mu.Unlock()
	if refresh {
		p.raster.Refresh()
	}
}

// freeBuffer returns a ring buffer of size b that is neither latest nor
// shown. Caller holds mu.
func (p *previewPanel) freeBuffer(b image.Rectangle) *image.RGBA {
	for {
		i := p.next
		p.next = (p.next + 1) % len(p.ring)
		if buf := p.ring[i]; buf != nil && (buf == p.latest || buf == p.shown) {
			continue
		}
		if p.ring[i] == nil || p.ring[i].Bounds() != b {
			p.ring[i] = image.NewRGBA(b)
		}
		return p.ring[i]
	}
}

// clear blanks the screen and drops frames still in flight.
func (p *previewPanel) clear() uint64 {
	p.mu.Lock()
	p.gen++
	p.latest = nil
	gen := p.gen
	p.mu.Unlock()
	p.do(p.raster.Refresh)
	return gen
}

// showMessage puts a line over the preview; busy shows progress under it.
// UI goroutine.
func (p *previewPanel) showMessage(msg string, busy bool) {
	p.message.SetText(msg)
	p.message.Show()
	if busy {
		p.busy.Start()
	} else {
		p.busy.Stop()
	}
	p.busy.Hidden = !busy
	relayout(p.message)
}

func (p *previewPanel) hideMessage() {
	p.busy.Stop()
	p.busy.Hide()
	setShown(p.message, false)
}

// setAspect sizes the screen for width x height frames and reports
// whether that changed it (the stage then lays out again). UI goroutine.
func (p *previewPanel) setAspect(width, height int) bool {
	r := float32(width) / float32(height)
	if width <= 0 || height <= 0 || r == p.aspect.ratio {
		return false
	}
	p.aspect.ratio = r
	p.box.Refresh()
	return true
}

// metered is the Studio and request of the preview asked for, to meter
// its sound: nil when none is, or its Studio has no meter. Any goroutine.
func (p *previewPanel) metered() (engine.Meter, *livekit.RoomCompositeEgressRequest) {
	p.wantMu.Lock()
	defer p.wantMu.Unlock()
	m, _ := p.want.studio.(engine.Meter)
	return m, p.want.req
}

// request asks for a preview (the zero want for none); the worker starts
// the latest one asked for. Any goroutine.
func (p *previewPanel) request(w previewWant) {
	p.wantMu.Lock()
	p.want = w
	p.wantMu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// run is the preview worker: it keeps at most one preview running, the
// one asked for last, until ctx ends. A start is never cancelled half-way
// (the engine keeps starting a composite it was asked for); a preview that
// is no longer wanted once started is stopped right away.
func (p *previewPanel) run(ctx context.Context) {
	var cur previewWant
	var stop func()
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		}
		p.wantMu.Lock()
		w := p.want
		p.wantMu.Unlock()
		if stop != nil && w.studio == cur.studio && w.key == cur.key {
			continue // the same composite: keep it
		}
		if stop != nil {
			stop()
			stop = nil
		}
		gen := p.clear()
		cur = w
		if w.studio == nil {
			continue
		}
		p.do(func() { p.showMessage("Starting the preview of "+w.key.Room+"…", true) })
		s, err := w.studio.Preview(ctx, w.req, func(img *image.RGBA) { p.onFrame(gen, img) })
		if err != nil {
			cur = previewWant{}
			p.do(func() { p.showMessage("No preview: "+userMessage(err), false) })
			continue
		}
		stop = s
		p.do(p.hideMessage)
	}
}

// aspectLayout puts its objects at the top, centred, at the largest size
// of a fixed aspect ratio that fits, so portrait shows upright.
type aspectLayout struct{ ratio float32 }

func (a *aspectLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	w, h := size.Width, size.Width/a.ratio
	if h > size.Height {
		w, h = size.Height*a.ratio, size.Height
	}
	pos := fyne.NewPos((size.Width-w)/2, 0)
	for _, o := range objs {
		o.Resize(fyne.NewSize(w, h))
		o.Move(pos)
	}
}

func (a *aspectLayout) MinSize([]fyne.CanvasObject) fyne.Size {
	return fyne.NewSize(320, 180)
}
