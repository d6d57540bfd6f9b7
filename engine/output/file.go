package output

/*
A file output (file_outputs[i]): one MP4 or OGG file.

	venc tee ─► h264parse ─► mp4mux.video_0 ─┐
	aenc tee ─────────────► mp4mux.audio_0 ──┴► filesink (unbuffered)
	aenc tee (Opus) ─► oggmux ─► filesink

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
	"path/filepath"
	"sync"
	"time"

	"github.com/go-gst/go-gst/gst"
	"github.com/livekit/protocol/livekit"

	"roomcast/engine/pipeline"
	"roomcast/engine/request"
)

// File writes one file of the egress.
type File struct {
	env    Env
	plan   request.FileOutput
	enc    Encoding
	life   life
	finish func()

	mu     sync.Mutex
	result *livekit.FileInfo // set once finished
	backup bool
}

// NewFile prepares a file output; nothing runs until Start.
func NewFile(plan request.FileOutput, enc Encoding, env Env) *File {
	o := &File{env: env, plan: plan, enc: enc}
	o.finish = sync.OnceFunc(o.end)
	return o
}

// Field is the request field of the output.
func (o *File) Field() string { return o.env.Field }

// Start attaches the file's branch.
func (o *File) Start(c *pipeline.Capture) error {
	path := o.env.local(o.plan.Filepath)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("%s: folder for %s: %w", o.env.Field, path, err)
	}
	br, err := fileBranch(o.env.Name, path, o.plan.FileType, o.enc)
	if err != nil {
		return fmt.Errorf("%s: %w", o.env.Field, err)
	}
	feed := o.enc.feed()
	if o.plan.FileType == livekit.EncodedFileType_OGG && feed.Audio != nil {
		own := *feed.Audio
		own.Owner = o.env.Name
		feed.Audio = &own
	}
	att, err := c.Attach(br, feed, pipeline.Events{Active: o.active, Failed: o.fail})
	if err != nil {
		return fmt.Errorf("%s: %w", o.env.Field, err)
	}
	o.life.mu.Lock()
	o.life.att = att
	o.life.mu.Unlock()
	return nil
}

func fileBranch(name, path string, ft livekit.EncodedFileType, enc Encoding) (pipeline.Branch, error) {
	var br pipeline.Branch
	sink, err := pipeline.Make("filesink", name+"-sink", pipeline.Props{
		"location": path, "sync": false, "async": false, "buffer-mode": "unbuffered",
	})
	if err != nil {
		return br, err
	}
	br.Sinks = []*gst.Element{sink}
	if ft == livekit.EncodedFileType_OGG {
		if enc.Video != nil || enc.Audio == nil {
			return br, fmt.Errorf("an OGG file holds audio only")
		}
		mux, err := pipeline.Make("oggmux", name+"-mux", nil)
		if err != nil {
			return br, err
		}
		if br.Bin, err = pipeline.NewBin(name, mux, sink); err != nil {
			return br, err
		}
		if br.Audio, err = pipeline.RequestPad(mux, "audio_%u"); err != nil {
			return br, err
		}
		return br, pipeline.Link(mux, sink)
	}
	if enc.Video == nil {
		return br, fmt.Errorf("an MP4 file needs video here; use OGG for audio only")
	}
	mux, err := pipeline.Make("mp4mux", name+"-mux", pipeline.Props{"fragment-duration": 500})
	if err != nil {
		return br, err
	}
	// Each output parses for itself: MP4 and FLV want avc, MPEG-TS
	// byte-stream; one format on the shared tee fails to negotiate.
	parse, err := pipeline.Make("h264parse", name+"-parse", nil)
	if err != nil {
		return br, err
	}
	if br.Bin, err = pipeline.NewBin(name, parse, mux, sink); err != nil {
		return br, err
	}
	vpad, err := pipeline.RequestPad(mux, "video_%u")
	if err != nil {
		return br, err
	}
	if err := pipeline.LinkPads(parse.GetStaticPad("src"), vpad); err != nil {
		return br, err
	}
	br.Video = parse.GetStaticPad("sink")
	if enc.Audio != nil {
		if br.Audio, err = pipeline.RequestPad(mux, "audio_%u"); err != nil {
			return br, err
		}
	}
	return br, pipeline.Link(mux, sink)
}

func (o *File) active(zero time.Time) {
	o.life.active(zero)
	o.env.Changed()
}

// fail ends the file where it is (a full disk, a vanished folder): what is
// on disk is kept and reported, the egress's other outputs go on.
func (o *File) fail(err error) {
	if o.life.failed(describe(o.env.Field, err)) {
		o.env.Logf("%v", o.life.failure())
		go o.finish()
		o.env.Changed()
	}
}

// Started is when the file's first frame was captured; zero before.
func (o *File) Started() time.Time {
	start, _ := o.life.span()
	return start
}

// Running reports whether the file is being written.
func (o *File) Running() bool { return o.life.running() }

// Stop finalises the file and hands it to its store.
func (o *File) Stop() { o.finish() }

func (o *File) end() {
	att, healthy := o.life.stop()
	if att != nil {
		if err := att.Detach(healthy); err != nil {
			o.life.failed(describe(o.env.Field, err))
		}
	}
	path := o.env.local(o.plan.Filepath)
	start, end := o.life.span()
	fi := &livekit.FileInfo{Filename: o.plan.Filepath, Location: o.env.Store.Location(o.plan.Filepath)}
	if st, err := os.Stat(path); err == nil {
		fi.Size = st.Size()
		o.env.put(path, o.plan.Filepath)
	}
	if !start.IsZero() {
		fi.StartedAt, fi.EndedAt = start.UnixNano(), end.UnixNano()
		fi.Duration = fi.EndedAt - fi.StartedAt
	}
	results, backup := o.env.flush()
	for _, r := range results {
		if r.Key == o.plan.Filepath && r.BackupPath != "" {
			fi.Location = r.BackupPath
		}
	}
	o.mu.Lock()
	o.result, o.backup = fi, backup
	o.mu.Unlock()
	o.env.Changed()
}

// Err is nil when the file completed, or why it did not.
func (o *File) Err() error {
	if err := o.life.failure(); err != nil {
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
