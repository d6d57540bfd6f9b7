package engine_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"
	"google.golang.org/protobuf/proto"

	"roomcast/engine"
	"roomcast/engine/request"
)

// egressService is a scripted LiveKit Egress service for the remote
// engine's unit tests: it answers like LiveKit (StopEgress at ENDING,
// failed_precondition once ended, not_found) and the test moves its
// egresses along. The api package's tests run the real server.
type egressService struct {
	mu     sync.Mutex
	infos  map[string]*livekit.EgressInfo
	order  []string
	starts int
	lists  int
	// endAfter: a stopped egress turns COMPLETE on this many more ListEgress calls.
	endAfter int
	ending   map[string]int
	// hidden egresses never show in the active list (a very short one).
	hidden map[string]bool
	// pageSize > 0 pages ListEgress as a LiveKit Cloud service does; the
	// token is the offset of the page.
	pageSize int
}

func newEgressService() *egressService {
	return &egressService{infos: map[string]*livekit.EgressInfo{}, ending: map[string]int{}, hidden: map[string]bool{}, endAfter: 2}
}

func (s *egressService) set(id string, status livekit.EgressStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.infos[id].Status = status
	s.infos[id].UpdatedAt = time.Now().UnixNano()
}

func (s *egressService) StartRoomCompositeEgress(_ context.Context, req *livekit.RoomCompositeEgressRequest) (*livekit.EgressInfo, error) {
	return s.start(req.RoomName), nil
}

func (s *egressService) StartEgress(_ context.Context, req *livekit.StartEgressRequest) (*livekit.EgressInfo, error) {
	return s.start(req.RoomName), nil
}

func (s *egressService) start(room string) *livekit.EgressInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.starts++
	id := fmt.Sprintf("EG_remote%04d", s.starts)
	s.infos[id] = &livekit.EgressInfo{EgressId: id, RoomName: room, Status: livekit.EgressStatus_EGRESS_STARTING, UpdatedAt: time.Now().UnixNano()}
	s.order = append(s.order, id)
	return proto.Clone(s.infos[id]).(*livekit.EgressInfo)
}

func (s *egressService) StopEgress(_ context.Context, req *livekit.StopEgressRequest) (*livekit.EgressInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	info := s.infos[req.EgressId]
	switch {
	case info == nil:
		return nil, twirp.NotFoundError("egress not found")
	case info.Status > livekit.EgressStatus_EGRESS_ENDING:
		return nil, twirp.NewErrorf(twirp.FailedPrecondition, "egress with status %s cannot be stopped", info.Status)
	}
	info.Status = livekit.EgressStatus_EGRESS_ENDING
	info.UpdatedAt = time.Now().UnixNano()
	s.ending[req.EgressId] = s.endAfter
	return proto.Clone(info).(*livekit.EgressInfo), nil
}

func (s *egressService) ListEgress(_ context.Context, req *livekit.ListEgressRequest) (*livekit.ListEgressResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lists++
	for id, n := range s.ending {
		if n--; n <= 0 {
			s.infos[id].Status = livekit.EgressStatus_EGRESS_COMPLETE
			s.infos[id].UpdatedAt = time.Now().UnixNano()
			delete(s.ending, id)
		} else {
			s.ending[id] = n
		}
	}
	resp := &livekit.ListEgressResponse{}
	for _, id := range s.order {
		info := s.infos[id]
		active := info.Status <= livekit.EgressStatus_EGRESS_ENDING
		if (req.EgressId == "" || req.EgressId == id) && (!req.Active || (active && !s.hidden[id])) {
			resp.Items = append(resp.Items, proto.Clone(info).(*livekit.EgressInfo))
		}
	}
	if s.pageSize > 0 {
		from := 0
		if tok := req.PageToken.GetToken(); tok != "" {
			if _, err := fmt.Sscan(tok, &from); err != nil {
				return nil, twirp.InvalidArgumentError("page_token", "not a token of this service")
			}
		}
		from = min(from, len(resp.Items))
		to := min(from+s.pageSize, len(resp.Items))
		if to < len(resp.Items) {
			resp.NextPageToken = &livekit.TokenPagination{Token: fmt.Sprint(to)}
		}
		resp.Items = resp.Items[from:to]
	}
	return resp, nil
}

func (s *egressService) UpdateLayout(_ context.Context, req *livekit.UpdateLayoutRequest) (*livekit.EgressInfo, error) {
	if _, err := request.CheckLayout(req.Layout); err != nil {
		return nil, twirp.NewError(twirp.InvalidArgument, err.Error())
	}
	return nil, twirp.NotFoundError("egress not found")
}

