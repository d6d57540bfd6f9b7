// Package pipeline runs a composite's GStreamer pipeline: screen and audio
// capture into raw tees, a preview tap, encoders shared by every output
// that asks for the same settings, and the outputs' branches, attached and
// detached while the capture runs.
package pipeline

/*
Capture pipeline (one per composite):

	ximagesrc ! rgbtoi420 ! I420 WxH@fps ! queue ! tee rawvideo ────┬─► preview: valve ! queue(leaky) ! videorate ! i420scale ! RGBA ! appsink
	                                                                 ├─► encoders (encoder.go), each ─► tee ─► output branches (attach.go)
	                                                                 └─► raw-video branches (images)
	pulsesrc(<sink>.monitor) ! F32 48k stereo ! audioconvert ! S16 ───────────┬─► audiomixer ! queue ! tee rawaudio ─┬─► encoders ─► tee ─► branches
	audiotestsrc(live silence) ─────────────────────────────────────────────┘                                 └─► meter (composites): queue(leaky) ! level ! fakesink

Lock order: Capture.mu, then Capture.ownersMu. GStreamer callbacks (pad
probes) never take Capture.mu; they signal channels.
*/

import (
	"errors"
	"fmt"
	"image"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-gst/go-gst/gst"
	"github.com/go-gst/go-gst/gst/app"

	"roomcast/engine/yuv"
)

var (
	initOnce sync.Once
	// elementsErr is why our own elements (package yuv) are not
	// registered; a capture fails with it.
	elementsErr error
)

// InitGStreamer initialises GStreamer once for the process, with the
// elements of our own; every package that builds pipelines calls it
// first.
func InitGStreamer() {
	initOnce.Do(func() {
		gst.Init(nil)
		elementsErr = yuv.Register()
	})
}

// stateTimeout bounds every state change; a live pipeline reaches PLAYING
// in tens of milliseconds, so seconds only trip on a wedged element.
const stateTimeout = 5 * time.Second

// CaptureConfig describes what a composite captures.
type CaptureConfig struct {
	// Display is the X screen to capture (":N"); empty for audio only.
	Display            string
	Width, Height, FPS int
	// PulseServer is the PulseAudio server address; empty for the default.
	PulseServer string
	// PulseDevice is the source to record ("<sink>.monitor"); empty for
	// video only.
	PulseDevice string
	// Tracks, when set, takes the picture and sound from RTP packets
	// (PushRTP) in place of Display and PulseDevice (see tracks.go).
	Tracks *TrackFeed
	// Preview, when set, receives small RGBA frames of the composite.
	Preview *PreviewConfig
	Logf    func(string, ...any)
}

// PreviewConfig sizes the preview tap. Frames are handed to OnFrame on the
// preview goroutine, only while the preview is shown (ShowPreview); OnFrame
// must not block for long (drop, don't queue).
type PreviewConfig struct {
	Width   int // height follows the capture's aspect ratio
	FPS     int
	OnFrame func(*image.RGBA)
}

// Capture is a running composite pipeline.
type Capture struct {
	cfg      CaptureConfig
	pipeline *gst.Pipeline
	videoTee *gst.Element
	audioTee *gst.Element
	// videoRTP and audioRTP take a capture's tracks' packets (Tracks).
	videoRTP, audioRTP *app.Source
	// previewGate lets the preview's frames through while it is shown.
	previewGate *gst.Element

	mu          sync.Mutex
	attachments map[string]*Attachment // by branch name
	encoders    map[any]*encoder       // by VideoEncoding or AudioEncoding
	nextEncoder int
	closed      bool

	// ownersMu is separate from mu so the bus goroutine can route
	// messages while a detach (holding mu) waits for them.
	ownersMu sync.Mutex
	owners   map[string]owner // element name -> what it belongs to

	meter meter // the sound's level, when there is sound

	barrierMu sync.Mutex
	barriers  []chan struct{}

	fatal    chan error // capture failures (buffered 1)
	done     chan struct{}
	busDone  chan struct{}
	prevDone chan struct{}
	// grabbed counts the frames grabbed (or decoded); nil without video.
	grabbed *mark
	// encoderDrops counts the raw frames the video encoders had no time
	// for (see EncoderDroppedFrames). Allocated on its own: the signal
	// handler that counts holds it, and must not hold the capture.
	encoderDrops *atomic.Uint64

	flowsMu sync.Mutex
	flows   []*flowWatch // tees watched for stalls (flow.go)
}

