package pipeline

/*
A branch is one egress on the capture: a tap on the raw tees holding the
egress's encoders (one video, one audio), whose encoded tees feed every
output of the egress. One encode serves the file, the streams and the HLS
segments.

	video_sink ─► queue ─► tee <n>_vraw ─┬─► queue ! x264enc ! h264parse ─► tee <n>_venc ─┬─► file:     queue ! mp4mux.video_0
	                                      │                                                ├─► segments: queue ! h264parse ! mpegtsmux ! multifilesink
	                                      │                                                └─► stream taps (one per RTMP URL, live)
	                                      └─► images: queue (one frame an interval kept) ! videoscale ! jpegenc ! multifilesink
	audio_sink ─► queue ! audioconvert ! audioresample ! aac|opus ─► tee <n>_aenc ─► file, segments, stream taps

Lock order: Capture.mu, then Branch.mu. Pad-probe callbacks take neither.
*/

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-gst/go-gst/gst"
)

// eosTimeout bounds the wait for EOS to reach the outputs of a detached
// branch; it came 7-143 ms after it was sent on a 2-core box (RECIPES).
const eosTimeout = 10 * time.Second

// streamEOSTimeout is shorter: an RTMP server that went away never
// acknowledges anything, and the other outputs must not wait on it.
const streamEOSTimeout = 2 * time.Second

// Container is a file output's format.
type Container int

// File containers.
const (
	MP4 Container = iota
	OGG
)

// VideoEncoding sets the H.264 encoder.
type VideoEncoding struct {
	BitrateKbps int
	FPS         int
	// KeyFrameInterval is the GOP length in seconds.
	KeyFrameInterval float64
	Profile          string // baseline, main or high
	// CBR pads to a constant bitrate (nal-hrd=cbr), as RTMP ingests want.
	CBR bool
}

// AudioEncoding sets the audio encoder (AAC for MP4, Opus for OGG).
type AudioEncoding struct {
	BitrateKbps int
	Opus        bool
}

// FileOutput is a file the branch writes.
type FileOutput struct {
	Path      string
	Container Container
}

// SegmentOutput writes MPEG-TS segments of about Duration each, named
// <Dir>/<Prefix>_00000.ts, ... OnSegment is called (on the bus goroutine)
// as each one is closed, which is as the next one's first key frame is
// muxed (see cutSegments).
type SegmentOutput struct {
	Dir, Prefix string
	Duration    time.Duration
	OnSegment   func(path string, start, duration time.Duration)
}

// ImageOutput writes a JPEG every Interval at Width x Height, named
// <Dir>/<Prefix>_00000.jpeg, ... OnImage is called (on the bus goroutine)
// as each one is written, with its timestamp in the egress.
type ImageOutput struct {
	Dir, Prefix   string
	Interval      time.Duration
	Width, Height int
	OnImage       func(path string, at time.Duration)
}

// BranchConfig describes one egress's encoders and outputs.
type BranchConfig struct {
	Name     string         // unique on the capture (the egress ID)
	Video    *VideoEncoding // nil: no video encode
	Audio    *AudioEncoding // nil: no audio
	File     *FileOutput
	Segments *SegmentOutput
	Images   *ImageOutput
	// Streams are the RTMP URLs to start with; more can be added live.
	Streams []string
	// StreamOutput enables streaming (AddStream) even with no URL yet.
	StreamOutput bool
}

// BranchEvents are the moments the egress reports. They are called from
// GStreamer's threads or the bus goroutine and must not block.
type BranchEvents struct {
	// Active: the first frame (or audio buffer) reached an encoder;
	// mediaZero is when the buffer at the branch's time zero was captured
	// (queues upstream hold frames a while), to put outputs on the wall
	// clock.
	Active func(mediaZero time.Time)
	// FirstWrite: the first buffer reached an output's sink.
	FirstWrite func()
	// Failed: an element of the branch (outside stream destinations)
	// posted an error. The egress should stop.
	Failed func(error)
	// StreamFailed: one RTMP destination failed; the rest go on.
	StreamFailed func(url string, err error)
	// StreamFlowing: a destination has taken data for a while without
	// failing: it is live.
	StreamFlowing func(url string)
}

// Branch is one egress's part of the pipeline.
type Branch struct {
	cfg    BranchConfig
	events BranchEvents
	tap    *tap
	cap    *Capture

	activeOnce sync.Once
	writeOnce  sync.Once
	failOnce   sync.Once
	offset     atomic.Int64 // ns subtracted from the inputs' running time; -1 until known
	mediaZero  time.Time    // wall time of the capture at offset, set before offset

	segmentsOpened atomic.Int64 // segment files the sink has opened

	mu             sync.Mutex
	streams        map[string]*tap // by URL
	nextID         int
	segmentEnd     time.Duration // running time the last closed segment ended
	segmentsClosed int64         // segments announced
	segmentClosed  chan struct{} // poked at each segment's announcement
}

