// Package local is the embedded engine: room composites on this machine
// (engine/composite), each shared by every egress and preview that asks
// for its room, layout and size, with the egresses' outputs
// (engine/output) attached to it.
package local

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"image"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/utils/guid"

	"roomcast/engine"
	"roomcast/engine/audio"
	"roomcast/engine/composite"
	"roomcast/engine/reach"
	"roomcast/engine/request"
	"roomcast/engine/subscriber"
	"roomcast/layouts"
)

// webhookDrain bounds how long an egress's end waits for its own webhooks
// to go out (a receiver that is down is retried with back-off until then).
const webhookDrain = 10 * time.Second

// DefaultStartTimeout is how long a template has to log START_RECORDING.
// A layout page is on screen 1.1-2.5 s after Chromium starts on a 2-core
// box; LiveKit Egress waits about 20 s too.
const DefaultStartTimeout = 20 * time.Second

// Config sets up the embedded engine.
type Config struct {
	// LiveKitURL, APIKey and APISecret name the LiveKit server whose rooms
	// are recorded.
	LiveKitURL, APIKey, APISecret string
	// TLSCA is a CA certificate file (PEM) that the connections to the
	// LiveKit server trust besides the system's CAs: livekit.tls_ca, for a
	// deployment whose certificate a CA of its own signed.
	TLSCA string
	// OutputDir is where relative file paths land; "" is the working dir.
	OutputDir string
	// DefaultUpload, when set, is the bucket for outputs whose request
	// names no storage (the config file's storage.s3).
	DefaultUpload *livekit.S3Upload
	// StartTimeout overrides DefaultStartTimeout.
	StartTimeout time.Duration
	// RejoinWindow is how long a composite's page tries to get back into
	// the room after losing the LiveKit server before its egresses fail;
	// 0 is the page's own (60 s).
	RejoinWindow time.Duration
	// KeepReady keeps a room view ready for the next composite (a screen,
	// a sink and an idle Chromium with a layout page loaded, in no room;
	// see composite.Ready), of the size last asked for: a cold start then
	// skips Chromium's start and the page's load, for the memory of one
	// idle Chromium. For engines that start composites on request (the
	// API, a worker, record); a studio window keeps its preview running.
	KeepReady bool
	// Logf receives progress lines; nil discards them.
	Logf func(format string, args ...any)
}

// Local is the embedded engine: composites on this machine.
type Local struct {
	cfg   Config
	board *infoBoard
	pages *layouts.Server
	comps *composites
	rooms *reach.Rooms

	pulseMu sync.Mutex
	pulse   *audio.Server

	mu       sync.Mutex
	egresses map[string]*egress
	tracks   map[string]*trackEgress
	closed   bool

	stopWatch  func()         // ends the loop that hands updates to webhooks
	background sync.WaitGroup // that loop, and each egress's run and webhooks
}

var (
	_ engine.Studio  = (*Local)(nil)
	_ engine.Statser = (*Local)(nil)
	_ engine.Pauser  = (*Local)(nil)
	_ engine.Marker  = (*Local)(nil)

	_ engine.TrackRecorder = (*Local)(nil)
)

