package output

/*
A segments output (segment_outputs[i]): HLS, MPEG-TS segments with an
EVENT playlist and, if asked, a sliding live playlist beside them.

	venc tee ─► h264parse [cuts] ─► mpegtsmux ─► multifilesink next-file=key-unit-event
	aenc tee ───────────────────► mpegtsmux
	(audio only: aenc tee ─► aacparse [cuts] ─► mpegtsmux)

Segments are cut on key frames by the output itself, as hlssink does:
before the first key frame on or after each segment boundary, a probe on
its h264parse pushes a GstForceKeyUnit event; mpegtsmux sends it on (with
PAT/PMT again) just before that frame's packets, and multifilesink closes
the segment there and announces it. The encoder is shared, so the output
asks it for a key frame at each of its boundaries: its GOP may have been
restarted by a key frame forced for another output, and the boundaries
are this output's own, counted from its own zero. Key frames it did not
ask for (forced for an RTMP destination joining) cut nothing, and the
key-unit events the encoder sends with them are dropped before the cut.

splitmuxsink, used before, decided to close a segment only once the GOP
after the cut was complete, so each segment was listed a GOP (one segment
duration) after its last frame.
*/

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-gst/go-gst/gst"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"

	"roomcast/engine/hls"
	"roomcast/engine/markers"
	"roomcast/engine/pipeline"
	"roomcast/engine/request"
)

// segmentsEOSTimeout bounds the wait for the last segment's announcement
// after EOS.
const segmentsEOSTimeout = 10 * time.Second

// Segments writes the egress as HLS.
type Segments struct {
	env      Env
	plan     request.SegmentOutput
	enc      Encoding
	dir      string // the local folder of segments and playlists
	playlist *hls.Playlist
	marks    *markers.Sidecar  // beside the playlist
	listing  *manifestPlaylist // the playlist in the egress's manifest
	run      *run
	att      atomic.Pointer[pipeline.Attachment] // for key-frame requests

	opened atomic.Int64 // segment files the sink has opened
	cutAt  atomic.Int64 // media time of a resume to cut a segment at; -1 for none

	mu        sync.Mutex
	lastEnd   time.Duration // media time the last announced segment ended
	closed    int64         // segments announced
	announced chan struct{} // poked at each announcement
	bytes     int64
	listed    map[string]bool // segment files in the playlist
	resumes   []time.Duration // media times where pauses ended
	info      *livekit.SegmentsInfo
	backup    bool
}

// NewSegments prepares a segments output; nothing runs until Start.
func NewSegments(plan request.SegmentOutput, enc Encoding, env Env) *Segments {
	dir := env.local(plan.Dir)
	live := ""
	if plan.LivePlaylistName != "" {
		live = filepath.Join(dir, plan.LivePlaylistName)
	}
	o := &Segments{
		env: env, plan: plan, enc: enc, dir: dir,
		playlist:  hls.New(filepath.Join(dir, plan.PlaylistName), live, time.Duration(plan.SegmentDurationSec)*time.Second),
		marks:     markers.New(filepath.Join(dir, plan.PlaylistName)),
		announced: make(chan struct{}, 1),
		listed:    map[string]bool{},
		info: &livekit.SegmentsInfo{
			PlaylistName:     plan.PlaylistName,
			LivePlaylistName: plan.LivePlaylistName,
			PlaylistLocation: env.Store.Location(keyIn(plan.Dir, plan.PlaylistName)),
		},
	}
	if live != "" {
		o.info.LivePlaylistLocation = env.Store.Location(keyIn(plan.Dir, plan.LivePlaylistName))
	}
	o.run = newRun(env, o.end)
	o.run.onResume = o.resumedAt
	o.cutAt.Store(-1)
	return o
}

// resumedAt: after a pause, the media went on at media time at: a segment
// starts there, after a discontinuity (its first frame was captured later
// than the last one's end).
func (o *Segments) resumedAt(at time.Duration) {
	o.mu.Lock()
	o.resumes = append(o.resumes, at)
	o.mu.Unlock()
	o.cutAt.Store(int64(at))
}

// Field is the request field of the output.
func (o *Segments) Field() string { return o.env.Field }

