package main

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"

	"github.com/livekit/protocol/livekit"
)

// coldStarts is how many cold starts the start-reliability step makes in
// a row: one that fails in a few dozen shows. backToBackStarts more follow
// it, each right after the last stopped.
const (
	coldStarts       = 50
	backToBackStarts = 10
)

// startReliability starts a recording with nothing running n times in a
// row, each until its first frame is on disk (or it fails), and stops it:
// how many failed and why, and the cold start's median and worst; then
// backToBackStarts more without waiting for the engine's room view.
func (b *bench) startReliability(n int) ([]figure, error) {
	var took []float64
	why := map[string]int{}
	var first memorySample // after the first memoryWarmup starts
	for i := range n {
		if i == memoryWarmup {
			first = sampleMemory()
		}
		d, err := b.startLatency(fmt.Sprintf("start-%02d.mp4", i), livekit.EncodingOptionsPreset_H264_720P_30, coldStart)
		if err != nil {
			why[err.Error()]++
			progress("start %d of %d failed: %v", i+1, n, err)
		} else {
			took = append(took, d.Seconds())
		}
		if (i+1)%10 == 0 {
			progress("starts: %d of %d", i+1, n)
		}
	}
	var reasons []string
	for r, k := range why {
		reasons = append(reasons, fmt.Sprintf("%d x %s", k, r))
	}
	sort.Strings(reasons)
	failed := figure{Name: fmt.Sprintf("cold starts failed, of %d in a row", n), Value: float64(n - len(took)), Goal: 0, Better: "<=",
		Note: strings.Join(reasons, "; ")}
	if len(took) == 0 {
		return []figure{failed}, nil
	}
	slices.Sort(took)
	figures := []figure{failed, {
		Name: fmt.Sprintf("cold start over %d starts (median)", len(took)), Value: took[len(took)/2], Unit: "s", Goal: 2, Better: "<=",
		Note: fmt.Sprintf("best %.2f s, worst %.2f s", took[0], took[len(took)-1]),
	}}
	if n > memoryWarmup {
		last, k := sampleMemory(), float64(n-memoryWarmup)
		figures = append(figures, figure{
			Name:  fmt.Sprintf("engine memory kept per cold start (starts %d-%d)", memoryWarmup+1, n),
			Value: (last.rss - first.rss) / k, Unit: "MB", Goal: 1, Better: "<=",
			Note: fmt.Sprintf("RSS %.0f -> %.0f MB; Go heap in use %.0f -> %.0f MB (%.2f MB a start), goroutines %d -> %d",
				first.rss, last.rss, first.heap, last.heap, (last.heap-first.heap)/k, first.goroutines, last.goroutines),
		})
	}
	if back, err := b.backToBack(backToBackStarts); err == nil {
		figures = append(figures, back)
	} else {
		figures = append(figures, figure{Name: "cold start back to back", Error: err.Error()})
	}
	return figures, nil
}

// backToBack times n starts, each right after the last one stopped: the
// engine may still be making its room view ready again, and a start then
// waits for it (or starts cold when there is none).
func (b *bench) backToBack(n int) (figure, error) {
	var took []float64
	for i := range n {
		d, err := b.startLatency(fmt.Sprintf("back-%02d.mp4", i), livekit.EncodingOptionsPreset_H264_720P_30, backToBackStart)
		if err != nil {
			return figure{}, err
		}
		took = append(took, d.Seconds())
	}
	slices.Sort(took)
	return figure{
		Name: fmt.Sprintf("cold start back to back, %d starts (median)", n), Value: took[len(took)/2], Unit: "s",
		Note: fmt.Sprintf("best %.2f s, worst %.2f s; each right after the last stopped, before the next room view is ready", took[0], took[len(took)-1]),
	}, nil
}

// memoryWarmup: the engine's memory is compared from after this many
// starts (the first ones fill caches and allocator arenas for good).
const memoryWarmup = 10

// memorySample is the engine's memory at one moment, after a GC and with
// the C heap's free pages handed back.
type memorySample struct {
	rss, heap  float64 // MB
	goroutines int
}

func sampleMemory() memorySample {
	runtime.GC()
	releaseFreeMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memorySample{rss: rssMB(os.Getpid()), heap: float64(ms.HeapInuse) / (1 << 20), goroutines: runtime.NumGoroutine()}
}
