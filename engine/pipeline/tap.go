package pipeline

/*
A tap is a bin fed from request pads of tees in the capture, added and
removed while the capture runs: an encoder on the raw tees, or an output
on an encoder's tee (or, for images, on the raw video tee). Each input of a
tap is a queue, "<name>-<kind>-in", whose sink pad is the bin's ghost pad
"<kind>_sink".

Attach: add the bin, sync its state with the parent, then link the tee
pads (linking first raced: the tee pushed into a flushing pad and the live
source stopped). Detach: block each tee pad, unlink and release it, send
EOS into the ghost pads, wait for EOS at every sink of the tap, then NULL
and remove. An output's tap first runs on to the stop's time, its inputs'
ends lined up (endAt).
*/

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-gst/go-gst/gst"
)

// Media kinds a tap takes.
const (
	videoKind = "video"
	audioKind = "audio"
)

// tap is one bin attached to tees.
type tap struct {
	name   string
	bin    *gst.Bin
	inputs []*input
	parent *gst.Bin
	// beforeRemove, if set, runs after EOS reached the sinks and before
	// the bin goes down (to wait for an output that finishes later).
	beforeRemove func()
	// out, if set, is an element beside the bin in its parent that the
	// bin's "src" ghost pad feeds (an encoder's tee); it comes and goes
	// with the bin.
	out *gst.Element

	sinkMu sync.Mutex
	sinks  map[string]chan struct{} // sink element name -> closed at EOS

	detachOnce sync.Once
}

// input is one ghost sink pad of a tap and the tee pad feeding it.
type input struct {
	kind      string // videoKind or audioKind
	queue     *gst.Element
	ghost     *gst.GhostPad
	tee       *gst.Element
	teePad    *gst.Pad
	isolateID uint64
	// iso hands the tee's buffers to the entrance (see isolation), and
	// keeps the last one's timestamps and when (zero before any), and
	// the running time from which it holds buffers back (see endAt).
	iso     *isolation
	blocked chan struct{}
	// capsIfNone, capsWhen: entry's; described is set once they were
	// sent.
	capsIfNone string
	capsWhen   AudioCaps
	described  atomic.Bool
}

// entry is where one kind of media enters a tap's elements.
type entry struct {
	kind string
	pad  *gst.Pad // a sink pad of one of the elements
	// capsIfNone, if set, are caps sent into an input that never got
	// any, at capsWhen (see AudioCaps).
	capsIfNone string
	capsWhen   AudioCaps
}

// newTap adds to bin one leaky input queue per entry, holding up to
// maxQueue of media: a tap that falls behind drops its own oldest data and
// never stalls the tee that feeds it, nor the other taps on it.
func newTap(bin *gst.Bin, entries []entry, maxQueue time.Duration) (*tap, error) {
	name := bin.GetName()
	t := &tap{name: name, bin: bin, sinks: map[string]chan struct{}{}}
	for _, e := range entries {
		q, err := Make("queue", name+"-"+e.kind+"-in", Props{
			"leaky": "downstream", "max-size-time": int64(maxQueue), "max-size-buffers": 0, "max-size-bytes": 0,
		})
		if err != nil {
			return nil, err
		}
		if err := t.bin.Add(q); err != nil {
			return nil, fmt.Errorf("%s: add %s: %w", name, q.GetName(), err)
		}
		if err := linkPads(q.GetStaticPad("src"), e.pad); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		ghost := gst.NewGhostPad(e.kind+"_sink", q.GetStaticPad("sink"))
		if ghost == nil || !t.bin.AddPad(ghost.Pad) {
			return nil, fmt.Errorf("%s: cannot add the %s ghost pad", name, e.kind)
		}
		keepSerializedQueries(ghost.Pad)
		in := &input{kind: e.kind, queue: q, ghost: ghost, iso: newIsolation(ghost.Pad), blocked: make(chan struct{}), capsIfNone: e.capsIfNone, capsWhen: e.capsWhen}
		t.inputs = append(t.inputs, in)
	}
	return t, nil
}