// NewBranch builds the branch's bin, unlinked.
func NewBranch(cfg BranchConfig, events BranchEvents) (*Branch, error) {
	desc, kinds, err := branchDescription(cfg)
	if err != nil {
		return nil, err
	}
	t, err := newTap(cfg.Name, desc, kinds)
	if err != nil {
		return nil, err
	}
	b := &Branch{cfg: cfg, events: events, tap: t, streams: map[string]*tap{}}
	b.offset.Store(-1)
	if cfg.Segments != nil {
		if err := b.cutSegments(); err != nil {
			return nil, err
		}
	}
	// Each output's sink element.
	for _, sink := range []string{"filesink", "images", "hls"} {
		el, err := t.bin.GetElementByName(cfg.Name + "_" + sink)
		if err != nil {
			continue // not an output of this branch
		}
		if sink == "filesink" {
			if err := el.SetProperty("location", cfg.File.Path); err != nil {
				return nil, fmt.Errorf("%s: filesink location: %w", cfg.Name, err)
			}
		}
		t.watchSink(el)
		b.onFirstBuffer(el.GetStaticPad("sink"))
	}
	if cfg.Images != nil {
		q, err := t.bin.GetElementByName(cfg.Name + "_images_pick")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cfg.Name, err)
		}
		b.pickImages(q.GetStaticPad("src"), cfg.Images.Interval)
	}
	for _, in := range t.inputs {
		b.onActive(in.ghost.Pad)
	}
	return b, nil
}

// pickImages passes the first frame at or after each multiple of every in
// the branch's time, and drops the others. (videorate compared the frames'
// capture timestamps with times from the branch's zero, so a branch on a
// capture older than itself got a burst of images at its start: one for
// each interval of the capture's age.)
func (b *Branch) pickImages(p *gst.Pad, every time.Duration) {
	var next time.Duration // touched only on the queue's streaming thread
	p.AddProbe(gst.PadProbeTypeBuffer, func(_ *gst.Pad, info *gst.PadProbeInfo) gst.PadProbeReturn {
		buf := info.GetBuffer()
		zero := b.offset.Load()
		if buf == nil || zero < 0 || buf.PresentationTimestamp() == gst.ClockTimeNone {
			return gst.PadProbeDrop
		}
		at := time.Duration(int64(buf.PresentationTimestamp()) - zero)
		if at < next {
			return gst.PadProbeDrop
		}
		next = (at/every + 1) * every
		return gst.PadProbeOK
	})
}

