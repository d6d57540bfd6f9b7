// Package hls writes HLS media playlists: an EVENT playlist that lists
// every segment and, optionally, a sliding live playlist of the last few.
// Each write replaces the file atomically, so a player never reads half a
// playlist.
package hls

import (
	"fmt"
	"math"
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
}

// Playlist accumulates segments and rewrites its files on every Add.
type Playlist struct {
	path, livePath string
	target         time.Duration // the segment duration asked for

	mu       sync.Mutex
	segments []Segment
	ended    bool
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
	for _, s := range segs {
		if !s.Start.IsZero() {
			fmt.Fprintf(&b, "#EXT-X-PROGRAM-DATE-TIME:%s\n", s.Start.UTC().Format("2006-01-02T15:04:05.000Z"))
		}
		fmt.Fprintf(&b, "#EXTINF:%.3f,\n%s\n", s.Duration.Seconds(), s.Name)
	}
	if ended {
		b.WriteString("#EXT-X-ENDLIST\n")
	}
	return []byte(b.String())
}
