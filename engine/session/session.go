// Package session records a show: the room's composite and, when asked,
// every person in it on their own (a Participant egress each, started
// with the composite and for everyone who joins later), all to the
// composite file's folder or bucket. A session manifest (JSON, rewritten
// whole at every change, so a crash leaves the last one) lists each file
// with where its first frame falls on the composite's timeline, for an
// editor to line them up.
package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"

	"roomcast/engine"
	"roomcast/engine/internal/atomicfile"
	"roomcast/engine/request"
	"roomcast/engine/storage"
)

// Config is what a session records.
type Config struct {
	Studio engine.Studio
	// Composite is the room composite to record. With People, its first
	// file output names the folder (or bucket) and type of every
	// person's file.
	Composite *livekit.RoomCompositeEgressRequest
	// People records each person on their own too: Studio must then be
	// an engine.TrackRecorder and an engine.PeopleLister.
	People bool
	// Manifest is where the session manifest is written: a path, or with
	// ManifestUpload a key in that bucket; "" for none.
	Manifest string
	// ManifestUpload, when set, is the bucket the manifest goes to (the
	// composite file's, where every person's file goes too): it is put
	// there again at every change, as a file's manifest would be
	// rewritten.
	ManifestUpload *request.Upload
	// OnEgress is told of each person's egress as it starts, with the
	// composite's.
	OnEgress func(compositeID, identity, egressID string)
	Logf     func(format string, args ...any)
}

// pollEvery is how often the room is looked at for people who joined.
const pollEvery = 500 * time.Millisecond

// Session is a show being recorded.
type Session struct {
	cfg       Config
	recorder  engine.TrackRecorder
	people    engine.PeopleLister
	delayer   engine.DisplayDelayer // nil when the Studio cannot tell
	composite string                // its egress ID

	cancel context.CancelFunc
	done   chan struct{} // closed when the follower and watcher stopped

	mu      sync.Mutex
	infos   map[string]*livekit.EgressInfo // by egress ID, the session's own
	persons []person                       // in the order started
	retry   map[string]time.Time           // identities refused, and when to try again
	// delays are the composite's display delays of each person, as
	// measured every poll (the last maxDelays), by identity.
	delays   map[string][]time.Duration
	stopping bool

	// writing orders the manifest's writes: each writes what it read.
	writing sync.Mutex
	// bucket, with ManifestUpload, puts the manifest written at local.
	bucket *storage.Uploader
	local  string
}

// maxDelays is how many of a person's display delays are kept: their
// median over the last five minutes lines their file up.
const maxDelays = 600

// retryAfter is how long an identity whose egress was refused (gone as
// it was asked for, a codec not decoded) waits before it is tried again.
const retryAfter = 10 * time.Second

// person is one person's egress in the session.
type person struct {
	identity, egressID string
}

// Manifest is the session manifest's content.
type Manifest struct {
	Room string `json:"room_name"`
	// StartedAt is the composite's first frame on the wall clock.
	StartedAt *time.Time `json:"started_at,omitempty"`
	Composite Entry      `json:"composite"`
	People    []Entry    `json:"people"`
}

// Entry is one egress of the session and its file.
type Entry struct {
	Identity string `json:"identity,omitempty"`
	EgressID string `json:"egress_id"`
	Status   string `json:"status"`
	File     string `json:"file,omitempty"`
	// StartedAt is the file's first frame on the wall clock.
	StartedAt *time.Time `json:"started_at,omitempty"`
	// OffsetSeconds is where the file's first frame falls on the
	// composite's timeline (negative: before the composite's first
	// frame); absent until both have started. For a person, it counts
	// CompositeDelaySeconds in.
	OffsetSeconds *float64 `json:"offset_seconds,omitempty"`
	// CompositeDelaySeconds is how much later than the person's own file
	// the composite shows what they send: its page's delay from a
	// frame's arrival to the screen (the median of its measures), and
	// half a frame for the screen grab. Absent when the page did not say
	// (their camera never shown, a template of your own).
	CompositeDelaySeconds *float64 `json:"composite_delay_seconds,omitempty"`
	Error                 string   `json:"error,omitempty"`
}

