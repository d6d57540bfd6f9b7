// Package markers keeps a recording's markers (moments a producer marked,
// each with an optional label) beside it as they happen: WebVTT chapters
// and a JSON list, each rewritten whole at every change, so a crash leaves
// the last complete list. (MP4 chapters live in the moov box, which an
// append-only fragmented file never rewrites: the sidecars are the format.)
package markers

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"roomcast/engine/internal/atomicfile"
)

// Marker is one marked moment of a recording.
type Marker struct {
	Index int `json:"index"` // 1, 2, … in the order they were made
	// Offset is the marker's time in the recording: from its first frame.
	Offset time.Duration `json:"-"`
	Wall   time.Time     `json:"wall"`
	Label  string        `json:"label"`
}

// jsonMarker is a Marker as the JSON list has it: its time in seconds.
type jsonMarker struct {
	Marker
	Seconds float64 `json:"time"`
}

// Sidecar is the markers of one recording, written beside it as
// <name>.markers.vtt and <name>.markers.json (name: the recording's file
// name without its extension).
type Sidecar struct {
	base string

	mu   sync.Mutex
	list []Marker
	end  time.Duration // the recording's length once finished; 0 before
}

// New keeps the markers of the recording at media (a file, or a
// playlist); nothing is written before the first marker.
func New(media string) *Sidecar {
	return &Sidecar{base: strings.TrimSuffix(media, filepath.Ext(media))}
}

// Paths are the sidecar's two files.
func (s *Sidecar) Paths() (vtt, list string) {
	return s.base + ".markers.vtt", s.base + ".markers.json"
}

// Written reports whether the sidecar has any marker (and so files).
func (s *Sidecar) Written() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.list) > 0
}

// Add keeps m and rewrites the files.
func (s *Sidecar) Add(m Marker) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list = append(s.list, m)
	return s.writeLocked()
}

// Relabel changes the label of marker index and rewrites the files.
func (s *Sidecar) Relabel(index int, label string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.list {
		if s.list[i].Index == index {
			s.list[i].Label = label
			return s.writeLocked()
		}
	}
	return fmt.Errorf("no marker %d", index)
}

// Finish ends the last chapter at the recording's end and rewrites the
// files, if there are any.
func (s *Sidecar) Finish(end time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.end = end
	if len(s.list) == 0 {
		return nil
	}
	return s.writeLocked()
}

func (s *Sidecar) writeLocked() error {
	vtt, list := s.Paths()
	if err := atomicfile.Write(vtt, VTT(s.list, s.end)); err != nil {
		return fmt.Errorf("markers: %w", err)
	}
	out := make([]jsonMarker, len(s.list))
	for i, m := range s.list {
		out[i] = jsonMarker{Marker: m, Seconds: m.Offset.Seconds()}
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(list, append(b, '\n')); err != nil {
		return fmt.Errorf("markers: %w", err)
	}
	return nil
}

// VTT renders markers as WebVTT chapters: each runs from its marker to the
// next, the last to end (or, before the recording ends, for a second). A
// cue's text is the label, or "Marker N" for none.
func VTT(list []Marker, end time.Duration) []byte {
	var b strings.Builder
	b.WriteString("WEBVTT\n")
	for i, m := range list {
		to := m.Offset + time.Second
		switch {
		case i+1 < len(list):
			to = list[i+1].Offset
		case end > m.Offset:
			to = end
		}
		text := cueText(m.Label)
		if text == "" {
			text = fmt.Sprintf("Marker %d", m.Index)
		}
		fmt.Fprintf(&b, "\n%d\n%s --> %s\n%s\n", m.Index, vttTime(m.Offset), vttTime(max(to, m.Offset+time.Millisecond)), text)
	}
	return []byte(b.String())
}

// cueText is a label made safe for a cue: one line, without the "-->"
// that would end it, with WebVTT's markup characters escaped.
func cueText(label string) string {
	label = strings.Join(strings.Fields(label), " ")
	label = strings.ReplaceAll(label, "&", "&amp;")
	label = strings.ReplaceAll(label, "<", "&lt;")
	return strings.ReplaceAll(label, ">", "&gt;")
}

// vttTime writes d as WebVTT's hh:mm:ss.ttt.
func vttTime(d time.Duration) string {
	ms := d.Milliseconds()
	return fmt.Sprintf("%02d:%02d:%02d.%03d", ms/3600000, ms/60000%60, ms/1000%60, ms%1000)
}
