package engine

import (
	"context"
	"errors"
	"fmt"
	"image"
	"net/url"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/twitchtv/twirp"
	"google.golang.org/protobuf/proto"

	"roomcast/engine/request"
)

// DefaultPollInterval is how often Remote.Watch asks the service for
// changes. LiveKit's Egress API has no push channel to its clients; half a
// second keeps progress timely at two small calls a second.
const DefaultPollInterval = 500 * time.Millisecond

// RemoteConfig names the LiveKit Egress service that runs the egresses:
// a LiveKit deployment with Egress workers, or another machine's
// `roomcast serve`.
type RemoteConfig struct {
	// URL is the server's URL (http(s):// or ws(s)://, as LiveKit's SDKs
	// take it); APIKey and APISecret sign the access tokens.
	URL, APIKey, APISecret string
	// RoomsURL is the LiveKit server whose rooms Rooms lists; "" for URL
	// (a LiveKit server with Egress is both).
	RoomsURL string
	// PollInterval overrides DefaultPollInterval.
	PollInterval time.Duration
	// Logf receives progress lines; nil discards them.
	Logf func(format string, args ...any)
}

// Remote is the remote engine: the same Studio calls, sent to a LiveKit
// Egress service through server-sdk-go's EgressClient. The service owns
// the egresses: they keep running when Remote is closed or the process
// ends, until stopped (Stop) or the room ends.
type Remote struct {
	cfg    RemoteConfig
	client *lksdk.EgressClient
	rooms  *lksdk.RoomServiceClient

	mu      sync.Mutex
	started map[string]bool // egresses started here: watched even if never seen active
}

var (
	_ Studio        = (*Remote)(nil)
	_ TrackRecorder = (*Remote)(nil)
)