// New starts the engine's shared parts (the layout server); the rest
// starts with the first composite.
func New(cfg Config) (*Local, error) {
	if cfg.LiveKitURL == "" || cfg.APIKey == "" || cfg.APISecret == "" {
		return nil, errors.New("livekit: URL, API key and API secret are all needed; set LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET, or use the demo room")
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	trust, err := reach.LoadTrust(cfg.TLSCA)
	if err != nil {
		return nil, err
	}
	trust.ShareWithSDK()
	pages, err := layouts.Serve()
	if err != nil {
		return nil, fmt.Errorf("layout server: %w", err)
	}
	l := &Local{
		cfg:      cfg,
		board:    newInfoBoard(),
		pages:    pages,
		rooms:    trust.Rooms(cfg.LiveKitURL, cfg.APIKey, cfg.APISecret),
		egresses: map[string]*egress{},
		tracks:   map[string]*trackEgress{},
	}
	l.comps = newComposites(composite.Deps{
		LiveKitURL: cfg.LiveKitURL, APIKey: cfg.APIKey, APISecret: cfg.APISecret,
		Trust:        trust,
		PageURL:      pages.URL,
		Pulse:        l.pulseServer,
		StartTimeout: cfg.StartTimeout,
		RejoinWindow: cfg.RejoinWindow,
		Logf:         cfg.Logf,
	}, cfg.KeepReady)
	// A request's own webhooks follow every update of its egress.
	ctx, cancel := context.WithCancel(context.Background())
	l.stopWatch = cancel
	updates := l.board.watch(ctx.Done())
	l.background.Go(func() {
		for info := range updates {
			l.mu.Lock()
			e := l.egresses[info.EgressId]
			l.mu.Unlock()
			if e != nil && e.hooks != nil {
				e.hooks.Observe(info, false)
			}
		}
	})
	return l, nil
}

// RoomViewReady reports whether a room view is ready for the next
// composite (Config.KeepReady), which then starts without Chromium's
// start and the page's load if it is of that view's size.
func (l *Local) RoomViewReady() bool { return l.comps.ready.isReady() }

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

// Start validates the request, checks its buckets and begins the egress;
// it returns as soon as the egress is STARTING.
func (l *Local) Start(ctx context.Context, req *livekit.RoomCompositeEgressRequest) (*livekit.EgressInfo, error) {
	return l.start(ctx, request.Composite(req), dispatch{})
}

// StartEgress starts LiveKit's unified request, as Start does the
// RoomComposite one; only a template source is served.
func (l *Local) StartEgress(ctx context.Context, req *livekit.StartEgressRequest) (*livekit.EgressInfo, error) {
	start, err := request.Unified(req)
	if err != nil {
		return nil, err
	}
	return l.start(ctx, start, dispatch{})
}

// StartParticipant begins LiveKit's ParticipantEgress: one person's
// camera (or screen share) and microphone, transcoded to the request's
// outputs as a composite's are, with no browser (see subscriber). A
// participant not in the room is refused here.
func (l *Local) StartParticipant(ctx context.Context, req *livekit.ParticipantEgressRequest) (*livekit.EgressInfo, error) {
	start, err := request.Participant(req)
	if err != nil {
		return nil, err
	}
	return l.start(ctx, start, dispatch{})
}

// StartTrackComposite begins LiveKit's TrackCompositeEgress: an audio
// and a video track by ID, as StartParticipant records a person's.
func (l *Local) StartTrackComposite(ctx context.Context, req *livekit.TrackCompositeEgressRequest) (*livekit.EgressInfo, error) {
	start, err := request.TrackComposite(req)
	if err != nil {
		return nil, err
	}
	return l.start(ctx, start, dispatch{})
}

// dispatch is what a LiveKit server gave an egress it dispatched to this
// engine; the zero value for one the engine was asked for itself.
type dispatch struct{ egressID, roomID string }

// StartDispatched starts an egress a LiveKit server dispatched to this
// engine as one of its Egress workers: under the server's egress ID, on
// a composite of its own whose recorder joins the room as that ID (see
// request.CompositeKey.Owner).
func (l *Local) StartDispatched(ctx context.Context, egressID, roomID string, start *request.Start) (*livekit.EgressInfo, error) {
	if egressID == "" {
		return nil, errors.New("egress_id: a dispatched egress needs the ID its server gave it")
	}
	if _, err := l.egress(egressID); err == nil {
		return nil, fmt.Errorf("egress_id: %s runs here already", egressID)
	}
	return l.start(ctx, start, dispatch{egressID, roomID})
}

func (l *Local) start(ctx context.Context, start *request.Start, from dispatch) (*livekit.EgressInfo, error) {
	opts := request.Options{Now: time.Now(), OutputDir: l.cfg.OutputDir, DefaultUpload: l.cfg.DefaultUpload, APIKeys: []string{l.cfg.APIKey}}
	plan, err := start.Build(opts)
	if err != nil {
		return nil, err // the request's own mistakes first
	}
	opts.RoomID = from.roomID
	if opts.RoomID == "" {
		if opts.RoomID, err = l.roomID(ctx, plan.RoomName); err != nil {
			return nil, err
		}
	}
	plan, err = start.Build(opts) // again, with {room_id}
	if err != nil {
		return nil, err
	}
	for _, w := range plan.Warnings {
		l.cfg.Logf("request: %s", w)
	}
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return nil, errors.New("the engine is closed")
	}
	id := cmp.Or(from.egressID, guid.New(guid.EgressPrefix))
	var tracks *subscriber.Source
	if plan.Tracks != nil {
		// Joined now, so that a participant or track not in the room is
		// refused with the request, naming its field.
		tracks, err = subscriber.Start(subscriber.Config{
			URL: l.cfg.LiveKitURL, APIKey: l.cfg.APIKey, APISecret: l.cfg.APISecret,
			Room: plan.RoomName, Identity: id, Source: *plan.Tracks,
			Audio: !plan.VideoOnly, Video: !plan.AudioOnly,
			Width: plan.Video.Width, Height: plan.Video.Height, FPS: plan.Video.FPS, Logf: l.cfg.Logf,
		})
		if err != nil {
			return nil, err
		}
	}
	e, err := newEgress(ctx, id, opts.RoomID, start, plan, l)
	if err != nil {
		if tracks != nil {
			_ = tracks.Close()
		}
		return nil, err
	}
	e.tracks = tracks
	if from.egressID != "" {
		e.key.Owner = id
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		e.closeStores()
		if tracks != nil {
			_ = tracks.Close()
		}
		return nil, errors.New("the engine is closed")
	}
	l.egresses[e.id] = e
	l.background.Add(1) // under l.mu: Close waits only once closed is set
	l.mu.Unlock()
	info := l.board.get(e.id)
	go func() {
		defer l.background.Done()
		e.run()
		if e.hooks != nil {
			e.hooks.Close(webhookDrain)
		}
	}()
	return info, nil
}

