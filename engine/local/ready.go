package local

import (
	"context"
	"sync"
	"time"

	"roomcast/engine/composite"
	"roomcast/engine/request"
)

// readyDelay: a new room view is made ready this long after a composite
// started, so that Chromium's start (about a second of both cores, even
// idle it takes what the others leave) does not share the CPU with the
// new composite's first frames.
const readyDelay = 3 * time.Second

// standby keeps one room view ready (composite.Ready) for the next
// composite: of the size last asked for (LiveKit's default at first),
// started when the engine starts and again after each composite start.
// A nil *standby keeps none (Config.KeepReady off).
type standby struct {
	deps composite.Deps

	mu            sync.Mutex
	width, height int
	next          *readying // being made ready, or ready; nil if none
	closed        bool
	wg            sync.WaitGroup
}

// readying is one room view being made ready.
type readying struct {
	width, height int
	done          chan struct{} // closed once r or err is set
	now           chan struct{} // closed to skip the delay: it is wanted
	r             *composite.Ready
	err           error
	cancel        context.CancelFunc
}

func newStandby(deps composite.Deps) *standby {
	s := &standby{deps: deps, width: request.DefaultWidth, height: request.DefaultHeight}
	s.refill(0)
	return s
}

// take returns the ready room view if it fits key, waiting for it while
// it is made ready; nil when there is none that fits. A custom template
// leaves it for the next built-in layout; any other key's size is the one
// kept ready from then on.
func (s *standby) take(ctx context.Context, key request.CompositeKey) *composite.Ready {
	if s == nil || key.CustomBaseURL != "" {
		return nil
	}
	s.mu.Lock()
	next := s.next
	s.next = nil
	s.width, s.height = key.Width, key.Height
	s.mu.Unlock()
	if next == nil {
		return nil
	}
	if key.Width != next.width || key.Height != next.height {
		s.discard(next)
		return nil
	}
	close(next.now) // taken by one caller only: s.next is nil now
	select {
	case <-next.done:
	case <-ctx.Done():
		s.discard(next)
		return nil
	}
	if !next.usable() {
		s.discard(next)
		return nil
	}
	return next.r
}

// usable reports whether a room view that is done being made can be
// taken: it was made, and its screen and browser still run.
func (r *readying) usable() bool { return r.err == nil && r.r.Alive() }

// isReady reports whether a room view is ready to be taken now.
func (s *standby) isReady() bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	next := s.next
	s.mu.Unlock()
	if next == nil {
		return false
	}
	select {
	case <-next.done:
		return next.usable()
	default:
		return false
	}
}

// refill makes a room view of the size kept ready, after delay, unless
// one is kept already or the engine closes first.
func (s *standby) refill(delay time.Duration) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.next != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	next := &readying{width: s.width, height: s.height, done: make(chan struct{}), now: make(chan struct{}), cancel: cancel}
	s.next = next
	s.wg.Go(func() {
		defer close(next.done)
		select {
		case <-time.After(delay):
		case <-next.now:
		case <-ctx.Done():
			next.err = ctx.Err()
			return
		}
		began := time.Now()
		// Idle beside the composites that may run by then; the first, with
		// none yet, starts at full speed for a request that may come at once.
		next.r, next.err = composite.StartReady(ctx, next.width, next.height, delay > 0, s.deps)
		if next.err != nil {
			if ctx.Err() == nil {
				s.deps.Logf("no room view kept ready (the next composite starts cold): %v", next.err)
			}
			return
		}
		s.deps.Logf("a %dx%d room view is ready for the next composite, %v after it was started",
			next.width, next.height, time.Since(began).Round(time.Millisecond))
	})
}

// discard stops a room view that will not be taken: in the background
// while the engine runs (close waits for it), at once once it closes.
func (s *standby) discard(next *readying) {
	next.cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		next.stop()
		return
	}
	s.wg.Go(next.stop)
}

// stop waits for the room view's start to end and closes what it made.
func (r *readying) stop() {
	<-r.done
	if r.r != nil {
		_ = r.r.Close()
	}
}

// close stops the room view kept ready; none is made after it.
func (s *standby) close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.closed = true
	next := s.next
	s.next = nil
	s.mu.Unlock()
	if next != nil {
		next.cancel()
		next.stop()
	}
	s.wg.Wait()
}