// NewRemote checks the configuration; it does not call the service yet.
func NewRemote(cfg RemoteConfig) (*Remote, error) {
	if cfg.URL == "" || cfg.APIKey == "" || cfg.APISecret == "" {
		return nil, errors.New("remote engine: URL, API key and API secret are all needed; set LIVEKIT_API_KEY and LIVEKIT_API_SECRET (or --api-key, --api-secret) for the service at the --remote URL")
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.RoomsURL == "" {
		cfg.RoomsURL = cfg.URL
	}
	return &Remote{
		cfg:     cfg,
		client:  lksdk.NewEgressClient(cfg.URL, cfg.APIKey, cfg.APISecret),
		rooms:   lksdk.NewRoomServiceClient(cfg.RoomsURL, cfg.APIKey, cfg.APISecret),
		started: map[string]bool{},
	}, nil
}

// Start validates the request here (so a typo fails before a round trip),
// then starts it remotely. Features Roomcast lacks but LiveKit Egress may
// have (request.ErrUnsupported) are left for the service to judge. Paths
// are the service's: relative ones land in its output folder.
func (r *Remote) Start(ctx context.Context, req *livekit.RoomCompositeEgressRequest) (*livekit.EgressInfo, error) {
	if _, err := request.Composite(req).Build(request.Options{}); err != nil && !errors.Is(err, request.ErrUnsupported) {
		return nil, err
	}
	info, err := r.client.StartRoomCompositeEgress(ctx, req)
	return r.began("StartRoomCompositeEgress", info, err)
}

// StartEgress sends LiveKit's unified request, checked as Start checks
// its own; a source other than a template (which Roomcast cannot read) is
// the service's to judge.
func (r *Remote) StartEgress(ctx context.Context, req *livekit.StartEgressRequest) (*livekit.EgressInfo, error) {
	start, err := request.Unified(req)
	if err == nil {
		_, err = start.Build(request.Options{})
	}
	if err != nil && !errors.Is(err, request.ErrUnsupported) {
		return nil, err
	}
	info, err := r.client.StartEgress(ctx, req)
	return r.began("StartEgress", info, err)
}

// StartTrack sends LiveKit's TrackEgressRequest, checked as Track checks
// the embedded engine's; what Roomcast itself does not write (a
// websocket, an upload) is the service's to judge.
func (r *Remote) StartTrack(ctx context.Context, req *livekit.TrackEgressRequest) (*livekit.EgressInfo, error) {
	if _, err := request.Track(req, request.Options{}); err != nil && !errors.Is(err, request.ErrUnsupported) {
		return nil, err
	}
	info, err := r.client.StartTrackEgress(ctx, req)
	return r.began("StartTrackEgress", info, err)
}

// StartParticipant sends LiveKit's ParticipantEgressRequest, checked as
// the embedded engine checks it, what Roomcast does not serve left to the
// service.
func (r *Remote) StartParticipant(ctx context.Context, req *livekit.ParticipantEgressRequest) (*livekit.EgressInfo, error) {
	if err := checkRemote(request.Participant(req)); err != nil {
		return nil, err
	}
	info, err := r.client.StartParticipantEgress(ctx, req)
	return r.began("StartParticipantEgress", info, err)
}

// StartTrackComposite sends LiveKit's TrackCompositeEgressRequest, as
// StartParticipant does.
func (r *Remote) StartTrackComposite(ctx context.Context, req *livekit.TrackCompositeEgressRequest) (*livekit.EgressInfo, error) {
	if err := checkRemote(request.TrackComposite(req)); err != nil {
		return nil, err
	}
	info, err := r.client.StartTrackCompositeEgress(ctx, req)
	return r.began("StartTrackCompositeEgress", info, err)
}

// checkRemote validates a start request before it goes to a service:
// its own mistakes are refused here, what Roomcast alone does not serve
// (ErrUnsupported) is the service's to judge.
func checkRemote(start *request.Start, err error) error {
	if err == nil {
		_, err = start.Build(request.Options{})
	}
	if err != nil && !errors.Is(err, request.ErrUnsupported) {
		return err
	}
	return nil
}

// began remembers an egress that method started here, for Watch.
func (r *Remote) began(method string, info *livekit.EgressInfo, err error) (*livekit.EgressInfo, error) {
	if err != nil {
		return nil, remoteErr(method, err)
	}
	r.mu.Lock()
	r.started[info.EgressId] = true
	r.mu.Unlock()
	return info, nil
}

// Stop asks the service to stop the egress (it answers at ENDING), then
// waits, polling, until the outputs are finalised; if ctx ends first it
// returns the last info with ctx's error. An egress that had already
// ended is returned as it ended.
func (r *Remote) Stop(ctx context.Context, egressID string) (*livekit.EgressInfo, error) {
	info, err := r.client.StopEgress(ctx, &livekit.StopEgressRequest{EgressId: egressID})
	var te twirp.Error
	if err != nil && !(errors.As(err, &te) && te.Code() == twirp.FailedPrecondition) {
		return nil, remoteErr("StopEgress", err)
	}
	tick := time.NewTicker(r.cfg.PollInterval)
	defer tick.Stop()
	for info == nil || !IsFinal(info.Status) {
		select {
		case <-ctx.Done():
			return info, ctx.Err()
		case <-tick.C:
		}
		got, err := r.get(ctx, egressID)
		if err != nil {
			if ctx.Err() != nil {
				return info, ctx.Err()
			}
			return info, err
		}
		info = got
	}
	return info, nil
}

// UpdateLayout switches the egress's layout on the service.
func (r *Remote) UpdateLayout(ctx context.Context, egressID, layout string) (*livekit.EgressInfo, error) {
	info, err := r.client.UpdateLayout(ctx, &livekit.UpdateLayoutRequest{EgressId: egressID, Layout: layout})
	if err != nil {
		return nil, remoteErr("UpdateLayout", err)
	}
	return info, nil
}

// UpdateStream adds or removes RTMP URLs of a running egress.
func (r *Remote) UpdateStream(ctx context.Context, req *livekit.UpdateStreamRequest) (*livekit.EgressInfo, error) {
	info, err := r.client.UpdateStream(ctx, req)
	if err != nil {
		return nil, remoteErr("UpdateStream", err)
	}
	return info, nil
}

// List is the service's ListEgress: one page, and the token of the next.
func (r *Remote) List(ctx context.Context, req *livekit.ListEgressRequest) (*livekit.ListEgressResponse, error) {
	if req == nil {
		req = &livekit.ListEgressRequest{}
	}
	resp, err := r.client.ListEgress(ctx, req)
	if err != nil {
		return nil, remoteErr("ListEgress", err)
	}
	return resp, nil
}

// listAll follows the service's pages to the end.
func (r *Remote) listAll(ctx context.Context, req *livekit.ListEgressRequest) ([]*livekit.EgressInfo, error) {
	var items []*livekit.EgressInfo
	page := proto.Clone(req).(*livekit.ListEgressRequest)
	for {
		resp, err := r.List(ctx, page)
		if err != nil {
			return nil, err
		}
		items = append(items, resp.Items...)
		if resp.NextPageToken.GetToken() == "" {
			return items, nil
		}
		page.PageToken = resp.NextPageToken
	}
}

func (r *Remote) get(ctx context.Context, egressID string) (*livekit.EgressInfo, error) {
	items, err := r.listAll(ctx, &livekit.ListEgressRequest{EgressId: egressID})
	if err != nil {
		return nil, err
	}
	for _, info := range items {
		if info.EgressId == egressID {
			return info, nil
		}
	}
	return nil, NotFound(egressID)
}

// Watch polls the service every PollInterval and delivers each egress
// whose status or update time changed: the active ones, and until they
// end those it saw active or that were started through r. The first poll
// delivers every active egress. A failing poll is logged (once per run of
// failures) and retried.
func (r *Remote) Watch(ctx context.Context) <-chan *livekit.EgressInfo {
	ch := make(chan *livekit.EgressInfo, 64)
	go func() {
		defer close(ch)
		w := remoteWatch{r: r, out: ch, last: map[string]stamp{}, ended: map[string]bool{}, unreadable: map[string]bool{}}
		tick := time.NewTicker(r.cfg.PollInterval)
		defer tick.Stop()
		for {
			w.poll(ctx)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return ch
}

// stamp is what tells one EgressInfo version from the next.
type stamp struct {
	status    livekit.EgressStatus
	updatedAt int64
}

// remoteWatch is one Watch's memory of what it delivered.
type remoteWatch struct {
	r     *Remote
	out   chan<- *livekit.EgressInfo
	last  map[string]stamp // delivered and not ended
	ended map[string]bool  // delivered at a final state (or gone)
	// unreadable egresses failed to load once (logged once)
	unreadable map[string]bool
	failing    bool
}

func (w *remoteWatch) poll(ctx context.Context) {
	active, err := w.r.listAll(ctx, &livekit.ListEgressRequest{Active: true})
	if w.failed(ctx, err) {
		return
	}
	infos := active
	listed := map[string]bool{}
	for _, info := range active {
		listed[info.EgressId] = true
	}
	// Those that left the active list (or were started here and never
	// showed in it) ended: fetch their final state one by one.
	gone := map[string]bool{}
	for id := range w.last {
		gone[id] = !listed[id]
	}
	w.r.mu.Lock()
	for id := range w.r.started {
		gone[id] = !listed[id] && !w.ended[id]
	}
	w.r.mu.Unlock()
	for id, ok := range gone {
		if !ok {
			continue
		}
		info, err := w.r.get(ctx, id)
		switch {
		case errors.Is(err, ErrNotFound):
			delete(w.last, id)
			w.ended[id] = true
			continue
		case ctx.Err() != nil:
			return
		case err != nil:
			// One egress the service cannot report must not hold up the
			// others: try it again next round.
			if !w.unreadable[id] {
				w.r.cfg.Logf("remote engine: egress %s: %v", id, err)
				w.unreadable[id] = true
			}
			continue
		}
		infos = append(infos, info)
	}
	for _, info := range infos {
		s := stamp{info.Status, info.UpdatedAt}
		if prev, ok := w.last[info.EgressId]; ok && prev == s {
			continue
		}
		if IsFinal(info.Status) {
			delete(w.last, info.EgressId)
			w.ended[info.EgressId] = true
		} else {
			w.last[info.EgressId] = s
		}
		select {
		case w.out <- info:
		case <-ctx.Done():
			return
		}
	}
}

// failed reports err (once per run of failures) and whether the poll
// should give up this round.
func (w *remoteWatch) failed(ctx context.Context, err error) bool {
	if err == nil {
		if w.failing {
			w.r.cfg.Logf("remote engine: %s answers again", redactedHost(w.r.cfg.URL))
		}
		w.failing = false
		return false
	}
	if ctx.Err() == nil && !w.failing {
		w.r.cfg.Logf("remote engine: watching: %v (retrying every %s)", err, w.r.cfg.PollInterval)
	}
	w.failing = true
	return true
}

// A remote engine records each person on their own through the service.
var (
	_ TrackRecorder = (*Remote)(nil)
	_ PeopleLister  = (*Remote)(nil)
)

// Preview is not available remotely: the composite renders on the
// service's machines, and LiveKit's Egress API has no preview stream.
func (r *Remote) Preview(context.Context, *livekit.RoomCompositeEgressRequest, func(*image.RGBA)) (func(), error) {
	return nil, errors.New("preview: no preview is available from a remote engine (the composite renders on the service's machines); record, or switch to this machine's engine to preview")
}

// Rooms lists the rooms of the LiveKit server at RoomsURL.
func (r *Remote) Rooms(ctx context.Context) ([]*livekit.Room, error) {
	resp, err := r.rooms.ListRooms(ctx, &livekit.ListRoomsRequest{})
	if err != nil {
		return nil, remoteErr("ListRooms", err)
	}
	return resp.Rooms, nil
}

// People lists the people in room on the LiveKit server at RoomsURL, as
// PeopleLister says: with it, a studio records each person on their own
// through the service (LiveKit's participant egresses).
func (r *Remote) People(ctx context.Context, room string) ([]string, error) {
	resp, err := r.rooms.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: room})
	if err != nil {
		return nil, remoteErr("ListParticipants", err)
	}
	return PeopleOf(resp.Participants), nil
}

// Close releases nothing remote: the egresses belong to the service and
// go on until stopped. Stop each one first to end it with the client.
func (r *Remote) Close() error { return nil }

// remoteError is a call that the service refused or that failed on the
// way. It keeps the Twirp error (errors.As) and matches the engine's
// sentinels: not_found is ErrNotFound, invalid_argument request.ErrInvalid.
type remoteError struct {
	method string
	err    error
}

func remoteErr(method string, err error) error { return &remoteError{method: method, err: err} }

func (e *remoteError) Error() string {
	var te twirp.Error
	if errors.As(e.err, &te) {
		return fmt.Sprintf("remote %s: %s: %s", e.method, te.Code(), te.Msg())
	}
	return fmt.Sprintf("remote %s: %v", e.method, e.err)
}

func (e *remoteError) Unwrap() error { return e.err }

func (e *remoteError) Is(target error) bool {
	var te twirp.Error
	if !errors.As(e.err, &te) {
		return false
	}
	switch target {
	case ErrNotFound:
		return te.Code() == twirp.NotFound
	case request.ErrInvalid:
		return te.Code() == twirp.InvalidArgument
	}
	return false
}

// redactedHost is the URL's scheme and host, for messages.
func redactedHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "the remote service"
	}
	return u.Scheme + "://" + u.Host
}
