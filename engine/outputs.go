package engine

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"

	"roomcast/engine/hls"
	"roomcast/engine/pipeline"
	"roomcast/engine/request"
)

// Stream retry policy. A destination that had been live and drops is
// retried with back-off for streamRetryFor; one that never took data is
// not retried (a wrong URL or stream key does not fix itself).
const (
	streamRetryFor   = 30 * time.Second
	streamBackoffMax = 8 * time.Second
)

// streamState is one RTMP destination of an egress.
type streamState struct {
	url          string // as given (holds the stream key): never shown
	info         *livekit.StreamInfo
	flowed       bool      // it has been live at least once
	failingSince time.Time // start of the current outage
	removed      bool
}

// outputs holds an egress's non-file outputs' state: streams, the HLS
// playlist and the image manifest. Its methods are the branch's callbacks.
type outputs struct {
	e *egress
	// Local paths the outputs write: as asked, or in the staging folder
	// when the output goes to S3.
	filePath, segDir, imgDir string

	mu       sync.Mutex
	streams  []*streamState
	playlist *hls.Playlist
	segInfo  *livekit.SegmentsInfo
	segBytes int64
	listed   map[string]bool // segment files in the playlist
	images   *livekit.ImagesInfo
	manifest []imageEntry
}

type imageEntry struct {
	Name      string `json:"name"`
	Timestamp int64  `json:"timestamp"` // ns since the Unix epoch
}

func newOutputs(e *egress) *outputs {
	o := &outputs{e: e}
	p := e.plan
	if len(p.Files) > 0 {
		o.filePath = p.Files[0].Filepath
		if p.Files[0].Upload != nil {
			o.filePath = e.ups.local(p.Files[0].Filepath)
		}
	}
	if len(p.Segments) > 0 {
		o.segDir = p.Segments[0].Dir
		if p.Segments[0].Upload != nil {
			o.segDir = e.ups.local(p.Segments[0].Dir)
		}
	}
	if len(p.Images) > 0 {
		o.imgDir = p.Images[0].Dir
		if p.Images[0].Upload != nil {
			o.imgDir = e.ups.local(p.Images[0].Dir)
		}
	}
	if len(p.Streams) > 0 {
		for _, u := range p.Streams[0].URLs {
			o.streams = append(o.streams, newStreamState(u))
		}
	}
	if len(p.Segments) > 0 {
		s := p.Segments[0]
		live := ""
		if s.LivePlaylistName != "" {
			live = filepath.Join(s.Dir, s.LivePlaylistName)
		}
		if live != "" {
			live = filepath.Join(o.segDir, s.LivePlaylistName)
		}
		o.playlist = hls.New(filepath.Join(o.segDir, s.PlaylistName), live, time.Duration(s.SegmentDurationSec)*time.Second)
		o.segInfo = &livekit.SegmentsInfo{
			PlaylistName:         s.PlaylistName,
			LivePlaylistName:     s.LivePlaylistName,
			PlaylistLocation:     filepath.Join(o.segDir, s.PlaylistName),
			LivePlaylistLocation: live,
		}
		if s.Upload != nil {
			o.segInfo.PlaylistLocation = e.ups.location(segmentsField, path.Join(s.Dir, s.PlaylistName))
			if s.LivePlaylistName != "" {
				o.segInfo.LivePlaylistLocation = e.ups.location(segmentsField, path.Join(s.Dir, s.LivePlaylistName))
			}
		}
	}
	if len(p.Images) > 0 {
		o.images = &livekit.ImagesInfo{FilenamePrefix: filepath.Join(p.Images[0].Dir, p.Images[0].FilenamePrefix)}
		if p.Images[0].Upload != nil {
			o.images.FilenamePrefix = path.Join(p.Images[0].Dir, p.Images[0].FilenamePrefix)
		}
	}
	return o
}

func newStreamState(u string) *streamState {
	return &streamState{url: u, info: &livekit.StreamInfo{
		Url:       request.RedactURL(u),
		Status:    livekit.StreamInfo_ACTIVE,
		StartedAt: time.Now().UnixNano(),
	}}
}

