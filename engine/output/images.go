package output

/*
An images output (image_outputs[i]): a JPEG every capture interval, from
the composite's raw frames (no encoder), each listed in the egress's
manifest.

	rawvideo tee ─► [one frame an interval] videoscale ! videoconvert ! I420 WxH ! jpegenc ! multifilesink

The frames are picked by a probe in the output's own time (from its first
frame), before any scaling or encoding. (videorate compared the frames'
capture timestamps with times from the output's zero, so an output on a
capture older than itself got a burst of images at its start: one for
each interval of the capture's age.)
*/

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-gst/go-gst/gst"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"

	"roomcast/engine/pipeline"
	"roomcast/engine/request"
)

// Images takes snapshots of the composite.
type Images struct {
	env  Env
	plan request.ImageOutput
	dir  string // local folder of the images
	run  *run

	mu     sync.Mutex
	info   *livekit.ImagesInfo
	backup bool
}

// NewImages prepares an images output; nothing runs until Start.
func NewImages(plan request.ImageOutput, env Env) *Images {
	o := &Images{
		env: env, plan: plan, dir: env.local(plan.Dir),
		info: &livekit.ImagesInfo{FilenamePrefix: keyIn(plan.Dir, plan.FilenamePrefix)},
	}
	o.run = newRun(env, o.end)
	return o
}

// Field is the request field of the output.
func (o *Images) Field() string { return o.env.Field }

// Start attaches the images' branch to the composite's raw video.
func (o *Images) Start(c *pipeline.Capture) error {
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return fmt.Errorf("%s: folder %s: %w", o.env.Field, o.dir, err)
	}
	if !o.plan.DisableManifest {
		o.env.Manifest.keepBeside(o.env, o.plan.Dir)
	}
	br, err := o.branch()
	if err != nil {
		return fmt.Errorf("%s: %w", o.env.Field, err)
	}
	att, err := c.Attach(br, pipeline.Feed{RawVideo: true}, o.run.events(o.message))
	if err != nil {
		return fmt.Errorf("%s: %w", o.env.Field, err)
	}
	o.run.attached(att)
	return nil
}

func (o *Images) branch() (pipeline.Branch, error) {
	var br pipeline.Branch
	b := pipeline.NewBinBuilder(o.env.Name)
	scale := b.Make("videoscale", "scale", nil)
	convert := b.Make("videoconvert", "convert", nil)
	size := b.Make("capsfilter", "size", pipeline.Props{
		"caps": fmt.Sprintf("video/x-raw,format=I420,width=%d,height=%d", o.plan.Width, o.plan.Height),
	})
	enc := b.Make("jpegenc", "jpeg", pipeline.Props{"quality": 90})
	sink := b.Make("multifilesink", "sink", pipeline.Props{
		"post-messages": true, "sync": false, "async": false,
		"location": filepath.Join(o.dir, o.plan.FilenamePrefix+"_%05d.jpeg"),
	})
	b.Link(scale, convert, size, enc, sink)
	br.Video = b.Pad(scale, "sink")
	br.Sinks = []*gst.Element{sink}
	var err error
	if br.Bin, err = b.Bin(); err != nil {
		return br, err
	}
	pickEvery(br.Video, time.Duration(o.plan.CaptureIntervalSec)*time.Second)
	return br, nil
}

// pickEvery passes the first frame at or after each multiple of every, in
// the media time of the pad's segment, and drops the others.
func pickEvery(p *gst.Pad, every time.Duration) {
	var next time.Duration // touched only on the pad's streaming thread
	p.AddProbe(gst.PadProbeTypeBuffer, func(pad *gst.Pad, info *gst.PadProbeInfo) gst.PadProbeReturn {
		buf := info.GetBuffer()
		ev := pad.GetStickyEvent(gst.EventTypeSegment, 0)
		if buf == nil || ev == nil || buf.PresentationTimestamp() == gst.ClockTimeNone {
			return gst.PadProbeDrop
		}
		rt := ev.ParseSegment().ToRunningTime(gst.FormatTime, uint64(buf.PresentationTimestamp()))
		if rt == uint64(gst.ClockTimeNone) {
			return gst.PadProbeDrop
		}
		at := time.Duration(rt)
		if at < next {
			return gst.PadProbeDrop
		}
		next = (at/every + 1) * every
		return gst.PadProbeOK
	})
}

// message takes multifilesink's announcement of an image written. On the
// bus goroutine.
func (o *Images) message(element string, st *gst.Structure) {
	if path, at, ok := fileAnnouncement(st); ok && element == o.env.Name+"-sink" {
		o.imageDone(path, at)
	}
}

// imageDone names the image as asked, hands it to the store and lists it
// in the manifest.
func (o *Images) imageDone(path string, at time.Duration) {
	when := o.run.wallAt(at)
	switch o.plan.Suffix {
	case livekit.ImageFileSuffix_IMAGE_SUFFIX_TIMESTAMP:
		to := filepath.Join(o.dir, fmt.Sprintf("%s_%s.jpeg", o.plan.FilenamePrefix, when.UTC().Format("20060102150405.000")))
		if os.Rename(path, to) == nil {
			path = to
		}
	case livekit.ImageFileSuffix_IMAGE_SUFFIX_NONE_OVERWRITE:
		to := filepath.Join(o.dir, o.plan.FilenamePrefix+".jpeg")
		if os.Rename(path, to) == nil {
			path = to
		}
	}
	o.mu.Lock()
	o.info.ImageCount++
	if o.info.StartedAt == 0 {
		o.info.StartedAt = when.UnixNano()
	}
	o.mu.Unlock()
	key := keyIn(o.plan.Dir, path)
	o.env.put(path, key)
	o.env.Manifest.addImage(filepath.Base(path), when, o.env.Store.Location(key))
	o.env.Changed()
}

func (o *Images) Started() time.Time { return o.run.started() }

// Running reports whether images are being taken.
func (o *Images) Running() bool { return o.run.running() }

// Stop takes no more images and flushes their uploads.
func (o *Images) Stop() { o.run.end() }

func (o *Images) end() {
	o.run.detach()
	_, backup := o.env.flush()
	o.mu.Lock()
	o.info.EndedAt = time.Now().UnixNano()
	o.backup = backup
	o.mu.Unlock()
	o.env.Changed()
}

// Err is nil when images were taken and nothing failed, or why not.
func (o *Images) Err() error {
	if err := o.run.failure(); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.info.ImageCount == 0 {
		return ErrNothingWritten
	}
	return nil
}

// Fill adds the images' result so far.
func (o *Images) Fill(info *livekit.EgressInfo) {
	o.mu.Lock()
	defer o.mu.Unlock()
	info.ImageResults = append(info.ImageResults, proto.Clone(o.info).(*livekit.ImagesInfo))
	if o.backup {
		info.BackupStorageUsed = true
	}
}
