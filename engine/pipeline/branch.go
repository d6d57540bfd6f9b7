package pipeline

/*
A branch is one egress on the capture: its encoders (one video, one audio)
feed encoded tees, and each of its outputs hangs off those tees.

	vsink ─► queue(leaky 3 s) ! x264enc ! h264parse ─► tee <name>_venc ─► file: queue ! mp4mux.video_0
	asink ─► queue(leaky 3 s) ! audioconvert ! audioresample ! aac|opus ─► tee <name>_aenc ─► file: queue ! mp4mux.audio_0
	mp4mux|oggmux ! filesink

Attach: add the bin, sync its state with the pipeline, then link the raw
tees' request pads to its ghost pads (linking first raced: the tee pushed
into a flushing pad and the live source stopped). Detach: block the tee
pads, unlink, send EOS into the ghost pads, wait for EOS at every sink, then
NULL and remove.
*/

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-gst/go-gst/gst"
)

// eosTimeout bounds the wait for EOS to reach the sinks of a detached
// branch; it came 7-143 ms after it was sent on a 2-core box (RECIPES).
const eosTimeout = 10 * time.Second

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

// BranchConfig describes one egress's encoders and outputs.
type BranchConfig struct {
	Name  string         // unique on the capture (the egress ID)
	Video *VideoEncoding // nil: no video
	Audio *AudioEncoding // nil: no audio
	File  *FileOutput
}

// BranchEvents are the moments the egress reports.
type BranchEvents struct {
	// Active: the first frame (or audio buffer) reached an encoder.
	Active func()
	// FirstWrite: the first buffer reached the file sink.
	FirstWrite func()
	// Failed: an element of this branch posted an error.
	Failed func(error)
}

// Branch is one egress's part of the pipeline.
type Branch struct {
	cfg    BranchConfig
	bin    *gst.Bin
	events BranchEvents
	inputs []*input // video and/or audio
	sinks  []*gst.Element

	activeOnce sync.Once
	offsetOnce sync.Once
	offset     int64 // ns subtracted from the inputs' running time
	failOnce   sync.Once
	detaching  sync.Once
	eos        chan struct{} // closed when every sink saw EOS
	eosCount   int
	eosMu      sync.Mutex
}

// input is one ghost sink pad of the branch and the raw tee pad feeding it.
type input struct {
	ghost   *gst.GhostPad
	tee     *gst.Element
	teePad  *gst.Pad
	blocked chan struct{}
}

// NewBranch builds the branch's bin, unlinked.
func NewBranch(cfg BranchConfig, events BranchEvents) (*Branch, error) {
	initGStreamer()
	if cfg.Video == nil && cfg.Audio == nil {
		return nil, errors.New("branch: neither video nor audio")
	}
	if cfg.File == nil {
		return nil, errors.New("branch: no output")
	}
	desc, err := branchDescription(cfg)
	if err != nil {
		return nil, err
	}
	bin, err := gst.NewBinFromString(desc, false)
	if err != nil {
		return nil, fmt.Errorf("branch %s: %w (pipeline: %s)", cfg.Name, err, desc)
	}
	bin.SetProperty("name", cfg.Name)
	b := &Branch{cfg: cfg, bin: bin, events: events, eos: make(chan struct{})}

	sink, err := bin.GetElementByName(cfg.Name + "_filesink")
	if err != nil {
		return nil, fmt.Errorf("branch %s: %w", cfg.Name, err)
	}
	if err := sink.SetProperty("location", cfg.File.Path); err != nil {
		return nil, fmt.Errorf("branch %s: filesink location: %w", cfg.Name, err)
	}
	b.sinks = append(b.sinks, sink)

	for _, kind := range []string{"video", "audio"} {
		if (kind == "video" && cfg.Video == nil) || (kind == "audio" && cfg.Audio == nil) {
			continue
		}
		q, err := bin.GetElementByName(cfg.Name + "_" + kind + "_in")
		if err != nil {
			return nil, fmt.Errorf("branch %s: %w", cfg.Name, err)
		}
		ghost := gst.NewGhostPad(kind+"_sink", q.GetStaticPad("sink"))
		if ghost == nil || !bin.AddPad(ghost.Pad) {
			return nil, fmt.Errorf("branch %s: cannot add the %s ghost pad", cfg.Name, kind)
		}
		b.inputs = append(b.inputs, &input{ghost: ghost, blocked: make(chan struct{})})
	}
	b.watchFirstBuffers()
	b.watchEOS()
	return b, nil
}