// startAttempts: a clean CI run once saw a capture stop at PAUSED on its
// way to PLAYING, with a browser playing into a healthy sink; 1,200
// starts under load did not repeat it. Nothing is recorded yet when a
// start fails, so a second try costs a producer nothing but a log line.
const startAttempts = 2

// NewCapture builds the capture pipeline and sets it PLAYING.
func NewCapture(cfg CaptureConfig) (*Capture, error) {
	InitGStreamer()
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if t := cfg.Tracks; t != nil {
		if cfg.Display != "" || cfg.PulseDevice != "" {
			return nil, errors.New("capture: tracks and a screen or sound device at once")
		}
		if t.Video == nil && t.Audio == nil {
			return nil, errors.New("capture: nothing to capture (no track)")
		}
		if err := errors.Join(t.Video.check("video"), t.Audio.check("audio")); err != nil {
			return nil, err
		}
	} else if cfg.Display == "" && cfg.PulseDevice == "" {
		return nil, errors.New("capture: nothing to capture (no display and no audio device)")
	}
	if elementsErr != nil {
		return nil, fmt.Errorf("capture: %w", elementsErr)
	}
	for attempt := 1; ; attempt++ {
		c, err := startCapture(cfg)
		if err == nil || attempt == startAttempts {
			return c, err
		}
		cfg.Logf("%v; starting the capture again", err)
	}
}

func startCapture(cfg CaptureConfig) (*Capture, error) {
	desc := captureDescription(cfg)
	p, err := gst.NewPipelineFromString(desc)
	if err != nil {
		return nil, fmt.Errorf("capture pipeline %q: %w", desc, err)
	}
	c := &Capture{
		cfg:          cfg,
		pipeline:     p,
		attachments:  map[string]*Attachment{},
		encoders:     map[any]*encoder{},
		owners:       map[string]owner{},
		encoderDrops: new(atomic.Uint64),
		fatal:        make(chan error, 1),
		done:         make(chan struct{}),
		busDone:      make(chan struct{}),
		prevDone:     make(chan struct{}),
	}
	if cfg.hasVideo() {
		if c.videoTee, err = p.GetElementByName("rawvideo"); err != nil {
			return nil, fmt.Errorf("capture: %w", err)
		}
		grab, err := p.GetElementByName("grab")
		if err != nil {
			return nil, fmt.Errorf("capture: %w", err)
		}
		// Count grabbed (or decoded) frames: the delivered-frames figure
		// of the bench.
		c.grabbed = markPad(grab.GetStaticPad("src"))
	}
	if cfg.hasAudio() {
		if c.audioTee, err = p.GetElementByName("rawaudio"); err != nil {
			return nil, fmt.Errorf("capture: %w", err)
		}
	}
	if cfg.Tracks != nil {
		if err := c.trackSources(); err != nil {
			return nil, err
		}
	}
	if c.videoTee != nil {
		c.watchFlow(c.videoTee, "picture")
	}
	if c.audioTee != nil {
		w := c.watchFlow(c.audioTee, "sound")
		feeders := []struct{ name, what string }{{"monitor", "the sink's monitor"}, {"silence", "the live silence"}}
		if cfg.Tracks != nil {
			feeders[0] = struct{ name, what string }{"voice", "the audio track"}
		}
		for _, src := range feeders {
			el, err := p.GetElementByName(src.name)
			if err != nil {
				return nil, fmt.Errorf("capture: %w", err)
			}
			w.feeders = append(w.feeders, watchFeeder(el, src.what))
		}
		if w.mixer, err = p.GetElementByName("sound"); err != nil {
			return nil, fmt.Errorf("capture: %w", err)
		}
	}
	go c.watchBus()
	if cfg.Preview != nil && cfg.hasVideo() {
		sinkEl, err := p.GetElementByName("preview")
		if err != nil {
			return nil, fmt.Errorf("capture: %w", err)
		}
		if c.previewGate, err = p.GetElementByName(previewGate); err != nil {
			return nil, fmt.Errorf("capture: %w", err)
		}
		go c.pumpPreview(app.SinkFromElement(sinkEl), cfg.Preview)
	} else {
		close(c.prevDone)
	}
	if err := setStateWait(p.Element, gst.StatePlaying); err != nil {
		err = c.withPostedError(err)
		c.Close()
		return nil, fmt.Errorf("capture: start: %w", err)
	}
	go c.watchStalls()
	return c, nil
}

