package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"

	"roomcast/engine/pipeline"
	"roomcast/engine/request"
)

// egress is one started request: its branch on a composite, and its info.
type egress struct {
	id    string
	l     *Local
	plan  *request.Plan
	key   compositeKey
	stopC chan struct{} // closed by stop
	done  chan struct{} // closed when the egress reached a final state

	stopOnce sync.Once

	mu        sync.Mutex
	slot      *compositeSlot // set once the composite is up
	activeAt  time.Time
	writingAt time.Time
}

func (e *egress) currentSlot() *compositeSlot {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.slot
}

func newEgress(l *Local, req *livekit.RoomCompositeEgressRequest, plan *request.Plan) *egress {
	e := &egress{
		id:    newEgressID(),
		l:     l,
		plan:  plan,
		key:   compositeKey{CompositeKey: plan.CompositeKey(), audioOnly: plan.AudioOnly},
		stopC: make(chan struct{}),
		done:  make(chan struct{}),
	}
	now := time.Now().UnixNano()
	l.board.put(&livekit.EgressInfo{
		EgressId:   e.id,
		RoomName:   plan.RoomName,
		SourceType: livekit.EgressSourceType_EGRESS_SOURCE_TYPE_WEB,
		Status:     livekit.EgressStatus_EGRESS_STARTING,
		UpdatedAt:  now,
		Request:    &livekit.EgressInfo_RoomComposite{RoomComposite: request.RedactRequest(req)},
	})
	return e
}

// stop asks the egress to end; run does the work. Safe to call repeatedly.
func (e *egress) stop() { e.stopOnce.Do(func() { close(e.stopC) }) }

// run takes the egress through its life: composite, branch, recording,
// stop, results.
func (e *egress) run() {
	defer close(e.done)
	ctx, cancel := context.WithCancel(context.Background())
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
	e.mu.Lock()
	e.slot = slot
	e.mu.Unlock()

	failed := make(chan error, 1)
	cfg := e.branchConfig()
	branch, err := pipeline.NewBranch(cfg, pipeline.BranchEvents{
		Active: func() {
			e.mu.Lock()
			e.activeAt = time.Now()
			e.mu.Unlock()
			e.l.board.update(e.id, func(info *livekit.EgressInfo) {
				info.Status = livekit.EgressStatus_EGRESS_ACTIVE
				info.StartedAt = time.Now().UnixNano()
			})
		},
		FirstWrite: func() {
			e.mu.Lock()
			e.writingAt = time.Now()
			e.mu.Unlock()
		},
		Failed: func(err error) {
			select {
			case failed <- err:
			default:
			}
		},
	})
	if err == nil {
		err = os.MkdirAll(filepath.Dir(cfg.File.Path), 0o755)
	}
	if err == nil {
		err = comp.cap.Attach(branch)
	}
	if err != nil {
		e.finish(livekit.EgressStatus_EGRESS_FAILED, err.Error(), nil)
		return
	}
	e.l.cfg.Logf("egress %s recording %s to %s", e.id, e.key, cfg.File.Path)

	status, reason := livekit.EgressStatus_EGRESS_COMPLETE, ""
	select {
	case <-e.stopC:
	case err := <-failed:
		status, reason = livekit.EgressStatus_EGRESS_FAILED, err.Error()
	case <-comp.ended:
		if comp.endErr != nil {
			status, reason = livekit.EgressStatus_EGRESS_FAILED, comp.endErr.Error()
		} else {
			reason = "the room ended"
		}
	}
	e.l.board.update(e.id, func(info *livekit.EgressInfo) { info.Status = livekit.EgressStatus_EGRESS_ENDING })
	if err := comp.cap.Detach(branch); err != nil && status == livekit.EgressStatus_EGRESS_COMPLETE {
		status, reason = livekit.EgressStatus_EGRESS_FAILED, err.Error()
	}
	if status == livekit.EgressStatus_EGRESS_COMPLETE {
		reason = "" // a normal end carries no error
	}
	e.finish(status, reason, e.fileResult(cfg.File.Path))
}

func (e *egress) branchConfig() pipeline.BranchConfig {
	p := e.plan
	cfg := pipeline.BranchConfig{Name: e.id}
	if !p.AudioOnly {
		cfg.Video = &pipeline.VideoEncoding{
			BitrateKbps: p.Video.BitrateKbps, FPS: p.Video.FPS,
			KeyFrameInterval: p.Video.KeyFrameIntervalSec, Profile: p.Video.Profile,
		}
	}
	if !p.VideoOnly {
		cfg.Audio = &pipeline.AudioEncoding{BitrateKbps: p.Audio.BitrateKbps, Opus: p.Audio.Codec == livekit.AudioCodec_OPUS}
	}
	f := p.Files[0]
	container := pipeline.MP4
	if f.FileType == livekit.EncodedFileType_OGG {
		container = pipeline.OGG
	}
	cfg.File = &pipeline.FileOutput{Path: f.Filepath, Container: container}
	return cfg
}

func (e *egress) fileResult(path string) *livekit.FileInfo {
	e.mu.Lock()
	started := e.activeAt
	e.mu.Unlock()
	fi := &livekit.FileInfo{Filename: path, Location: path}
	if st, err := os.Stat(path); err == nil {
		fi.Size = st.Size()
	}
	if !started.IsZero() {
		fi.StartedAt = started.UnixNano()
		fi.EndedAt = time.Now().UnixNano()
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

// errNotFound is returned for an egress ID the engine does not know.
var errNotFound = errors.New("egress not found")

func notFound(id string) error { return fmt.Errorf("%w: %q", errNotFound, id) }