func branchDescription(cfg BranchConfig) (string, error) {
	n := cfg.Name
	var b strings.Builder
	mux := ""
	switch cfg.File.Container {
	case MP4:
		if cfg.Video == nil {
			return "", fmt.Errorf("branch %s: an MP4 file needs video; use OGG for audio only", n)
		}
		if cfg.Audio != nil && cfg.Audio.Opus {
			return "", fmt.Errorf("branch %s: MP4 carries AAC audio here, not Opus", n)
		}
		// Fragments every second keep the file playable up to the last
		// fragment if the process dies; at EOS the muxer rewrites it as
		// a standard MP4 (first-moov-then-finalise).
		mux = fmt.Sprintf("mp4mux name=%s_mux fragment-duration=1000 fragment-mode=first-moov-then-finalise", n)
	case OGG:
		if cfg.Video != nil {
			return "", fmt.Errorf("branch %s: OGG carries audio only; use MP4 for video", n)
		}
		mux = fmt.Sprintf("oggmux name=%s_mux", n)
	}
	inQueue := "queue name=%s_%s_in leaky=downstream max-size-time=3000000000 max-size-buffers=0 max-size-bytes=0"
	if v := cfg.Video; v != nil {
		gop := int(v.KeyFrameInterval * float64(v.FPS))
		if gop < 1 {
			gop = v.FPS * 4
		}
		profile := v.Profile
		if profile == "" {
			profile = "main"
		}
		// zerolatency: no look-ahead or B-frames, so a branch attached to
		// a running capture writes its first frame in about 50 ms, not
		// 600 (RECIPES).
		fmt.Fprintf(&b, inQueue+" ! x264enc name=%s_x264 bitrate=%d speed-preset=veryfast tune=zerolatency key-int-max=%d "+
			"! video/x-h264,profile=%s ! h264parse config-interval=-1 ! tee name=%s_venc allow-not-linked=true ",
			n, "video", n, v.BitrateKbps, gop, profile, n)
	}
	if a := cfg.Audio; a != nil {
		enc := fmt.Sprintf("avenc_aac bitrate=%d ! aacparse", a.BitrateKbps*1000)
		if a.Opus {
			enc = fmt.Sprintf("opusenc bitrate=%d ! opusparse", a.BitrateKbps*1000)
		}
		fmt.Fprintf(&b, inQueue+" ! audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=2 ! %s "+
			"! tee name=%s_aenc allow-not-linked=true ", n, "audio", enc, n)
	}
	fmt.Fprintf(&b, "%s ! filesink name=%s_filesink sync=false async=false ", mux, n)
	if cfg.Video != nil {
		fmt.Fprintf(&b, "%s_venc. ! queue ! %s_mux.video_0 ", n, n)
	}
	if cfg.Audio != nil {
		pad := "audio_0"
		if cfg.File.Container == OGG {
			pad = "" // oggmux names its request pads itself
		}
		fmt.Fprintf(&b, "%s_aenc. ! queue ! %s_mux.%s ", n, n, pad)
	}
	return b.String(), nil
}

// watchFirstBuffers reports Active at the first buffer into an encoder and
// FirstWrite at the first buffer into the file sink; each probe removes
// itself once it has fired.
func (b *Branch) watchFirstBuffers() {
	for _, in := range b.inputs {
		in.ghost.AddProbe(gst.PadProbeTypeBuffer, func(*gst.Pad, *gst.PadProbeInfo) gst.PadProbeReturn {
			b.activeOnce.Do(func() {
				if b.events.Active != nil {
					b.events.Active()
				}
			})
			return gst.PadProbeRemove
		})
	}
	for _, s := range b.sinks {
		s.GetStaticPad("sink").AddProbe(gst.PadProbeTypeBuffer, func(*gst.Pad, *gst.PadProbeInfo) gst.PadProbeReturn {
			if b.events.FirstWrite != nil {
				b.events.FirstWrite()
			}
			return gst.PadProbeRemove
		})
	}
}

func (b *Branch) watchEOS() {
	for _, s := range b.sinks {
		s.GetStaticPad("sink").AddProbe(gst.PadProbeTypeEventDownstream, func(_ *gst.Pad, info *gst.PadProbeInfo) gst.PadProbeReturn {
			ev := info.GetEvent()
			if ev == nil || ev.Type() != gst.EventTypeEOS {
				return gst.PadProbeOK
			}
			b.eosMu.Lock()
			b.eosCount++
			if b.eosCount == len(b.sinks) {
				close(b.eos)
			}
			b.eosMu.Unlock()
			return gst.PadProbeRemove
		})
	}
}

func (b *Branch) fail(err error) {
	b.failOnce.Do(func() {
		if b.events.Failed != nil {
			b.events.Failed(fmt.Errorf("%s: %w", b.cfg.Name, err))
		}
	})
}