// withPostedError adds to a failed state change the error the failing
// element posted, which says what broke ("at PAUSED" alone does not).
func (c *Capture) withPostedError(err error) error {
	c.drainBus(time.Second)
	select {
	case posted := <-c.fatal:
		return fmt.Errorf("%w: %w", err, posted)
	default:
		return err
	}
}

// rawAudioCaps is the capture's sound, as every audio encoder takes it.
const rawAudioCaps = "audio/x-raw,format=S16LE,rate=48000,channels=2,layout=interleaved"

// monitorCaps is what a composite's sink gives: its own format (48 kHz
// float stereo, as engine/audio makes every sink), so that PulseAudio hands
// the samples over as they are. Left to negotiate, pulsesrc fixates at
// 44.1 kHz: PulseAudio resampled every sink's sound to 44.1 kHz and the
// capture resampled it back to 48 kHz.
const monitorCaps = "audio/x-raw,format=F32LE,rate=48000,channels=2"

// soundBuffer is how much sound each buffer of the capture's sound path
// holds: the monitor's reads (pulsesrc's latency-time, which PulseAudio
// takes as the monitor's latency), the live silence and the mixer's
// output. An Opus frame is 20 ms. At pulsesrc's default of 10 ms, the
// sound's threads (PulseAudio's, libpulse's, the source's, the mixer's,
// the encoder's) woke twice as often: 20 ms cut a 720p30 composite's
// engine by 0.017-0.078 core and PulseAudio by 0.011-0.019 (alternating
// recordings of the demo room, 25 s each), with no sound dropped under CPU
// bursts and lip sync within its usual spread.
const soundBuffer = 20 * time.Millisecond

// mixLatency is how late the monitor's sound may come to the mixer.
const mixLatency = 200 * time.Millisecond

// The monitor's sound keeps to the pipeline's clock, not to its own count
// of samples. A null sink's monitor gives more samples than real time:
// 69-162 ppm more here, measured as the slope of buffer times against
// arrival times over 45-100 s. pulsesrc's default (slave-method skew) times
// each buffer by that count and only ever corrects a source that falls
// behind, so the sound drifted later than the picture, by 250-580 ms an
// hour. Re-timestamped, each buffer carries the time it was read on the
// pipeline's clock (a slope of 1 ppm), and the mixer, which reads its
// inputs' samples back to back, moves the monitor's back to their time
// whenever they are mixAlignment apart: sound and picture stay within it,
// at the cost of that much sound dropped once every few minutes.
const (
	monitorSlaving = "re-timestamp"
	mixAlignment   = 20 * time.Millisecond
)

func (cfg CaptureConfig) hasVideo() bool {
	return cfg.Display != "" || (cfg.Tracks != nil && cfg.Tracks.Video != nil)
}

func (cfg CaptureConfig) hasAudio() bool {
	return cfg.PulseDevice != "" || (cfg.Tracks != nil && cfg.Tracks.Audio != nil)
}

