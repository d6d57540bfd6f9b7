package output

/*
A file output (file_outputs[i]): one MP4 or OGG file.

	venc tee ─► h264parse ─► mp4mux.video_0 ─┐   (no video for audio_only)
	aenc tee ─────────────► mp4mux.audio_0 ──┴► filesink (unbuffered)
	aenc tee (Opus) ─► oggmux ─► filesink

An MP4 carries AAC, or Opus when the request asks for it.

The MP4 is fragmented (moov first, then a fragment every half second,
only ever appended), so it plays up to its last fragment if the process
dies or the disk fills; first-moov-then-finalise rewrote the start of the
file while recording, and a kill at that moment left it unreadable. The
filesink is unbuffered so each fragment is on disk as it is muxed (its
default 64 KB buffer held back the start of the file).
*/

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-gst/go-gst/gst"
	"github.com/livekit/protocol/livekit"

	"roomcast/engine/markers"
	"roomcast/engine/pipeline"
	"roomcast/engine/request"
)

// File writes one file of the egress.
type File struct {
	env   Env
	plan  request.FileOutput
	enc   Encoding
	run   *run
	marks *markers.Sidecar // beside the file

	mu     sync.Mutex
	result *livekit.FileInfo // set once finished
	backup bool
	kept   string // why the file stayed on local disk, and where; "" if not
}

// NewFile prepares a file output; nothing runs until Start.
func NewFile(plan request.FileOutput, enc Encoding, env Env) *File {
	o := &File{env: env, plan: plan, enc: enc, marks: markers.New(env.local(plan.Filepath))}
	o.run = newRun(env, o.end)
	return o
}

// Field is the request field of the output.
func (o *File) Field() string { return o.env.Field }

// Start attaches the file's branch.
func (o *File) Start(c *pipeline.Capture) error {
	local := o.env.local(o.plan.Filepath)
	o.run.path = local
	if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
		return fmt.Errorf("%s: folder for %s: %w", o.env.Field, local, err)
	}
	if !o.plan.DisableManifest {
		o.env.Manifest.keepBeside(o.env, path.Dir(o.plan.Filepath))
	}
	br, err := fileBranch(o.env.Name, local, o.plan.FileType, o.enc)
	if err != nil {
		return fmt.Errorf("%s: %w", o.env.Field, err)
	}
	feed := o.enc.feed()
	if o.plan.FileType == livekit.EncodedFileType_OGG && feed.Audio != nil {
		own := *feed.Audio
		own.Owner = o.env.Name
		feed.Audio = &own
	}
	att, err := c.Attach(br, feed, o.run.events(nil))
	if err != nil {
		return fmt.Errorf("%s: %w", o.env.Field, err)
	}
	o.run.attached(att)
	return nil
}

func fileBranch(name, path string, ft livekit.EncodedFileType, enc Encoding) (pipeline.Branch, error) {
	var br pipeline.Branch
	if ft == livekit.EncodedFileType_OGG && (enc.Video != nil || enc.Audio == nil) {
		return br, fmt.Errorf("an OGG file holds audio only")
	}
	b := pipeline.NewBinBuilder(name)
	var mux *gst.Element
	if ft == livekit.EncodedFileType_OGG {
		mux = b.Make("oggmux", "mux", nil)
	} else {
		mux = b.Make("mp4mux", "mux", pipeline.Props{"fragment-duration": 500})
	}
	if enc.Video != nil {
		// Each output parses for itself: MP4 and FLV want avc, MPEG-TS
		// byte-stream; one format on the shared tee fails to negotiate.
		parse := b.Make("h264parse", "parse", nil)
		b.LinkRequest(parse, mux, "video_%u")
		br.Video = b.Pad(parse, "sink")
	}
	if enc.Audio != nil {
		br.Audio = b.Request(mux, "audio_%u")
		if ft != livekit.EncodedFileType_OGG {
			br.AudioCapsIfNone = pipeline.AudioCapsBeforeEOS
		}
	}
	sink := b.Make("filesink", "sink", pipeline.Props{
		"location": path, "sync": false, "async": false, "buffer-mode": "unbuffered",
	})
	b.Link(mux, sink)
	br.Sinks = []*gst.Element{sink}
	var err error
	br.Bin, err = b.Bin()
	return br, err
}

// Started is when the file's first frame was captured; zero before.
func (o *File) Started() time.Time { return o.run.started() }

// Running reports whether the file is being written.
func (o *File) Running() bool { return o.run.running() }

// Stop finalises the file and hands it to its store.
func (o *File) Stop() { o.run.end() }

func (o *File) end() {
	o.run.detach()
	finishMarks(o.env, o.run, o.marks, path.Dir(o.plan.Filepath))
	path := o.env.local(o.plan.Filepath)
	start, end, recorded := o.run.span()
	fi := &livekit.FileInfo{Filename: o.plan.Filepath, Location: o.env.Store.Location(o.plan.Filepath)}
	if st, err := os.Stat(path); err == nil {
		fi.Size = st.Size()
		o.env.put(path, o.plan.Filepath)
	}
	if !start.IsZero() {
		// A paused file's duration is what it holds, less than its span.
		fi.StartedAt, fi.EndedAt, fi.Duration = start.UnixNano(), end.UnixNano(), int64(recorded)
	}
	results, backup := o.env.flush()
	kept := ""
	for _, r := range results {
		if r.Key == o.plan.Filepath && r.BackupPath != "" {
			fi.Location = r.BackupPath
			kept = fmt.Sprintf("not uploaded (%v), kept at %s", r.Err, r.BackupPath)
		}
	}
	if fi.Size > 0 {
		o.env.Manifest.addFile(o.plan.Filepath, fi.Location)
	}
	o.mu.Lock()
	o.result, o.backup, o.kept = fi, backup, kept
	o.mu.Unlock()
	o.env.Changed()
}

// KeptLocally says why the finished file stayed on local disk instead of
// its bucket, and where it is; "" when it was uploaded (or is local).
func (o *File) KeptLocally() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.kept
}

// Err is nil when the file completed, or why it did not.
func (o *File) Err() error {
	if err := o.run.failure(); err != nil {
		return err
	}
	if o.Started().IsZero() {
		return ErrNothingWritten
	}
	return nil
}

// Fill adds the file's result once it is finished.
func (o *File) Fill(info *livekit.EgressInfo) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.result == nil {
		return
	}
	info.FileResults = append(info.FileResults, o.result)
	if o.backup {
		info.BackupStorageUsed = true
	}
}