// feed makes the tap's last element feed out, an element that will sit
// beside the bin in its parent, through a "src" ghost pad.
func (t *tap) feed(last, out *gst.Element) error {
	ghost := gst.NewGhostPad("src", last.GetStaticPad("src"))
	if ghost == nil || !t.bin.AddPad(ghost.Pad) {
		return fmt.Errorf("%s: cannot add the src ghost pad", t.name)
	}
	t.out = out
	return nil
}

// input returns the tap's input of kind, or nil.
func (t *tap) input(kind string) *input {
	for _, in := range t.inputs {
		if in.kind == kind {
			return in
		}
	}
	return nil
}

// watchSink registers a sink element whose EOS detach waits for, seen on
// its sink pad.
func (t *tap) watchSink(el *gst.Element) error {
	pad := el.GetStaticPad("sink")
	if pad == nil {
		return fmt.Errorf("%s: %s has no sink pad to watch", t.name, el.GetName())
	}
	eos := make(chan struct{})
	t.sinkMu.Lock()
	t.sinks[el.GetName()] = eos
	t.sinkMu.Unlock()
	var once sync.Once
	pad.AddProbe(gst.PadProbeTypeEventDownstream, func(_ *gst.Pad, info *gst.PadProbeInfo) gst.PadProbeReturn {
		if ev := info.GetEvent(); ev != nil && ev.Type() == gst.EventTypeEOS {
			once.Do(func() { close(eos) })
			return gst.PadProbeRemove
		}
		return gst.PadProbeOK
	})
	return nil
}

// attach adds the tap to parent and links each input to its tee. after
// runs for each input once it is linked.
func (t *tap) attach(parent *gst.Bin, tees map[string]*gst.Element, after func(*input)) error {
	for _, in := range t.inputs {
		if in.tee = tees[in.kind]; in.tee == nil {
			return fmt.Errorf("%s wants %s, which is not there to tap", t.name, in.kind)
		}
	}
	if t.out != nil {
		if err := parent.Add(t.out); err != nil {
			return fmt.Errorf("%s: add %s: %w", t.name, t.out.GetName(), err)
		}
		if !t.out.SyncStateWithParent() {
			_ = parent.Remove(t.out)
			return fmt.Errorf("%s: %s could not start (state sync failed)", t.name, t.out.GetName())
		}
	}
	if err := parent.Add(t.bin.Element); err != nil {
		t.removeOut(parent)
		return fmt.Errorf("%s: add: %w", t.name, err)
	}
	t.parent = parent
	if t.out != nil {
		if err := linkPads(t.bin.GetStaticPad("src"), t.out.GetStaticPad("sink")); err != nil {
			t.remove()
			return fmt.Errorf("%s: %w", t.name, err)
		}
	}
	if !t.bin.SyncStateWithParent() {
		t.remove()
		return fmt.Errorf("%s: could not start (state sync failed)", t.name)
	}
	for _, in := range t.inputs {
		in.teePad = in.tee.GetRequestPad("src_%u")
		if in.teePad == nil {
			t.unlink()
			t.remove()
			return fmt.Errorf("%s: %s gives no pad", t.name, in.tee.GetName())
		}
		if ret := in.teePad.Link(in.ghost.Pad); ret != gst.PadLinkOK {
			t.unlink()
			t.remove()
			return fmt.Errorf("%s: link %s: %s", t.name, in.kind, ret)
		}
		// Only once linked: the tee pushes into an unlinked pad too, and
		// its probes run before the push finds no peer, so an earlier
		// probe would chain a buffer ahead of the stream's sticky events
		// (caps, segment) and fail the element behind it.
		in.isolateID = in.iso.attach(in.teePad)
		if after != nil {
			after(in)
		}
	}
	return nil
}

// errEOSTimeout: EOS did not reach every sink of a tap in time.
var errEOSTimeout = errors.New("EOS did not reach its outputs in time; a file may lack its end")