func captureDescription(cfg CaptureConfig) string {
	var b strings.Builder
	if cfg.hasVideo() {
		if cfg.Tracks != nil {
			b.WriteString(trackVideoDescription(cfg))
		} else {
			b.WriteString(screenDescription(cfg))
		}
		if pv := cfg.Preview; pv != nil {
			w, h := previewSize(cfg.Width, cfg.Height, pv.Width)
			fmt.Fprintf(&b, "rawvideo. ! valve name=%s drop=true ! queue leaky=downstream max-size-time=3000000000 max-size-buffers=0 max-size-bytes=0 "+
				"! videorate drop-only=true ! video/x-raw,framerate=%d/1 ! "+yuv.Scale+" ! video/x-raw,width=%d,height=%d "+
				"! videoconvert ! video/x-raw,format=RGBA "+
				"! appsink name=preview sync=false async=false max-buffers=2 drop=true emit-signals=false ",
				previewGate, pv.FPS, w, h)
		}
	}
	if cfg.hasAudio() {
		// The sink's monitor gives nothing while nothing plays into it (a
		// page not yet playing, a browser relaunching, an empty room), and
		// a new sink's first sound came up to 1.2 s after the capture
		// started. Mixed with live silence, the raw audio never stops:
		// every output's sound covers its picture from the first frame, and
		// a gap is silence in its place, not a shift of all that follows.
		// The mixer's latency lets the monitor's buffers come that late
		// (under load) before they count as late and are dropped.
		//
		// The mixer starts its timeline at its first input's time, not at
		// zero: from zero, it mixes silence for every latency it waits out
		// with no input, and from the pipeline's latency query until its
		// own turn to play (a state change going through the elements
		// after it) it waits against a base time of 0, so each wait ends
		// at once. A state change held 300 ms there made 5 min of silence
		// in 300 ms; the sound that came after was dropped as late until
		// the running time caught up. CI's composites, starting on a busy
		// machine, had their sound stop that way for 1.3-9.4 s.
		//
		// A capture fed by tracks has no meter: only a composite's sound
		// is metered (the studio's program meter).
		if cfg.Tracks != nil {
			b.WriteString(trackAudioDescription(cfg))
		} else {
			b.WriteString(monitorDescription(cfg))
		}
		fmt.Fprintf(&b, "audiotestsrc name=silence wave=silence is-live=true samplesperbuffer=%d ! %s ! sound. "+
			"audiomixer name=sound start-time-selection=first latency=%d alignment-threshold=%d output-buffer-duration=%d ! %s "+
			"! queue max-size-buffers=0 max-size-bytes=0 max-size-time=1000000000 leaky=downstream "+
			"! tee name=rawaudio allow-not-linked=true ",
			int(soundBuffer.Seconds()*48000), rawAudioCaps, mixLatency.Nanoseconds(), mixAlignment.Nanoseconds(), soundBuffer.Nanoseconds(), rawAudioCaps)
		if cfg.Tracks == nil {
			b.WriteString(meterDescription())
		}
	}
	return b.String()
}

// screenDescription grabs the virtual screen into the raw video tee.
// The screen's BGRx becomes I420 in yuv.RGBToI420 (BT.601, as the cameras
// in it were sent); videoconvert and videoscale after it pass its frames
// through unless the screen's size is not the capture's. videorate makes
// the output constant-rate: a frame the screen grab missed (CPU
// contention) is a repeated frame, not a gap in the timeline. Captured
// frames are counted before it.
func screenDescription(cfg CaptureConfig) string {
	return fmt.Sprintf("ximagesrc name=grab display-name=%s use-damage=false show-pointer=false "+
		"! video/x-raw,framerate=%d/1 ! "+yuv.RGBToI420+" ! videoconvert ! videoscale ! videorate skip-to-first=true "+
		"! %s "+
		"! queue max-size-buffers=0 max-size-bytes=0 max-size-time=1000000000 leaky=downstream "+
		"! tee name=rawvideo allow-not-linked=true ",
		cfg.Display, cfg.FPS, i420(cfg.Width, cfg.Height, cfg.FPS))
}

// monitorDescription records the sink's monitor into the mixer.
func monitorDescription(cfg CaptureConfig) string {
	server := ""
	if cfg.PulseServer != "" {
		server = "server=" + cfg.PulseServer
	}
	return fmt.Sprintf("pulsesrc name=monitor device=%s %s latency-time=%d provide-clock=false slave-method=%s ! %s "+
		"! audioconvert ! %s ! sound. ",
		cfg.PulseDevice, server, soundBuffer.Microseconds(), monitorSlaving, monitorCaps, rawAudioCaps)
}

// previewSize keeps the capture's aspect ratio at the given width, with an
// even height (I420 and most scalers want even sizes).
func previewSize(w, h, pw int) (int, int) {
	if pw <= 0 || pw > w {
		pw = w
	}
	ph := (h*pw/w + 1) &^ 1
	return pw &^ 1, ph
}

// owner is what an element belongs to: an output's branch, or an encoder.
// An error from the element fails only its owner (and, for an encoder,
// the outputs it feeds).
type owner interface {
	fail(error)
	message(element string, st *gst.Structure)
}

func (c *Capture) owner(element string) owner {
	c.ownersMu.Lock()
	defer c.ownersMu.Unlock()
	return c.owners[element]
}

func (c *Capture) setOwners(names []string, o owner) {
	c.ownersMu.Lock()
	defer c.ownersMu.Unlock()
	for _, n := range names {
		if o == nil {
			delete(c.owners, n)
		} else {
			c.owners[n] = o
		}
	}
}

