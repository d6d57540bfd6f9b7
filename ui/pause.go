package ui

import (
	"context"
	"fmt"
	"time"

	"roomcast/engine"
)

// pausable is the Studio's Pauser, when it has one and a recording runs;
// else why Pause is off.
func (s *studio) pausable() (engine.Pauser, string) {
	return recordingStudio[engine.Pauser](s, "Pause needs this machine's engine: LiveKit's Egress service cannot pause.")
}

// onPause pauses the running recording (its files, HLS and images stop
// where they are; the composite and any stream go on), or resumes it; the
// history notes each, at its recorded time.
func (s *studio) onPause() {
	pauser, _ := s.pausable()
	if pauser == nil {
		return
	}
	id, resume := s.rec.id, !s.rec.paused.IsZero()
	s.controls.pause.Disable() // until the engine answers
	s.spawn(func() {
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		defer cancel()
		call := pauser.Pause
		if resume {
			call = pauser.Resume
		}
		err := call(ctx, id)
		now := time.Now()
		s.do(func() {
			defer s.refreshControls()
			if s.rec.id != id || s.rec.phase != active {
				return // it ended meanwhile
			}
			switch {
			case err != nil && resume:
				s.controls.showError("Not resumed: " + userMessage(err))
			case err != nil:
				s.controls.showError("Not paused: " + userMessage(err))
			case resume:
				paused := now.Sub(s.rec.paused)
				s.rec.pausedFor += paused
				s.rec.paused = time.Time{}
				s.history.note(id, fmt.Sprintf("Resumed at %s after %s paused", formatClock(s.rec.recorded(now)), formatClock(paused)))
			default:
				s.rec.paused = now
				s.history.note(id, "Paused at "+formatClock(s.rec.recorded(now)))
			}
		})
	})
}