// Start attaches the segments' branch.
func (o *Segments) Start(c *pipeline.Capture) error {
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return fmt.Errorf("%s: folder %s: %w", o.env.Field, o.dir, err)
	}
	if !o.plan.DisableManifest {
		o.env.Manifest.keepBeside(o.env, o.plan.Dir)
	}
	o.listing = o.env.Manifest.addPlaylist(o.info.PlaylistLocation)
	br, err := o.branch()
	if err != nil {
		return fmt.Errorf("%s: %w", o.env.Field, err)
	}
	att, err := c.Attach(br, o.enc.feed(), o.run.events(o.message))
	if err != nil {
		return fmt.Errorf("%s: %w", o.env.Field, err)
	}
	o.att.Store(att)
	o.run.attached(att)
	return nil
}

func (o *Segments) branch() (pipeline.Branch, error) {
	br := pipeline.Branch{BeforeRemove: o.waitLastSegment}
	b := pipeline.NewBinBuilder(o.env.Name)
	mux := b.Make("mpegtsmux", "mux", nil)
	// Segments are cut at the output of the video's parser, or, audio
	// only, of the audio's (where every frame can start a segment).
	var parse *gst.Element
	if o.enc.Video != nil {
		parse = b.Make("h264parse", "parse", nil)
		br.Video = b.Pad(parse, "sink")
		if o.enc.Audio != nil {
			br.Audio = b.Request(mux, "sink_%d")
			br.AudioCapsIfNone = pipeline.AudioCapsAtFirstFrame
		}
	} else {
		parse = b.Make("aacparse", "parse", nil)
		br.Audio = b.Pad(parse, "sink")
	}
	b.LinkRequest(parse, mux, "sink_%d")
	sink := b.Make("multifilesink", "sink", pipeline.Props{
		"next-file": "key-unit-event", "post-messages": true, "sync": false, "async": false,
		"location": filepath.Join(o.dir, o.plan.FilenamePrefix+"_%05d.ts"),
	})
	b.Link(mux, sink)
	br.Sinks = []*gst.Element{sink}
	var err error
	if br.Bin, err = b.Bin(); err != nil {
		return br, err
	}
	o.cutAtBoundaries(parse, sink)
	return br, nil
}

// cutter decides which key frames start a segment: the first one on or
// after each multiple of every. Others (such as one a joining RTMP
// destination asked for) do not, so segments stay a full duration.
type cutter struct {
	every time.Duration
	// slack counts a key frame this close before a boundary as on it:
	// one frame, since timestamps round.
	slack time.Duration
	next  time.Duration // the boundary the next cut waits for
}

func newCutter(every, slack time.Duration) *cutter {
	return &cutter{every: every, slack: slack, next: every}
}

// keyFrame reports whether the key frame at media time rt starts a new
// segment.
func (c *cutter) keyFrame(rt time.Duration) bool {
	if rt+c.slack < c.next {
		return false
	}
	c.next = ((rt+c.slack)/c.every + 1) * c.every
	return true
}

