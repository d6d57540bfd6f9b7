// Package output holds one part per kind of egress output (file, stream,
// segments, images). Each part owns both halves of its output: the
// GStreamer branch it attaches to a composite's capture (elements made and
// linked in Go), and what happens around it (names, playlists and
// manifests, uploads, retries, its result in the EgressInfo).
//
// An output never reaches back into its egress: it is given an Env (its
// name, its request field, where its files go, a logger, a callback for
// changes) and answers for itself. It fails alone: its failure ends it and
// finalises what it has, and the egress decides what that means.
package output

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-gst/go-gst/gst"
	"github.com/livekit/protocol/livekit"

	"roomcast/engine/pipeline"
	"roomcast/engine/request"
	"roomcast/engine/storage"
)

// flushTimeout bounds how long an output's end waits for its uploads;
// past it, what is not up stays on local disk and the result says where.
const flushTimeout = 2 * time.Minute

// Output is one output of an egress.
type Output interface {
	// Field is the request field it comes from: "file_outputs[0]".
	Field() string
	// Start attaches the output to a composite's capture. An error means
	// nothing of it runs.
	Start(c *pipeline.Capture) error
	// Started is when its first frame was captured (its media's time
	// zero on the wall clock); zero until then.
	Started() time.Time
	// Running reports whether it still writes (or sends) anything.
	Running() bool
	// Stop finalises it: EOS through its branch, files and playlists
	// closed, uploads flushed. It returns when that is done; safe to call
	// more than once, and after the output failed.
	Stop()
	// Err says, once stopped, why it did not complete: nil when it did,
	// ErrNothingWritten when it had nothing to do, or its failure.
	Err() error
	// Fill adds its result to info (called under the egress's lock: it
	// must not call back into the egress).
	Fill(info *livekit.EgressInfo)
}

// ErrNothingWritten: the output completed without writing anything (a
// stream output no destination was ever added to). It is no failure, and
// no completion either.
var ErrNothingWritten = errors.New("nothing was written")

// Env is what an egress gives each of its outputs.
type Env struct {
	// Name is unique in the capture; it names the output's branch and
	// prefixes its elements' names.
	Name string
	// Field is the request field, for messages: "segment_outputs[0]".
	Field string
	// Store is where finished files go: local disk or a bucket.
	Store *storage.Uploader
	// Staging, for a Store that uploads, is the local folder where files
	// are written (mirroring their keys) until uploaded; "" for local disk,
	// where keys are the files' paths.
	Staging string
	// Logf receives progress lines; never nil.
	Logf func(format string, args ...any)
	// Changed is called when the output's result or state changed (to
	// publish the egress's info). It must not block or call into the
	// output.
	Changed func()
	// Manifest is the egress's manifest, which the output lists what it
	// writes in (and keeps beside it unless its request disables it); nil
	// for none.
	Manifest *Manifest
}

// local is the path where the file of key is written.
func (e Env) local(key string) string {
	if e.Staging == "" {
		return key
	}
	return filepath.Join(e.Staging, filepath.FromSlash(key))
}

// put hands a finished local file to the store as key (for local disk,
// it only records it); a failure is logged, the file stays.
func (e Env) put(local, key string) {
	if err := e.Store.Put(context.Background(), local, key); err != nil {
		e.Logf("%s: %v", e.Field, err)
	}
}

// flush waits (bounded) for the store's uploads; backup is true when some
// file stays on local disk because its upload never succeeded.
func (e Env) flush() (results []storage.Result, backup bool) {
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	results, err := e.Store.FlushMoving(ctx, storage.EndStall)
	if err != nil {
		e.Logf("%s: %v", e.Field, err)
	}
	for _, r := range results {
		if r.BackupPath != "" {
			backup = true
		}
	}
	return results, backup
}

// keyIn is the key of a local file of an output whose keys start with
// dir: the file's name under dir.
func keyIn(dir, local string) string { return path.Join(dir, filepath.Base(local)) }

// Encoding is what an egress's outputs are encoded as: its plan's video
// and audio settings, nil for what it does not carry.
type Encoding struct {
	Video *pipeline.VideoEncoding
	Audio *pipeline.AudioEncoding
	// FPS is the composite's frame rate.
	FPS int
}

// EncodingOf maps a plan's settings onto the pipeline's encoders. Outputs
// with equal encodings share one encode on a composite.
func EncodingOf(p *request.Plan) Encoding {
	enc := Encoding{FPS: p.Video.FPS}
	if !p.AudioOnly {
		enc.Video = &pipeline.VideoEncoding{
			BitrateKbps:      p.Video.BitrateKbps,
			KeyFrameInterval: p.Video.KeyFrameIntervalSec,
			Profile:          p.Video.Profile,
		}
	}
	if !p.VideoOnly {
		codec := pipeline.AAC
		if p.Audio.Codec == livekit.AudioCodec_OPUS {
			codec = pipeline.Opus
		}
		enc.Audio = &pipeline.AudioEncoding{
			Codec: codec, BitrateKbps: p.Audio.BitrateKbps,
			SampleRate: p.Audio.SampleRate, Channels: p.Audio.Channels,
		}
	}
	return enc
}

