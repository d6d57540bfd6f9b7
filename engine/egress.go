package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"

	"roomcast/engine/pipeline"
	"roomcast/engine/request"
)

// egress is one started request: its branch on a composite, and its info.
type egress struct {
	id   string
	l    *Local
	plan *request.Plan
	key  compositeKey
	outs *outputs
	ups  *uploads

	stopC    chan struct{} // closed by stop
	failC    chan error    // an output's fatal error (buffered 1)
	done     chan struct{} // closed when the egress reached a final state
	stopOnce sync.Once

	mu        sync.Mutex
	slot      *compositeSlot // set once the composite is up
	branch    *pipeline.Branch
	activeAt  time.Time
	stoppedAt time.Time
}

func newEgress(l *Local, id string, req *livekit.RoomCompositeEgressRequest, plan *request.Plan, ups *uploads) *egress {
	e := &egress{
		id:    id,
		l:     l,
		plan:  plan,
		ups:   ups,
		key:   compositeKey{CompositeKey: plan.CompositeKey(), audioOnly: plan.AudioOnly},
		stopC: make(chan struct{}),
		failC: make(chan error, 1),
		done:  make(chan struct{}),
	}
	e.outs = newOutputs(e)
	info := &livekit.EgressInfo{
		EgressId:   e.id,
		RoomName:   plan.RoomName,
		SourceType: livekit.EgressSourceType_EGRESS_SOURCE_TYPE_WEB,
		Status:     livekit.EgressStatus_EGRESS_STARTING,
		UpdatedAt:  time.Now().UnixNano(),
		Request:    &livekit.EgressInfo_RoomComposite{RoomComposite: request.RedactRequest(req)},
	}
	e.outs.fill(info)
	l.board.put(info)
	return e
}

func (e *egress) currentSlot() *compositeSlot {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.slot
}

func (e *egress) currentBranch() *pipeline.Branch {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.branch
}

// wallAt converts a time in the egress's media (0 = its first frame) to
// wall-clock time.
func (e *egress) wallAt(d time.Duration) time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.activeAt.IsZero() {
		return time.Now()
	}
	return e.activeAt.Add(d)
}

// stop asks the egress to end; run does the work. Safe to call repeatedly.
func (e *egress) stop() { e.stopOnce.Do(func() { close(e.stopC) }) }

func (e *egress) fail(err error) {
	select {
	case e.failC <- err:
	default:
	}
}

// checkOutputsLeft ends the egress when its only outputs were streams and
// none is left: one failed destination is that destination's problem,
// the last one failing ends the egress.
func (e *egress) checkOutputsLeft() {
	p := e.plan
	if len(p.Files) > 0 || len(p.Segments) > 0 || len(p.Images) > 0 {
		return
	}
	if e.outs.liveStreams() == 0 {
		e.fail(errors.New("every stream destination failed"))
	}
}

// run takes the egress through its life: composite, branch, recording,
// stop, results.
func (e *egress) run() {
	defer close(e.done)
	defer e.ups.close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-e.stopC:
			cancel()
		case <-e.done:
		}
	}()
	slot, err := e.l.acquire(ctx, e.key)
	if err != nil {
		if ctx.Err() != nil {
			e.finish(livekit.EgressStatus_EGRESS_ABORTED, "stopped before it started", nil)
		} else {
			e.finish(livekit.EgressStatus_EGRESS_FAILED, err.Error(), nil)
		}
		return
	}
	defer e.l.release(slot)
	comp := slot.comp

	cfg := e.branchConfig()
	branch, err := pipeline.NewBranch(cfg, pipeline.BranchEvents{
		Active:        e.onActive,
		Failed:        e.fail,
		StreamFailed:  e.outs.streamFailed,
		StreamFlowing: e.outs.streamFlowing,
	})
	if err == nil {
		err = e.outs.prepare()
	}
	if err == nil {
		err = comp.cap.Attach(branch)
	}
	if err != nil {
		e.finish(livekit.EgressStatus_EGRESS_FAILED, err.Error(), nil)
		return
	}
	e.mu.Lock()
	e.slot, e.branch = slot, branch
	e.mu.Unlock()
	e.l.cfg.Logf("egress %s recording %s", e.id, e.key)

	status, reason := livekit.EgressStatus_EGRESS_COMPLETE, ""
	select {
	case <-e.stopC:
	case err := <-e.failC:
		status, reason = livekit.EgressStatus_EGRESS_FAILED, err.Error()
	case <-comp.ended:
		if comp.endErr != nil {
			status, reason = livekit.EgressStatus_EGRESS_FAILED, comp.endErr.Error()
		}
	}
	e.mu.Lock()
	e.stoppedAt = time.Now() // the recording ends here, not when detach is done
	e.mu.Unlock()
	e.l.board.update(e.id, func(info *livekit.EgressInfo) { info.Status = livekit.EgressStatus_EGRESS_ENDING })
	if err := comp.cap.Detach(branch); err != nil && status == livekit.EgressStatus_EGRESS_COMPLETE {
		status, reason = livekit.EgressStatus_EGRESS_FAILED, err.Error()
	}
	e.outs.finish()
	var file *livekit.FileInfo
	if cfg.File != nil {
		file = e.fileResult(cfg.File.Path)
	}
	if backup := e.settleUploads(file); backup {
		e.l.board.update(e.id, func(info *livekit.EgressInfo) { info.BackupStorageUsed = true })
	}
	e.finish(status, reason, file)
}

