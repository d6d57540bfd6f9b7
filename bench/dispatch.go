package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/livekit/protocol/livekit"
	lkredis "github.com/livekit/protocol/redis"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"roomcast/engine/demo"
	"roomcast/engine/local"
	"roomcast/engine/worker"
	"roomcast/engine/worker/workertest"
)

// dispatchStarts is how many egresses the dispatch step starts through
// the LiveKit server, one after the other: the first on a worker that has
// run nothing, the rest on a warm one.
const dispatchStarts = 6

// spareWait is how long the worker gets between two dispatches to make
// its room view ready again (it starts 3 s after the last composite, and
// takes about 2.5 s).
const spareWait = 10 * time.Second

// dispatchLatency times StartRoomCompositeEgress at a LiveKit server with
// Redis until the server shows the egress ACTIVE, as reported by a
// roomcast worker on its bus: the way a deployment's users see a start.
// The step runs its own server, Redis, engine and worker.
func (b *bench) dispatchLatency() ([]figure, error) {
	ctx := context.Background()
	redis, stopRedis, err := workertest.Redis()
	if err != nil {
		return nil, err
	}
	defer stopRedis()
	d, err := demo.Start(ctx, demo.Options{Participants: 2, Redis: redis})
	if err != nil {
		return nil, err
	}
	defer d.Close()
	eng, err := local.New(local.Config{LiveKitURL: d.URL(), APIKey: d.APIKey(), APISecret: d.APISecret(), OutputDir: b.dir, KeepReady: true})
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	w, err := worker.New(eng, worker.Config{Redis: lkredis.RedisConfig{Address: redis}})
	if err != nil {
		return nil, err
	}
	defer w.Close()

	client := lksdk.NewEgressClient(d.HTTPURL(), d.APIKey(), d.APISecret())
	var took []float64
	for i := range dispatchStarts {
		if i > 0 {
			time.Sleep(spareWait)
		}
		began := time.Now()
		info, err := client.StartRoomCompositeEgress(ctx, fileRequest(fmt.Sprintf("dispatched-%d.mp4", i), livekit.EncodingOptionsPreset_H264_720P_30))
		if err != nil {
			return nil, fmt.Errorf("start %d at the LiveKit server: %w", i+1, err)
		}
		if _, err := workertest.ServerStatus(client, info.EgressId, livekit.EgressStatus_EGRESS_ACTIVE, time.Minute); err != nil {
			return nil, fmt.Errorf("start %d: %w", i+1, err)
		}
		took = append(took, time.Since(began).Seconds())
		if _, err := client.StopEgress(ctx, &livekit.StopEgressRequest{EgressId: info.EgressId}); err != nil {
			return nil, fmt.Errorf("stop %d at the LiveKit server: %w", i+1, err)
		}
		if _, err := workertest.ServerStatus(client, info.EgressId, livekit.EgressStatus_EGRESS_COMPLETE, time.Minute); err != nil {
			return nil, fmt.Errorf("stop %d: %w", i+1, err)
		}
	}
	cold, warm := took[0], slices.Clone(took[1:])
	slices.Sort(warm)
	return []figure{
		{Name: "dispatched start, new worker (LiveKit server's Start -> ACTIVE there)", Value: cold, Unit: "s"},
		{Name: fmt.Sprintf("dispatched start, warm worker, median of %d", len(warm)), Value: warm[len(warm)/2], Unit: "s",
			Note: fmt.Sprintf("best %.2f s, worst %.2f s", warm[0], warm[len(warm)-1])},
	}, nil
}