func branchDescription(cfg BranchConfig) (string, []string, error) {
	n := cfg.Name
	if cfg.Video == nil && cfg.Audio == nil && cfg.Images == nil {
		return "", nil, fmt.Errorf("%s: neither video nor audio", n)
	}
	streaming := cfg.StreamOutput || len(cfg.Streams) > 0
	if cfg.File == nil && cfg.Segments == nil && cfg.Images == nil && !streaming {
		return "", nil, fmt.Errorf("%s: no output", n)
	}
	if (cfg.File != nil || cfg.Segments != nil || streaming) && cfg.Video == nil && cfg.Audio == nil {
		return "", nil, fmt.Errorf("%s: files, segments and streams need an encoder", n)
	}
	if streaming && (cfg.Audio != nil && cfg.Audio.Opus) {
		return "", nil, fmt.Errorf("%s: RTMP carries AAC audio, not Opus", n)
	}
	var b strings.Builder
	var kinds []string
	// An egress's input holds at most 1 s: a slow encoder drops frames
	// rather than stall the capture, and at stop EOS waits behind at most
	// a second of frames (3 s made a stop under heavy load exceed 10 s).
	in := "queue name=%s_%s_in leaky=downstream max-size-time=1000000000 max-size-buffers=0 max-size-bytes=0 "
	out := "queue max-size-time=3000000000 max-size-buffers=0 max-size-bytes=0 leaky=downstream "

	if v := cfg.Video; v != nil || cfg.Images != nil {
		kinds = append(kinds, "video")
		fmt.Fprintf(&b, in+"! tee name=%s_vraw allow-not-linked=true ", n, "video", n)
		if v != nil {
			gop := int(v.KeyFrameInterval * float64(v.FPS))
			if gop < 1 {
				gop = v.FPS * 4
			}
			profile := v.Profile
			if profile == "" {
				profile = "main"
			}
			hrd := ""
			if v.CBR {
				hrd = "nal-hrd=cbr vbv-buf-capacity=1000 "
			}
			// zerolatency: no look-ahead or B-frames, so a branch attached
			// to a running capture writes its first frame in about 50 ms,
			// not 600 (RECIPES). key-int-max with an unchanged scenecut
			// threshold of 0 gives fixed GOPs, which HLS segments need.
			fmt.Fprintf(&b, "%s_vraw. ! queue ! x264enc name=%s_x264 bitrate=%d speed-preset=veryfast tune=zerolatency "+
				"key-int-max=%d option-string=scenecut=0 %s"+
				"! video/x-h264,profile=%s ! h264parse config-interval=-1 ! tee name=%s_venc allow-not-linked=true ",
				n, n, v.BitrateKbps, gop, hrd, profile, n)
		}
		if im := cfg.Images; im != nil {
			// pickImages keeps one frame an interval at the queue's exit,
			// before any scaling or encoding.
			fmt.Fprintf(&b, "%s_vraw. ! "+out+"name=%s_images_pick ! videoscale ! videoconvert "+
				"! video/x-raw,format=I420,width=%d,height=%d ! jpegenc quality=90 "+
				"! multifilesink name=%s_images post-messages=true sync=false async=false location=%s ",
				n, n, im.Width, im.Height, n, quoteLaunch(filepath.Join(im.Dir, im.Prefix+"_%05d.jpeg")))
		}
	}
	if a := cfg.Audio; a != nil {
		kinds = append(kinds, "audio")
		enc := fmt.Sprintf("avenc_aac bitrate=%d ! aacparse", a.BitrateKbps*1000)
		if a.Opus {
			enc = fmt.Sprintf("opusenc bitrate=%d ! opusparse", a.BitrateKbps*1000)
		}
		fmt.Fprintf(&b, in+"! audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=2 ! %s "+
			"! tee name=%s_aenc allow-not-linked=true ", n, "audio", enc, n)
	}
	if f := cfg.File; f != nil {
		switch f.Container {
		case MP4:
			if cfg.Video == nil {
				return "", nil, fmt.Errorf("%s: an MP4 file needs video; use OGG for audio only", n)
			}
			if cfg.Audio != nil && cfg.Audio.Opus {
				return "", nil, fmt.Errorf("%s: MP4 carries AAC audio here, not Opus", n)
			}
			// A fragmented MP4 (moov first, then a fragment every half
			// second, only ever appended) plays up to its last fragment if
			// the process dies. first-moov-then-finalise rewrote the start
			// of the file while recording, and a kill at that moment left
			// it unreadable.
			fmt.Fprintf(&b, "mp4mux name=%s_mux fragment-duration=500 ", n)
		case OGG:
			if cfg.Video != nil {
				return "", nil, fmt.Errorf("%s: OGG carries audio only; use MP4 for video", n)
			}
			fmt.Fprintf(&b, "oggmux name=%s_mux ", n)
		}
		// The location is set as a property, not in this text, so that
		// no path needs quoting. Unbuffered: each fragment reaches the
		// disk as the muxer writes it, so a crash keeps it (the default
		// 64 KB buffer held back the start of the file).
		fmt.Fprintf(&b, "! filesink name=%s_filesink sync=false async=false buffer-mode=unbuffered ", n)
		if cfg.Video != nil {
			// Each output parses for itself: MP4 and FLV want avc, MPEG-TS
			// byte-stream; one format on the shared tee fails to negotiate.
			fmt.Fprintf(&b, "%s_venc. ! queue ! h264parse ! %s_mux.video_0 ", n, n)
		}
		if cfg.Audio != nil {
			pad := "audio_0"
			if f.Container == OGG {
				pad = "" // oggmux names its request pads itself
			}
			fmt.Fprintf(&b, "%s_aenc. ! queue ! %s_mux.%s ", n, n, pad)
		}
	}
	if s := cfg.Segments; s != nil {
		if cfg.Video == nil {
			return "", nil, fmt.Errorf("%s: HLS segments need video", n)
		}
		// The encoder makes a key frame every segment duration (or a
		// divisor of it); cutSegments starts a new file at the first one
		// on or after each boundary.
		fmt.Fprintf(&b, "mpegtsmux name=%s_hls_mux ! multifilesink name=%s_hls next-file=key-unit-event "+
			"post-messages=true sync=false async=false location=%s ",
			n, n, quoteLaunch(filepath.Join(s.Dir, s.Prefix+"_%05d.ts")))
		fmt.Fprintf(&b, "%s_venc. ! "+out+"! h264parse name=%s_hls_parse ! %s_hls_mux. ", n, n, n)
		if cfg.Audio != nil {
			fmt.Fprintf(&b, "%s_aenc. ! "+out+"! %s_hls_mux. ", n, n)
		}
	}
	return b.String(), kinds, nil
}

