package output

import (
	"fmt"
	"time"
)

// Pausable is an output that pauses (a file, segments, images): its media
// stop while the composite and the egress's streams go on, and go on where
// they stopped, the paused stretch cut out of its time line.
type Pausable interface {
	Pause() error
	Resume() error
}

// gap is one pause of an output: where in its media it paused, and when
// its media stopped and went on, on the wall clock (to is zero until
// they did).
type gap struct {
	at       time.Duration
	from, to time.Time
}

// pause pauses the run's branch.
func (r *run) pause() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.runningLocked() {
		return fmt.Errorf("%s: %w", r.env.Field, errNotRecording)
	}
	at, err := r.att.Pause()
	if err != nil {
		return fmt.Errorf("%s: %w", r.env.Field, err)
	}
	r.gaps = append(r.gaps, gap{at: at, from: time.Now()})
	return nil
}

// resume resumes the run's branch; resumed follows once its media go on.
func (r *run) resume() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.runningLocked() {
		return fmt.Errorf("%s: %w", r.env.Field, errNotRecording)
	}
	if err := r.att.Resume(); err != nil {
		return fmt.Errorf("%s: %w", r.env.Field, err)
	}
	return nil
}

// resumed: the branch's media went on from at with a frame captured at
// captured (pipeline.Events.Resumed).
func (r *run) resumed(at time.Duration, captured time.Time) {
	r.mu.Lock()
	if n := len(r.gaps); n > 0 && r.gaps[n-1].to.IsZero() {
		r.gaps[n-1].to = captured
	}
	onResume := r.onResume
	r.mu.Unlock()
	if onResume != nil {
		onResume(at)
	}
	r.env.Changed()
}

// pausedBeforeLocked is how long the gaps before media time d lasted, on the
// wall clock.
func (r *run) pausedBeforeLocked(d time.Duration) time.Duration {
	var paused time.Duration
	for _, g := range r.gaps {
		if g.at <= d && !g.to.IsZero() {
			paused += g.to.Sub(g.from)
		}
	}
	return paused
}

// mediaAtLocked is the output's media time of the wall-clock moment wall:
// a moment inside a pause is where the media paused.
func (r *run) mediaAtLocked(wall time.Time) time.Duration {
	d := wall.Sub(r.zero)
	for _, g := range r.gaps {
		switch {
		case wall.Before(g.from):
			return d
		case g.to.IsZero() || wall.Before(g.to):
			return g.at
		default:
			d -= g.to.Sub(g.from)
		}
	}
	return d
}

// recordedLocked is how much the output recorded from its first frame to
// end, its pauses cut out.
func (r *run) recordedLocked(end time.Time) time.Duration {
	d := end.Sub(r.zero)
	for _, g := range r.gaps {
		to := g.to
		if to.IsZero() || to.After(end) {
			to = end
		}
		if to.After(g.from) {
			d -= to.Sub(g.from)
		}
	}
	return max(d, 0)
}

// Pause stops writing the file until Resume.
func (o *File) Pause() error { return o.run.pause() }

// Resume writes the file on from where it paused.
func (o *File) Resume() error { return o.run.resume() }

// Pause stops writing segments until Resume.
func (o *Segments) Pause() error { return o.run.pause() }

// Resume writes segments on: the first, cut at the resume, follows a
// discontinuity.
func (o *Segments) Resume() error { return o.run.resume() }

// Pause stops taking images until Resume.
func (o *Images) Pause() error { return o.run.pause() }

// Resume takes images on, at the same interval of recorded time.
func (o *Images) Resume() error { return o.run.resume() }

var _ = []Pausable{(*File)(nil), (*Segments)(nil), (*Images)(nil)}
