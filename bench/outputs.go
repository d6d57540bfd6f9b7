package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/livekit/protocol/livekit"

	"roomcast/engine/demo"
	"roomcast/engine/mediatest"
	"roomcast/engine/rtmptest"
)

// streamCost measures what each RTMP destination adds to a 720p30
// recording: the engine's cores over a window with 0, 1 and 3
// destinations on one nginx-rtmp, added live with UpdateStream. Only the
// engine does the work (one encode feeds every destination), so its
// process is what is compared; the other processes are in the note.
func (b *bench) streamCost(window time.Duration) ([]figure, error) {
	srv, err := rtmptest.Launch(filepath.Join(b.dir, "rtmp"))
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	req := fileRequest(filepath.Join(b.dir, "rtmp.mp4"), livekit.EncodingOptionsPreset_H264_720P_30)
	req.StreamOutputs = []*livekit.StreamOutput{{Protocol: livekit.StreamProtocol_RTMP}} // URLs come later
	id, stop, err := b.startActive(req)
	if err != nil {
		return nil, err
	}
	defer stop()
	time.Sleep(3 * time.Second) // the page settles after joining

	keys := []string{"one", "two", "three"}
	var rates []cpuRate
	live := 0
	for _, n := range []int{0, 1, 3} {
		var add []string
		for _, k := range keys[live:n] {
			add = append(add, srv.URL(k))
		}
		if len(add) > 0 {
			if _, err := b.studio.UpdateStream(context.Background(), &livekit.UpdateStreamRequest{EgressId: id, AddOutputUrls: add}); err != nil {
				return nil, err
			}
			for _, k := range keys[live:n] {
				if err := waitUntil(10*time.Second, func() bool { return srv.Received(k) > 0 }); err != nil {
					return nil, fmt.Errorf("RTMP destination %q received nothing: %w", k, err)
				}
			}
			time.Sleep(2 * time.Second) // the connection's set-up is not the steady cost
		}
		live = n
		before := make([]int64, n)
		for i, k := range keys[:n] {
			before[i] = srv.Received(k)
		}
		rates = append(rates, measureCPU(window))
		for i, k := range keys[:n] {
			if srv.Received(k) == before[i] {
				return nil, fmt.Errorf("RTMP destination %q stalled while measured", k)
			}
		}
	}
	if err := stop(); err != nil {
		return nil, err
	}
	return []figure{{
		Name: "CPU per added RTMP destination, 720p30", Value: (rates[2].engine - rates[0].engine) / 3, Unit: "cores", Goal: 0.05, Better: "<=",
		Note: fmt.Sprintf("engine %.3f / %.3f / %.3f cores with 0 / 1 / 3 destinations (all %.2f / %.2f / %.2f)",
			rates[0].engine, rates[1].engine, rates[2].engine, rates[0].total(), rates[1].total(), rates[2].total()),
	}}, nil
}

// sharedEncodeCost measures what Go Live adds beside Record, as the studio
// runs them: two egresses with the same preset on one composite, which
// share one encode. The engine's cores over a window with the recording
// alone, then with the stream too (to nginx-rtmp on this machine).
func (b *bench) sharedEncodeCost(window time.Duration) ([]figure, error) {
	srv, err := rtmptest.Launch(filepath.Join(b.dir, "rtmp-shared"))
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	_, stopRec, err := b.startActive(fileRequest(filepath.Join(b.dir, "record.mp4"), livekit.EncodingOptionsPreset_H264_720P_30))
	if err != nil {
		return nil, err
	}
	defer stopRec()
	time.Sleep(3 * time.Second) // the page settles after joining
	alone := measureCPU(window)
	live := fileRequest("", livekit.EncodingOptionsPreset_H264_720P_30)
	live.FileOutputs = nil
	live.StreamOutputs = []*livekit.StreamOutput{{Urls: []string{srv.URL("live")}}}
	_, stopLive, err := b.startActive(live)
	if err != nil {
		return nil, err
	}
	defer stopLive()
	if err := waitUntil(10*time.Second, func() bool { return srv.Received("live") > 0 }); err != nil {
		return nil, fmt.Errorf("the Go Live destination received nothing: %w", err)
	}
	time.Sleep(2 * time.Second) // the connection's set-up is not the steady cost
	received := srv.Received("live")
	both := measureCPU(window)
	if srv.Received("live") == received {
		return nil, errors.New("the Go Live destination stalled while measured")
	}
	stats := b.studio.Stats()
	for _, stop := range []func() error{stopLive, stopRec} {
		if err := stop(); err != nil {
			return nil, err
		}
	}
	encoders := "?"
	if len(stats) == 1 {
		encoders = fmt.Sprintf("%d video and %d audio encoder(s)", stats[0].VideoEncoders, stats[0].AudioEncoders)
	}
	return []figure{{
		Name: "CPU of Go Live beside Record, same preset, 720p30", Value: both.engine - alone.engine, Unit: "cores", Goal: 0.05, Better: "<=",
		Note: fmt.Sprintf("engine %.3f alone, %.3f with both (all %.2f / %.2f); %s running for both", alone.engine, both.engine, alone.total(), both.total(), encoders),
	}}, nil
}

