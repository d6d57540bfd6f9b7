package api

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"

	"roomcast/engine"
	"roomcast/engine/request"
)

// Default costs of one composite (Chromium rendering the layout + GStreamer
// capturing and encoding it), in cores. Measured on a 2-core box (x264
// veryfast): a heavy page at 720p30 took 0.57 + 0.49 cores, at 1080p30 0.95 +
// 0.65. Like Egress's cpu_cost, they are budgets, not averages: a composite
// admitted must never slow the ones already running.
const (
	DefaultCost720p30  = 1.0
	DefaultCost1080p30 = 1.6
)

// Capacity is the CPU budget that new composites are admitted against.
// Egresses that join a running composite (same room, layout and preset)
// cost nothing extra: they share its render, capture and encode.
type Capacity struct {
	// CPUs is the budget in cores; 0 means no limit.
	CPUs float64
	// Cost720p30 and Cost1080p30 are what one composite costs at those
	// sizes (0: the defaults above). Other sizes and frame rates are priced
	// on the straight line through these two points, in pixels per second;
	// an audio-only composite costs the line's fixed part (the browser).
	Cost720p30, Cost1080p30 float64
}

// pixel rates of the two reference points
const (
	rate720p30  = 1280 * 720 * 30
	rate1080p30 = 1920 * 1080 * 30
)

func (c Capacity) withDefaults() Capacity {
	if c.Cost720p30 == 0 {
		c.Cost720p30 = DefaultCost720p30
	}
	if c.Cost1080p30 == 0 {
		c.Cost1080p30 = DefaultCost1080p30
	}
	return c
}

func (c Capacity) check() error {
	c = c.withDefaults()
	switch {
	case c.CPUs < 0 || math.IsNaN(c.CPUs) || math.IsInf(c.CPUs, 0):
		return fmt.Errorf("capacity.cpus: %g is not a number of cores; use 0 for no limit", c.CPUs)
	case c.Cost720p30 < 0 || c.Cost1080p30 < c.Cost720p30:
		return fmt.Errorf("capacity: cost_1080p30 (%g) must be at least cost_720p30 (%g), and both positive", c.Cost1080p30, c.Cost720p30)
	}
	return nil
}

// Cost is what a new composite with key k costs, in cores.
func (c Capacity) Cost(k request.CompositeKey) float64 {
	c = c.withDefaults()
	slope := (c.Cost1080p30 - c.Cost720p30) / (rate1080p30 - rate720p30)
	base := c.Cost720p30 - slope*rate720p30
	// A steep line (a dear 1080p30) would give small composites nothing or
	// less; a browser never costs less than a tenth of a 720p30.
	base = math.Max(base, c.Cost720p30/10)
	if k.AudioOnly {
		return base
	}
	return math.Max(base, c.Cost720p30+slope*(float64(k.Width*k.Height*k.FPS)-rate720p30))
}

// compositeName names a composite's size for messages: "720p30",
// "1080p60", "720p30 audio-only".
func compositeName(k request.CompositeKey) string {
	s := fmt.Sprintf("%dp%d", min(k.Width, k.Height), k.FPS)
	if k.AudioOnly {
		s += " audio-only"
	}
	return s
}

// admitter refuses requests that would start a composite beyond the
// budget. It holds its lock from the count to the end of Start, so two
// requests cannot both take the last core.
type admitter struct {
	cap Capacity
	mu  sync.Mutex
}

// errCapacity marks a refusal; the message says why.
var errCapacity = errors.New("capacity")

// start admits plan's composite and runs start, or refuses with a
// resource_exhausted error.
func (a *admitter) start(ctx context.Context, studio engine.Studio, plan *request.Plan, start func() (*livekit.EgressInfo, error)) (*livekit.EgressInfo, error) {
	if a.cap.CPUs == 0 {
		return start()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	resp, err := studio.List(ctx, &livekit.ListEgressRequest{Active: true})
	if err != nil {
		return nil, fmt.Errorf("count running composites: %w", err)
	}
	if err := a.cap.Admit(Composites(resp.Items, nil), plan.CompositeKey()); err != nil {
		return nil, err
	}
	return start()
}

// Admit decides whether want fits next to the composites in use; one it
// would share (request.CompositeKey.Serves, the engine's own rule) costs
// nothing.
func (c Capacity) Admit(inUse []request.CompositeKey, want request.CompositeKey) error {
	if c.CPUs == 0 {
		return nil
	}
	used := 0.0
	joins := false
	for _, k := range inUse {
		used += c.Cost(k)
		joins = joins || k.Serves(want)
	}
	if joins {
		return nil
	}
	need := c.Cost(want)
	const slack = 1e-9 // 1.0 + 1.0 must fit a budget of 2.0
	if used+need <= c.CPUs+slack {
		return nil
	}
	noun := "composites running use"
	if len(inUse) == 1 {
		noun = "composite running uses"
	}
	return twirp.WrapError(twirp.NewErrorf(twirp.ResourceExhausted,
		"%d %s %.1f of %.1f CPUs; a %s composite needs %.1f more: stop an egress, join a running composite (same room, layout and preset), or raise capacity.cpus",
		len(inUse), noun, used, c.CPUs, compositeName(want), need), errCapacity)
}

// Composites lists the distinct composites that the active egresses hold,
// from their requests (layouts as last updated). An egress that dedicated
// reports (one a LiveKit server dispatched, see request.CompositeKey.Owner)
// holds one of its own; dedicated may be nil.
func Composites(infos []*livekit.EgressInfo, dedicated func(egressID string) bool) []request.CompositeKey {
	seen := map[request.CompositeKey]bool{}
	var out []request.CompositeKey
	for _, info := range infos {
		rc := request.RoomCompositeOf(info)
		if rc == nil {
			continue
		}
		k, err := request.CompositeOf(rc)
		if err != nil {
			// Not ours to judge now: it runs, so count it as a
			// default composite of its room rather than as free.
			k = request.CompositeKey{Room: rc.RoomName, Layout: rc.Layout, Width: 1280, Height: 720, FPS: 30}
		}
		if dedicated != nil && dedicated(info.EgressId) {
			k.Owner = info.EgressId
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}