// Start begins the composite's egress and, with People, follows the room
// to record everyone in it; it returns the composite's info (STARTING).
func Start(ctx context.Context, cfg Config) (*Session, *livekit.EgressInfo, error) {
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	s := &Session{cfg: cfg, infos: map[string]*livekit.EgressInfo{}, retry: map[string]time.Time{}, delays: map[string][]time.Duration{}, done: make(chan struct{})}
	if cfg.People {
		var ok bool
		if s.recorder, ok = cfg.Studio.(engine.TrackRecorder); !ok {
			return nil, nil, errors.New("recording each person separately needs the embedded engine (this one records room composites only)")
		}
		if s.people, ok = cfg.Studio.(engine.PeopleLister); !ok {
			return nil, nil, errors.New("recording each person separately needs an engine that can list the room's people")
		}
		s.delayer, _ = cfg.Studio.(engine.DisplayDelayer)
		if len(cfg.Composite.FileOutputs) == 0 {
			return nil, nil, errors.New("recording each person separately needs the file output: their files go beside it")
		}
	}
	if cfg.ManifestUpload != nil && cfg.Manifest != "" {
		if err := s.openBucket(ctx); err != nil {
			return nil, nil, err
		}
	}
	watchCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	updates := cfg.Studio.Watch(watchCtx)
	info, err := cfg.Studio.Start(ctx, cfg.Composite)
	if err != nil {
		cancel()
		s.closeBucket(ctx)
		return nil, nil, err
	}
	s.composite = info.EgressId
	s.note(info)
	var wg sync.WaitGroup
	wg.Go(func() { s.watch(updates) })
	if cfg.People {
		wg.Go(func() { s.follow(watchCtx) })
	}
	go func() {
		wg.Wait()
		close(s.done)
	}()
	return s, info, nil
}

// CompositeID is the composite's egress ID.
func (s *Session) CompositeID() string { return s.composite }

// follow starts a person's egress for everyone in the room without one
// running, from the composite's first frame and every pollEvery after,
// until the session stops. Not before: a browser starting beside three
// transcodes on two cores took 11 s to its first frame, not 3, and the
// people's files would begin that much before the show.
func (s *Session) follow(ctx context.Context) {
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		if s.compositeStarted() {
			people, err := s.people.People(ctx, s.cfg.Composite.RoomName)
			if err != nil && ctx.Err() == nil {
				s.cfg.Logf("session: %v", err)
			}
			for _, identity := range people {
				if s.due(identity) {
					s.startPerson(ctx, identity)
				}
			}
			s.measureDelays(ctx)
		}
		s.refresh(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// measureDelays notes how late the composite shows each person now, and
// rewrites the manifest when that moves a person's offset by a
// millisecond or more.
func (s *Session) measureDelays(ctx context.Context) {
	if s.delayer == nil {
		return
	}
	now, err := s.delayer.DisplayDelays(ctx, s.cfg.Composite)
	if err != nil || len(now) == 0 {
		return
	}
	s.writing.Lock()
	defer s.writing.Unlock()
	s.mu.Lock()
	moved := false
	for identity, d := range now {
		before, _ := s.delayLocked(identity)
		s.delays[identity] = append(s.delays[identity], d)
		if n := len(s.delays[identity]); n > maxDelays {
			s.delays[identity] = s.delays[identity][n-maxDelays:]
		}
		after, _ := s.delayLocked(identity)
		moved = moved || (after-before).Abs() >= time.Millisecond
	}
	if !moved {
		s.mu.Unlock()
		return
	}
	m := s.manifestLocked()
	s.mu.Unlock()
	s.write(m)
}

// delayLocked is the median of identity's display delays, false for none.
func (s *Session) delayLocked(identity string) (time.Duration, bool) {
	d := s.delays[identity]
	if len(d) == 0 {
		return 0, false
	}
	sorted := slices.Clone(d)
	slices.Sort(sorted)
	return sorted[len(sorted)/2], true
}

func (s *Session) compositeStarted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.infos[s.composite].GetStartedAt() > 0
}

// due reports whether identity needs an egress started: the session goes
// on, none of theirs runs, and they were not refused a moment ago.
func (s *Session) due(identity string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping || time.Now().Before(s.retry[identity]) {
		return false
	}
	for _, p := range s.persons {
		if p.identity == identity && !engine.IsFinal(s.infos[p.egressID].GetStatus()) {
			return false
		}
	}
	return true
}

// refresh asks for the infos of the session's egresses not active yet:
// an update that came between a person's start and its being known as
// the session's was not taken.
func (s *Session) refresh(ctx context.Context) {
	s.mu.Lock()
	var waiting []string
	for id, info := range s.infos {
		if info.StartedAt == 0 && !engine.IsFinal(info.Status) {
			waiting = append(waiting, id)
		}
	}
	s.mu.Unlock()
	for _, id := range waiting {
		if resp, err := s.cfg.Studio.List(ctx, &livekit.ListEgressRequest{EgressId: id}); err == nil && len(resp.Items) == 1 {
			s.note(resp.Items[0])
		}
	}
}

func (s *Session) startPerson(ctx context.Context, identity string) {
	info, err := s.recorder.StartParticipant(ctx, PersonRequest(s.cfg.Composite, identity))
	if err != nil {
		if ctx.Err() == nil {
			s.cfg.Logf("session: %s not recorded: %v", identity, err)
			s.mu.Lock()
			s.retry[identity] = time.Now().Add(retryAfter)
			s.mu.Unlock()
		}
		return
	}
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		s.stopOne(info.EgressId)
		return
	}
	s.persons = append(s.persons, person{identity, info.EgressId})
	s.mu.Unlock()
	s.note(info)
	s.cfg.Logf("session: recording %s on their own (%s)", identity, info.EgressId)
	if s.cfg.OnEgress != nil {
		s.cfg.OnEgress(s.composite, identity, info.EgressId)
	}
}