// barrierName marks the message drainBus posts to itself.
const barrierName = "roomcast-bus-barrier"

// drainBus returns once the bus goroutine has handled every message posted
// before the call (or after timeout): a detached branch's last messages,
// such as its final segment, still reach it. Must not be called from the
// bus goroutine.
func (c *Capture) drainBus(timeout time.Duration) {
	ch := make(chan struct{})
	c.barrierMu.Lock()
	c.barriers = append(c.barriers, ch)
	c.barrierMu.Unlock()
	c.pipeline.GetPipelineBus().Post(gst.NewApplicationMessage(c.pipeline, gst.NewStructure(barrierName)))
	select {
	case <-ch:
	case <-c.done:
	case <-time.After(timeout):
	}
}

// ElementError is an error an element posted.
type ElementError struct {
	Element string // its name: an output's elements carry its branch's
	Message string // what went wrong, for people
	Debug   string // GStreamer's detail (source file, element path)
}

func (e *ElementError) Error() string { return e.Element + ": " + e.Message }

// Failed delivers a fatal capture error (the screen or audio source broke).
func (c *Capture) Failed() <-chan error { return c.fatal }

// RawFrames counts the frames grabbed from the screen so far (before any
// is repeated to keep the rate constant).
func (c *Capture) RawFrames() uint64 {
	if c.grabbed == nil {
		return 0
	}
	return uint64(c.grabbed.count())
}

// EncoderDroppedFrames counts the raw frames a video encoder had no time
// for: each one its input queue, full with a second of frames, let go to
// take a new one, so that the capture goes on while the encoder lags (a
// machine short of CPU: 1080p30 beside a browser on two cores). They are
// frames missing from every output it feeds, after the grab: the
// producer's "encoder overloaded".
func (c *Capture) EncoderDroppedFrames() uint64 { return c.encoderDrops.Load() }

// AudioLevel is the sound's newest meter reading (see meter.go); zero
// before the first, or for a capture without sound.
func (c *Capture) AudioLevel() AudioLevel { return c.meter.get() }

// RunningTime is the pipeline's running time now; 0 before it runs.
func (c *Capture) RunningTime() time.Duration {
	clock := c.pipeline.GetClock()
	if clock == nil {
		return 0
	}
	now, base := clock.GetTime(), c.pipeline.GetBaseTime()
	if now < base {
		return 0
	}
	return time.Duration(now - base)
}

func (c *Capture) watchBus() {
	defer close(c.busDone)
	bus := c.pipeline.GetPipelineBus()
	for {
		select {
		case <-c.done:
			return
		default:
		}
		msg := bus.TimedPop(gst.ClockTime(100 * time.Millisecond))
		if msg == nil {
			continue
		}
		c.handle(msg)
		// A structure read from a message is the message's, and go-gst's
		// wrapper of it does not hold the message: without this, the
		// collector may finalise (unref) msg while handle still reads its
		// structure, a meter's reading then serialised from freed memory
		// (a GStreamer-CRITICAL from gst_value_serialize, or a crash).
		runtime.KeepAlive(msg)
	}
}

// handle routes one message of the capture's bus.
func (c *Capture) handle(msg *gst.Message) {
	switch msg.Type() {
	case gst.MessageApplication:
		if st := msg.GetStructure(); st != nil && st.Name() == barrierName {
			c.barrierMu.Lock()
			for _, ch := range c.barriers {
				close(ch)
			}
			c.barriers = nil
			c.barrierMu.Unlock()
		}
	case gst.MessageElement:
		if msg.Source() == meterName {
			if st := msg.GetStructure(); st != nil {
				c.meter.read(st, time.Now())
			}
			return
		}
		if o, st := c.owner(msg.Source()), msg.GetStructure(); o != nil && st != nil {
			o.message(msg.Source(), st)
		}
	case gst.MessageError:
		gerr := msg.ParseError()
		err := &ElementError{Element: msg.Source(), Message: gerr.Error(), Debug: gerr.DebugString()}
		if owner := c.owner(msg.Source()); owner != nil {
			owner.fail(err)
			return
		}
		c.cfg.Logf("capture failed: %v", err)
		select {
		case c.fatal <- err:
		default:
		}
	case gst.MessageWarning:
		c.cfg.Logf("gstreamer warning from %s: %s", msg.Source(), msg.ParseWarning().Error())
	}
}