// prepare makes the local folders the outputs write into.
func (o *outputs) prepare() error {
	p := o.e.plan
	var dirs []string
	if len(p.Files) > 0 {
		dirs = append(dirs, filepath.Dir(o.filePath))
	}
	if len(p.Segments) > 0 {
		dirs = append(dirs, o.segDir)
	}
	if len(p.Images) > 0 {
		dirs = append(dirs, o.imgDir)
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("output folder %s: %w", d, err)
		}
	}
	return nil
}

// streamURLs are the destinations to start with.
func (o *outputs) streamURLs() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for _, s := range o.streams {
		out = append(out, s.url)
	}
	return out
}

func (o *outputs) find(u string) *streamState {
	for _, s := range o.streams {
		if !s.removed && request.SameStreamURL(s.url, u) {
			return s
		}
	}
	return nil
}

// liveStreams counts destinations not removed or failed.
func (o *outputs) liveStreams() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, s := range o.streams {
		if !s.removed && s.info.Status == livekit.StreamInfo_ACTIVE {
			n++
		}
	}
	return n
}

// streamFlowing: the destination is live; an outage, if any, is over.
func (o *outputs) streamFlowing(u string) {
	o.mu.Lock()
	if s := o.find(u); s != nil {
		s.flowed = true
		if !s.failingSince.IsZero() {
			s.failingSince = time.Time{}
			s.info.Error = ""
		}
	}
	o.mu.Unlock()
	o.publish()
}

// streamFailed decides between a retry and giving up (see the policy).
func (o *outputs) streamFailed(u string, err error) {
	now := time.Now()
	o.mu.Lock()
	s := o.find(u)
	if s == nil {
		o.mu.Unlock()
		return
	}
	reason := scrubURL(err.Error(), s.url)
	var retryIn time.Duration
	switch {
	case !s.flowed:
		s.info.Status = livekit.StreamInfo_FAILED
		s.info.Error = "the server never accepted the stream (check the URL and the stream key): " + reason
	default:
		if s.failingSince.IsZero() {
			s.failingSince = now
		}
		if now.Sub(s.failingSince) >= streamRetryFor {
			s.info.Status = livekit.StreamInfo_FAILED
			s.info.Error = fmt.Sprintf("gave up after %s of retries: %s", streamRetryFor, reason)
			break
		}
		retryIn = min(time.Second<<min(s.info.Retries, 3), streamBackoffMax)
		s.info.Error = fmt.Sprintf("connection lost, retrying in %s: %s", retryIn, reason)
	}
	if s.info.Status == livekit.StreamInfo_FAILED {
		s.info.EndedAt = now.UnixNano()
		s.info.Duration = s.info.EndedAt - s.info.StartedAt
	}
	o.mu.Unlock()
	o.e.l.cfg.Logf("egress %s: stream %s: %s", o.e.id, s.info.Url, s.info.Error)
	o.publish()
	if retryIn > 0 {
		time.AfterFunc(retryIn, func() { o.retry(s) })
		return
	}
	o.e.checkOutputsLeft()
}

func (o *outputs) retry(s *streamState) {
	o.mu.Lock()
	if s.removed || s.info.Status != livekit.StreamInfo_ACTIVE {
		o.mu.Unlock()
		return
	}
	s.info.Retries++
	s.info.LastRetryAt = time.Now().UnixNano()
	o.mu.Unlock()
	o.publish()
	b := o.e.currentBranch()
	if b == nil {
		return
	}
	if err := b.AddStream(s.url); err != nil {
		o.streamFailed(s.url, err)
	}
}

// update applies an UpdateStream: URLs are checked first, so a bad one
// changes nothing.
func (o *outputs) update(b *pipeline.Branch, add, remove []string) error {
	var adds []string
	o.mu.Lock()
	for i, u := range add {
		clean, err := request.CheckStreamURL(fmt.Sprintf("add_output_urls[%d]", i), u)
		if err != nil {
			o.mu.Unlock()
			return err
		}
		if o.find(clean) != nil {
			o.mu.Unlock()
			return fmt.Errorf("add_output_urls[%d]: %s is already a destination of this egress", i, request.RedactURL(clean))
		}
		adds = append(adds, clean)
	}
	var removes []*streamState
	for i, u := range remove {
		s := o.find(u)
		if s == nil {
			o.mu.Unlock()
			return fmt.Errorf("remove_output_urls[%d]: %s is not a destination of this egress", i, request.RedactURL(u))
		}
		removes = append(removes, s)
	}
	o.mu.Unlock()

	for _, u := range adds {
		s := newStreamState(u)
		o.mu.Lock()
		o.streams = append(o.streams, s)
		o.mu.Unlock()
		if err := b.AddStream(u); err != nil {
			o.streamFailed(u, err)
		}
	}
	for _, s := range removes {
		_ = b.RemoveStream(s.url) // a destination that already failed is gone from the branch
		o.mu.Lock()
		s.removed = true
		if s.info.Status == livekit.StreamInfo_ACTIVE {
			s.info.Status = livekit.StreamInfo_FINISHED
			s.info.EndedAt = time.Now().UnixNano()
			s.info.Duration = s.info.EndedAt - s.info.StartedAt
		}
		o.mu.Unlock()
	}
	o.publish()
	return nil
}

