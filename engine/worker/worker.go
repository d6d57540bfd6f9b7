// Package worker makes the engine an Egress worker of a LiveKit
// deployment: it bids for the egress requests a LiveKit server dispatches
// over its Redis bus (psrpc, LiveKit's own generated servers and clients
// in protocol's rpc package), records those it wins, and reports every
// status change back to the server through its IOInfo service. The
// server stores what it is told, answers ListEgress with it and sends the
// webhooks, as it does for LiveKit's own Egress workers.
package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	lkredis "github.com/livekit/protocol/redis"
	"github.com/livekit/protocol/rpc"
	"github.com/livekit/psrpc"
	"github.com/livekit/psrpc/pkg/bus/redisbus"
	"google.golang.org/protobuf/proto"

	"roomcast/engine"
	"roomcast/engine/api"
	"roomcast/engine/request"
)

// Engine is what the worker drives: the local engine.
type Engine interface {
	StartDispatched(ctx context.Context, egressID, roomID string, start *request.Start) (*livekit.EgressInfo, error)
	Stop(ctx context.Context, egressID string) (*livekit.EgressInfo, error)
	UpdateStream(ctx context.Context, req *livekit.UpdateStreamRequest) (*livekit.EgressInfo, error)
	List(ctx context.Context, req *livekit.ListEgressRequest) (*livekit.ListEgressResponse, error)
	Watch(ctx context.Context) <-chan *livekit.EgressInfo
}

// Config configures a worker.
type Config struct {
	// Redis is the bus the LiveKit server dispatches on: its own redis
	// block (address, username, password, db, tls).
	Redis lkredis.RedisConfig
	// Capacity is the CPU budget the worker bids by, as serve admits by.
	Capacity api.Capacity
	Logf     func(format string, args ...any)
}

// updateTimeout bounds one status report to the server; a report that
// times out is tried again (the server may be restarting) until the
// worker closes.
const updateTimeout = 5 * time.Second

// Worker serves one engine's egresses to a LiveKit server's bus.
type Worker struct {
	engine Engine
	cfg    Config

	internal rpc.EgressInternalServer
	handler  rpc.EgressHandlerServer
	io       rpc.IOInfoClient

	stopWatch context.CancelFunc
	forwarded sync.WaitGroup // route, and each StopEgress's stop
	reporting sync.WaitGroup // each job's report

	mu   sync.Mutex
	jobs map[string]*job // the egresses dispatched here, until reported ended
	// bidding serialises bids and starts, so that two requests bid
	// against the same spare capacity one after the other.
	bidding sync.Mutex
}

// job is one dispatched egress: its status reports, in order, created
// first (see report).
type job struct {
	id      string
	updates chan *livekit.EgressInfo
}

// New connects to the bus and starts bidding for room composite egresses.
func New(eng Engine, cfg Config) (*Worker, error) {
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.Redis.Address == "" && len(cfg.Redis.ClusterAddresses) == 0 && len(cfg.Redis.SentinelAddresses) == 0 {
		return nil, errors.New("redis.address: name the Redis server the LiveKit server dispatches egress on (host:port)")
	}
	rc, err := lkredis.GetRedisClient(&cfg.Redis)
	if err != nil {
		return nil, fmt.Errorf("redis %s: %w", cfg.Redis.Address, err)
	}
	// The bus's messages stay uncompressed (psrpc's default): a server
	// built on psrpc v0.7 (livekit-server v1.13.5) cannot read compressed
	// ones.
	bus := redisbus.New(rc)
	w := &Worker{engine: eng, cfg: cfg, jobs: map[string]*job{}}
	if w.io, err = rpc.NewIOInfoClient(bus); err != nil {
		return nil, fmt.Errorf("IOInfo client: %w", err)
	}
	if w.handler, err = rpc.NewEgressHandlerServer(w, bus); err != nil {
		return nil, fmt.Errorf("EgressHandler server: %w", err)
	}
	if w.internal, err = rpc.NewEgressInternalServer(w, bus); err != nil {
		w.handler.Kill()
		return nil, fmt.Errorf("EgressInternal server: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.stopWatch = cancel
	updates := eng.Watch(ctx)
	w.forwarded.Go(func() { w.route(updates) })
	// The server asks every worker on the empty topic.
	if err := w.internal.RegisterListActiveEgressTopic(""); err != nil {
		w.Close()
		return nil, fmt.Errorf("register ListActiveEgress: %w", err)
	}
	if err := w.internal.RegisterStartEgressTopic(""); err != nil {
		w.Close()
		return nil, fmt.Errorf("register StartEgress: %w", err)
	}
	cfg.Logf("worker: bidding for egress on redis %s", cfg.Redis.Address)
	return w, nil
}

// closeWait bounds how long Close waits for the last reports.
const closeWait = 15 * time.Second

// Drain stops bidding: the server dispatches new egress to other workers,
// and those running here go on.
func (w *Worker) Drain() { w.internal.DeregisterStartEgressTopic("") }

// Close stops bidding, waits until every egress dispatched here has
// reported its end to the server (stop them first: the engine's Close
// does), for closeWait at most, and stops serving.
func (w *Worker) Close() {
	w.Drain()
	reported := make(chan struct{})
	go func() { w.reporting.Wait(); close(reported) }()
	select {
	case <-reported:
	case <-time.After(closeWait):
		w.cfg.Logf("worker: closing with %d egress(es) whose end the server was not told", w.running())
	}
	w.internal.Shutdown()
	w.handler.Shutdown()
	w.stopWatch()
	w.forwarded.Wait()
}

func (w *Worker) running() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.jobs)
}