// frame is how long a frame of the composite lasts (at 30 fps when its
// rate is not known).
func (enc Encoding) frame() time.Duration {
	if enc.FPS > 0 {
		return time.Second / time.Duration(enc.FPS)
	}
	return time.Second / 30
}

// feed is what a branch of this encoding takes.
func (enc Encoding) feed() pipeline.Feed {
	return pipeline.Feed{Video: enc.Video, Audio: enc.Audio}
}

// run is the life of an output with one branch (a file, segments,
// images): attached, active from its first frame, failed or stopped. A
// failure ends the output where it is, as Stop does, once: both run the
// output's end, which detaches the branch (run.detach) and finalises.
type run struct {
	env  Env
	end  func() // the output's end; once
	path string // the file it writes, for a full disk's message; "" for several

	mu      sync.Mutex
	att     *pipeline.Attachment
	zero    time.Time // wall-clock time of its first frame; zero until active
	stopped time.Time // when it ended (the recording ends there)
	err     error     // its failure, if any
	gaps    []gap     // its pauses
	// onResume, if set, is told where the media went on after each pause.
	onResume func(at time.Duration)
}

func newRun(env Env, end func()) *run {
	return &run{env: env, end: sync.OnceFunc(end)}
}

// events are the branch's events, with msg for its element messages.
func (r *run) events(msg func(string, *gst.Structure)) pipeline.Events {
	return pipeline.Events{Active: r.active, Failed: r.fail, Message: msg, Resumed: r.resumed}
}

func (r *run) attached(att *pipeline.Attachment) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.att = att
}

func (r *run) active(zero time.Time) {
	r.mu.Lock()
	if r.zero.IsZero() {
		r.zero = zero
	}
	r.mu.Unlock()
	r.env.Changed()
}

// fail ends the output where it is (a full disk, a vanished folder): what
// it wrote is kept and reported; the egress's other outputs go on.
func (r *run) fail(err error) {
	if r.failed(r.describe(err)) {
		r.env.Logf("%v", r.failure())
		go r.end()
		r.env.Changed()
	}
}

// failed records the first failure; it reports whether this was it.
func (r *run) failed(err error) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil || !r.stopped.IsZero() {
		return false
	}
	r.err = err
	return true
}

func (r *run) failure() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// wallAt converts a time of the output's media to the wall clock, when it
// was captured: after a pause, that much later.
func (r *run) wallAt(d time.Duration) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.zero.IsZero() {
		return time.Now()
	}
	return r.zero.Add(d + r.pausedBeforeLocked(d))
}

func (r *run) started() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.zero
}

// span is the output's first frame and end on the wall clock, and how much
// of that it recorded (its pauses cut out).
func (r *run) span() (start, end time.Time, recorded time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.zero.IsZero() {
		return r.zero, r.stopped, 0
	}
	return r.zero, r.stopped, r.recordedLocked(r.stopped)
}

func (r *run) running() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.runningLocked()
}

func (r *run) runningLocked() bool { return r.att != nil && r.err == nil && r.stopped.IsZero() }

// detach, in the output's end, marks the end and takes the branch down:
// with EOS (files finalised) unless it failed. A detach that fails is the
// output's failure.
func (r *run) detach() {
	r.mu.Lock()
	if r.stopped.IsZero() {
		r.stopped = time.Now()
	}
	att, healthy := r.att, r.err == nil
	r.att = nil
	r.mu.Unlock()
	if att == nil {
		return
	}
	if err := att.Detach(healthy); err != nil {
		r.mu.Lock()
		if r.err == nil {
			r.err = r.describe(err)
		}
		r.mu.Unlock()
	}
}

// describe names an output's failure for the egress's error: its field
// and what went wrong (see reason), with the file on a full disk.
func (r *run) describe(err error) error {
	why := reason(err)
	if r.path != "" {
		why = strings.Replace(why, "(disk full", "(disk full writing "+r.path, 1)
	}
	return fmt.Errorf("%s: %s", r.env.Field, why)
}

// reason says what went wrong for a producer: an element's message
// without its element or GStreamer's debug detail, and the fix where it
// is known.
func reason(err error) string {
	msg := err.Error()
	if ee := (*pipeline.ElementError)(nil); errors.As(err, &ee) {
		msg = ee.Message
	}
	msg = strings.TrimSuffix(msg, ".")
	if strings.Contains(msg, "No space left") {
		msg += " (disk full: free space on it, or record to another folder)"
	}
	return msg
}
