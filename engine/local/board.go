package local

import (
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"

	"roomcast/engine"
)

// infoBoard holds every egress's info and fans updates out to watchers.
type infoBoard struct {
	mu       sync.Mutex
	infos    map[string]*livekit.EgressInfo
	order    []string
	watchers map[chan *livekit.EgressInfo]struct{}
}

func newInfoBoard() *infoBoard {
	return &infoBoard{infos: map[string]*livekit.EgressInfo{}, watchers: map[chan *livekit.EgressInfo]struct{}{}}
}

// put records a new egress.
func (b *infoBoard) put(info *livekit.EgressInfo) {
	b.mu.Lock()
	b.infos[info.EgressId] = info
	b.order = append(b.order, info.EgressId)
	b.mu.Unlock()
	b.publish(info)
}

// update applies fn to the egress's info under the lock and publishes a
// copy. fn may change the status only forward; a backward change is undone.
func (b *infoBoard) update(id string, fn func(*livekit.EgressInfo)) *livekit.EgressInfo {
	b.mu.Lock()
	info, ok := b.infos[id]
	if !ok {
		b.mu.Unlock()
		return nil
	}
	before := info.Status
	if engine.IsFinal(before) {
		b.mu.Unlock()
		return proto.Clone(info).(*livekit.EgressInfo)
	}
	fn(info)
	if !engine.Supersedes(before, info.Status) {
		info.Status = before
	}
	info.UpdatedAt = time.Now().UnixNano()
	b.mu.Unlock()
	return b.publish(info)
}

func (b *infoBoard) get(id string) *livekit.EgressInfo {
	b.mu.Lock()
	defer b.mu.Unlock()
	if info, ok := b.infos[id]; ok {
		return proto.Clone(info).(*livekit.EgressInfo)
	}
	return nil
}

// list returns copies in the order the egresses started.
func (b *infoBoard) list(keep func(*livekit.EgressInfo) bool) []*livekit.EgressInfo {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*livekit.EgressInfo
	for _, id := range b.order {
		if info := b.infos[id]; keep(info) {
			out = append(out, proto.Clone(info).(*livekit.EgressInfo))
		}
	}
	return out
}

func (b *infoBoard) publish(info *livekit.EgressInfo) *livekit.EgressInfo {
	b.mu.Lock()
	snapshot := proto.Clone(info).(*livekit.EgressInfo)
	for ch := range b.watchers {
		// A watcher that does not keep up loses intermediate updates,
		// never blocks the engine; the final state is always in List.
		select {
		case ch <- proto.Clone(snapshot).(*livekit.EgressInfo):
		default:
		}
	}
	b.mu.Unlock()
	return snapshot
}

func (b *infoBoard) watch(done <-chan struct{}) <-chan *livekit.EgressInfo {
	ch := make(chan *livekit.EgressInfo, 64)
	b.mu.Lock()
	b.watchers[ch] = struct{}{}
	b.mu.Unlock()
	go func() {
		<-done
		b.mu.Lock()
		delete(b.watchers, ch)
		b.mu.Unlock()
		close(ch)
	}()
	return ch
}
