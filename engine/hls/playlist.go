// Package hls writes HLS media playlists: an EVENT playlist that lists
// every segment and, optionally, a sliding live playlist of the last few.
// Each write replaces the file atomically, so a player never reads half a
// playlist.
package hls

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"roomcast/engine/internal/atomicfile"
)

// LiveWindow is how many segments the live playlist keeps, as in LiveKit
// Egress.
const LiveWindow = 5

// Segment is one finished media segment.
type Segment struct {
	Name     string // file name, relative to the playlist
	Duration time.Duration
	Start    time.Time // wall-clock time of its first frame
	// Discontinuity: it follows a pause of the recording, its first frame
	// captured later than the last one's end (its timestamps run on).
	Discontinuity bool
}

// DateRange is a marked moment of the stream, written as an
// #EXT-X-DATERANGE of class com.roomcast.marker, its label in X-LABEL.
type DateRange struct {
	ID    string
	Start time.Time
	Label string
}

// Playlist accumulates segments and rewrites its files on every Add.
type Playlist struct {
	path, livePath string
	target         time.Duration // the segment duration asked for

	mu       sync.Mutex
	segments []Segment
	ranges   []DateRange
	ended    bool
}

// AddDateRange marks a moment and rewrites the playlist files (once they
// exist: a playlist is first written with its first segment).
func (p *Playlist) AddDateRange(d DateRange) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ranges = append(p.ranges, d)
	return p.rewriteLocked()
}

// Relabel changes the label of the date range id and rewrites the files.
func (p *Playlist) Relabel(id, label string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.ranges {
		if p.ranges[i].ID == id {
			p.ranges[i].Label = label
			return p.rewriteLocked()
		}
	}
	return fmt.Errorf("playlist %s: no date range %q", p.path, id)
}

func (p *Playlist) rewriteLocked() error {
	if len(p.segments) == 0 {
		return nil
	}
	return p.writeLocked()
}

// New makes a playlist at path (and a live one at livePath, if not "")
// for segments of about target each. Nothing is written until Add.
func New(path, livePath string, target time.Duration) *Playlist {
	return &Playlist{path: path, livePath: livePath, target: target}
}

// Add appends a segment and rewrites the playlist files.
func (p *Playlist) Add(s Segment) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.segments = append(p.segments, s)
	return p.writeLocked()
}

// End marks the playlist complete (#EXT-X-ENDLIST) and rewrites it.
func (p *Playlist) End() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ended = true
	return p.writeLocked()
}

// Count is the number of segments so far.
func (p *Playlist) Count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.segments)
}

// Duration is the total duration of the segments so far.
func (p *Playlist) Duration() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	var d time.Duration
	for _, s := range p.segments {
		d += s.Duration
	}
	return d
}

func (p *Playlist) writeLocked() error {
	if err := atomicfile.Write(p.path, p.render(p.segments, "EVENT", 0, p.ended)); err != nil {
		return fmt.Errorf("playlist %s: %w", p.path, err)
	}
	if p.livePath == "" {
		return nil
	}
	first := max(0, len(p.segments)-LiveWindow)
	if err := atomicfile.Write(p.livePath, p.render(p.segments[first:], "", first, p.ended)); err != nil {
		return fmt.Errorf("playlist %s: %w", p.livePath, err)
	}
	return nil
}

// render writes a version 3 media playlist. playlistType "" leaves the
// type out (a live, sliding playlist).
func (p *Playlist) render(segs []Segment, playlistType string, sequence int, ended bool) []byte {
	target := p.target
	for _, s := range segs {
		target = max(target, s.Duration)
	}
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:3\n")
	if playlistType != "" {
		fmt.Fprintf(&b, "#EXT-X-PLAYLIST-TYPE:%s\n", playlistType)
	}
	fmt.Fprintf(&b, "#EXT-X-TARGETDURATION:%d\n", int(math.Ceil(target.Seconds())))
	fmt.Fprintf(&b, "#EXT-X-MEDIA-SEQUENCE:%d\n", sequence)
	// A live playlist counts the discontinuities that slid out of it.
	if gone := discontinuities(p.segments[:sequence]); gone > 0 {
		fmt.Fprintf(&b, "#EXT-X-DISCONTINUITY-SEQUENCE:%d\n", gone)
	}
	// Each date range goes just before the segment it falls in; one past
	// the last segment goes at the end.
	ranges := slices.Clone(p.ranges)
	slices.SortStableFunc(ranges, func(a, b DateRange) int { return a.Start.Compare(b.Start) })
	if len(segs) > 0 && !segs[0].Start.IsZero() {
		ranges = slices.DeleteFunc(ranges, func(d DateRange) bool { return d.Start.Before(segs[0].Start) })
	}
	for _, s := range segs {
		if s.Discontinuity {
			b.WriteString("#EXT-X-DISCONTINUITY\n")
		}
		if !s.Start.IsZero() {
			fmt.Fprintf(&b, "#EXT-X-PROGRAM-DATE-TIME:%s\n", s.Start.UTC().Format(dateFormat))
			for len(ranges) > 0 && ranges[0].Start.Before(s.Start.Add(s.Duration)) {
				writeDateRange(&b, ranges[0])
				ranges = ranges[1:]
			}
		}
		fmt.Fprintf(&b, "#EXTINF:%.3f,\n%s\n", s.Duration.Seconds(), s.Name)
	}
	for _, d := range ranges {
		writeDateRange(&b, d)
	}
	if ended {
		b.WriteString("#EXT-X-ENDLIST\n")
	}
	return []byte(b.String())
}

func discontinuities(segs []Segment) int {
	n := 0
	for _, s := range segs {
		if s.Discontinuity {
			n++
		}
	}
	return n
}

// dateFormat is the playlist's dates: ISO 8601 in UTC, to the millisecond.
const dateFormat = "2006-01-02T15:04:05.000Z"

// writeDateRange writes d; a quoted string may hold neither a double quote
// nor a line break.
func writeDateRange(b *strings.Builder, d DateRange) {
	quoted := func(s string) string {
		return strings.ReplaceAll(strings.Join(strings.Fields(s), " "), `"`, "'")
	}
	fmt.Fprintf(b, "#EXT-X-DATERANGE:ID=\"%s\",CLASS=\"com.roomcast.marker\",START-DATE=\"%s\"", quoted(d.ID), d.Start.UTC().Format(dateFormat))
	if d.Label != "" {
		fmt.Fprintf(b, ",X-LABEL=\"%s\"", quoted(d.Label))
	}
	b.WriteString("\n")
}
