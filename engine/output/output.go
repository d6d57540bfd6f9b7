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
	results, err := e.Store.Flush(ctx)
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

// feed is what a branch of this encoding takes.
func (enc Encoding) feed() pipeline.Feed {
	return pipeline.Feed{Video: enc.Video, Audio: enc.Audio}
}

// life is the state every output shares: started, failed, stopped.
type life struct {
	mu      sync.Mutex
	att     *pipeline.Attachment
	zero    time.Time // wall-clock time of its first frame; zero until active
	stopped time.Time // when Stop was called (the recording ends there)
	err     error     // its failure, if any
}

func (l *life) active(zero time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.zero.IsZero() {
		l.zero = zero
	}
}

// wallAt converts a time of the output's media to the wall clock.
func (l *life) wallAt(d time.Duration) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.zero.IsZero() {
		return time.Now()
	}
	return l.zero.Add(d)
}

// failed records the first failure; it reports whether this was it.
func (l *life) failed(err error) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil || !l.stopped.IsZero() {
		return false
	}
	l.err = err
	return true
}

func (l *life) running() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.att != nil && l.err == nil && l.stopped.IsZero()
}

// stop marks the end and returns the branch to detach (nil if gone) and
// whether it ended well so far (EOS is worth sending).
func (l *life) stop() (att *pipeline.Attachment, healthy bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped.IsZero() {
		l.stopped = time.Now()
	}
	att, l.att = l.att, nil
	return att, l.err == nil
}

// span is the output's first frame and end on the wall clock.
func (l *life) span() (start, end time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.zero, l.stopped
}

func (l *life) failure() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// describe names an output's failure for the egress's error: its field
// and what went wrong (see reason).
func describe(field string, err error) error {
	return fmt.Errorf("%s: %s", field, reason(err))
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
		msg += " (the disk is full: free space on it, or record to another folder)"
	}
	return msg
}