// cutAtBoundaries installs the probes that ask for, cut at and count the
// segments' key frames.
func (o *Segments) cutAtBoundaries(parse, sink *gst.Element) {
	slack := o.enc.frame()
	c := newCutter(time.Duration(o.plan.SegmentDurationSec)*time.Second, slack)
	// Only custom events are sure to hold a structure (go-gst crashes on
	// a missing one).
	isKeyUnit := func(ev *gst.Event) bool {
		return ev != nil && ev.Type() == gst.EventTypeCustomDownstream && ev.GetStructure().Name() == "GstForceKeyUnit"
	}
	// The encoder announces every key frame it was asked for downstream,
	// through the shared tee: one asked for by another output would reach
	// multifilesink and cut a short segment. Only the cuts pushed below
	// (after this pad) pass.
	parse.GetStaticPad("sink").AddProbe(gst.PadProbeTypeEventDownstream, func(_ *gst.Pad, info *gst.PadProbeInfo) gst.PadProbeReturn {
		if isKeyUnit(info.GetEvent()) {
			return gst.PadProbeDrop
		}
		return gst.PadProbeOK
	})
	var (
		count     uint          // multifilesink ignores an event with the count of the one before
		requested time.Duration // the boundary a key frame was last asked for
	)
	parse.GetStaticPad("src").AddProbe(gst.PadProbeTypeBuffer, func(pad *gst.Pad, info *gst.PadProbeInfo) gst.PadProbeReturn {
		if att := o.att.Load(); att != nil && requested < c.next {
			att.RequestKeyFrame(c.next)
			requested = c.next
		}
		buf := info.GetBuffer()
		if buf == nil || buf.HasFlags(gst.BufferFlagDeltaUnit) || buf.PresentationTimestamp() == gst.ClockTimeNone {
			return gst.PadProbeOK
		}
		ev := pad.GetStickyEvent(gst.EventTypeSegment, 0)
		if ev == nil {
			return gst.PadProbeOK
		}
		pts := uint64(buf.PresentationTimestamp())
		rt := ev.ParseSegment().ToRunningTime(gst.FormatTime, pts)
		if rt == uint64(gst.ClockTimeNone) {
			return gst.PadProbeOK
		}
		resume := o.cutAt.Load()
		if resume >= 0 && time.Duration(rt)+slack >= time.Duration(resume) {
			o.cutAt.Store(-1)
		} else if !c.keyFrame(time.Duration(rt)) {
			return gst.PadProbeOK
		}
		count++
		s := gst.NewStructure("GstForceKeyUnit")
		_ = s.SetValue("timestamp", pts)
		_ = s.SetValue("stream-time", pts)
		_ = s.SetValue("running-time", rt)
		_ = s.SetValue("all-headers", true) // mpegtsmux ignores the event without
		_ = s.SetValue("count", count)
		pad.PushEvent(gst.NewCustomEvent(gst.EventTypeCustomDownstream, s))
		return gst.PadProbeOK
	})
	// multifilesink opens a file at each key-unit event and, when none is
	// open, at a buffer; each is announced as it is closed, the last at EOS.
	open := false
	sink.GetStaticPad("sink").AddProbe(gst.PadProbeTypeBuffer|gst.PadProbeTypeEventDownstream, func(_ *gst.Pad, info *gst.PadProbeInfo) gst.PadProbeReturn {
		if ev := info.GetEvent(); ev != nil {
			if isKeyUnit(ev) {
				o.opened.Add(1)
				open = true
			}
			return gst.PadProbeOK
		}
		if !open {
			o.opened.Add(1)
			open = true
		}
		return gst.PadProbeOK
	})
}

// message takes multifilesink's announcement of a closed segment, with
// the media time it ended (the next one's first key frame, or the last
// buffer at EOS): each segment runs from where the previous one ended.
// On the bus goroutine.
func (o *Segments) message(element string, st *gst.Structure) {
	path, rt, ok := fileAnnouncement(st)
	if !ok || element != o.env.Name+"-sink" {
		return
	}
	o.mu.Lock()
	start := o.lastEnd
	o.lastEnd = rt
	o.closed++
	o.mu.Unlock()
	o.segmentDone(path, start, rt-start)
	select {
	case o.announced <- struct{}{}:
	default:
	}
}

// fileAnnouncement reads multifilesink's message for a file it closed: its
// path and the media time it ended.
func fileAnnouncement(st *gst.Structure) (path string, rt time.Duration, ok bool) {
	if st.Name() != "GstMultiFileSink" {
		return "", 0, false
	}
	v, _ := st.GetValue("filename")
	path, _ = v.(string)
	rv, err := st.GetValue("running-time")
	if path == "" || err != nil {
		return "", 0, false
	}
	switch t := rv.(type) {
	case uint64:
		return path, time.Duration(t), true
	case int64:
		return path, time.Duration(t), true
	case gst.ClockTime:
		return path, time.Duration(t), true
	}
	return "", 0, false
}

// segmentDone names a closed segment as asked, lists it, and hands the
// segment, then the playlists that list it, to the store.
func (o *Segments) segmentDone(path string, start, dur time.Duration) {
	if o.plan.Suffix == livekit.SegmentedFileSuffix_TIMESTAMP {
		stamped := filepath.Join(o.dir, fmt.Sprintf("%s_%s.ts", o.plan.FilenamePrefix, o.run.wallAt(start).UTC().Format("20060102150405.000")))
		if err := os.Rename(path, stamped); err == nil {
			path = stamped
		}
	}
	var size int64
	if st, err := os.Stat(path); err == nil {
		size = st.Size()
	}
	if err := o.playlist.Add(hls.Segment{Name: filepath.Base(path), Duration: dur, Start: o.run.wallAt(start), Discontinuity: o.resumesAt(start)}); err != nil {
		o.env.Logf("%s: %v", o.env.Field, err)
	}
	key := keyIn(o.plan.Dir, path)
	o.env.put(path, key)
	o.putPlaylists()
	o.env.Manifest.addSegment(o.listing, filepath.Base(path), o.env.Store.Location(key))
	o.mu.Lock()
	o.bytes += size
	o.listed[filepath.Base(path)] = true
	o.mu.Unlock()
	o.env.Changed()
}