// syncAndSegments records the room with the clapper at 720p30 to MP4 and
// HLS for d: the A/V offset of every flip, and how soon each segment is
// in the playlist.
func (b *bench) syncAndSegments(room *demoRoom, d time.Duration) ([]figure, error) {
	if err := room.addClapper(); err != nil {
		return nil, err
	}
	dir := filepath.Join(b.dir, "hls")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	const playlist = "index.m3u8"
	watch, err := watchSegments(dir, playlist)
	if err != nil {
		return nil, err
	}
	defer watch.close()
	path := filepath.Join(b.dir, "clapper.mp4")
	req := fileRequest(path, livekit.EncodingOptionsPreset_H264_720P_30)
	req.SegmentOutputs = []*livekit.SegmentedFileOutput{{
		FilenamePrefix: filepath.Join(dir, "seg"), PlaylistName: filepath.Join(dir, playlist), SegmentDuration: 2,
	}}
	stopped, err := b.recordFor(req, d)
	if err != nil {
		return nil, err
	}
	label := "720p30, first " + d.String()
	return append(flipFigures(path, label), dropoutFigure(path, label), watch.figure(stopped)), nil
}

// syncAt records the room with the clapper at preset for d and measures
// every flip: from the start, or (with tail) only the last tail of it,
// with the offset's course along the whole recording.
func (b *bench) syncAt(room *demoRoom, preset livekit.EncodingOptionsPreset, label string, d, tail time.Duration) ([]figure, error) {
	if err := room.addClapper(); err != nil {
		return nil, err
	}
	path := filepath.Join(b.dir, "clapper-"+preset.String()+".mp4")
	if _, err := b.recordFor(fileRequest(path, preset), d); err != nil {
		return nil, err
	}
	if tail == 0 {
		return append(flipFigures(path, label), dropoutFigure(path, label)), nil
	}
	clip, err := cutClip(path, (d - tail).Seconds(), tail)
	if err != nil {
		return nil, err
	}
	defer os.Remove(clip)
	return append(flipFigures(clip, label), dropoutFigure(path, "720p30, "+d.Round(time.Minute).String()), offsetAlong(path, d.Seconds())), nil
}

// recordFor runs req for d and returns when it was stopped.
func (b *bench) recordFor(req *livekit.RoomCompositeEgressRequest, d time.Duration) (time.Time, error) {
	_, stop, err := b.startActive(req)
	if err != nil {
		return time.Time{}, err
	}
	defer stop()
	time.Sleep(d)
	stopping := time.Now()
	return stopping, stop()
}

// lipSyncGoal is the EBU R37 tolerance for sound ahead of the picture,
// applied both ways (sound behind is tolerated to +125 ms).
const lipSyncGoal = 45 * time.Millisecond

// avOffset is the median of the clapper's ticks against its flips in the
// recording at path (positive: sound after picture).
func avOffset(path string) figure {
	f := figure{Name: "A/V offset, sound after picture (median)", Unit: "ms", Goal: ms(lipSyncGoal), Better: "<=", Abs: true}
	offsets, err := mediatest.AVOffsets(path, demo.ClapperHz)
	if err != nil {
		f.Error = err.Error()
		return f
	}
	slices.Sort(offsets)
	f.Value = ms(mediatest.Median(offsets))
	f.Note = fmt.Sprintf("spread %+.0f..%+.0f ms over %d flips", ms(offsets[0]), ms(offsets[len(offsets)-1]), len(offsets))
	return f
}