// served returns the request as the engine starts it, or an error for a
// type of egress this worker does not record.
func served(req *rpc.StartEgressRequest) (*request.Start, error) {
	switch r := req.Request.(type) {
	case *rpc.StartEgressRequest_RoomComposite:
		return request.Composite(r.RoomComposite), nil
	case *rpc.StartEgressRequest_Egress:
		return request.Unified(r.Egress)
	default:
		return nil, fmt.Errorf("request: %T is not recorded by roomcast workers; only room composite (and template) egress is", req.Request)
	}
}

// refusingBid is the bid for a request that does not build: the lowest,
// so that a worker wins it all the same and refuses it with the field at
// fault, which the server hands its caller (no bid at all would leave the
// caller with "no response from servers").
const refusingBid = 0.01

// StartEgressAffinity bids for a request: nothing (-1) for a type of
// egress this worker does not record or one it has no room for, else
// more the more CPU it has to spare once the request's composite runs
// (always above 0: a bid of 0 never wins).
func (w *Worker) StartEgressAffinity(ctx context.Context, req *rpc.StartEgressRequest) float32 {
	start, err := served(req)
	if err != nil {
		return -1
	}
	plan, err := start.Build(request.Options{Now: time.Now()})
	if err != nil {
		return refusingBid
	}
	want := plan.CompositeKey()
	want.Owner = req.EgressId
	w.bidding.Lock()
	defer w.bidding.Unlock()
	inUse, tracks, err := w.inUse(ctx)
	if err != nil {
		w.cfg.Logf("worker: no bid for %s: %v", req.EgressId, err)
		return -1
	}
	if err := w.cfg.Capacity.Admit(inUse, tracks, want); err != nil {
		w.cfg.Logf("worker: no bid for %s: %v", req.EgressId, err)
		return -1
	}
	if w.cfg.Capacity.CPUs == 0 {
		return 0.5
	}
	spare := w.cfg.Capacity.CPUs - w.cfg.Capacity.Cost(want) - w.cfg.Capacity.Used(inUse, tracks)
	return float32(0.1 + 0.9*max(spare, 0)/w.cfg.Capacity.CPUs)
}

// inUse lists the composites the engine's active egresses hold (each
// dispatched one its own) and counts its track egresses.
func (w *Worker) inUse(ctx context.Context) ([]request.CompositeKey, api.TrackLoad, error) {
	resp, err := w.engine.List(ctx, &livekit.ListEgressRequest{Active: true})
	if err != nil {
		return nil, api.TrackLoad{}, err
	}
	return api.Composites(resp.Items, w.dispatched), api.TrackLoadOf(resp.Items), nil
}

func (w *Worker) dispatched(id string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.jobs[id] != nil
}

// StartEgress records a request this worker won: it returns as soon as
// the egress is STARTING, after telling the server it exists (before any
// update, or the server's own create would find it and skip its room
// index and its egress_started webhook).
func (w *Worker) StartEgress(ctx context.Context, req *rpc.StartEgressRequest) (*livekit.EgressInfo, error) {
	start, err := served(req)
	if err != nil {
		return nil, psrpc.NewError(psrpc.InvalidArgument, err)
	}
	w.bidding.Lock()
	defer w.bidding.Unlock()
	j := &job{id: req.EgressId, updates: make(chan *livekit.EgressInfo, 256)}
	w.mu.Lock()
	if w.jobs[j.id] != nil {
		w.mu.Unlock()
		return nil, psrpc.NewErrorf(psrpc.AlreadyExists, "egress %s runs here already", j.id)
	}
	w.jobs[j.id] = j
	w.mu.Unlock()
	info, err := w.engine.StartDispatched(ctx, req.EgressId, req.RoomId, start)
	if err != nil {
		w.forget(j.id)
		return nil, startError(err)
	}
	if _, err := w.io.CreateEgress(ctx, info); err != nil {
		w.cfg.Logf("worker: egress %s: the server was not told it exists: %v", j.id, err)
	}
	if err := w.handler.RegisterStopEgressTopic(j.id); err != nil {
		w.cfg.Logf("worker: egress %s cannot be stopped through the server: %v", j.id, err)
	}
	if err := w.handler.RegisterUpdateStreamTopic(j.id); err != nil {
		w.cfg.Logf("worker: egress %s cannot have its streams updated through the server: %v", j.id, err)
	}
	w.reporting.Go(func() { w.report(j) })
	w.cfg.Logf("worker: egress %s (room %s) started", j.id, info.RoomName)
	return info, nil
}

