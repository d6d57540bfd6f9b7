package pipeline

/*
A tap is a bin whose ghost sink pads ("video_sink", "audio_sink") are fed
from request pads of tees in a parent bin, added and removed while the
parent runs. An egress branch is a tap on the capture's raw tees; each RTMP
destination is a tap on its branch's encoded tees.

Attach: add the bin, sync its state with the parent, then link the tee pads
(linking first raced: the tee pushed into a flushing pad and the live
source stopped). Detach: block each tee pad, unlink and release it, send
EOS into the ghost pads, wait for EOS at every sink of the tap, then NULL
and remove.
*/

import (
	"fmt"
	"sync"
	"time"

	"github.com/go-gst/go-gst/gst"
)

// tap is one bin attached to tees.
type tap struct {
	name   string
	bin    *gst.Bin
	inputs []*input
	parent *gst.Bin
	// isolated taps never pass their flow errors back to the tee (see
	// isolate); egress branches are, so no egress can stop the capture.
	isolated bool
	// beforeRemove, if set, runs after EOS reached the outputs and before
	// the bin goes down (to wait for an output that finishes later).
	beforeRemove func()

	sinkMu sync.Mutex
	sinks  map[string]chan struct{} // sink element name -> closed at EOS

	detachOnce sync.Once
}

// input is one ghost sink pad of a tap and the tee pad feeding it.
type input struct {
	kind      string // "video" or "audio"
	ghost     *gst.GhostPad
	tee       *gst.Element
	teePad    *gst.Pad
	isolateID uint64
	blocked   chan struct{}
}

// newTap parses desc into a bin named name. For each kind in kinds the
// bin must hold a queue "<name>_<kind>_in", which becomes the ghost pad
// "<kind>_sink".
func newTap(name, desc string, kinds []string) (*tap, error) {
	initGStreamer()
	bin, err := gst.NewBinFromString(desc, false)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (pipeline: %s)", name, err, desc)
	}
	if err := bin.SetProperty("name", name); err != nil {
		return nil, fmt.Errorf("%s: name the bin: %w", name, err)
	}
	t := &tap{name: name, bin: bin, sinks: map[string]chan struct{}{}}
	for _, kind := range kinds {
		q, err := bin.GetElementByName(name + "_" + kind + "_in")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		ghost := gst.NewGhostPad(kind+"_sink", q.GetStaticPad("sink"))
		if ghost == nil || !bin.AddPad(ghost.Pad) {
			return nil, fmt.Errorf("%s: cannot add the %s ghost pad", name, kind)
		}
		t.inputs = append(t.inputs, &input{kind: kind, ghost: ghost, blocked: make(chan struct{})})
	}
	return t, nil
}

// takes tells whether the tap has an input of kind.
func (t *tap) takes(kind string) bool {
	for _, in := range t.inputs {
		if in.kind == kind {
			return true
		}
	}
	return false
}

// watchSink registers a sink element whose EOS detach waits for, seen on
// its sink pad.
func (t *tap) watchSink(el *gst.Element) {
	eos := make(chan struct{})
	t.sinkMu.Lock()
	t.sinks[el.GetName()] = eos
	t.sinkMu.Unlock()
	var once sync.Once
	el.GetStaticPad("sink").AddProbe(gst.PadProbeTypeEventDownstream, func(_ *gst.Pad, info *gst.PadProbeInfo) gst.PadProbeReturn {
		if ev := info.GetEvent(); ev != nil && ev.Type() == gst.EventTypeEOS {
			once.Do(func() { close(eos) })
			return gst.PadProbeRemove
		}
		return gst.PadProbeOK
	})
}

// unwatchSink forgets a sink (it left the tap, e.g. a failed destination).
func (t *tap) unwatchSink(name string) {
	t.sinkMu.Lock()
	delete(t.sinks, name)
	t.sinkMu.Unlock()
}

// attach adds the tap to parent and links its inputs to the tees of their
// kind. before runs for each input after its tee pad is requested and
// before it is linked (to install probes); after runs once it is linked.
func (t *tap) attach(parent *gst.Bin, tees map[string]*gst.Element, before, after func(*input)) error {
	for _, in := range t.inputs {
		if in.tee = tees[in.kind]; in.tee == nil {
			return fmt.Errorf("%s wants %s, which is not there to tap", t.name, in.kind)
		}
	}
	if err := parent.Add(t.bin.Element); err != nil {
		return fmt.Errorf("%s: add: %w", t.name, err)
	}
	t.parent = parent
	if !t.bin.SyncStateWithParent() {
		t.remove()
		return fmt.Errorf("%s: could not start (state sync failed)", t.name)
	}
	for _, in := range t.inputs {
		in.teePad = in.tee.GetRequestPad("src_%u")
		if before != nil {
			before(in)
		}
		if ret := in.teePad.Link(in.ghost.Pad); ret != gst.PadLinkOK {
			t.unlink()
			t.remove()
			return fmt.Errorf("%s: link %s: %s", t.name, in.kind, ret)
		}
		if t.isolated {
			// Only once linked: the tee pushes into an unlinked pad too,
			// and its probes run before the push finds no peer, so an
			// earlier probe would chain a buffer ahead of the stream's
			// sticky events (caps, segment) and fail the encoder.
			in.isolateID = isolate(in)
		}
		if after != nil {
			after(in)
		}
	}
	return nil
}