// PersonRequest is identity's Participant egress beside the composite
// req: its encoding, its first file output's folder, storage and type,
// named {room_name}-<identity>-{time}.
func PersonRequest(req *livekit.RoomCompositeEgressRequest, identity string) *livekit.ParticipantEgressRequest {
	f := proto.Clone(req.FileOutputs[0]).(*livekit.EncodedFileOutput)
	dir, name := path.Split(f.Filepath)
	ext := path.Ext(name)
	f.Filepath = dir + "{room_name}-" + fileSafe(identity) + "-{time}" + ext
	p := &livekit.ParticipantEgressRequest{RoomName: req.RoomName, Identity: identity, FileOutputs: []*livekit.EncodedFileOutput{f}}
	switch o := req.Options.(type) {
	case *livekit.RoomCompositeEgressRequest_Preset:
		p.Options = &livekit.ParticipantEgressRequest_Preset{Preset: o.Preset}
	case *livekit.RoomCompositeEgressRequest_Advanced:
		p.Options = &livekit.ParticipantEgressRequest_Advanced{Advanced: o.Advanced}
	}
	return p
}

// fileSafe keeps an identity's letters, digits, '-', '_' and '.' for a
// file name; anything else (a slash, a brace of a name token) is '_'.
func fileSafe(identity string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, identity)
}

// watch keeps the session's infos and manifest up to date, and ends the
// people's egresses when the composite's ends on its own.
func (s *Session) watch(updates <-chan *livekit.EgressInfo) {
	for info := range updates {
		if !s.note(info) {
			continue
		}
		if info.EgressId == s.composite && engine.IsFinal(info.Status) {
			go s.Stop(context.Background())
		}
	}
}

// note records info if it is one of the session's (true), and rewrites
// the manifest.
func (s *Session) note(info *livekit.EgressInfo) bool {
	s.writing.Lock()
	defer s.writing.Unlock()
	s.mu.Lock()
	mine := info.EgressId == s.composite
	for _, p := range s.persons {
		mine = mine || p.egressID == info.EgressId
	}
	if !mine {
		s.mu.Unlock()
		return false
	}
	if old := s.infos[info.EgressId]; old == nil || engine.Supersedes(old.Status, info.Status) {
		s.infos[info.EgressId] = info
	}
	m := s.manifestLocked()
	s.mu.Unlock()
	s.write(m)
	return true
}

