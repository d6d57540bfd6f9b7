package engine

import (
	"context"
	"errors"
	"fmt"
	"image"
	"path/filepath"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"

	"roomcast/engine/audio"
	"roomcast/engine/request"
	"roomcast/layouts"
)

// DefaultStartTimeout is how long a template has to log START_RECORDING.
// A layout page is on screen 1.1-2.5 s after Chromium starts (RECIPES);
// LiveKit Egress waits about 20 s too.
const DefaultStartTimeout = 20 * time.Second

// Config sets up the embedded engine.
type Config struct {
	// LiveKitURL, APIKey and APISecret name the LiveKit server whose rooms
	// are recorded.
	LiveKitURL, APIKey, APISecret string
	// OutputDir is where relative file paths land; "" is the working dir.
	OutputDir string
	// DefaultUpload, when set, is the bucket for outputs whose request
	// names no storage (the config file's storage.s3).
	DefaultUpload *livekit.S3Upload
	// StartTimeout overrides DefaultStartTimeout.
	StartTimeout time.Duration
	// Logf receives progress lines; nil discards them.
	Logf func(format string, args ...any)
}

// Local is the embedded engine: composites on this machine.
type Local struct {
	cfg   Config
	board *infoBoard
	pages *layouts.Server

	pulseMu sync.Mutex
	pulse   *audio.Server

	mu         sync.Mutex
	composites map[compositeKey]*compositeSlot
	egresses   map[string]*egress
	closed     bool
}

// compositeSlot lets concurrent requests for one key wait for a single
// start instead of launching two browsers.
type compositeSlot struct {
	key   compositeKey // guarded by Local.mu
	ready chan struct{}
	comp  *composite
	err   error
	users int // egresses and previews holding it
}

var _ Studio = (*Local)(nil)

// NewLocal starts the engine's shared parts (the layout server); the rest
// starts with the first composite.
func NewLocal(cfg Config) (*Local, error) {
	if cfg.LiveKitURL == "" || cfg.APIKey == "" || cfg.APISecret == "" {
		return nil, errors.New("livekit: URL, API key and API secret are all needed; set LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET, or use the demo room")
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	pages, err := layouts.Serve()
	if err != nil {
		return nil, fmt.Errorf("layout server: %w", err)
	}
	return &Local{
		cfg:        cfg,
		board:      newInfoBoard(),
		pages:      pages,
		composites: map[compositeKey]*compositeSlot{},
		egresses:   map[string]*egress{},
	}, nil
}

func (l *Local) deps() compositeDeps {
	return compositeDeps{
		livekitURL:   l.cfg.LiveKitURL,
		apiKey:       l.cfg.APIKey,
		apiSecret:    l.cfg.APISecret,
		pageURL:      l.pages.URL,
		pulse:        l.pulseServer,
		startTimeout: l.cfg.StartTimeout,
		logf:         l.cfg.Logf,
	}
}

func (l *Local) pulseServer(ctx context.Context) (*audio.Server, error) {
	l.pulseMu.Lock()
	defer l.pulseMu.Unlock()
	if l.pulse == nil {
		s, err := audio.EnsureServer(ctx)
		if err != nil {
			return nil, err
		}
		l.pulse = s
	}
	return l.pulse, nil
}

// acquire returns the running composite for key, starting it if needed,
// with its slot (pass it to release). For an audio-only key, a running
// composite with video serves as well.
func (l *Local) acquire(ctx context.Context, key compositeKey) (*compositeSlot, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, errors.New("the engine is closed")
	}
	slot := l.composites[key]
	if slot == nil && key.audioOnly {
		slot = l.composites[compositeKey{CompositeKey: key.CompositeKey}]
	}
	if slot == nil {
		slot = &compositeSlot{key: key, ready: make(chan struct{})}
		l.composites[key] = slot
		go func() {
			// The start outlives the request's context: a composite is
			// shared, and the next caller may want it.
			slot.comp, slot.err = startComposite(context.WithoutCancel(ctx), key, l.deps())
			close(slot.ready)
			if slot.err != nil {
				l.forget(slot)
				return
			}
			go func() {
				// A room view that ended is forgotten, so that the next
				// request starts a fresh one; its egresses end themselves.
				<-slot.comp.ended
				l.forget(slot)
			}()
		}()
	}
	slot.users++
	l.mu.Unlock()

	select {
	case <-slot.ready:
	case <-ctx.Done():
		l.release(slot)
		return nil, ctx.Err()
	}
	if slot.err != nil {
		l.release(slot)
		return nil, slot.err
	}
	return slot, nil
}