// flipFigures judges every flip of the clapper in the recording at path,
// not their median: the offset farthest from zero (min, median and max in
// its note), and the share of flips within the goal.
func flipFigures(path, label string) []figure {
	pairs, err := mediatest.AVPairs(path, demo.ClapperHz)
	if err != nil {
		return []figure{{Name: "A/V offset per flip, " + label, Error: err.Error() + keptForALook(path)}}
	}
	var offsets []time.Duration
	var outside []string // the flips off the goal, in their order, with their times in the file
	farthest := time.Duration(0)
	for _, p := range pairs {
		offsets = append(offsets, p.Offset)
		if p.Offset.Abs() > farthest.Abs() {
			farthest = p.Offset
		}
		if p.Offset.Abs() > lipSyncGoal {
			outside = append(outside, fmt.Sprintf("%+.0f ms at %.1f s", ms(p.Offset), p.At.Seconds()))
		}
	}
	slices.Sort(offsets)
	within := len(offsets) - len(outside)
	share := fmt.Sprintf("%d of %d", within, len(offsets))
	if len(outside) > 0 {
		share += "; outside: " + strings.Join(outside, ", ") + keptForALook(path)
	}
	return []figure{
		{Name: "A/V offset per flip, " + label + " (farthest)", Value: ms(farthest), Unit: "ms", Goal: ms(lipSyncGoal), Better: "<=", Abs: true,
			Note: fmt.Sprintf("min %+.0f, median %+.0f, max %+.0f ms over %d flips", ms(offsets[0]), ms(mediatest.Median(offsets)), ms(offsets[len(offsets)-1]), len(offsets))},
		{Name: fmt.Sprintf("flips within +-%.0f ms, %s", ms(lipSyncGoal), label), Value: 100 * float64(within) / float64(len(offsets)), Unit: "%", Goal: 100, Better: ">=",
			Note: share},
	}
}

// dropoutFigure counts the sound's dropouts in the recording at path, of
// the demo room, whose tones never stop: each is a gap of silence in the
// sound, heard as a click.
func dropoutFigure(path, label string) figure {
	f := figure{Name: "sound dropouts, " + label, Unit: "", Goal: 0, Better: "<="}
	gaps, err := mediatest.SoundDropouts(path)
	if err != nil {
		f.Error = err.Error()
		return f
	}
	f.Value = float64(len(gaps))
	var at []string
	for _, g := range gaps {
		at = append(at, fmt.Sprintf("%.1f", g.Seconds()))
	}
	if len(at) > 0 {
		f.Note = "at " + strings.Join(at, ", ") + " s" + keptForALook(path)
	}
	return f
}

// keptForALook copies a recording whose measure failed out of the bench's
// work folder, which goes when the bench ends, and says where it is.
func keptForALook(path string) string {
	dir := filepath.Join(os.TempDir(), "roomcast-bench-kept")
	kept := filepath.Join(dir, time.Now().UTC().Format("150405-")+filepath.Base(path))
	data, err := os.ReadFile(path)
	if err == nil {
		if err = os.MkdirAll(dir, 0o755); err == nil {
			err = os.WriteFile(kept, data, 0o644)
		}
	}
	if err != nil {
		return fmt.Sprintf(" (not kept: %v)", err)
	}
	return " (kept at " + kept + ")"
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// segmentWatch follows an HLS folder through inotify: when each segment
// file is closed, and when the playlist (replaced by a rename on every
// change) first lists it, with the wall-clock end of its last frame
// (PROGRAM-DATE-TIME + EXTINF).
type segmentWatch struct {
	dir, playlist string
	f             *os.File // the inotify instance
	done          chan struct{}

	mu     sync.Mutex
	closed map[string]time.Time
	listed map[string]time.Time
	ends   map[string]time.Time
}

func watchSegments(dir, playlist string) (*segmentWatch, error) {
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	if _, err := syscall.InotifyAddWatch(fd, dir, syscall.IN_CLOSE_WRITE|syscall.IN_MOVED_TO); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("inotify on %s: %w", dir, err)
	}
	w := &segmentWatch{
		dir: dir, playlist: playlist,
		// Non-blocking, so reads wait in Go's poller and close ends them.
		f:      os.NewFile(uintptr(fd), "inotify"),
		done:   make(chan struct{}),
		closed: map[string]time.Time{}, listed: map[string]time.Time{}, ends: map[string]time.Time{},
	}
	go w.run()
	return w, nil
}