func (l *Local) egress(id string) (*egress, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.egresses[id]; e != nil {
		return e, nil
	}
	return nil, engine.NotFound(id)
}

// UpdateStream adds and removes RTMP destinations of a running egress;
// the other destinations and outputs go on undisturbed.
func (l *Local) UpdateStream(_ context.Context, req *livekit.UpdateStreamRequest) (*livekit.EgressInfo, error) {
	e, err := l.egress(req.EgressId)
	if err != nil {
		return nil, err
	}
	add, err := request.Destinations("add_output_urls", req.AddOutputUrls, "add_destinations", req.AddDestinations)
	if err != nil {
		return nil, err
	}
	if err := e.updateStream(add, req.RemoveOutputUrls); err != nil {
		return nil, err
	}
	e.publish()
	return l.board.get(req.EgressId), nil
}

// Stop ends an egress and waits until its outputs are finalised.
func (l *Local) Stop(ctx context.Context, egressID string) (*livekit.EgressInfo, error) {
	if info, ok, err := l.stopTrack(ctx, egressID); ok {
		return info, err
	}
	e, err := l.egress(egressID)
	if err != nil {
		return nil, err
	}
	e.stop(livekit.EndReasonAPI)
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
	e, err := l.egress(egressID)
	if err != nil {
		return nil, err
	}
	if e.tracks != nil {
		return nil, fmt.Errorf("egress %s records %s's tracks, not a room composite; it has no layout", egressID, e.tracks.Person())
	}
	s := e.currentSlot()
	if s == nil {
		return nil, e.notRecording("update its layout")
	}
	if l.comps.keyOf(s).CustomBaseURL != "" {
		return nil, fmt.Errorf("egress %s records a custom template; its layout is the template's own", egressID)
	}
	if err := l.comps.setLayout(ctx, s, name); err != nil {
		return nil, err
	}
	return l.board.update(egressID, func(info *livekit.EgressInfo) {
		if rc := info.GetRoomComposite(); rc != nil {
			rc.Layout = name
		}
		if t := info.GetEgress().GetTemplate(); t != nil {
			t.Layout = name
		}
	}), nil
}

