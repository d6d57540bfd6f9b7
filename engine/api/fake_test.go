package api

import (
	"context"
	"errors"
	"fmt"
	"image"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"

	"roomcast/engine"
	"roomcast/engine/request"
)

// fakeStudio stands in for the engine in unit tests of the protocol layer
// (the real one needs Chromium, Xvfb and GStreamer: the integration tests
// use it). Egresses go STARTING -> ACTIVE (activate) -> ENDING -> COMPLETE
// (Stop, which holds at ENDING while hold is set).
type fakeStudio struct {
	mu       sync.Mutex
	infos    []*livekit.EgressInfo
	watchers map[chan *livekit.EgressInfo]struct{}
	starts   int
	hold     chan struct{} // if set, Stop waits for it to close before COMPLETE
}

var _ engine.Studio = (*fakeStudio)(nil)

func newFakeStudio() *fakeStudio {
	return &fakeStudio{watchers: map[chan *livekit.EgressInfo]struct{}{}}
}

func (f *fakeStudio) Start(_ context.Context, req *livekit.RoomCompositeEgressRequest) (*livekit.EgressInfo, error) {
	f.mu.Lock()
	f.starts++
	info := &livekit.EgressInfo{
		EgressId: fmt.Sprintf("EG_fake%07d", f.starts),
		RoomName: req.RoomName,
		Status:   livekit.EgressStatus_EGRESS_STARTING,
		Request:  &livekit.EgressInfo_RoomComposite{RoomComposite: proto.Clone(req).(*livekit.RoomCompositeEgressRequest)},
	}
	f.infos = append(f.infos, info)
	f.mu.Unlock()
	return f.publish(info), nil
}

// StartEgress starts the composite the unified request amounts to.
func (f *fakeStudio) StartEgress(ctx context.Context, req *livekit.StartEgressRequest) (*livekit.EgressInfo, error) {
	start, err := request.Unified(req)
	if err != nil {
		return nil, err
	}
	return f.Start(ctx, start.AsComposite())
}

// update changes an egress and tells the watchers.
func (f *fakeStudio) update(id string, fn func(*livekit.EgressInfo)) *livekit.EgressInfo {
	f.mu.Lock()
	var info *livekit.EgressInfo
	for _, i := range f.infos {
		if i.EgressId == id {
			info = i
		}
	}
	if info != nil {
		fn(info)
		info.UpdatedAt = time.Now().UnixNano()
	}
	f.mu.Unlock()
	if info == nil {
		return nil
	}
	return f.publish(info)
}

func (f *fakeStudio) publish(info *livekit.EgressInfo) *livekit.EgressInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := proto.Clone(info).(*livekit.EgressInfo)
	for ch := range f.watchers {
		select { // as the engine: a slow watcher loses updates
		case ch <- proto.Clone(c).(*livekit.EgressInfo):
		default:
		}
	}
	return c
}

func (f *fakeStudio) activate(id string) {
	f.update(id, func(i *livekit.EgressInfo) { i.Status = livekit.EgressStatus_EGRESS_ACTIVE })
}

func (f *fakeStudio) Stop(ctx context.Context, id string) (*livekit.EgressInfo, error) {
	if f.update(id, func(i *livekit.EgressInfo) { i.Status = livekit.EgressStatus_EGRESS_ENDING }) == nil {
		return nil, errors.New("egress not found")
	}
	if f.hold != nil {
		select {
		case <-f.hold:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return f.update(id, func(i *livekit.EgressInfo) {
		i.Status = livekit.EgressStatus_EGRESS_COMPLETE
		i.FileResults = []*livekit.FileInfo{{Filename: "x.mp4"}}
	}), nil
}

func (f *fakeStudio) UpdateLayout(_ context.Context, id, layout string) (*livekit.EgressInfo, error) {
	return f.update(id, func(i *livekit.EgressInfo) { i.GetRoomComposite().Layout = layout }), nil
}

func (f *fakeStudio) UpdateStream(_ context.Context, req *livekit.UpdateStreamRequest) (*livekit.EgressInfo, error) {
	return f.update(req.EgressId, func(i *livekit.EgressInfo) {
		for _, u := range req.AddOutputUrls {
			i.StreamResults = append(i.StreamResults, &livekit.StreamInfo{Url: u, Status: livekit.StreamInfo_ACTIVE})
		}
	}), nil
}

func (f *fakeStudio) List(_ context.Context, req *livekit.ListEgressRequest) (*livekit.ListEgressResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*livekit.EgressInfo
	for _, i := range f.infos {
		if (req.RoomName == "" || i.RoomName == req.RoomName) && (req.EgressId == "" || i.EgressId == req.EgressId) && (!req.Active || !final(i.Status)) {
			out = append(out, proto.Clone(i).(*livekit.EgressInfo))
		}
	}
	return &livekit.ListEgressResponse{Items: out}, nil
}

func (f *fakeStudio) Watch(ctx context.Context) <-chan *livekit.EgressInfo {
	ch := make(chan *livekit.EgressInfo, 64)
	f.mu.Lock()
	f.watchers[ch] = struct{}{}
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

func (f *fakeStudio) Preview(context.Context, *livekit.RoomCompositeEgressRequest, func(*image.RGBA)) (func(), error) {
	return nil, errors.New("no preview in the fake")
}

func (f *fakeStudio) Rooms(context.Context) ([]*livekit.Room, error) {
	return nil, errors.New("no rooms in the fake")
}

func (f *fakeStudio) Close() error { return nil }

func (f *fakeStudio) startCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.starts
}