func (w *segmentWatch) run() {
	defer close(w.done)
	buf := make([]byte, 64<<10)
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			return
		}
		now := time.Now()
		// Each event: wd, mask, cookie, len (uint32 each), then len
		// bytes of NUL-padded name.
		for off := 0; off+syscall.SizeofInotifyEvent <= n; {
			mask := binary.NativeEndian.Uint32(buf[off+4:])
			size := int(binary.NativeEndian.Uint32(buf[off+12:]))
			name := strings.TrimRight(string(buf[off+syscall.SizeofInotifyEvent:off+syscall.SizeofInotifyEvent+size]), "\x00")
			off += syscall.SizeofInotifyEvent + size
			switch {
			case mask&syscall.IN_CLOSE_WRITE != 0 && strings.HasSuffix(name, ".ts"):
				w.mu.Lock()
				if _, ok := w.closed[name]; !ok {
					w.closed[name] = now
				}
				w.mu.Unlock()
			case mask&syscall.IN_MOVED_TO != 0 && name == w.playlist:
				w.readPlaylist(now)
			}
		}
	}
}

// readPlaylist notes the segments that the playlist lists for the first
// time at now.
func (w *segmentWatch) readPlaylist(now time.Time) {
	f, err := os.Open(filepath.Join(w.dir, w.playlist))
	if err != nil {
		return // replaced again already: the next event reads it
	}
	defer f.Close()
	w.mu.Lock()
	defer w.mu.Unlock()
	var start time.Time
	var dur time.Duration
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "#EXT-X-PROGRAM-DATE-TIME:"); ok {
			start, _ = time.Parse(time.RFC3339Nano, v)
		} else if v, ok := strings.CutPrefix(line, "#EXTINF:"); ok {
			secs, _ := strconv.ParseFloat(strings.TrimSuffix(v, ","), 64)
			dur = time.Duration(secs * float64(time.Second))
		} else if line != "" && !strings.HasPrefix(line, "#") {
			if _, ok := w.listed[line]; !ok {
				w.listed[line] = now
				if !start.IsZero() {
					w.ends[line] = start.Add(dur)
				}
			}
		}
	}
}

// figure reports how long after its file was closed each segment was
// listed. The engine cuts a segment at the first key frame of the next
// one, so the close is the segment's end (plus the encode's latency). The
// note also gives the listing against the playlist's own times
// (PROGRAM-DATE-TIME + EXTINF), which depend on how well those times map
// the media to the wall clock. Only segments closed before the recording
// was stopped at stopping count (the last one is closed by the stop).
func (w *segmentWatch) figure(stopping time.Time) figure {
	f := figure{Name: "HLS segment end (file closed) -> in the playlist (median)", Unit: "s", Goal: 1, Better: "<="}
	w.mu.Lock()
	defer w.mu.Unlock()
	var fromClose, fromEnd []time.Duration
	for name, closed := range w.closed {
		listed, ok := w.listed[name]
		if !ok || !closed.Before(stopping) {
			continue
		}
		fromClose = append(fromClose, listed.Sub(closed))
		if end, ok := w.ends[name]; ok {
			fromEnd = append(fromEnd, listed.Sub(end))
		}
	}
	if len(fromClose) < 3 {
		f.Error = fmt.Sprintf("%d segments closed and listed (%d closed, %d listed), want at least 3", len(fromClose), len(w.closed), len(w.listed))
		return f
	}
	slices.Sort(fromClose)
	slices.Sort(fromEnd)
	f.Value = fromClose[len(fromClose)/2].Seconds()
	f.Note = fmt.Sprintf("max %.3f s over %d segments", fromClose[len(fromClose)-1].Seconds(), len(fromClose))
	if len(fromEnd) > 0 {
		f.Note += fmt.Sprintf("; against PROGRAM-DATE-TIME + EXTINF: median %.3f s, max %.3f s",
			fromEnd[len(fromEnd)/2].Seconds(), fromEnd[len(fromEnd)-1].Seconds())
	}
	return f
}

func (w *segmentWatch) close() {
	w.f.Close()
	<-w.done
}

// waitUntil polls ok every 20 ms until it holds or timeout passes.
func waitUntil(timeout time.Duration, ok func() bool) error {
	for deadline := time.Now().Add(timeout); !ok(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			return errors.New("timed out after " + timeout.String())
		}
	}
	return nil
}