// forget removes the slot from the index, so no new user finds it.
// Caller must not hold l.mu.
func (l *Local) forget(slot *compositeSlot) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.composites[slot.key] == slot {
		delete(l.composites, slot.key)
	}
}

// release drops one user; the last one out closes the composite.
func (l *Local) release(slot *compositeSlot) {
	l.mu.Lock()
	slot.users--
	last := slot.users == 0 && slot.comp != nil
	if last && l.composites[slot.key] == slot {
		delete(l.composites, slot.key)
	}
	l.mu.Unlock()
	if last {
		if err := slot.comp.close(); err != nil {
			l.cfg.Logf("composite %s: close: %v", slot.key, err)
		}
	}
}

// rekey files the slot under a new key after its layout changed, unless
// another composite already holds that key (then it stays reachable only
// through its users). Caller holds l.mu.
func (l *Local) rekeyLocked(slot *compositeSlot, key compositeKey) {
	if l.composites[slot.key] == slot {
		delete(l.composites, slot.key)
	}
	slot.key = key
	if l.composites[key] == nil {
		l.composites[key] = slot
	}
}

// Start validates the request and begins the egress; it returns as soon
// as the egress is STARTING.
func (l *Local) Start(ctx context.Context, req *livekit.RoomCompositeEgressRequest) (*livekit.EgressInfo, error) {
	plan, err := request.Build(req, request.Options{Now: time.Now(), OutputDir: l.cfg.OutputDir, DefaultUpload: l.cfg.DefaultUpload})
	if err != nil {
		return nil, err
	}
	for _, w := range plan.Warnings {
		l.cfg.Logf("request: %s", w)
	}
	id := newEgressID()
	ups, err := newUploads(ctx, plan, l.stagingDir(id), l.cfg.Logf)
	if err != nil {
		return nil, err
	}
	e := newEgress(l, id, req, plan, ups)
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, errors.New("the engine is closed")
	}
	l.egresses[e.id] = e
	l.mu.Unlock()
	info := l.board.get(e.id)
	go e.run()
	return info, nil
}

// stagingDir is where an egress's outputs bound for S3 are written before
// they are uploaded, and where they stay if an upload never succeeds.
func (l *Local) stagingDir(id string) string {
	return filepath.Join(l.cfg.OutputDir, ".roomcast-uploads", id)
}

// UpdateStream adds and removes RTMP destinations of a running egress;
// the other destinations and outputs go on undisturbed.
func (l *Local) UpdateStream(_ context.Context, req *livekit.UpdateStreamRequest) (*livekit.EgressInfo, error) {
	l.mu.Lock()
	e := l.egresses[req.EgressId]
	l.mu.Unlock()
	if e == nil {
		return nil, notFound(req.EgressId)
	}
	if err := e.updateStream(req.AddOutputUrls, req.RemoveOutputUrls); err != nil {
		return nil, err
	}
	return l.board.get(req.EgressId), nil
}

// Stop ends an egress and waits until its outputs are finalised.
func (l *Local) Stop(ctx context.Context, egressID string) (*livekit.EgressInfo, error) {
	l.mu.Lock()
	e := l.egresses[egressID]
	l.mu.Unlock()
	if e == nil {
		return nil, notFound(egressID)
	}
	e.stop()
	select {
	case <-e.done:
	case <-ctx.Done():
		return l.board.get(egressID), ctx.Err()
	}
	return l.board.get(egressID), nil
}

// UpdateLayout switches the layout of the composite an egress records; the
// recording goes on. Other egresses on the same composite see the change
// too, as they record the same room view.
func (l *Local) UpdateLayout(ctx context.Context, egressID, layout string) (*livekit.EgressInfo, error) {
	name, err := request.CheckLayout(layout)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	e := l.egresses[egressID]
	l.mu.Unlock()
	if e == nil {
		return nil, notFound(egressID)
	}
	slot := e.currentSlot()
	if slot == nil {
		return nil, fmt.Errorf("egress %s is not recording yet; update its layout once it is active", egressID)
	}
	if slot.key.CustomBaseURL != "" {
		return nil, fmt.Errorf("egress %s records a custom template; its layout is the template's own", egressID)
	}
	if err := slot.comp.page.SetLayout(ctx, name); err != nil {
		return nil, err
	}
	l.mu.Lock()
	key := slot.key
	key.Layout = name
	l.rekeyLocked(slot, key)
	l.mu.Unlock()
	return l.board.update(egressID, func(info *livekit.EgressInfo) {
		if rc := info.GetRoomComposite(); rc != nil {
			rc.Layout = name
		}
	}), nil
}