// Stop ends every egress of the session (the people's and the
// composite) and writes the final manifest.
func (s *Session) Stop(ctx context.Context) error {
	s.mu.Lock()
	already := s.stopping
	s.stopping = true
	ids := []string{s.composite}
	for _, p := range s.persons {
		ids = append(ids, p.egressID)
	}
	s.mu.Unlock()
	if already {
		<-s.done
		return nil
	}
	var wg sync.WaitGroup
	errs := make([]error, len(ids))
	for i, id := range ids {
		wg.Go(func() { errs[i] = s.stop(ctx, id) })
	}
	wg.Wait()
	s.cancel()
	<-s.done
	s.writing.Lock()
	defer s.writing.Unlock()
	s.write(s.Manifest())
	s.closeBucket(ctx)
	return errors.Join(errs...)
}

func (s *Session) stop(ctx context.Context, id string) error {
	s.mu.Lock()
	ended := engine.IsFinal(s.infos[id].GetStatus())
	s.mu.Unlock()
	if ended {
		return nil
	}
	info, err := s.cfg.Studio.Stop(ctx, id)
	if info != nil {
		s.note(info)
	}
	return err
}

// stopOne stops an egress started as the session stopped.
func (s *Session) stopOne(id string) {
	if _, err := s.cfg.Studio.Stop(context.Background(), id); err != nil {
		s.cfg.Logf("session: %v", err)
	}
}

// Manifest is the session's manifest now.
func (s *Session) Manifest() Manifest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.manifestLocked()
}

func (s *Session) manifestLocked() Manifest {
	comp := s.infos[s.composite]
	m := Manifest{Room: s.cfg.Composite.RoomName, Composite: entry(comp), People: []Entry{}}
	m.StartedAt = m.Composite.StartedAt
	if m.StartedAt != nil {
		zero := 0.0
		m.Composite.OffsetSeconds = &zero
	}
	for _, p := range s.persons {
		e := entry(s.infos[p.egressID])
		e.Identity = p.identity
		delay, measured := s.delayLocked(p.identity)
		if measured {
			secs := delay.Seconds()
			e.CompositeDelaySeconds = &secs
		}
		if e.StartedAt != nil && m.StartedAt != nil {
			off := (e.StartedAt.Sub(*m.StartedAt) + delay).Seconds()
			e.OffsetSeconds = &off
		}
		m.People = append(m.People, e)
	}
	return m
}

// entry is an egress's line of the manifest: its file and first frame.
func entry(info *livekit.EgressInfo) Entry {
	e := Entry{EgressID: info.GetEgressId(), Status: info.GetStatus().String(), Error: info.GetError()}
	if fr := info.GetFileResults(); len(fr) > 0 {
		e.File = fr[0].Location
	}
	if info.GetStartedAt() > 0 {
		t := time.Unix(0, info.StartedAt).UTC()
		e.StartedAt = &t
	}
	return e
}

func (s *Session) write(m Manifest) {
	if s.cfg.Manifest == "" {
		return
	}
	at := s.cfg.Manifest
	if s.bucket != nil {
		at = s.local
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err == nil {
		err = atomicfile.Write(at, append(data, '\n'))
	}
	if err == nil && s.bucket != nil {
		// The uploader takes a snapshot: the next write does not race it.
		err = s.bucket.Put(context.Background(), at, s.cfg.Manifest)
	}
	if err != nil {
		s.cfg.Logf("session: manifest: %v", fmt.Errorf("write %s: %w", s.cfg.Manifest, err))
	}
}

// openBucket readies the manifest's upload: its local copy goes in a
// folder of its own until the session ends.
func (s *Session) openBucket(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "roomcast-session-")
	if err != nil {
		return fmt.Errorf("session manifest: %w", err)
	}
	u, err := storage.New(ctx, s.cfg.ManifestUpload, storage.Options{Field: "session manifest", SpoolDir: dir, KeepLocal: true, Logf: s.cfg.Logf})
	if err != nil {
		os.RemoveAll(dir)
		return err
	}
	s.bucket, s.local = u, filepath.Join(dir, path.Base(s.cfg.Manifest))
	return nil
}

// closeBucket waits for the manifest's last upload, as a recording's end
// waits for its files: one the server does not take stays on local disk,
// and the log says where.
func (s *Session) closeBucket(ctx context.Context) {
	if s.bucket == nil {
		return
	}
	_, err := s.bucket.FlushMoving(ctx, storage.EndStall)
	s.bucket.Close()
	if err != nil {
		s.cfg.Logf("session: manifest: %v; it stays at %s", err, s.local)
		return
	}
	os.RemoveAll(filepath.Dir(s.local))
}