// startError gives a refused start the code the server hands its caller
// (a request's own mistake is invalid_argument, as it is at roomcast's
// API), its message unchanged.
func startError(err error) error {
	switch {
	case errors.Is(err, request.ErrInvalid):
		return psrpc.NewError(psrpc.InvalidArgument, err)
	case errors.Is(err, engine.ErrRoomNotFound):
		return psrpc.NewError(psrpc.NotFound, err)
	}
	return err
}

// ListActiveEgress names the egresses running here.
func (w *Worker) ListActiveEgress(ctx context.Context, _ *rpc.ListActiveEgressRequest) (*rpc.ListActiveEgressResponse, error) {
	resp, err := w.engine.List(ctx, &livekit.ListEgressRequest{Active: true})
	if err != nil {
		return nil, err
	}
	out := &rpc.ListActiveEgressResponse{}
	for _, info := range resp.Items {
		out.EgressIds = append(out.EgressIds, info.EgressId)
	}
	return out, nil
}

// StopEgress begins ending an egress and answers at once, ENDING: the
// engine finalises its outputs after the answer, and reports the end.
func (w *Worker) StopEgress(ctx context.Context, req *livekit.StopEgressRequest) (*livekit.EgressInfo, error) {
	info, err := w.current(ctx, req.EgressId)
	if err != nil {
		return nil, err
	}
	w.forwarded.Go(func() {
		if _, err := w.engine.Stop(context.Background(), req.EgressId); err != nil {
			w.cfg.Logf("worker: stop %s: %v", req.EgressId, err)
		}
	})
	if info.Status == livekit.EgressStatus_EGRESS_ACTIVE {
		info.Status = livekit.EgressStatus_EGRESS_ENDING
	}
	return info, nil
}

// UpdateStream adds and removes stream destinations of a running egress.
func (w *Worker) UpdateStream(ctx context.Context, req *livekit.UpdateStreamRequest) (*livekit.EgressInfo, error) {
	return w.engine.UpdateStream(ctx, req)
}

// current is the engine's latest info on one dispatched egress.
func (w *Worker) current(ctx context.Context, id string) (*livekit.EgressInfo, error) {
	resp, err := w.engine.List(ctx, &livekit.ListEgressRequest{EgressId: id})
	if err != nil {
		return nil, err
	}
	if len(resp.Items) == 0 {
		return nil, psrpc.NewErrorf(psrpc.NotFound, "egress %s does not run here", id)
	}
	return resp.Items[0], nil
}

// route hands each update of a dispatched egress to its job, in order.
func (w *Worker) route(updates <-chan *livekit.EgressInfo) {
	for info := range updates {
		w.mu.Lock()
		j := w.jobs[info.EgressId]
		w.mu.Unlock()
		if j != nil {
			j.updates <- info
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, j := range w.jobs {
		close(j.updates)
	}
}

// report sends a job's updates to the server, one at a time and in
// order, until its last (ended) one; then the server can no longer reach
// it through this worker.
func (w *Worker) report(j *job) {
	defer w.forget(j.id)
	for info := range j.updates {
		w.send(info)
		if info.EndedAt != 0 {
			w.handler.DeregisterStopEgressTopic(j.id)
			w.handler.DeregisterUpdateStreamTopic(j.id)
			w.cfg.Logf("worker: egress %s ended %s", j.id, info.Status)
			return
		}
	}
}

// send reports one update, trying again while the bus gives no answer.
func (w *Worker) send(info *livekit.EgressInfo) {
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), updateTimeout)
		_, err := w.io.UpdateEgress(ctx, proto.Clone(info).(*livekit.EgressInfo))
		cancel()
		if err == nil {
			return
		}
		if attempt == 3 {
			w.cfg.Logf("worker: egress %s: status %s not reported to the server: %v", info.EgressId, info.Status, err)
			return
		}
		time.Sleep(time.Duration(250<<attempt) * time.Millisecond)
	}
}

func (w *Worker) forget(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.jobs, id)
}