// settleUploads puts the file, waits for every destination's uploads and
// records where each output ended up: its object URL, or, when the upload
// never succeeded, the local copy (and it reports true).
func (e *egress) settleUploads(file *livekit.FileInfo) (backup bool) {
	const fileField = "file_outputs[0].s3"
	if file != nil && e.ups.get(fileField) != nil {
		key := e.plan.Files[0].Filepath
		if err := e.ups.put(fileField, file.Location, key); err != nil {
			e.l.cfg.Logf("egress %s: %v", e.id, err)
		}
		file.Filename = key
		file.Location = e.ups.location(fileField, key)
	}
	for _, field := range []string{fileField, "segment_outputs[0].s3", "image_outputs[0].s3"} {
		results, err := e.ups.flush(field)
		if err != nil {
			e.l.cfg.Logf("egress %s: %s: %v", e.id, field, err)
		}
		for _, r := range results {
			if r.BackupPath == "" {
				continue
			}
			backup = true
			if file != nil && field == fileField {
				file.Location = r.BackupPath
			}
		}
	}
	return backup
}

// onActive marks the egress active from when its first frame was captured:
// the media's time zero on the wall clock (segment and image times, the
// file's duration).
func (e *egress) onActive(mediaZero time.Time) {
	if mediaZero.IsZero() {
		mediaZero = time.Now()
	}
	e.mu.Lock()
	e.activeAt = mediaZero
	e.mu.Unlock()
	e.l.board.update(e.id, func(info *livekit.EgressInfo) {
		info.Status = livekit.EgressStatus_EGRESS_ACTIVE
		info.StartedAt = mediaZero.UnixNano()
	})
}

// branchConfig maps the plan onto the pipeline: one encode for the file,
// the segments and the streams; images from the raw video.
func (e *egress) branchConfig() pipeline.BranchConfig {
	p := e.plan
	cfg := pipeline.BranchConfig{Name: e.id, Streams: e.outs.streamURLs(), StreamOutput: len(p.Streams) > 0}
	encoded := len(p.Files) > 0 || len(p.Segments) > 0 || len(p.Streams) > 0
	if !p.AudioOnly && encoded {
		cfg.Video = &pipeline.VideoEncoding{
			BitrateKbps: p.Video.BitrateKbps, FPS: p.Video.FPS,
			KeyFrameInterval: p.Video.KeyFrameIntervalSec, Profile: p.Video.Profile,
		}
	}
	if !p.VideoOnly && encoded {
		cfg.Audio = &pipeline.AudioEncoding{BitrateKbps: p.Audio.BitrateKbps, Opus: p.Audio.Codec == livekit.AudioCodec_OPUS}
	}
	if len(p.Files) > 0 {
		f := p.Files[0]
		container := pipeline.MP4
		if f.FileType == livekit.EncodedFileType_OGG {
			container = pipeline.OGG
		}
		cfg.File = &pipeline.FileOutput{Path: e.outs.filePath, Container: container}
	}
	if len(p.Segments) > 0 {
		s := p.Segments[0]
		cfg.Segments = &pipeline.SegmentOutput{
			Dir: e.outs.segDir, Prefix: s.FilenamePrefix,
			Duration:  time.Duration(s.SegmentDurationSec) * time.Second,
			OnSegment: e.outs.segmentDone,
		}
	}
	if len(p.Images) > 0 {
		im := p.Images[0]
		cfg.Images = &pipeline.ImageOutput{
			Dir: e.outs.imgDir, Prefix: im.FilenamePrefix,
			Interval: time.Duration(im.CaptureIntervalSec) * time.Second,
			Width:    im.Width, Height: im.Height,
			OnImage: e.outs.imageDone,
		}
	}
	return cfg
}

// updateStream adds and removes RTMP destinations while the egress runs.
func (e *egress) updateStream(add, remove []string) error {
	if len(e.plan.Streams) == 0 {
		return fmt.Errorf("egress %s has no stream output; start one with stream_outputs", e.id)
	}
	b := e.currentBranch()
	if b == nil {
		return fmt.Errorf("egress %s is not recording yet; update its streams once it is active", e.id)
	}
	if err := e.outs.update(b, add, remove); err != nil {
		return err
	}
	e.checkOutputsLeft()
	return nil
}

func (e *egress) fileResult(path string) *livekit.FileInfo {
	e.mu.Lock()
	started, stopped := e.activeAt, e.stoppedAt
	e.mu.Unlock()
	fi := &livekit.FileInfo{Filename: path, Location: path}
	if st, err := os.Stat(path); err == nil {
		fi.Size = st.Size()
	}
	if !started.IsZero() {
		fi.StartedAt = started.UnixNano()
		fi.EndedAt = stopped.UnixNano()
		fi.Duration = fi.EndedAt - fi.StartedAt
	}
	return fi
}

func (e *egress) finish(status livekit.EgressStatus, reason string, file *livekit.FileInfo) {
	final := e.l.board.update(e.id, func(info *livekit.EgressInfo) {
		info.Status = status
		info.Error = reason
		info.EndedAt = time.Now().UnixNano()
		if file != nil {
			info.FileResults = []*livekit.FileInfo{file}
			if info.StartedAt == 0 {
				info.StartedAt = file.StartedAt
			}
		}
		e.outs.fill(info)
	})
	if final != nil {
		e.l.cfg.Logf("egress %s %s%s", e.id, final.Status, errSuffix(final.Error))
	}
}

func errSuffix(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

// ErrNotFound is returned for an egress ID the engine does not know.
var ErrNotFound = errors.New("egress not found")

func notFound(id string) error { return fmt.Errorf("%w: %q", ErrNotFound, id) }