// List reports egresses as LiveKit's ListEgress does: by room, by ID,
// active only.
func (l *Local) List(_ context.Context, req *livekit.ListEgressRequest) ([]*livekit.EgressInfo, error) {
	if req == nil {
		req = &livekit.ListEgressRequest{}
	}
	return l.board.list(func(info *livekit.EgressInfo) bool {
		if req.RoomName != "" && info.RoomName != req.RoomName {
			return false
		}
		if req.EgressId != "" && info.EgressId != req.EgressId {
			return false
		}
		return !req.Active || !IsFinal(info.Status)
	}), nil
}

// Watch delivers every EgressInfo update until ctx ends.
func (l *Local) Watch(ctx context.Context) <-chan *livekit.EgressInfo {
	return l.board.watch(ctx.Done())
}

// Preview runs the composite for req's room, layout and preset.
func (l *Local) Preview(ctx context.Context, req *livekit.RoomCompositeEgressRequest, onFrame func(*image.RGBA)) (func(), error) {
	plan, err := previewPlan(req)
	if err != nil {
		return nil, err
	}
	slot, err := l.acquire(ctx, compositeKey{CompositeKey: plan.CompositeKey()})
	if err != nil {
		return nil, err
	}
	remove := slot.comp.addPreview(onFrame)
	var once sync.Once
	return func() {
		once.Do(func() {
			remove()
			l.release(slot)
		})
	}, nil
}

// previewPlan validates req's room, layout and encoding; its outputs do
// not matter to a preview, so they are replaced by one that always passes.
func previewPlan(req *livekit.RoomCompositeEgressRequest) (*request.Plan, error) {
	r := proto.Clone(req).(*livekit.RoomCompositeEgressRequest)
	r.Output, r.FileOutputs, r.StreamOutputs, r.SegmentOutputs, r.ImageOutputs = nil, nil, nil, nil, nil
	r.FileOutputs = []*livekit.EncodedFileOutput{{Filepath: "preview"}}
	if r.AudioOnly {
		r.FileOutputs[0].FileType = livekit.EncodedFileType_OGG
	}
	return request.Build(r, request.Options{Now: time.Now()})
}

// Close stops every egress (files finalised), then every composite and the
// shared parts.
func (l *Local) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	var es []*egress
	for _, e := range l.egresses {
		es = append(es, e)
	}
	l.mu.Unlock()
	var wg sync.WaitGroup
	for _, e := range es {
		wg.Go(func() {
			e.stop()
			<-e.done
		})
	}
	wg.Wait()

	l.mu.Lock()
	slots := l.composites
	l.composites = map[compositeKey]*compositeSlot{}
	l.mu.Unlock()
	var errs []error
	for _, s := range slots {
		<-s.ready
		if s.comp != nil {
			errs = append(errs, s.comp.close())
		}
	}
	errs = append(errs, l.pages.Close())
	if l.pulse != nil {
		errs = append(errs, l.pulse.Close())
	}
	return errors.Join(errs...)
}

// CompositeStats are a running composite's live figures.
type CompositeStats struct {
	Key string
	// GrabbedFrames counts frames grabbed from the screen; against
	// Running × FPS it gives the share of frames delivered.
	GrabbedFrames uint64
	FPS           int
	Running       time.Duration
}

// Stats reports every running composite.
func (l *Local) Stats() []CompositeStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []CompositeStats
	for _, s := range l.composites {
		select {
		case <-s.ready:
		default:
			continue
		}
		if s.comp == nil || s.comp.cap == nil {
			continue
		}
		out = append(out, CompositeStats{
			Key:           s.key.String(),
			GrabbedFrames: s.comp.cap.RawFrames(),
			FPS:           s.key.FPS,
			Running:       s.comp.cap.RunningTime(),
		})
	}
	return out
}