// detach unlinks the tap. With finish, EOS is sent and detach waits (up to
// eosWait) for every watched sink to see it, so files are finalised;
// without, the tap is dropped as it is (a failed output, an encoder
// nobody uses). Safe to call more than once; only the first call acts.
func (t *tap) detach(finish bool, eosWait time.Duration) error {
	var err error
	t.detachOnce.Do(func() {
		t.unlink()
		if finish {
			// Sending EOS takes each input's stream lock, which a wedged
			// element behind it can hold for good (a CI run hung 17
			// minutes here): it is sent aside and given up on after
			// eosWait, and the tap is removed all the same.
			sent := make(chan struct{})
			go func() {
				defer close(sent)
				for _, in := range t.inputs {
					in.describeIfBare(AudioCapsBeforeEOS)
					in.ghost.SendEvent(gst.NewEOSEvent())
				}
			}()
			began := time.Now()
			select {
			case <-sent:
				err = t.waitSinks(eosWait - time.Since(began))
			case <-time.After(eosWait):
				err = fmt.Errorf("%s: %w (it could not even be sent: an element behind the tap is stuck)", t.name, errEOSTimeout)
			}
			if t.beforeRemove != nil {
				t.beforeRemove()
			}
		}
		t.remove()
	})
	return err
}

func (t *tap) waitSinks(limit time.Duration) error {
	t.sinkMu.Lock()
	waits := make([]chan struct{}, 0, len(t.sinks))
	for _, ch := range t.sinks {
		waits = append(waits, ch)
	}
	t.sinkMu.Unlock()
	deadline := time.After(limit)
	for _, ch := range waits {
		select {
		case <-ch:
		case <-deadline:
			return fmt.Errorf("%s: %w (waited %s)", t.name, errEOSTimeout, limit)
		}
	}
	return nil
}

// endAt, on a tap about to be finished, lets each input run on until its
// media reach stop (the capture's running time when the output was told
// to stop) or, if one input is already past it, the end of the input
// furthest ahead, and holds back whatever any input gets past that end,
// so that they all end together (within a buffer), where the producer
// stopped. It returns once they do, or after limit; an input that got
// nothing for idle (a sound that stopped) or ever is not waited for.
// Media reach a tap late, each input with a latency of its own (measured
// on a 2-core box, behind capture: AAC 22-98 ms plus the mixer's 200 ms,
// H.264 25-52 ms, up to 0.5 s while a video encoder starts, and seconds
// while the machine is overloaded or the process was stalled): EOS sent at
// once would end the output that much before the stop, and one input
// before the other.
//
// It returns what it saw, for the log: the end, and where each input
// stood when it stopped waiting (a file that ends off its stop is then
// explained by its log).
func (t *tap) endAt(stop gst.ClockTime, limit, idle time.Duration) string {
	began := time.Now()
	end := int64(stop)
	for _, in := range t.inputs {
		if e, ok := in.lastEnd(); ok {
			end = max(end, int64(e))
		}
	}
	for _, in := range t.inputs {
		in.iso.setEnd(end)
	}
	deadline := began.Add(limit)
	for {
		behind := false
		for _, in := range t.inputs {
			e, ok := in.lastEnd()
			lastAt, _, _ := in.iso.last()
			flowing := time.Since(lastAt) < idle
			if ok && int64(e) < end && !in.iso.pastEnd() && flowing {
				behind = true
			}
		}
		if !behind || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "ends at %v (asked %v)", time.Duration(end), time.Duration(stop))
	for _, in := range t.inputs {
		e, _ := in.lastEnd()
		fmt.Fprintf(&b, ", %s reached %v (past: %t)", in.kind, time.Duration(e), in.iso.pastEnd())
	}
	fmt.Fprintf(&b, ", after %v", time.Since(began).Round(time.Millisecond))
	return b.String()
}

