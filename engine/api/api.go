// Package api serves LiveKit's Egress API (Twirp, /twirp/livekit.Egress/...)
// over an engine.Studio, so that LiveKit's server SDKs and `lk` drive the
// studio: room composites start, update, list and stop; access tokens are
// checked as livekit-server checks them; egress webhooks are signed as
// LiveKit signs them.
package api

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"

	"roomcast/engine"
	"roomcast/engine/reach"
	"roomcast/engine/request"
)

// DefaultAddr is where `roomcast serve` listens unless told otherwise:
// loopback only, as the demo room is.
const DefaultAddr = "127.0.0.1:7890"

// stopWait is how long StopEgress waits for the egress to reach ENDING
// before answering with what it has; the engine takes microseconds, so
// this only bounds a stuck egress.
const stopWait = 5 * time.Second

// stopFinish bounds the background wait for a stopped egress to finalise
// its outputs; past it the wait is logged and dropped (the engine keeps
// stopping it). LiveKit Egress allows its pipeline about a minute to EOS.
const stopFinish = 2 * time.Minute

// Config sets up a Server.
type Config struct {
	// APIKey and APISecret verify access tokens and sign webhooks: the
	// LiveKit project's (or the demo room's) key and secret.
	APIKey, APISecret string
	// Capacity is the CPU budget for composites; zero means no limit.
	Capacity Capacity
	// WebhookURLs receive egress_started, egress_updated and egress_ended.
	WebhookURLs []string
	// Logf receives one line per call and per problem; nil discards.
	// Tokens, secrets and request bodies never reach it.
	Logf func(format string, args ...any)
}

// Server is the Egress API over a Studio. It is an http.Handler; Close
// it after the Studio is closed, to send the last webhooks.
type Server struct {
	studio engine.Studio
	keys   auth.KeyProvider
	twirp  http.Handler
	admit  *admitter
	hooks  *webhooks // nil without URLs
	logf   func(string, ...any)

	bg        sync.WaitGroup // background stops
	closeOnce sync.Once
}

// New builds the API over studio. It starts the webhook sender if URLs
// are configured.
func New(studio engine.Studio, cfg Config) (*Server, error) {
	if cfg.APIKey == "" || cfg.APISecret == "" {
		return nil, errors.New("api: an API key and secret are needed to verify access tokens; set LIVEKIT_API_KEY and LIVEKIT_API_SECRET, or use --demo")
	}
	if err := cfg.Capacity.check(); err != nil {
		return nil, err
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	s := &Server{
		studio: studio,
		keys:   auth.NewSimpleKeyProvider(cfg.APIKey, cfg.APISecret),
		admit:  &admitter{cap: cfg.Capacity.withDefaults()},
		logf:   cfg.Logf,
	}
	if len(cfg.WebhookURLs) > 0 {
		h, err := startWebhooks(studio, cfg)
		if err != nil {
			return nil, err
		}
		s.hooks = h
	}
	s.twirp = livekit.NewEgressServer(&service{s}, twirp.WithServerPathPrefix("/twirp"))
	return s, nil
}

// ServeHTTP checks the access token, then hands the call to Twirp, which
// speaks both protobuf and JSON. A refused token starts nothing.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := authenticate(r, s.keys); err != nil {
		s.logf("api: %s %s refused: %s: %s", r.Method, r.URL.Path, err.Code(), err.Msg())
		_ = twirp.WriteError(w, err)
		return
	}
	s.twirp.ServeHTTP(w, r)
}

// Close waits for background stops, then sends the webhooks still due
// (every egress's final state, once the studio has closed) and stops the
// senders. Call it once the HTTP server has stopped serving and the
// studio is closed. Safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.bg.Wait()
		if s.hooks != nil {
			s.hooks.close()
		}
	})
	return nil
}

// service implements livekit.Egress for the generated Twirp server.
type service struct{ s *Server }

var _ livekit.Egress = (*service)(nil)

func (v *service) StartRoomCompositeEgress(ctx context.Context, req *livekit.RoomCompositeEgressRequest) (*livekit.EgressInfo, error) {
	return v.start(ctx, "StartRoomCompositeEgress", request.Composite(req), func() (*livekit.EgressInfo, error) {
		return v.s.studio.Start(ctx, req)
	})
}

// StartEgress serves LiveKit's unified request for a template source
// (a room composite, as StartRoomCompositeEgress); a web or media source
// is refused with the reason.
func (v *service) StartEgress(ctx context.Context, req *livekit.StartEgressRequest) (*livekit.EgressInfo, error) {
	start, err := request.Unified(req)
	if err != nil {
		return nil, v.fail("StartEgress", err)
	}
	return v.start(ctx, "StartEgress", start, func() (*livekit.EgressInfo, error) {
		return v.s.studio.StartEgress(ctx, req)
	})
}