// resumesAt reports whether a pause ended at media time start (within a
// frame: segment times are rounded).
func (o *Segments) resumesAt(start time.Duration) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.ContainsFunc(o.resumes, func(at time.Duration) bool { return (at - start).Abs() < o.enc.frame() })
}

func (o *Segments) putPlaylists() {
	o.env.put(filepath.Join(o.dir, o.plan.PlaylistName), keyIn(o.plan.Dir, o.plan.PlaylistName))
	if o.plan.LivePlaylistName != "" {
		o.env.put(filepath.Join(o.dir, o.plan.LivePlaylistName), keyIn(o.plan.Dir, o.plan.LivePlaylistName))
	}
}

// waitLastSegment returns once every segment the sink opened is closed and
// announced (EOS reaches the sink's pad before the sink closes the last
// one). The bus is drained before each look.
func (o *Segments) waitLastSegment(drainBus func(time.Duration)) {
	deadline := time.Now().Add(segmentsEOSTimeout)
	for time.Now().Before(deadline) {
		drainBus(time.Second)
		o.mu.Lock()
		done := o.closed >= o.opened.Load()
		o.mu.Unlock()
		if done {
			return
		}
		select {
		case <-o.announced:
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Started is when the first segment's first frame was captured.
func (o *Segments) Started() time.Time { return o.run.started() }

// Running reports whether segments are being written.
func (o *Segments) Running() bool { return o.run.running() }

// Stop closes the last segment and ends the playlist.
func (o *Segments) Stop() { o.run.end() }

func (o *Segments) end() {
	o.run.detach()
	o.att.Store(nil) // an ended egress stays listed; its capture need not
	o.addUnlisted()
	if err := o.playlist.End(); err != nil {
		o.env.Logf("%s: %v", o.env.Field, err)
	}
	o.putPlaylists()
	finishMarks(o.env, o.run, o.marks, o.plan.Dir)
	_, backup := o.env.flush()
	o.mu.Lock()
	o.info.EndedAt = time.Now().UnixNano()
	o.backup = backup
	o.mu.Unlock()
	o.env.Changed()
}

// addUnlisted adds, at the end, a last segment whose announcement was lost
// (it can come after the bin is down): a non-empty segment file that is not
// in the playlist, lasting the rest of the recording.
func (o *Segments) addUnlisted() {
	files, _ := filepath.Glob(filepath.Join(o.dir, o.plan.FilenamePrefix+"_*.ts"))
	start, _, recorded := o.run.span()
	for _, f := range files {
		o.mu.Lock()
		listed := o.listed[filepath.Base(f)]
		o.mu.Unlock()
		if st, err := os.Stat(f); listed || err != nil || st.Size() == 0 || start.IsZero() {
			continue
		}
		at := o.playlist.Duration()
		if rest := recorded - at; rest > 0 {
			o.segmentDone(f, at, rest)
		}
	}
}

// Err is nil when the segments completed, or why not.
func (o *Segments) Err() error {
	if err := o.run.failure(); err != nil {
		return err
	}
	if o.playlist.Count() == 0 {
		return ErrNothingWritten
	}
	return nil
}

// Fill adds the segments' result so far.
func (o *Segments) Fill(info *livekit.EgressInfo) {
	o.mu.Lock()
	defer o.mu.Unlock()
	si := proto.Clone(o.info).(*livekit.SegmentsInfo)
	si.SegmentCount = int64(o.playlist.Count())
	si.Duration = int64(o.playlist.Duration())
	si.Size = o.bytes
	if start, _, _ := o.run.span(); !start.IsZero() {
		si.StartedAt = start.UnixNano()
	}
	info.SegmentResults = append(info.SegmentResults, si)
	if o.backup {
		info.BackupStorageUsed = true
	}
}