// zeroTimestampsFrom holds the tee pad's first buffer until the branch's
// pads are offset so that its timestamps start at zero. One offset, taken
// from the first buffer of any input, serves every input, so video and
// audio stay in sync. (An offset from the clock at attach time would put
// buffers already in flight, the first key frame among them, before zero,
// where the muxer drops them.) The raw tees carry live-source segments
// that start at 0, so a buffer's PTS is its running time.
func (b *Branch) zeroTimestampsFrom(in *input) {
	in.teePad.AddProbe(gst.PadProbeTypeBuffer|gst.PadProbeTypeBlock, func(_ *gst.Pad, info *gst.PadProbeInfo) gst.PadProbeReturn {
		buf := info.GetBuffer()
		if buf == nil || buf.PresentationTimestamp() == gst.ClockTimeNone {
			return gst.PadProbePass
		}
		b.offsetOnce.Do(func() { b.offset = int64(buf.PresentationTimestamp()) })
		in.ghost.SetOffset(-b.offset)
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
	for _, in := range b.inputs {
		if strings.HasPrefix(in.ghost.GetName(), "video") {
			in.tee = c.videoTee
		} else {
			in.tee = c.audioTee
		}
		if in.tee == nil {
			return fmt.Errorf("branch %s wants %s, which this composite does not capture", b.cfg.Name, in.ghost.GetName())
		}
	}
	if err := c.pipeline.Add(b.bin.Element); err != nil {
		return fmt.Errorf("branch %s: add to pipeline: %w", b.cfg.Name, err)
	}
	if elems, err := b.bin.GetElementsRecursive(); err == nil {
		for _, e := range elems {
			c.owners[e.GetName()] = b
		}
	}
	c.owners[b.cfg.Name] = b
	if !b.bin.SyncStateWithParent() {
		c.removeLocked(b)
		return fmt.Errorf("branch %s: could not start (state sync failed)", b.cfg.Name)
	}
	for _, in := range b.inputs {
		in.teePad = in.tee.GetRequestPad("src_%u")
		b.zeroTimestampsFrom(in)
		if ret := in.teePad.Link(in.ghost.Pad); ret != gst.PadLinkOK {
			c.removeLocked(b)
			return fmt.Errorf("branch %s: link %s: %s", b.cfg.Name, in.ghost.GetName(), ret)
		}
	}
	c.branches[b.cfg.Name] = b
	return nil
}

// Detach stops the branch: EOS down its pads only, its files finalised,
// then removed. The capture and the other branches keep running.
func (c *Capture) Detach(b *Branch) error { return c.detach(b) }

func (c *Capture) detach(b *Branch) error {
	var err error
	b.detaching.Do(func() {
		c.mu.Lock()
		if _, ok := c.branches[b.cfg.Name]; !ok {
			c.mu.Unlock()
			err = fmt.Errorf("branch %s is not attached", b.cfg.Name)
			return
		}
		c.mu.Unlock()

		// Block each tee pad (an idle probe fires at once when no buffer
		// is in flight) so that nothing is pushed into a pad being
		// unlinked, then unlink and send EOS into the branch.
		for _, in := range b.inputs {
			id := in.teePad.AddProbe(gst.PadProbeTypeBlockDownstream|gst.PadProbeTypeIdle, func(*gst.Pad, *gst.PadProbeInfo) gst.PadProbeReturn {
				select {
				case <-in.blocked:
				default:
					close(in.blocked)
				}
				return gst.PadProbeOK
			})
			select {
			case <-in.blocked:
			case <-time.After(2 * time.Second):
				// A stalled source never pushes; the pad is idle anyway.
			}
			in.teePad.Unlink(in.ghost.Pad)
			in.teePad.RemoveProbe(id)
			in.tee.ReleaseRequestPad(in.teePad)
			in.ghost.SendEvent(gst.NewEOSEvent())
		}
		select {
		case <-b.eos:
		case <-time.After(eosTimeout):
			err = fmt.Errorf("branch %s: EOS did not reach its sinks within %s; the file may lack its index", b.cfg.Name, eosTimeout)
		}
		c.mu.Lock()
		c.removeLocked(b)
		c.mu.Unlock()
	})
	return err
}

func (c *Capture) removeLocked(b *Branch) {
	_ = setStateWait(b.bin.Element, gst.StateNull)
	_ = c.pipeline.Remove(b.bin.Element)
	delete(c.branches, b.cfg.Name)
	for name, owner := range c.owners {
		if owner == b {
			delete(c.owners, name)
		}
	}
}