// start validates the request (a bad one is invalid_argument whatever the
// load), admits its composite and runs it.
func (v *service) start(ctx context.Context, method string, start *request.Start, run func() (*livekit.EgressInfo, error)) (*livekit.EgressInfo, error) {
	plan, err := start.Build(request.Options{})
	if err != nil {
		return nil, v.fail(method, err)
	}
	info, err := v.s.admit.start(ctx, v.s.studio, plan, run)
	if err != nil {
		return nil, v.fail(method, err)
	}
	v.s.logf("api: %s %s: %s %s", method, plan.Source(), info.EgressId, info.Status)
	return info, nil
}

func (v *service) UpdateLayout(ctx context.Context, req *livekit.UpdateLayoutRequest) (*livekit.EgressInfo, error) {
	if _, err := v.updatable(ctx, "UpdateLayout", req.EgressId); err != nil {
		return nil, err
	}
	info, err := v.s.studio.UpdateLayout(ctx, req.EgressId, req.Layout)
	if err != nil {
		return nil, v.fail("UpdateLayout", err)
	}
	v.s.logf("api: UpdateLayout %s: %s", req.EgressId, req.Layout)
	return info, nil
}

func (v *service) UpdateStream(ctx context.Context, req *livekit.UpdateStreamRequest) (*livekit.EgressInfo, error) {
	if _, err := v.updatable(ctx, "UpdateStream", req.EgressId); err != nil {
		return nil, err
	}
	info, err := v.s.studio.UpdateStream(ctx, req)
	if err != nil {
		return nil, v.fail("UpdateStream", err)
	}
	// URLs hold stream keys: count them, never print them.
	v.s.logf("api: UpdateStream %s: %d URL(s) added, %d removed", req.EgressId, len(req.AddOutputUrls), len(req.RemoveOutputUrls))
	return info, nil
}

func (v *service) ListEgress(ctx context.Context, req *livekit.ListEgressRequest) (*livekit.ListEgressResponse, error) {
	resp, err := v.s.studio.List(ctx, req)
	if err != nil {
		return nil, v.fail("ListEgress", err)
	}
	return resp, nil
}

// StopEgress answers as LiveKit does: the egress's info at ENDING, as
// soon as it gets there; its outputs are finalised in the background and
// a later ListEgress shows the final state. Stopping an egress that has
// already ended is failed_precondition.
func (v *service) StopEgress(ctx context.Context, req *livekit.StopEgressRequest) (*livekit.EgressInfo, error) {
	info, err := v.lookup(ctx, "StopEgress", req.EgressId)
	if err != nil {
		return nil, err
	}
	if final(info.Status) {
		return nil, v.fail("StopEgress", twirp.NewErrorf(twirp.FailedPrecondition, "egress with status %s cannot be stopped", info.Status))
	}
	// Watch before stopping, so the ENDING update cannot slip past.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	updates := v.s.studio.Watch(wctx)
	type result struct {
		info *livekit.EgressInfo
		err  error
	}
	done := make(chan result, 1)
	began := time.Now()
	v.s.bg.Go(func() {
		sctx, cancel := context.WithTimeout(context.Background(), stopFinish)
		defer cancel()
		ended, err := v.s.studio.Stop(sctx, req.EgressId)
		switch {
		case err != nil:
			v.s.logf("api: StopEgress %s: %v", req.EgressId, err)
		case ended != nil && ended.EndedAt > 0:
			v.s.logf("api: StopEgress %s: %s %s after the call", req.EgressId, ended.Status, time.Unix(0, ended.EndedAt).Sub(began).Round(time.Millisecond))
		}
		done <- result{ended, err}
	})
	timeout := time.NewTimer(stopWait)
	defer timeout.Stop()
	for {
		select {
		case u, ok := <-updates:
			if !ok {
				updates = nil
				continue
			}
			if u.EgressId == req.EgressId && u.Status != livekit.EgressStatus_EGRESS_STARTING && u.Status != livekit.EgressStatus_EGRESS_ACTIVE {
				return u, nil
			}
		case r := <-done:
			if r.err != nil && r.info == nil {
				return nil, v.fail("StopEgress", r.err)
			}
			return r.info, nil
		case <-timeout.C:
			// Stuck before ENDING: say what the egress is doing now.
			return v.lookup(ctx, "StopEgress", req.EgressId)
		case <-ctx.Done():
			return nil, v.fail("StopEgress", ctx.Err())
		}
	}
}

// unsupported answers the Egress methods Roomcast does not serve.
func unsupported(method string) error {
	return twirp.NewErrorf(twirp.Unimplemented, "%s: Roomcast records room composites, participants and tracks; use StartRoomCompositeEgress, StartEgress with a template source, StartParticipantEgress, StartTrackCompositeEgress or StartTrackEgress (the last three on the embedded engine)", method)
}

func (v *service) StartWebEgress(context.Context, *livekit.WebEgressRequest) (*livekit.EgressInfo, error) {
	return nil, v.fail("StartWebEgress", unsupported("StartWebEgress"))
}