// List reports egresses as LiveKit's ListEgress does: by room, by ID,
// active only; all in one page, so it gives no next page token and takes
// none.
func (l *Local) List(_ context.Context, req *livekit.ListEgressRequest) (*livekit.ListEgressResponse, error) {
	if req == nil {
		req = &livekit.ListEgressRequest{}
	}
	if req.PageToken.GetToken() != "" {
		return nil, &request.FieldError{Field: "page_token", Msg: "this engine lists every egress in one page and gave no next_page_token; leave page_token out"}
	}
	items := l.board.list(func(info *livekit.EgressInfo) bool {
		if req.RoomName != "" && info.RoomName != req.RoomName {
			return false
		}
		if req.EgressId != "" && info.EgressId != req.EgressId {
			return false
		}
		return !req.Active || !engine.IsFinal(info.Status)
	})
	return &livekit.ListEgressResponse{Items: items}, nil
}

// Watch delivers every EgressInfo update until ctx ends.
func (l *Local) Watch(ctx context.Context) <-chan *livekit.EgressInfo {
	return l.board.watch(ctx.Done())
}

// Preview runs the composite for req's room, layout and preset.
func (l *Local) Preview(ctx context.Context, req *livekit.RoomCompositeEgressRequest, onFrame func(*image.RGBA)) (func(), error) {
	key, err := request.CompositeOf(req)
	if err != nil {
		return nil, err
	}
	key.AudioOnly = false // a preview shows the picture; an audio-only egress joins it
	s, err := l.comps.acquire(ctx, key)
	if err != nil {
		return nil, err
	}
	remove := s.comp.AddPreview(onFrame)
	var once sync.Once
	return func() {
		once.Do(func() {
			remove()
			l.comps.release(s)
		})
	}, nil
}

// StreamRates measures what the egress's stream output sends to each
// destination.
func (l *Local) StreamRates(egressID string) (map[string]float64, error) {
	e, err := l.egress(egressID)
	if err != nil {
		return nil, err
	}
	if e.stream == nil {
		return nil, fmt.Errorf("egress %s has no stream output", egressID)
	}
	return e.stream.Rates(), nil
}

// Mark marks the moment now in every file and segments output of the
// egress.
func (l *Local) Mark(_ context.Context, egressID, label string) (engine.Mark, error) {
	e, err := l.egress(egressID)
	if err != nil {
		return engine.Mark{}, err
	}
	return e.mark(label)
}

// Pause stops writing the egress's files, segments and images; its
// composite and streams go on.
func (l *Local) Pause(_ context.Context, egressID string) error {
	e, err := l.egress(egressID)
	if err != nil {
		return err
	}
	return e.pause(false)
}

// Resume writes the egress's paused outputs on.
func (l *Local) Resume(_ context.Context, egressID string) error {
	e, err := l.egress(egressID)
	if err != nil {
		return err
	}
	return e.pause(true)
}

// Relabel changes the label of one of the egress's markers.
func (l *Local) Relabel(_ context.Context, egressID string, index int, label string) error {
	e, err := l.egress(egressID)
	if err != nil {
		return err
	}
	return e.relabel(index, label)
}

// AudioLevel reads the meter of the running composite that req records
// or previews.
func (l *Local) AudioLevel(req *livekit.RoomCompositeEgressRequest) (engine.AudioLevel, bool) {
	c := l.runningFor(req)
	if c == nil {
		return engine.AudioLevel{}, false
	}
	m := c.AudioLevel()
	return engine.AudioLevel{Peak: m.Peak, RMS: m.RMS, At: m.At, ClippedAt: m.ClippedAt, SilentSince: m.SilentSince}, true
}