// segmentDone adds a closed segment to the playlists.
func (o *outputs) segmentDone(path string, start, dur time.Duration) {
	seg := o.e.plan.Segments[0]
	if seg.Suffix == livekit.SegmentedFileSuffix_TIMESTAMP {
		stamped := filepath.Join(o.segDir, fmt.Sprintf("%s_%s.ts", seg.FilenamePrefix, o.e.wallAt(start).UTC().Format("20060102150405.000")))
		if err := os.Rename(path, stamped); err == nil {
			path = stamped
		}
	}
	var size int64
	if st, err := os.Stat(path); err == nil {
		size = st.Size()
	}
	if err := o.playlist.Add(hls.Segment{Name: filepath.Base(path), Duration: dur, Start: o.e.wallAt(start)}); err != nil {
		o.e.l.cfg.Logf("egress %s: %v", o.e.id, err)
	}
	// The segment first, then the playlist that lists it.
	o.putSegmentFile(path)
	o.putPlaylists()
	o.mu.Lock()
	o.segBytes += size
	if o.listed == nil {
		o.listed = map[string]bool{}
	}
	o.listed[filepath.Base(path)] = true
	o.mu.Unlock()
	o.publish()
}

// addUnlisted adds, at the end, a last segment whose announcement was lost
// (it can come after the bin is down): a non-empty segment file that is not
// in the playlist, lasting the rest of the recording.
func (o *outputs) addUnlisted() {
	s := o.e.plan.Segments[0]
	files, _ := filepath.Glob(filepath.Join(o.segDir, s.FilenamePrefix+"_*.ts"))
	for _, f := range files {
		o.mu.Lock()
		listed := o.listed[filepath.Base(f)]
		o.mu.Unlock()
		if listed || sizeOf(f) == 0 {
			continue
		}
		start := o.playlist.Duration()
		o.e.mu.Lock()
		rest := o.e.stoppedAt.Sub(o.e.activeAt) - start
		o.e.mu.Unlock()
		if rest > 0 {
			o.segmentDone(f, start, rest)
		}
	}
}

func sizeOf(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// imageDone names the image as asked and lists it in the manifest.
func (o *outputs) imageDone(path string, at time.Duration) {
	im := o.e.plan.Images[0]
	when := o.e.wallAt(at)
	switch im.Suffix {
	case livekit.ImageFileSuffix_IMAGE_SUFFIX_TIMESTAMP:
		to := filepath.Join(o.imgDir, fmt.Sprintf("%s_%s.jpeg", im.FilenamePrefix, when.UTC().Format("20060102150405.000")))
		if os.Rename(path, to) == nil {
			path = to
		}
	case livekit.ImageFileSuffix_IMAGE_SUFFIX_NONE_OVERWRITE:
		to := filepath.Join(o.imgDir, im.FilenamePrefix+".jpeg")
		if os.Rename(path, to) == nil {
			path = to
		}
	}
	o.mu.Lock()
	o.images.ImageCount++
	if o.images.StartedAt == 0 {
		o.images.StartedAt = when.UnixNano()
	}
	o.manifest = append(o.manifest, imageEntry{Name: filepath.Base(path), Timestamp: when.UnixNano()})
	entries := append([]imageEntry(nil), o.manifest...)
	o.mu.Unlock()
	o.putFile(imagesField, path, path2key(im.Dir, path))
	if !im.DisableManifest {
		o.writeManifest(entries)
	}
	o.publish()
}

// writeManifest lists every image so far, rewritten after each one so that
// a crash keeps the list of what is on disk.
func (o *outputs) writeManifest(entries []imageEntry) {
	im := o.e.plan.Images[0]
	data, _ := json.MarshalIndent(map[string]any{"egress_id": o.e.id, "images": entries}, "", "  ")
	path := filepath.Join(o.imgDir, o.e.id+".json")
	tmp := path + ".tmp"
	err := os.WriteFile(tmp, data, 0o644)
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		o.e.l.cfg.Logf("egress %s: image manifest: %v", o.e.id, err)
		return
	}
	o.putFile(imagesField, path, path2key(im.Dir, path))
}

