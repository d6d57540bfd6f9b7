package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/utils/guid"

	"roomcast/engine/request"
	"roomcast/engine/trackcopy"
)

// trackEgress is a TrackEgress running here: one track copied as sent,
// no composite.
type trackEgress struct {
	copy *trackcopy.Copy
	// why is the end reason the engine gave when it stopped the copy;
	// empty while it runs or when the track itself went.
	mu   sync.Mutex
	why  string
	done chan struct{} // closed once its final info is on the board
}

func (t *trackEgress) stop(why string) {
	t.mu.Lock()
	if t.why == "" {
		t.why = why
	}
	t.mu.Unlock()
	go t.copy.Stop()
}

func (t *trackEgress) endReason() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.why == "" {
		return livekit.EndReasonSrcClosed
	}
	return t.why
}

// StartTrack begins LiveKit's TrackEgress: the track is subscribed to and
// written as sent to a local file (see trackcopy). It returns ACTIVE once
// the copy writes; a request it cannot serve (no such track, a codec not
// copied, an upload) is refused here, before any info is published.
func (l *Local) StartTrack(ctx context.Context, req *livekit.TrackEgressRequest) (*livekit.EgressInfo, error) {
	plan, err := request.Track(req, request.Options{Now: time.Now(), OutputDir: l.cfg.OutputDir})
	if err != nil {
		return nil, err
	}
	roomID, err := l.roomID(ctx, plan.RoomName)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return nil, errors.New("the engine is closed")
	}
	warn := func(w string) { l.cfg.Logf("request: %s", w) }
	for _, w := range plan.Warnings {
		warn(w)
	}
	if err := os.MkdirAll(plan.Dir(), 0o755); err != nil {
		return nil, fmt.Errorf("file.filepath: %w", err)
	}
	id := guid.New(guid.EgressPrefix)
	cp, err := trackcopy.Start(ctx, trackcopy.Config{
		URL: l.cfg.LiveKitURL, APIKey: l.cfg.APIKey, APISecret: l.cfg.APISecret,
		Room: plan.RoomName, TrackID: plan.TrackID, Identity: id, Logf: l.cfg.Logf,
		Path: func(ext string) string { return plan.Path(ext, warn) },
	})
	if err != nil {
		return nil, err
	}
	te := &trackEgress{copy: cp, done: make(chan struct{})}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		cp.Stop()
		return nil, errors.New("the engine is closed")
	}
	l.tracks[id] = te
	l.background.Add(1) // under l.mu: Close waits only once closed is set
	l.mu.Unlock()
	now := time.Now().UnixNano()
	l.board.put(&livekit.EgressInfo{
		EgressId: id, RoomId: roomID, RoomName: plan.RoomName,
		SourceType: livekit.EgressSourceType_EGRESS_SOURCE_TYPE_SDK,
		Status:     livekit.EgressStatus_EGRESS_ACTIVE, StartedAt: now, UpdatedAt: now,
		Request: &livekit.EgressInfo_Track{Track: req},
	})
	go func() {
		defer l.background.Done()
		res, err := cp.Wait()
		end := ending{status: livekit.EgressStatus_EGRESS_COMPLETE, why: te.endReason()}
		switch {
		case err != nil:
			end.status, end.err, end.why = livekit.EgressStatus_EGRESS_FAILED, err.Error(), livekit.EndReasonFailure
		case res.Packets == 0:
			end.status, end.err = livekit.EgressStatus_EGRESS_FAILED, "no media of the track came; the file is empty"
		}
		l.board.update(id, func(info *livekit.EgressInfo) {
			fi := &livekit.FileInfo{Filename: res.Path, Location: res.Path, Size: res.Size, EndedAt: res.Ended.UnixNano()}
			if !res.Started.IsZero() {
				fi.StartedAt, fi.Duration = res.Started.UnixNano(), res.Ended.Sub(res.Started).Nanoseconds()
			}
			info.FileResults = []*livekit.FileInfo{fi}
			fillSingleResult(info, "file")
			info.EndedAt = res.Ended.UnixNano()
			info.Status, info.Error, info.ErrorCode, info.Details = end.status, end.err, end.errorCode(), end.details()
		})
		close(te.done)
	}()
	return l.board.get(id), nil
}

// stopTrack ends a track egress and waits for its file; false if id is
// no track egress here.
func (l *Local) stopTrack(ctx context.Context, id string) (*livekit.EgressInfo, bool, error) {
	l.mu.Lock()
	te := l.tracks[id]
	l.mu.Unlock()
	if te == nil {
		return nil, false, nil
	}
	te.stop(livekit.EndReasonAPI)
	select {
	case <-te.done:
	case <-ctx.Done():
		return l.board.get(id), true, ctx.Err()
	}
	return l.board.get(id), true, nil
}
