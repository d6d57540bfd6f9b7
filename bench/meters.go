package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/livekit/protocol/livekit"
)

// meterRate is how often the studio window reads the meters (ui's
// meterRate).
const meterRate = 10

// metersIdle is how long the page keeps its meters' AudioContext after
// the last read (IDLE_MS in layouts/src/meters.js), with a margin: an
// unread window starts after it, so that it pays nothing for them.
const metersIdle = 3 * time.Second

// metersPairs is how many unread and read windows metersCost alternates:
// on this machine one 60 s pair gave -0.07..+0.06 core, the load of a
// 720p30 recording moving by more than the meters cost between windows.
const metersPairs = 6

// metersCost is the CPU the studio's meters add to a 720p30 recording:
// the program meter and the page's meters of each person read meterRate
// times a second, as the window reads them, against the same recording
// unread. Unread and read windows (a third of window each) alternate
// metersPairs times, so that a drift of the machine's load counts on both
// sides; the figure is the median of the pairs' differences.
func (b *bench) metersCost(window time.Duration) ([]figure, error) {
	req := fileRequest(filepath.Join(b.dir, "meters.mp4"), livekit.EncodingOptionsPreset_H264_720P_30)
	_, stop, err := b.startActive(req)
	if err != nil {
		return nil, err
	}
	defer stop()
	time.Sleep(3 * time.Second) // the page settles after joining
	var diffs, with, without []float64
	var readErr error
	for range metersPairs {
		unread := measureCPU(window / 3).total()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- b.readMeters(ctx, req) }()
		time.Sleep(time.Second) // the page's AudioContext starts
		read := measureCPU(window / 3).total()
		cancel()
		if err := <-done; err != nil {
			readErr = err
		}
		diffs, with, without = append(diffs, read-unread), append(with, read), append(without, unread)
		time.Sleep(metersIdle)
	}
	if err := stop(); err != nil {
		return nil, err
	}
	f := figure{Name: fmt.Sprintf("CPU of the meters (program and each person's, %d reads/s)", meterRate), Value: median(diffs), Unit: "cores", Goal: 0.02, Better: "<=",
		Note: fmt.Sprintf("median of %d pairs of %s, read minus unread (%+.3f..%+.3f); 720p30 recording %.3f cores read, %.3f unread (medians)",
			metersPairs, window/3, slices.Min(diffs), slices.Max(diffs), median(with), median(without))}
	if readErr != nil {
		f.Error = readErr.Error()
	}
	return []figure{f}, nil
}

// readMeters reads both meters of req's composite meterRate times a
// second until ctx ends; an error (or a page without meters) stops it.
func (b *bench) readMeters(ctx context.Context, req *livekit.RoomCompositeEgressRequest) error {
	t := time.NewTicker(time.Second / meterRate)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if _, ok := b.studio.AudioLevel(req); !ok {
			return fmt.Errorf("no program meter for the recording's composite")
		}
		people, err := b.studio.PeopleLevels(ctx, req)
		if err != nil && ctx.Err() == nil {
			return err
		}
		if people == nil && ctx.Err() == nil {
			return fmt.Errorf("the page has no meters")
		}
	}
}