// detach unlinks the tap. With finish, EOS is sent and detach waits (up to
// eosWait) for every watched sink to see it, so files are finalised;
// without, the tap is dropped as it is (a failed destination).
func (t *tap) detach(finish bool, eosWait time.Duration) error {
	var err error
	t.detachOnce.Do(func() {
		t.unlink()
		if finish {
			for _, in := range t.inputs {
				in.ghost.SendEvent(gst.NewEOSEvent())
			}
			t.sinkMu.Lock()
			waits := make([]chan struct{}, 0, len(t.sinks))
			for _, ch := range t.sinks {
				waits = append(waits, ch)
			}
			t.sinkMu.Unlock()
			deadline := time.After(eosWait)
			for _, ch := range waits {
				select {
				case <-ch:
				case <-deadline:
					err = fmt.Errorf("%s: EOS did not reach its outputs within %s; a file may lack its index", t.name, eosWait)
				}
				if err != nil {
					break
				}
			}
			if t.beforeRemove != nil {
				t.beforeRemove()
			}
		}
		t.remove()
	})
	return err
}

// unlink blocks each tee pad (an idle probe fires at once when no buffer
// is in flight) so nothing is pushed into a pad being unlinked, then
// unlinks and releases it.
func (t *tap) unlink() {
	for _, in := range t.inputs {
		if in.teePad == nil {
			continue
		}
		if t.isolated {
			// Back to plain pushes, which a blocking probe can hold.
			in.teePad.RemoveProbe(in.isolateID)
		}
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
		in.teePad = nil
	}
}

func (t *tap) remove() {
	_ = setStateWait(t.bin.Element, gst.StateNull)
	if t.parent != nil {
		_ = t.parent.Remove(t.bin.Element)
	}
}

// elementNames lists every element inside the tap (to route bus errors).
func (t *tap) elementNames() []string {
	names := []string{t.name}
	if elems, err := t.bin.GetElementsRecursive(); err == nil {
		for _, e := range elems {
			names = append(names, e.GetName())
		}
	}
	return names
}

// isolate keeps a tap's failures to itself. A tee returns the first fatal
// flow return of any branch to its upstream, so one failing output (an
// RTMP server gone, a full disk) would stop the encoder or the screen grab
// for everyone. This probe hands each buffer to the tap itself, ignores
// what the tap returns, and tells the tee the buffer was handled (OK); the
// tap reports its failure on the bus instead. Events keep the plain link.
func isolate(in *input) uint64 {
	return in.teePad.AddProbe(gst.PadProbeTypeBuffer, func(_ *gst.Pad, info *gst.PadProbeInfo) gst.PadProbeReturn {
		buf := info.GetBuffer()
		if buf == nil {
			return gst.PadProbeOK
		}
		in.ghost.Chain(buf) // takes a reference of its own
		buf.Unref()         // a handled buffer is the probe's to release
		// GST_PAD_PROBE_HANDLED (spelled Unhandled in go-gst v1.4.0); the
		// push then returns the probe's flow return, which is OK.
		return gst.PadProbeUnhandled
	})
}

// dropUntilKeyFrame and requestKeyFrame make a tap attached to a running
// encoder start at a key frame: delta frames are dropped until one comes,
// and the encoder is asked for one (a force-key-unit event upstream through
// the new tee pad) so that it comes in milliseconds, not a GOP later.
// Without them a late destination first gets frames it cannot decode.
func dropUntilKeyFrame(in *input) {
	if in.kind != "video" {
		return
	}
	in.ghost.AddProbe(gst.PadProbeTypeBuffer, func(_ *gst.Pad, info *gst.PadProbeInfo) gst.PadProbeReturn {
		buf := info.GetBuffer()
		if buf != nil && buf.HasFlags(gst.BufferFlagDeltaUnit) {
			return gst.PadProbeDrop
		}
		return gst.PadProbeRemove
	})
}

func requestKeyFrame(in *input) {
	if in.kind != "video" {
		return
	}
	s := gst.NewStructure("GstForceKeyUnit")
	_ = s.SetValue("all-headers", true)
	_ = s.SetValue("count", uint(0))
	in.teePad.SendEvent(gst.NewCustomEvent(gst.EventTypeCustomUpstream, s))
}
