package worker

import (
	"context"
	"testing"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/rpc"

	"roomcast/engine/api"
)

// runningEngine is an Engine whose List reports the egresses given; the
// bids read nothing else of it. (A stand-in for the local engine: the
// bid is arithmetic on what runs; the integration tests bid for real.)
type runningEngine struct {
	Engine
	active []*livekit.EgressInfo
}

func (e runningEngine) List(context.Context, *livekit.ListEgressRequest) (*livekit.ListEgressResponse, error) {
	return &livekit.ListEgressResponse{Items: e.active}, nil
}

func small(room string) *livekit.RoomCompositeEgressRequest {
	return &livekit.RoomCompositeEgressRequest{
		RoomName: room, Layout: "grid",
		FileOutputs: []*livekit.EncodedFileOutput{{Filepath: "x.mp4"}},
		Options: &livekit.RoomCompositeEgressRequest_Advanced{Advanced: &livekit.EncodingOptions{
			Width: 640, Height: 360, Framerate: 15,
		}},
	}
}

func running(id string, rc *livekit.RoomCompositeEgressRequest) *livekit.EgressInfo {
	return &livekit.EgressInfo{EgressId: id, Status: livekit.EgressStatus_EGRESS_ACTIVE, Request: &livekit.EgressInfo_RoomComposite{RoomComposite: rc}}
}

// TestBids: a worker bids for the room composites it can record, more
// the more CPU it keeps spare, nothing for what does not fit or for egress
// types it does not record, and the least for a request that does not
// build (so that one worker takes it and refuses it with the reason).
func TestBids(t *testing.T) {
	composite := func(rc *livekit.RoomCompositeEgressRequest) *rpc.StartEgressRequest {
		return &rpc.StartEgressRequest{EgressId: "EG_new", Request: &rpc.StartEgressRequest_RoomComposite{RoomComposite: rc}}
	}
	bad := small("demo")
	bad.Layout = "mosaic"
	cases := []struct {
		name     string
		cpus     float64
		active   []*livekit.EgressInfo // dispatched here
		req      *rpc.StartEgressRequest
		min, max float32
	}{
		{"no limit", 0, nil, composite(small("demo")), 0.5, 0.5},
		{"one CPU, idle", 1, nil, composite(small("demo")), 0.47, 0.49},
		{"two CPUs, idle", 2, nil, composite(small("demo")), 0.73, 0.75},
		{"two CPUs, one running", 2, []*livekit.EgressInfo{running("EG_a", small("demo"))}, composite(small("demo")), 0.47, 0.49},
		{"one CPU, one running: full", 1, []*livekit.EgressInfo{running("EG_a", small("other"))}, composite(small("demo")), -1, -1},
		{"a request that does not build", 0, nil, composite(bad), refusingBid, refusingBid},
		{"participant", 0, nil, &rpc.StartEgressRequest{Request: &rpc.StartEgressRequest_Participant{Participant: &livekit.ParticipantEgressRequest{RoomName: "demo", Identity: "bob"}}}, -1, -1},
		{"track composite", 0, nil, &rpc.StartEgressRequest{Request: &rpc.StartEgressRequest_TrackComposite{TrackComposite: &livekit.TrackCompositeEgressRequest{RoomName: "demo"}}}, -1, -1},
		{"track", 0, nil, &rpc.StartEgressRequest{Request: &rpc.StartEgressRequest_Track{Track: &livekit.TrackEgressRequest{RoomName: "demo"}}}, -1, -1},
		{"web", 0, nil, &rpc.StartEgressRequest{Request: &rpc.StartEgressRequest_Web{Web: &livekit.WebEgressRequest{Url: "https://example.com"}}}, -1, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := &Worker{engine: runningEngine{active: c.active}, cfg: Config{Capacity: api.Capacity{CPUs: c.cpus}, Logf: t.Logf}, jobs: map[string]*job{}}
			for _, info := range c.active {
				w.jobs[info.EgressId] = &job{id: info.EgressId}
			}
			if got := w.StartEgressAffinity(context.Background(), c.req); got < c.min || got > c.max {
				t.Errorf("bid %.3f, want %.2f..%.2f", got, c.min, c.max)
			}
		})
	}
}

// TestDispatchedCompositesAreCountedApart: two egresses dispatched here
// with the same settings hold two composites (each its own), where two
// asked of the engine itself share one.
func TestDispatchedCompositesAreCountedApart(t *testing.T) {
	active := []*livekit.EgressInfo{running("EG_a", small("demo")), running("EG_b", small("demo"))}
	for _, c := range []struct {
		name       string
		dispatched bool
		want       int
	}{{"dispatched", true, 2}, {"asked of the engine", false, 1}} {
		t.Run(c.name, func(t *testing.T) {
			w := &Worker{engine: runningEngine{active: active}, jobs: map[string]*job{}}
			if c.dispatched {
				w.jobs["EG_a"], w.jobs["EG_b"] = &job{id: "EG_a"}, &job{id: "EG_b"}
			}
			keys, _, err := w.inUse(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != c.want {
				t.Errorf("%d composites in use %v, want %d", len(keys), keys, c.want)
			}
		})
	}
}