// StartParticipantEgress records one person's camera and microphone, on
// a studio that records tracks (the embedded engine), admitted at a
// participant recording's cost (Capacity.CostRecording).
func (v *service) StartParticipantEgress(ctx context.Context, req *livekit.ParticipantEgressRequest) (*livekit.EgressInfo, error) {
	const method = "StartParticipantEgress"
	tr, ok := v.s.studio.(engine.TrackRecorder)
	if !ok {
		return nil, v.fail(method, unsupported(method))
	}
	start, err := request.Participant(req)
	if err != nil {
		return nil, v.fail(method, err)
	}
	return v.start(ctx, method, start, func() (*livekit.EgressInfo, error) { return tr.StartParticipant(ctx, req) })
}

// StartTrackCompositeEgress records an audio and a video track, as
// StartParticipantEgress records a person's.
func (v *service) StartTrackCompositeEgress(ctx context.Context, req *livekit.TrackCompositeEgressRequest) (*livekit.EgressInfo, error) {
	const method = "StartTrackCompositeEgress"
	tr, ok := v.s.studio.(engine.TrackRecorder)
	if !ok {
		return nil, v.fail(method, unsupported(method))
	}
	start, err := request.TrackComposite(req)
	if err != nil {
		return nil, v.fail(method, err)
	}
	return v.start(ctx, method, start, func() (*livekit.EgressInfo, error) { return tr.StartTrackComposite(ctx, req) })
}

// StartTrackEgress copies one track as sent, on a studio that records
// tracks (the embedded engine), admitted against the CPU budget at a
// track copy's cost (Capacity.CostTrack).
func (v *service) StartTrackEgress(ctx context.Context, req *livekit.TrackEgressRequest) (*livekit.EgressInfo, error) {
	tr, ok := v.s.studio.(engine.TrackRecorder)
	if !ok {
		return nil, v.fail("StartTrackEgress", unsupported("StartTrackEgress"))
	}
	if _, err := request.Track(req, request.Options{}); err != nil {
		return nil, v.fail("StartTrackEgress", err) // the request's own mistakes first
	}
	info, err := v.s.admit.startTrack(ctx, v.s.studio, func() (*livekit.EgressInfo, error) { return tr.StartTrack(ctx, req) })
	if err != nil {
		return nil, v.fail("StartTrackEgress", err)
	}
	v.s.logf("api: StartTrackEgress %s/%s: %s %s", req.RoomName, req.TrackId, info.EgressId, info.Status)
	return info, nil
}

// lookup returns the egress's info, or not_found.
func (v *service) lookup(ctx context.Context, method, id string) (*livekit.EgressInfo, error) {
	if id == "" {
		return nil, v.fail(method, twirp.InvalidArgumentError("egress_id", "is required"))
	}
	resp, err := v.s.studio.List(ctx, &livekit.ListEgressRequest{EgressId: id})
	if err != nil {
		return nil, v.fail(method, err)
	}
	if len(resp.Items) == 0 {
		return nil, v.fail(method, twirp.NewErrorf(twirp.NotFound, "egress %q not found", id))
	}
	return resp.Items[0], nil
}

// updatable returns the egress's info if it has not ended (LiveKit's
// wording otherwise).
func (v *service) updatable(ctx context.Context, method, id string) (*livekit.EgressInfo, error) {
	info, err := v.lookup(ctx, method, id)
	if err != nil {
		return nil, err
	}
	if final(info.Status) {
		return nil, v.fail(method, twirp.NewErrorf(twirp.FailedPrecondition, "egress with status %s cannot be updated", info.Status))
	}
	return info, nil
}

// fail logs a refused call and returns its Twirp error.
func (v *service) fail(method string, err error) error {
	te := twirpError(err)
	v.s.logf("api: %s: %s: %s", method, te.Code(), te.Msg())
	return te
}

// twirpError maps engine errors to Twirp codes. This is the only place
// that does: the engine wraps with %w and never knows about Twirp.
func twirpError(err error) twirp.Error {
	var te twirp.Error
	var unreachable *reach.Error
	switch {
	case errors.As(err, &te):
		// Ours (auth, capacity, not found) or a remote engine's.
		return te
	case errors.Is(err, request.ErrInvalid):
		return twirp.NewError(twirp.InvalidArgument, err.Error())
	case errors.Is(err, engine.ErrNotFound), errors.Is(err, engine.ErrRoomNotFound):
		return twirp.NewError(twirp.NotFound, err.Error())
	case errors.As(err, &unreachable) && unreachable.Untrusted:
		return twirp.NewError(twirp.FailedPrecondition, err.Error())
	case errors.As(err, &unreachable):
		return twirp.NewError(twirp.Unavailable, err.Error())
	case errors.Is(err, context.Canceled):
		return twirp.NewError(twirp.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return twirp.NewError(twirp.DeadlineExceeded, err.Error())
	}
	return twirp.NewError(twirp.Internal, err.Error())
}

// final reports whether an egress has ended (COMPLETE, FAILED, ABORTED,
// LIMIT_REACHED).
func final(s livekit.EgressStatus) bool {
	switch s {
	case livekit.EgressStatus_EGRESS_COMPLETE, livekit.EgressStatus_EGRESS_FAILED,
		livekit.EgressStatus_EGRESS_ABORTED, livekit.EgressStatus_EGRESS_LIMIT_REACHED:
		return true
	}
	return false
}
