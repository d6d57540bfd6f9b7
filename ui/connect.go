package ui

import (
	"context"
	"time"

	"github.com/livekit/protocol/livekit"

	"roomcast/engine"
)

// closeBackend closes b once: its engine stops every egress cleanly
// (files finalised), then the demo room goes. Any goroutine.
func (s *studio) closeBackend(b *engine.Session) error {
	s.backMu.Lock()
	open := s.backs[b]
	delete(s.backs, b)
	s.backMu.Unlock()
	if !open {
		return nil
	}
	return b.Close()
}

// connectTo drops the current backend and connects to c in the
// background, showing the progress ("Starting the demo room…").
func (s *studio) connectTo(c connection) {
	s.disconnect()
	ctx, cancel := context.WithCancel(s.ctx)
	s.backCancel = cancel
	msg := "Connecting to " + c.LiveKitURL + "…"
	if c.UseDemo {
		msg = "Starting the demo room…"
	}
	s.status.setConnection(colorWarn, msg)
	s.rooms.setNote(msg)
	s.preview.showMessage(msg, true)
	dir := expandHome(s.defaultFolder())
	s.spawn(func() {
		b, err := s.connect(ctx, c.engineConnection(dir, s.cfg.Logf))
		if b != nil {
			s.backMu.Lock()
			s.backs[b] = true
			s.backMu.Unlock()
		}
		if ctx.Err() != nil {
			if b != nil {
				s.closeBackend(b)
			}
			return
		}
		s.do(func() { s.onConnected(ctx, b, err) })
	})
}

func (s *studio) onConnected(ctx context.Context, b *engine.Session, err error) {
	if ctx.Err() != nil { // replaced meanwhile
		if b != nil {
			s.spawn(func() { s.closeBackend(b) })
		}
		return
	}
	if err != nil {
		msg := "Not connected: " + userMessage(err)
		s.status.setConnection(colorRec, msg)
		s.rooms.setNote(msg + " Check Settings.")
		s.preview.showMessage(msg, false)
		return
	}
	s.back = b
	s.pickRoom = true
	s.status.setConnection(colorOK, "Connected to "+b.Server)
	s.preview.hideMessage()
	if b.DemoRoom != "" && s.rooms.room() == "" {
		s.rooms.setRoom(b.DemoRoom)
	}
	s.spawn(func() { s.watchEgresses(ctx, b) })
	if s.roomsEvery > 0 {
		s.spawn(func() { s.pollRooms(ctx, b) })
	}
	s.refreshControls()
	s.updatePreview()
}

// disconnect stops using the backend and closes it in the background
// (its engine takes the preview's composite down with it).
func (s *studio) disconnect() {
	if s.backCancel != nil {
		s.backCancel()
		s.backCancel = nil
	}
	b := s.back
	s.back = nil
	s.preview.request(previewWant{})
	s.refreshControls()
	if b != nil {
		s.spawn(func() { s.closeBackend(b) })
	}
}

// watchEgresses hands every egress update of b to the window until ctx
// ends.
func (s *studio) watchEgresses(ctx context.Context, b *engine.Session) {
	for info := range b.Studio.Watch(ctx) {
		s.do(func() { s.onEgressInfo(info) })
	}
}

// pollRooms lists b's rooms every roomsEvery until ctx ends.
func (s *studio) pollRooms(ctx context.Context, b *engine.Session) {
	for {
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		rooms, err := b.Studio.Rooms(lctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		s.do(func() { s.onRooms(b, rooms, err) })
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.roomsEvery):
		}
	}
}

// onRooms shows a room list, and picks the first room once when none is
// chosen (a configured server has no demo room to start on).
func (s *studio) onRooms(b *engine.Session, rooms []*livekit.Room, err error) {
	if s.back != b {
		return
	}
	s.rooms.setRooms(rooms, err)
	if err == nil && s.pickRoom {
		s.pickRoom = false // once: an operator who clears the room means it
		if s.rooms.room() == "" && len(s.rooms.rooms) > 0 {
			s.rooms.setRoom(s.rooms.rooms[0].Name)
		}
	}
}