// DisplayDelays reads how late the running composite that req records
// shows each person's camera (see engine.DisplayDelayer).
func (l *Local) DisplayDelays(ctx context.Context, req *livekit.RoomCompositeEgressRequest) (map[string]time.Duration, error) {
	c := l.runningFor(req)
	if c == nil {
		return nil, nil
	}
	return c.DisplayDelays(ctx)
}

// PeopleLevels reads the page's meters of the running composite that req
// records or previews.
func (l *Local) PeopleLevels(ctx context.Context, req *livekit.RoomCompositeEgressRequest) ([]engine.PersonLevel, error) {
	c := l.runningFor(req)
	if c == nil {
		return nil, nil
	}
	people, err := c.PeopleLevels(ctx)
	if err != nil || people == nil {
		return nil, err
	}
	out := make([]engine.PersonLevel, len(people))
	for i, p := range people {
		out[i] = engine.PersonLevel{Identity: p.Identity, Name: p.Name, MicOn: p.MicOn, RMS: p.RMS, Peak: p.Peak}
	}
	return out, nil
}

// runningFor is the running composite that req records or previews, nil
// when there is none.
func (l *Local) runningFor(req *livekit.RoomCompositeEgressRequest) *composite.Composite {
	want, err := request.CompositeOf(req)
	if err != nil {
		return nil
	}
	for key, c := range l.comps.running() {
		if key.Serves(want) {
			return c
		}
	}
	return nil
}

// roomID is the room's SID on the LiveKit server, which must have it.
func (l *Local) roomID(ctx context.Context, name string) (string, error) {
	resp, err := l.rooms.ListRooms(ctx, &livekit.ListRoomsRequest{Names: []string{name}})
	if err != nil {
		return "", fmt.Errorf("livekit: look up room %q: %w", name, err)
	}
	for _, r := range resp.Rooms {
		if r.Name == name {
			return r.Sid, nil
		}
	}
	return "", fmt.Errorf("room_name: %w: %q is not on the LiveKit server at %s; start the room (a participant joining starts it) before recording it", engine.ErrRoomNotFound, name, l.cfg.LiveKitURL)
}

// Rooms lists the rooms of the engine's LiveKit server.
func (l *Local) Rooms(ctx context.Context) ([]*livekit.Room, error) {
	resp, err := l.rooms.ListRooms(ctx, &livekit.ListRoomsRequest{})
	if err != nil {
		return nil, fmt.Errorf("livekit: list rooms: %w", err)
	}
	return resp.Rooms, nil
}

// People lists the people in room, as engine.PeopleLister says.
func (l *Local) People(ctx context.Context, room string) ([]string, error) {
	resp, err := l.rooms.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: room})
	if err != nil {
		return nil, fmt.Errorf("livekit: list the people in %q: %w", room, err)
	}
	return engine.PeopleOf(resp.Participants), nil
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
	var ts []*trackEgress
	for _, t := range l.tracks {
		ts = append(ts, t)
	}
	l.mu.Unlock()
	var wg sync.WaitGroup
	for _, e := range es {
		wg.Go(func() {
			e.stop(endReasonStudioClosed)
			<-e.done
		})
	}
	for _, t := range ts {
		wg.Go(func() {
			t.stop(endReasonStudioClosed)
			<-t.done
		})
	}
	wg.Wait()

	l.stopWatch()
	l.background.Wait()
	errs := []error{l.comps.close(), l.pages.Close()}
	if l.pulse != nil {
		errs = append(errs, l.pulse.Close())
	}
	return errors.Join(errs...)
}

// Stats reports every running composite.
func (l *Local) Stats() []engine.CompositeStats {
	var out []engine.CompositeStats
	for key, c := range l.comps.running() {
		st := c.Stats()
		out = append(out, engine.CompositeStats{
			Key:                  key.String(),
			GrabbedFrames:        st.GrabbedFrames,
			EncoderDroppedFrames: st.EncoderDroppedFrames,
			FPS:                  key.FPS,
			Running:              st.Running,
			VideoEncoders:        st.VideoEncoders,
			AudioEncoders:        st.AudioEncoders,
			Unsynced:             st.Unsynced,
		})
	}
	return out
}
