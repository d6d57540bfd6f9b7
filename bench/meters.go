package main

import (
	"context"
	"fmt"
	"path/filepath"
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

// metersCost is the CPU the studio's meters add to a 720p30 recording:
// the program meter and the page's meters of each person read meterRate
// times a second, as the window reads them, against the same recording
// unread. The two alternate twice, window each, so that a drift of the
// machine's load counts on both sides.
func (b *bench) metersCost(window time.Duration) ([]figure, error) {
	req := fileRequest(filepath.Join(b.dir, "meters.mp4"), livekit.EncodingOptionsPreset_H264_720P_30)
	_, stop, err := b.startActive(req)
	if err != nil {
		return nil, err
	}
	defer stop()
	time.Sleep(3 * time.Second) // the page settles after joining
	var without, with float64
	var readErr error
	for range 2 {
		without += measureCPU(window).total() / 2
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- b.readMeters(ctx, req) }()
		with += measureCPU(window).total() / 2
		cancel()
		if err := <-done; err != nil {
			readErr = err
		}
		time.Sleep(metersIdle)
	}
	if err := stop(); err != nil {
		return nil, err
	}
	f := figure{Name: fmt.Sprintf("CPU of the meters (program and each person's, %d reads/s)", meterRate), Value: with - without, Unit: "cores", Goal: 0.02, Better: "<=",
		Note: fmt.Sprintf("720p30 recording %.3f cores read, %.3f unread", with, without)}
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