// quoteLaunch quotes a property value for gst_parse_launch.
func quoteLaunch(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func (b *Branch) onActive(p *gst.Pad) {
	p.AddProbe(gst.PadProbeTypeBuffer, func(*gst.Pad, *gst.PadProbeInfo) gst.PadProbeReturn {
		b.activeOnce.Do(func() {
			if b.events.Active != nil {
				b.events.Active(b.mediaZero)
			}
		})
		return gst.PadProbeRemove
	})
}

func (b *Branch) onFirstBuffer(p *gst.Pad) {
	p.AddProbe(gst.PadProbeTypeBuffer, func(*gst.Pad, *gst.PadProbeInfo) gst.PadProbeReturn {
		b.writeOnce.Do(func() {
			if b.events.FirstWrite != nil {
				b.events.FirstWrite()
			}
		})
		return gst.PadProbeRemove
	})
}

func (b *Branch) fail(err error) {
	b.failOnce.Do(func() {
		if b.events.Failed != nil {
			b.events.Failed(fmt.Errorf("%s: %w", b.cfg.Name, err))
		}
	})
}

// zeroTimestampsFrom puts the branch's time zero at its first video frame
// (its first audio buffer when it has no video) and drops audio that
// comes before it, so video and audio share one zero and the first frame,
// which the encoder makes a key frame, is not before it. (Zero at the
// first buffer of either kind put a video frame still in the queues
// behind a newer audio buffer before zero, where the muxer dropped it:
// the file could not be decoded until the next key frame.) The offset goes
// on the tee's src pad, which sends its sticky segment again with it
// before the next buffer; on the branch's sink pad it would apply only to
// a segment that came after it, and that segment came at link time. The
// raw tees carry live-source segments that start at 0, so a buffer's PTS
// is its running time.
func (b *Branch) zeroTimestampsFrom(in *input) {
	leads := in.kind == "video" || !b.tap.takes("video")
	// A blocking probe runs before the pad checks its sticky events, so
	// the segment goes again ahead of this very buffer. It must not return
	// OK, which would hold the pad.
	in.teePad.AddProbe(gst.PadProbeTypeBuffer|gst.PadProbeTypeBlock, func(_ *gst.Pad, info *gst.PadProbeInfo) gst.PadProbeReturn {
		buf := info.GetBuffer()
		if buf == nil || buf.PresentationTimestamp() == gst.ClockTimeNone {
			return gst.PadProbePass
		}
		pts := buf.PresentationTimestamp()
		if leads { // once: this probe goes with the leading buffer
			b.mediaZero = time.Now().Add(-b.cap.sinceCapture(pts))
			b.cap.rebase(b.tap.bin, pts)
			b.offset.Store(int64(pts))
		}
		zero := b.offset.Load()
		if zero < 0 {
			return gst.PadProbeDrop // no video frame yet
		}
		if end := int64(pts) + int64(buf.Duration()); buf.Duration() != gst.ClockTimeNone && end <= zero {
			return gst.PadProbeDrop // wholly before zero
		}
		in.teePad.SetOffset(-zero)
		return gst.PadProbeRemove
	})
}

// Attach adds the branch to the capture and links it to the raw tees. The
// branch's timestamps start at zero (see zeroTimestampsFrom).
func (c *Capture) Attach(b *Branch) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New("capture is closed")
	}
	if _, dup := c.branches[b.cfg.Name]; dup {
		return fmt.Errorf("branch %s is already attached", b.cfg.Name)
	}
	tees := map[string]*gst.Element{}
	if c.videoTee != nil {
		tees["video"] = c.videoTee
	}
	if c.audioTee != nil {
		tees["audio"] = c.audioTee
	}
	b.cap = c
	b.tap.isolated = true
	c.setOwners(b.tap.elementNames(), b)
	if err := b.tap.attach(c.pipeline.Bin, tees, b.zeroTimestampsFrom, nil); err != nil {
		c.forgetLocked(b)
		return err
	}
	c.branches[b.cfg.Name] = b
	for _, url := range b.cfg.Streams {
		if err := b.addStreamLocked(url); err != nil {
			c.detachLocked(b)
			return err
		}
	}
	return nil
}

// Detach stops the branch: EOS down its pads only, its files finalised,
// then removed. The capture and the other branches keep running.
func (c *Capture) Detach(b *Branch) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.branches[b.cfg.Name]; !ok {
		return fmt.Errorf("branch %s is not attached", b.cfg.Name)
	}
	return c.detachLocked(b)
}

func (c *Capture) detachLocked(b *Branch) error {
	err := b.tap.detach(true, eosTimeout)
	c.drainBus(2 * time.Second)
	c.forgetLocked(b)
	return err
}

func (c *Capture) forgetLocked(b *Branch) {
	delete(c.branches, b.cfg.Name)
	c.ownersMu.Lock()
	defer c.ownersMu.Unlock()
	for name, o := range c.owners {
		if o == b {
			delete(c.owners, name)
		} else if so, ok := o.(*streamOwner); ok && so.b == b {
			delete(c.owners, name)
		}
	}
}
