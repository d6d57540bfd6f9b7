package pipeline

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-gst/go-gst/gst"
)

// stallAfter: the capture's raw sound and picture never stop while it runs
// (live silence under the sink's monitor, a constant frame rate), nor do
// its encoders' outputs, buffers coming every 10-33 ms; a tee that got
// nothing for this long is stalled: a starved machine or a stuck element,
// which the recordings will show. CI runs had an MP4's sound end 2-5 s
// before its picture, and nothing said where the sound had stopped.
const stallAfter = time.Second

// flowWatch notes when a tee last got a buffer.
type flowWatch struct {
	what string       // "sound", "picture", "output of encoder venc1"
	tee  *gst.Element // what it watches
	// feeders are the sources upstream of tee, told apart in a stall, and
	// mixer the element that mixes them, whose latency (how long it waits
	// for a late input) a stall tells.
	feeders []*feeder
	mixer   *gst.Element
	// mark is the tee's last buffer (none at first: a start is no
	// stall).
	mark *mark
	// since is when its stall began, zero while it flows; watchStalls'
	// own.
	since time.Time
}

// watchFlow has watchStalls watch tee (from now on) until unwatchFlow.
func (c *Capture) watchFlow(tee *gst.Element, what string) *flowWatch {
	w := &flowWatch{what: what, tee: tee, mark: markPad(tee.GetStaticPad("sink"))}
	c.flowsMu.Lock()
	defer c.flowsMu.Unlock()
	c.flows = append(c.flows, w)
	return w
}

func (c *Capture) unwatchFlow(w *flowWatch) {
	c.flowsMu.Lock()
	defer c.flowsMu.Unlock()
	c.flows = slices.DeleteFunc(c.flows, func(f *flowWatch) bool { return f == w })
}

// watchStalls logs each stall of the watched tees, as it begins and with
// its length once it ends, until the capture closes.
func (c *Capture) watchStalls() {
	tick := time.NewTicker(stallAfter / 4)
	defer tick.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-tick.C:
		}
		c.flowsMu.Lock()
		watches := append([]*flowWatch(nil), c.flows...)
		c.flowsMu.Unlock()
		for _, w := range watches {
			last, _, _ := w.mark.last()
			if last.IsZero() {
				continue
			}
			switch stalled := time.Since(last) > stallAfter; {
			case stalled && w.since.IsZero():
				w.since = last
				c.cfg.Logf("capture: no %s for %.1f s (at %.1f s of the capture): stalled%s", w.what, time.Since(last).Seconds(), c.RunningTime().Seconds(), w.where())
			case !stalled && !w.since.IsZero():
				c.cfg.Logf("capture: %s back after a stall of %.2f s", w.what, last.Sub(w.since).Seconds())
				w.since = time.Time{}
			}
		}
	}
}

// where tells from the queue before the tee, if one feeds it, which side
// of the tee holds a stall: a full queue is media held after the tee (an
// element there that does not return), an empty one media that never
// came (a stopped source, a mixer that waits). A stall seen once in CI,
// of the sound as a composite started, left no trace of which it was.
func (w *flowWatch) where() string {
	peer := w.tee.GetStaticPad("sink").GetPeer()
	if peer == nil {
		return ""
	}
	q := peer.GetParentElement()
	if q == nil || q.GetFactory() == nil || q.GetFactory().GetName() != "queue" {
		return ""
	}
	level, err := q.GetProperty("current-level-time")
	if err != nil {
		return ""
	}
	held := time.Duration(level.(uint64))
	if held == 0 {
		var b strings.Builder
		b.WriteString("; the queue before it is empty: nothing comes from upstream")
		fmt.Fprintf(&b, "; its last was for %s", at(w.tee.GetStaticPad("sink"), w.mark))
		for _, f := range w.feeders {
			fmt.Fprintf(&b, "; %s", f)
		}
		if w.mixer != nil {
			q := gst.NewLatencyQuery()
			if w.mixer.GetStaticPad("src").Query(q) {
				live, least, most := q.ParseLatency()
				fmt.Fprintf(&b, "; the mixer's latency: live %t, %v..%v", live, time.Duration(least), time.Duration(most))
			}
		}
		return b.String()
	}
	return fmt.Sprintf("; the queue before it holds %v: something after it does not take it", held.Round(time.Millisecond))
}

// at is the running time on pad of the last buffer m saw, for a log line.
func at(pad *gst.Pad, m *mark) string {
	_, pts, _ := m.last()
	rt, ok := segmentRunningTime(pad, pts)
	if !ok {
		return "no time"
	}
	return fmt.Sprintf("%.3f s", time.Duration(rt).Seconds())
}

// feeder notes when a source feeding a watched tee last gave a buffer,
// and for what time: a stall of the sound with its sources still giving
// is the mixer's, one where they stopped too is theirs (or their
// clock's); their times against the mixer's tell whether it waits for
// them or drops them as late.
type feeder struct {
	what string
	pad  *gst.Pad
	mark *mark
}

func watchFeeder(src *gst.Element, what string) *feeder {
	pad := src.GetStaticPad("src")
	return &feeder{what: what, pad: pad, mark: markPad(pad)}
}

func (f *feeder) String() string {
	last, _, _ := f.mark.last()
	if last.IsZero() {
		return f.what + " has given nothing yet"
	}
	return fmt.Sprintf("%s gave its last %.2f s ago, for %s", f.what, time.Since(last).Seconds(), at(f.pad, f.mark))
}