// describeIfBare sends the input's muxer its capsIfNone (with the stream
// start and segment that go before caps) if they are due at when and the
// input never got caps of its own. They are pushed from the input queue's src pad, not sent into
// the queue: there they waited (2.8 s in a test) until the first buffer
// came, and the muxer went on waiting for them.
func (in *input) describeIfBare(when AudioCaps) {
	if in.capsIfNone == "" || in.capsWhen != when || in.queue.GetStaticPad("sink").GetCurrentCaps() != nil {
		return
	}
	caps := gst.NewCapsFromString(in.capsIfNone)
	if caps == nil {
		return
	}
	src := in.queue.GetStaticPad("src")
	src.PushEvent(gst.NewStreamStartEvent(in.queue.GetName()))
	src.PushEvent(gst.NewCapsEvent(caps))
	src.PushEvent(gst.NewSegmentEvent(gst.NewFormattedSegment(gst.FormatTime)))
	in.described.Store(true)
}

// neverFed reports whether no buffer was handed to the tap yet.
func (in *input) neverFed() bool {
	at, _, _ := in.iso.last()
	return at.IsZero()
}

// lastEnd is the running time at which the last buffer handed to the tap
// ends; false before any.
func (in *input) lastEnd() (gst.ClockTime, bool) {
	pad := in.teePad
	lastAt, pts, dur := in.iso.last()
	if lastAt.IsZero() || pad == nil {
		return 0, false
	}
	rt, ok := segmentRunningTime(pad, pts)
	if !ok {
		return 0, false
	}
	if dur != gst.ClockTimeNone {
		rt += dur
	}
	return rt, true
}

// unlink blocks each tee pad (an idle probe fires at once when no buffer
// is in flight) so nothing is pushed into a pad being unlinked, then
// unlinks and releases it.
func (t *tap) unlink() {
	for _, in := range t.inputs {
		if in.teePad == nil {
			continue
		}
		// Back to plain pushes, which a blocking probe can hold.
		in.teePad.RemoveProbe(in.isolateID)
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
		t.removeOut(t.parent)
	}
}

func (t *tap) removeOut(parent *gst.Bin) {
	if t.out != nil {
		_ = setStateWait(t.out, gst.StateNull)
		_ = parent.Remove(t.out)
	}
}

// elementNames lists every element of the tap (to route bus errors).
func (t *tap) elementNames() []string {
	names := []string{t.name}
	if t.out != nil {
		names = append(names, t.out.GetName())
	}
	if elems, err := t.bin.GetElementsRecursive(); err == nil {
		for _, e := range elems {
			names = append(names, e.GetName())
		}
	}
	return names
}

// keepSerializedQueries stops the serialized queries an element upstream
// of a tee sends downstream (allocation, drain) at a tap's entrance, its
// ghost sink pad: the tee hands such a query to the peer of each of its
// pads directly, past any probe on its own pads. Such a query waits until
// everything queued before it is consumed, and the tee sends it to every
// tap in turn: one tap that holds it stalls the element that asked, and
// with it every other tap. Seen: x264enc, renegotiating as a second file
// joined its tee, blocked for as long as the first file's video input
// waited for its first sound, then for as long as that file's mp4mux had
// no sound (an aggregator keeps a serialized query until its other inputs
// have data): every output's picture stopped. The taps need no allocation
// from upstream (encoded data, or raw frames in system memory); the tee
// ignores a tap that does not answer.
func keepSerializedQueries(entrance *gst.Pad) {
	entrance.AddProbe(gst.PadProbeTypeQueryDownstream, func(_ *gst.Pad, info *gst.PadProbeInfo) gst.PadProbeReturn {
		if q := info.GetQuery(); q != nil && (q.Type() == gst.QueryAllocation || q.Type() == gst.QueryDrain) {
			return gst.PadProbeDrop
		}
		return gst.PadProbeOK
	})
}

// forceKeyUnit asks the encoder upstream of a tee pad for a key frame (with
// its headers) at the first frame of running time at or after at, or at
// the next frame for gst.ClockTimeNone. x264enc then restarts its GOP
// there: its next regular key frame comes a full interval later.
func forceKeyUnit(teePad *gst.Pad, at gst.ClockTime) {
	s := gst.NewStructure("GstForceKeyUnit")
	_ = s.SetValue("all-headers", true)
	_ = s.SetValue("count", uint(0))
	_ = s.SetValue("running-time", uint64(at))
	teePad.SendEvent(gst.NewCustomEvent(gst.EventTypeCustomUpstream, s))
}