// Fields naming each output's destination in uploads and errors.
const (
	segmentsField = "segment_outputs[0].s3"
	imagesField   = "image_outputs[0].s3"
)

func (o *outputs) putSegmentFile(local string) {
	o.putFile(segmentsField, local, path2key(o.e.plan.Segments[0].Dir, local))
}

func (o *outputs) putPlaylists() {
	s := o.e.plan.Segments[0]
	o.putFile(segmentsField, filepath.Join(o.segDir, s.PlaylistName), path.Join(s.Dir, s.PlaylistName))
	if s.LivePlaylistName != "" {
		o.putFile(segmentsField, filepath.Join(o.segDir, s.LivePlaylistName), path.Join(s.Dir, s.LivePlaylistName))
	}
}

// putFile hands a finished local file to its destination (a no-op for an
// output on local disk).
func (o *outputs) putFile(field, local, key string) {
	if err := o.e.ups.put(field, local, key); err != nil {
		o.e.l.cfg.Logf("egress %s: %s: %v", o.e.id, field, err)
	}
}

// path2key is the object key of a local file of an output whose key prefix
// is dir: the prefix and the file's name.
func path2key(dir, local string) string { return path.Join(dir, filepath.Base(local)) }

// finish closes the outputs at the egress's end.
func (o *outputs) finish() {
	now := time.Now().UnixNano()
	o.mu.Lock()
	for _, s := range o.streams {
		if s.info.Status == livekit.StreamInfo_ACTIVE {
			s.info.Status = livekit.StreamInfo_FINISHED
			s.info.EndedAt = now
			s.info.Duration = now - s.info.StartedAt
		}
	}
	if o.images != nil {
		o.images.EndedAt = now
	}
	o.mu.Unlock()
	if o.playlist != nil {
		o.addUnlisted()
		if err := o.playlist.End(); err != nil {
			o.e.l.cfg.Logf("egress %s: %v", o.e.id, err)
		}
		o.putPlaylists()
	}
	o.publish()
}

// fill copies the outputs' state into info (under the board's lock).
func (o *outputs) fill(info *livekit.EgressInfo) {
	o.mu.Lock()
	defer o.mu.Unlock()
	info.StreamResults = info.StreamResults[:0]
	for _, s := range o.streams {
		info.StreamResults = append(info.StreamResults, proto.Clone(s.info).(*livekit.StreamInfo))
	}
	if o.segInfo != nil {
		si := proto.Clone(o.segInfo).(*livekit.SegmentsInfo)
		si.SegmentCount = int64(o.playlist.Count())
		si.Duration = int64(o.playlist.Duration())
		si.Size = o.segBytes
		si.StartedAt = info.StartedAt
		if IsFinal(info.Status) || info.Status == livekit.EgressStatus_EGRESS_ENDING {
			si.EndedAt = info.EndedAt
		}
		info.SegmentResults = []*livekit.SegmentsInfo{si}
	}
	if o.images != nil {
		info.ImageResults = []*livekit.ImagesInfo{proto.Clone(o.images).(*livekit.ImagesInfo)}
	}
}

func (o *outputs) publish() {
	o.e.l.board.update(o.e.id, o.fill)
}

// scrubURL keeps a stream URL (and its key on its own) out of a message
// that GStreamer may have built with it, and drops GStreamer's debug
// detail (source file and element path) that means nothing to a producer.
func scrubURL(msg, u string) string {
	if i := strings.Index(msg, " (../"); i > 0 {
		msg = msg[:i]
	}
	red := request.RedactURL(u)
	msg = strings.ReplaceAll(msg, u, red)
	if i := strings.LastIndexByte(u, '/'); i >= 0 && len(u)-i > 4 {
		msg = strings.ReplaceAll(msg, u[i+1:], "{redacted}")
	}
	return msg
}
