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
	// DefaultCostTrack is one track copied as sent (TrackEgress: no
	// browser, no decode, no encode): 0.015-0.016 cores a track measured
	// (make bench STEPS=tracks), budgeted at three times that.
	DefaultCostTrack = 0.05
	// DefaultCostRecording is one Participant or TrackComposite egress:
	// no browser, but its tracks decoded, scaled and encoded again;
	// 0.33-0.36 cores at 720p30 measured (make bench STEPS=participants).
	DefaultCostRecording = 0.4
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
	// CostTrack is what one track copy costs (0: DefaultCostTrack).
	CostTrack float64
	// CostRecording is what one Participant or TrackComposite egress
	// costs (0: DefaultCostRecording).
	CostRecording float64
}

// TrackLoad is the egresses in use that record tracks rather than a
// composite: copies (TrackEgress) and recordings (Participant and
// TrackComposite egresses).
type TrackLoad struct{ Copies, Recordings int }

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
	if c.CostTrack == 0 {
		c.CostTrack = DefaultCostTrack
	}
	if c.CostRecording == 0 {
		c.CostRecording = DefaultCostRecording
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
	case c.CostTrack < 0:
		return fmt.Errorf("capacity: cost_track (%g) must be positive", c.CostTrack)
	case c.CostRecording < 0:
		return fmt.Errorf("capacity: cost_participant (%g) must be positive", c.CostRecording)
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
	return a.admitted(ctx, studio, func(inUse []request.CompositeKey, tracks TrackLoad) error {
		if plan.Tracks != nil {
			return a.cap.AdmitRecording(inUse, tracks)
		}
		return a.cap.Admit(inUse, tracks, plan.CompositeKey())
	}, start)
}

// startTrack admits one more track copy and runs start.
func (a *admitter) startTrack(ctx context.Context, studio engine.Studio, start func() (*livekit.EgressInfo, error)) (*livekit.EgressInfo, error) {
	return a.admitted(ctx, studio, a.cap.AdmitTrack, start)
}

func (a *admitter) admitted(ctx context.Context, studio engine.Studio, admit func([]request.CompositeKey, TrackLoad) error, start func() (*livekit.EgressInfo, error)) (*livekit.EgressInfo, error) {
	if a.cap.CPUs == 0 {
		return start()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	resp, err := studio.List(ctx, &livekit.ListEgressRequest{Active: true})
	if err != nil {
		return nil, fmt.Errorf("count running composites: %w", err)
	}
	if err := admit(Composites(resp.Items, nil), TrackLoadOf(resp.Items)); err != nil {
		return nil, err
	}
	return start()
}

// Admit decides whether want fits next to the composites and track
// copies in use; a composite it would share (request.CompositeKey.Serves,
// the engine's own rule) costs nothing.
func (c Capacity) Admit(inUse []request.CompositeKey, tracks TrackLoad, want request.CompositeKey) error {
	if c.CPUs == 0 {
		return nil
	}
	for _, k := range inUse {
		if k.Serves(want) {
			return nil
		}
	}
	return c.fits(inUse, tracks, c.Cost(want), fmt.Sprintf("a %s composite", compositeName(want)),
		"join a running composite (same room, layout and preset), ")
}

// AdmitTrack decides whether one more track copy fits next to those in
// use.
func (c Capacity) AdmitTrack(inUse []request.CompositeKey, tracks TrackLoad) error {
	if c.CPUs == 0 {
		return nil
	}
	return c.fits(inUse, tracks, c.withDefaults().CostTrack, "a track copy", "")
}

// AdmitRecording decides whether one more Participant or TrackComposite
// egress fits next to those in use.
func (c Capacity) AdmitRecording(inUse []request.CompositeKey, tracks TrackLoad) error {
	if c.CPUs == 0 {
		return nil
	}
	return c.fits(inUse, tracks, c.withDefaults().CostRecording, "a participant recording", "")
}

// fits refuses, saying what runs and what what needs, when need does not
// fit beside inUse and tracks; or is another way to make room.
func (c Capacity) fits(inUse []request.CompositeKey, tracks TrackLoad, need float64, what, or string) error {
	c = c.withDefaults()
	used := c.Used(inUse, tracks)
	const slack = 1e-9 // 1.0 + 1.0 must fit a budget of 2.0
	if used+need <= c.CPUs+slack {
		return nil
	}
	running := counted(len(inUse), "composite", "composites")
	if tracks.Copies > 0 {
		running += " and " + counted(tracks.Copies, "track copy", "track copies")
	}
	if tracks.Recordings > 0 {
		running += " and " + counted(tracks.Recordings, "participant recording", "participant recordings")
	}
	verb := "use"
	if len(inUse) == 1 && tracks == (TrackLoad{}) {
		verb = "uses"
	}
	return twirp.WrapError(twirp.NewErrorf(twirp.ResourceExhausted,
		"%s running %s %s of %s CPUs; %s needs %s more: stop an egress, %sor raise capacity.cpus",
		running, verb, cores(used), cores(c.CPUs), what, cores(need), or), errCapacity)
}

// Used is what the composites and track egresses in use cost, in cores.
func (c Capacity) Used(inUse []request.CompositeKey, tracks TrackLoad) float64 {
	c = c.withDefaults()
	used := float64(tracks.Copies)*c.CostTrack + float64(tracks.Recordings)*c.CostRecording
	for _, k := range inUse {
		used += c.Cost(k)
	}
	return used
}

func counted(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// cores writes x with one decimal, or two where one would round it (a
// track copy's 0.05).
func cores(x float64) string {
	if math.Abs(x*10-math.Round(x*10)) > 1e-6 {
		return fmt.Sprintf("%.2f", x)
	}
	return fmt.Sprintf("%.1f", x)
}

// TrackLoadOf counts the egresses among infos that record tracks.
func TrackLoadOf(infos []*livekit.EgressInfo) TrackLoad {
	var load TrackLoad
	for _, info := range infos {
		switch {
		case info.GetTrack() != nil:
			load.Copies++
		case info.GetParticipant() != nil, info.GetTrackComposite() != nil:
			load.Recordings++
		}
	}
	return load
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