func (s *egressService) UpdateStream(context.Context, *livekit.UpdateStreamRequest) (*livekit.EgressInfo, error) {
	return nil, twirp.NewError(twirp.Unimplemented, "no streams here")
}

func (s *egressService) StartWebEgress(context.Context, *livekit.WebEgressRequest) (*livekit.EgressInfo, error) {
	return nil, twirp.NewError(twirp.Unimplemented, "")
}

func (s *egressService) StartParticipantEgress(context.Context, *livekit.ParticipantEgressRequest) (*livekit.EgressInfo, error) {
	return nil, twirp.NewError(twirp.Unimplemented, "")
}

func (s *egressService) StartTrackCompositeEgress(context.Context, *livekit.TrackCompositeEgressRequest) (*livekit.EgressInfo, error) {
	return nil, twirp.NewError(twirp.Unimplemented, "")
}

func (s *egressService) StartTrackEgress(context.Context, *livekit.TrackEgressRequest) (*livekit.EgressInfo, error) {
	return nil, twirp.NewError(twirp.Unimplemented, "")
}

func newRemote(t *testing.T) (*engine.Remote, *egressService) {
	t.Helper()
	svc := newEgressService()
	hs := httptest.NewServer(livekit.NewEgressServer(svc))
	t.Cleanup(hs.Close)
	r, err := engine.NewRemote(engine.RemoteConfig{URL: hs.URL, APIKey: "key", APISecret: "secret", PollInterval: 10 * time.Millisecond, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	return r, svc
}

func fileReq(room string) *livekit.RoomCompositeEgressRequest {
	return &livekit.RoomCompositeEgressRequest{RoomName: room, FileOutputs: []*livekit.EncodedFileOutput{{Filepath: "x.mp4"}}}
}

func TestRemoteStartValidates(t *testing.T) {
	r, svc := newRemote(t)
	ctx := context.Background()
	composite := func(req *livekit.RoomCompositeEgressRequest) func() error {
		return func() error { _, err := r.Start(ctx, req); return err }
	}
	unified := func(src *livekit.StartEgressRequest_Template, web *livekit.StartEgressRequest_Web) func() error {
		req := &livekit.StartEgressRequest{RoomName: "demo", Source: src,
			Outputs: []*livekit.Output{{Config: &livekit.Output_File{File: &livekit.FileOutput{Filepath: "x.mp4"}}}}}
		if web != nil {
			req.Source = web
		}
		return func() error { _, err := r.StartEgress(ctx, req); return err }
	}
	cases := []struct {
		name    string
		start   func() error
		sent    bool // reached the service
		invalid bool
	}{
		{"good", composite(fileReq("demo")), true, false},
		{"invalid here", composite(&livekit.RoomCompositeEgressRequest{RoomName: "demo", Layout: "mosaic", FileOutputs: fileReq("").FileOutputs}), false, true},
		// Roomcast mixes audio one way only; LiveKit Egress may do more.
		{"unsupported here, left to the service", composite(&livekit.RoomCompositeEgressRequest{RoomName: "demo", AudioMixing: livekit.AudioMixing_DUAL_CHANNEL_AGENT, FileOutputs: fileReq("").FileOutputs}), true, false},
		{"unified, good", unified(&livekit.StartEgressRequest_Template{Template: &livekit.TemplateSource{Layout: "grid"}}, nil), true, false},
		{"unified, invalid here", unified(&livekit.StartEgressRequest_Template{Template: &livekit.TemplateSource{Layout: "mosaic"}}, nil), false, true},
		{"unified web source, left to the service", unified(nil, &livekit.StartEgressRequest_Web{Web: &livekit.WebSource{Url: "https://example.com"}}), true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := svc.starts
			err := c.start()
			if sent := svc.starts > before; sent != c.sent {
				t.Errorf("sent = %v, want %v", sent, c.sent)
			}
			if got := errors.Is(err, request.ErrInvalid); got != c.invalid {
				t.Errorf("err = %v; invalid = %v, want %v", err, got, c.invalid)
			}
		})
	}
}

// awaitUpdate reads updates until id reaches want. With strict, another
// status of id on the way fails the test.
func awaitUpdate(t *testing.T, updates <-chan *livekit.EgressInfo, id string, want livekit.EgressStatus, strict bool) {
	t.Helper()
	timeout := time.After(3 * time.Second)
	for {
		select {
		case u := <-updates:
			if u.EgressId != id {
				continue
			}
			if u.Status == want {
				return
			}
			if strict {
				t.Fatalf("update %s, want %s", u.Status, want)
			}
		case <-timeout:
			t.Fatalf("no %s update for %s within 3 s", want, id)
		}
	}
}

// TestRemoteWatchAndStop: Watch delivers each change of an egress started
// here, even one that never shows in the active list, and Stop waits for
// the final state that the service reaches after answering ENDING.
func TestRemoteWatchAndStop(t *testing.T) {
	r, svc := newRemote(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	updates := r.Watch(ctx)
	info, err := r.Start(ctx, fileReq("demo"))
	if err != nil {
		t.Fatal(err)
	}
	awaitUpdate(t, updates, info.EgressId, livekit.EgressStatus_EGRESS_STARTING, true)
	svc.set(info.EgressId, livekit.EgressStatus_EGRESS_ACTIVE)
	awaitUpdate(t, updates, info.EgressId, livekit.EgressStatus_EGRESS_ACTIVE, true)

	stopCtx, stopCancel := context.WithTimeout(ctx, 3*time.Second)
	defer stopCancel()
	final, err := r.Stop(stopCtx, info.EgressId)
	if err != nil || final.Status != livekit.EgressStatus_EGRESS_COMPLETE {
		t.Fatalf("Stop = %v, %v; want COMPLETE", final, err)
	}
	// Watch may or may not catch ENDING between two polls.
	awaitUpdate(t, updates, info.EgressId, livekit.EgressStatus_EGRESS_COMPLETE, false)

	// An egress that ends between two polls, never listed as active.
	quick, err := r.Start(ctx, fileReq("demo"))
	if err != nil {
		t.Fatal(err)
	}
	svc.mu.Lock()
	svc.hidden[quick.EgressId] = true
	svc.mu.Unlock()
	svc.set(quick.EgressId, livekit.EgressStatus_EGRESS_FAILED)
	awaitUpdate(t, updates, quick.EgressId, livekit.EgressStatus_EGRESS_FAILED, false)
}

// TestRemoteListPages: List hands the service's pages through as they
// come (next_page_token and all), and Watch reads every page, so it
// reports an egress started elsewhere that the service lists last.
func TestRemoteListPages(t *testing.T) {
	r, svc := newRemote(t)
	svc.pageSize = 2
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var last *livekit.EgressInfo
	for range 5 {
		// Started past this engine, as another studio or a server SDK would.
		info, err := svc.StartRoomCompositeEgress(ctx, fileReq("demo"))
		if err != nil {
			t.Fatal(err)
		}
		last = info
	}
	var pages []int
	req := &livekit.ListEgressRequest{}
	for {
		resp, err := r.List(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, len(resp.Items))
		if resp.NextPageToken == nil {
			break
		}
		req.PageToken = resp.NextPageToken
	}
	if fmt.Sprint(pages) != "[2 2 1]" {
		t.Errorf("pages of 5 egresses, 2 a page = %v, want [2 2 1]", pages)
	}
	awaitUpdate(t, r.Watch(ctx), last.EgressId, livekit.EgressStatus_EGRESS_STARTING, false)
}

func TestRemoteErrors(t *testing.T) {
	r, svc := newRemote(t)
	ctx := context.Background()
	info, err := r.Start(ctx, fileReq("demo"))
	if err != nil {
		t.Fatal(err)
	}
	svc.set(info.EgressId, livekit.EgressStatus_EGRESS_COMPLETE)
	twirpCode := func(err error) twirp.ErrorCode {
		var te twirp.Error
		if errors.As(err, &te) {
			return te.Code()
		}
		return twirp.NoError
	}
	cases := []struct {
		name    string
		call    func() error
		code    twirp.ErrorCode
		invalid bool
	}{
		{"stop unknown", func() error { _, err := r.Stop(ctx, "EG_nope"); return err }, twirp.NotFound, false},
		{"stop ended: its final info, no error", func() error { _, err := r.Stop(ctx, info.EgressId); return err }, twirp.NoError, false},
		{"bad layout", func() error { _, err := r.UpdateLayout(ctx, info.EgressId, "mosaic"); return err }, twirp.InvalidArgument, true},
		{"stream refused", func() error {
			_, err := r.UpdateStream(ctx, &livekit.UpdateStreamRequest{EgressId: info.EgressId})
			return err
		}, twirp.Unimplemented, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.call()
			if got := twirpCode(err); got != c.code {
				t.Fatalf("err = %v (code %s), want code %s", err, got, c.code)
			}
			if got := errors.Is(err, request.ErrInvalid); got != c.invalid {
				t.Errorf("errors.Is(err, request.ErrInvalid) = %v, want %v", got, c.invalid)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "remote ") {
				t.Errorf("error %q does not say it came from the remote service", err)
			}
		})
	}
	if _, err := r.Preview(ctx, fileReq("demo"), nil); err == nil || !strings.Contains(err.Error(), "no preview is available") {
		t.Errorf("Preview = %v, want an error saying no preview is available remotely", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
}
