package local

import (
	"context"
	"errors"
	"sync"

	"roomcast/engine/composite"
	"roomcast/engine/request"
)

// composites is the one place that decides which running composite a
// request records from: the one whose key serves the request's
// (request.CompositeKey.Serves), started for the first user and closed
// after the last.
type composites struct {
	deps  composite.Deps
	ready *standby

	mu     sync.Mutex
	slots  map[request.CompositeKey]*slot
	closed bool
}

// slot lets concurrent requests for one key wait for a single start
// instead of launching two browsers.
type slot struct {
	key   request.CompositeKey // guarded by composites.mu
	ready chan struct{}        // closed once comp or err is set
	comp  *composite.Composite
	err   error
	users int // egresses and previews holding it; guarded by composites.mu
}

func newComposites(deps composite.Deps, keepReady bool) *composites {
	cs := &composites{deps: deps, slots: map[request.CompositeKey]*slot{}}
	if keepReady {
		cs.ready = newStandby(deps)
	}
	return cs
}

// findLocked returns the slot that serves want: its own, or one that
// serves it as well (a composite with video for an audio-only request).
func (cs *composites) findLocked(want request.CompositeKey) *slot {
	if s := cs.slots[want]; s != nil {
		return s
	}
	for key, s := range cs.slots {
		if key.Serves(want) {
			return s
		}
	}
	return nil
}

// acquire returns the running composite for key, starting it if needed,
// with its slot (pass it to release).
func (cs *composites) acquire(ctx context.Context, key request.CompositeKey) (*slot, error) {
	cs.mu.Lock()
	if cs.closed {
		cs.mu.Unlock()
		return nil, errors.New("the engine is closed")
	}
	s := cs.findLocked(key)
	if s == nil {
		s = &slot{key: key, ready: make(chan struct{})}
		cs.slots[key] = s
		go func() {
			// The start outlives the request's context: a composite is
			// shared, and the next caller may want it.
			ctx := context.WithoutCancel(ctx)
			s.comp, s.err = composite.Start(ctx, key, cs.deps, cs.ready.take(ctx, key))
			close(s.ready)
			cs.ready.refill(readyDelay)
			if s.err != nil {
				cs.forget(s)
				return
			}
			// A room view that ended is forgotten, so that the next
			// request starts a fresh one; its egresses end themselves.
			<-s.comp.Ended()
			cs.forget(s)
		}()
	}
	s.users++
	cs.mu.Unlock()

	select {
	case <-s.ready:
	case <-ctx.Done():
		cs.release(s)
		return nil, ctx.Err()
	}
	if s.err != nil {
		cs.release(s)
		return nil, s.err
	}
	return s, nil
}

// forget removes the slot from the index, so no new user finds it.
func (cs *composites) forget(s *slot) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.slots[s.key] == s {
		delete(cs.slots, s.key)
	}
}

// release drops one user; the last one out closes the composite.
func (cs *composites) release(s *slot) {
	cs.mu.Lock()
	s.users--
	last := s.users == 0 && s.comp != nil
	if last && cs.slots[s.key] == s {
		delete(cs.slots, s.key)
	}
	cs.mu.Unlock()
	if last {
		if err := s.comp.Close(); err != nil {
			cs.deps.Logf("composite %s: close: %v", s.key, err)
		}
	}
}

// setLayout switches a running composite's layout and files it under its
// new key, unless another composite already holds that key (then it stays
// reachable only through its users).
func (cs *composites) setLayout(ctx context.Context, s *slot, layout string) error {
	if err := s.comp.SetLayout(ctx, layout); err != nil {
		return err
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.slots[s.key] == s {
		delete(cs.slots, s.key)
	}
	s.key.Layout = layout
	if cs.slots[s.key] == nil {
		cs.slots[s.key] = s
	}
	return nil
}

// keyOf is the slot's key now (it changes with the layout).
func (cs *composites) keyOf(s *slot) request.CompositeKey {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return s.key
}

// running lists the composites that are up, with their keys.
func (cs *composites) running() map[request.CompositeKey]*composite.Composite {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	out := map[request.CompositeKey]*composite.Composite{}
	for key, s := range cs.slots {
		select {
		case <-s.ready:
			if s.comp != nil {
				out[key] = s.comp
			}
		default:
		}
	}
	return out
}

// close closes every composite; no new one starts after it.
func (cs *composites) close() error {
	cs.mu.Lock()
	cs.closed = true
	slots := cs.slots
	cs.slots = map[request.CompositeKey]*slot{}
	cs.mu.Unlock()
	var errs []error
	for _, s := range slots {
		<-s.ready
		if s.comp != nil {
			errs = append(errs, s.comp.Close())
		}
	}
	cs.ready.close()
	return errors.Join(errs...)
}
