package output

import (
	"errors"
	"fmt"
	"time"

	"roomcast/engine/hls"
	"roomcast/engine/markers"
)

// Markable is an output that keeps markers: a file (beside it, as
// sidecars) and segments (in the playlists, and as sidecars beside them).
type Markable interface {
	// Mark adds marker index at wall, its time in the output from its
	// own first frame.
	Mark(index int, wall time.Time, label string) error
	// Relabel changes marker index's label.
	Relabel(index int, label string) error
}

// errNotRecording: a marker asked of an output before its first frame or
// after its end.
var errNotRecording = errors.New("not recording")

// marker is the marker made of index at wall on r, with its offset in the
// output's media (one made while paused is where the media paused).
func (r *run) marker(index int, wall time.Time, label string) (markers.Marker, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.zero.IsZero() || !r.runningLocked() {
		return markers.Marker{}, errNotRecording
	}
	return markers.Marker{Index: index, Offset: r.mediaAtLocked(wall), Wall: wall, Label: label}, nil
}

// finishMarks ends the sidecar's last chapter at the output's end and has
// its files uploaded beside the output's (dir: the output's key folder).
func finishMarks(env Env, r *run, s *markers.Sidecar, dir string) {
	if !s.Written() {
		return
	}
	_, _, recorded := r.span()
	if err := s.Finish(recorded); err != nil {
		env.Logf("%s: %v", env.Field, err)
	}
	vtt, list := s.Paths()
	for _, p := range []string{vtt, list} {
		env.put(p, keyIn(dir, p))
	}
}

// Mark writes the marker beside the file.
func (o *File) Mark(index int, wall time.Time, label string) error {
	m, err := o.run.marker(index, wall, label)
	if err != nil {
		return fmt.Errorf("%s: %w", o.env.Field, err)
	}
	return o.marks.Add(m)
}

// Relabel rewrites the file's markers with the new label.
func (o *File) Relabel(index int, label string) error { return o.marks.Relabel(index, label) }

// Mark puts the marker in the playlists (EXT-X-DATERANGE) and beside them.
func (o *Segments) Mark(index int, wall time.Time, label string) error {
	m, err := o.run.marker(index, wall, label)
	if err != nil {
		return fmt.Errorf("%s: %w", o.env.Field, err)
	}
	if err := o.playlist.AddDateRange(hls.DateRange{ID: dateRangeID(index), Start: wall, Label: label}); err != nil {
		return err
	}
	return o.marks.Add(m)
}

// Relabel rewrites the playlists and the sidecars with the new label.
func (o *Segments) Relabel(index int, label string) error {
	if err := o.playlist.Relabel(dateRangeID(index), label); err != nil {
		return err
	}
	return o.marks.Relabel(index, label)
}

func dateRangeID(index int) string { return fmt.Sprintf("marker-%d", index) }