func (c *Capture) pumpPreview(sink *app.Sink, pv *PreviewConfig) {
	defer close(c.prevDone)
	w, h := previewSize(c.cfg.Width, c.cfg.Height, pv.Width)
	for {
		select {
		case <-c.done:
			return
		default:
		}
		sample := sink.TryPullSample(gst.ClockTime(200 * time.Millisecond))
		if sample == nil {
			continue
		}
		buf := sample.GetBuffer()
		if buf == nil {
			continue
		}
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		if m := buf.Map(gst.MapRead); m != nil {
			copy(img.Pix, m.Bytes())
			buf.Unmap()
		}
		pv.OnFrame(img)
	}
}

// previewGate is the valve at the head of the preview's branch; the
// preview's appsink does not wait for a buffer to reach PLAYING (async
// false), or a capture whose preview is not shown would take the whole
// state timeout to start (5.7 s in place of 1.3 for a cold start). Closed,
// it spares the scaling, the conversion to RGBA and the Go image (and its
// garbage) of each preview frame while nobody looks, as in an API or
// record composite: the engine of a 720p30 recording with a 10 fps
// preview took 0.035-0.048 core less (alternating recordings of the demo
// room, 25 s each).
const previewGate = "preview-gate"

// ShowPreview starts (true) or stops handing preview frames to
// PreviewConfig.OnFrame; a capture starts with its preview not shown. It
// does nothing on a capture without a preview.
func (c *Capture) ShowPreview(show bool) {
	if c.previewGate != nil {
		c.previewGate.SetProperty("drop", !show)
	}
}

// Close stops every branch (finalising its files), then the capture.
// Safe to call more than once.
func (c *Capture) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	attached := make([]*Attachment, 0, len(c.attachments))
	for _, a := range c.attachments {
		attached = append(attached, a)
	}
	c.mu.Unlock()
	var errs []error
	for _, a := range attached {
		errs = append(errs, a.Detach(true))
	}
	close(c.done)
	<-c.busDone
	<-c.prevDone
	if err := setStateWait(c.pipeline.Element, gst.StateNull); err != nil {
		errs = append(errs, fmt.Errorf("capture: stop: %w", err))
	}
	return errors.Join(errs...)
}

// Elements counts the elements of a factory ("x264enc") running in the
// capture now: one encoder per encoding, whatever the outputs.
func (c *Capture) Elements(factory string) int {
	elems, err := c.pipeline.GetElementsRecursive()
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range elems {
		if f := e.GetFactory(); f != nil && f.GetName() == factory {
			n++
		}
	}
	return n
}

// setStateWait changes state and waits for it, within stateTimeout.
func setStateWait(e *gst.Element, s gst.State) error {
	if err := e.SetState(s); err != nil {
		return fmt.Errorf("set %s to %s: %w", e.GetName(), s, err)
	}
	ret, cur := e.GetState(s, gst.ClockTime(stateTimeout))
	if ret == gst.StateChangeFailure {
		return fmt.Errorf("%s did not reach %s (at %s)", e.GetName(), s, cur)
	}
	return nil
}

// sinceCapture is how long ago the buffer of running time pts was
// captured: the live sources stamp buffers with the pipeline clock's
// running time when they take them.
func (c *Capture) sinceCapture(pts gst.ClockTime) time.Duration {
	now := c.RunningTime()
	if now < time.Duration(pts) {
		return 0
	}
	return now - time.Duration(pts)
}

// rebase moves a branch bin's clock base time to the capture's running
// time zero, so that its running time 0 (the branch's first frame, after
// the pad offset) is that frame's capture time on the clock. Without it
// the branch's buffers are as late as the capture is old, and a live
// muxer (an aggregator: mp4mux, flvmux, mpegtsmux) never waits for its
// other input and interleaves by arrival. The bin first, then what is in
// it: an element added later (a stream destination) takes the bin's.
func (c *Capture) rebase(bin *gst.Bin, zero gst.ClockTime) {
	base := c.pipeline.GetBaseTime() + zero
	bin.SetBaseTime(base)
	if elems, err := bin.GetElementsRecursive(); err == nil {
		for _, e := range elems {
			e.SetBaseTime(base)
		}
	}
}
