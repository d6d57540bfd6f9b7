package pipeline

import (
	"testing"
	"time"

	"github.com/go-gst/go-gst/gst"
	"github.com/go-gst/go-gst/gst/app"
)

// TestKeepRising: what leaves a rising pad is at least 1 ms after what
// left before it, so that a muxer keeping milliseconds (WebM) never
// writes two frames at one time; what is already that far apart passes
// untouched.
func TestKeepRising(t *testing.T) {
	ms := func(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
	for _, c := range []struct {
		name    string
		in, out []time.Duration
	}{
		{"apart already", []time.Duration{0, ms(33), ms(66)}, []time.Duration{0, ms(33), ms(66)}},
		{"one time twice", []time.Duration{ms(10), ms(10), ms(43)}, []time.Duration{ms(10), ms(11), ms(43)}},
		{"0.3 ms apart", []time.Duration{ms(145.8), ms(146.1), ms(146.4)}, []time.Duration{ms(145.8), ms(146.8), ms(147.8)}},
		{"going back", []time.Duration{ms(50), ms(40), ms(83)}, []time.Duration{ms(50), ms(51), ms(83)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := throughRisingPad(t, c.in)
			if len(got) != len(c.out) {
				t.Fatalf("%d buffers out, want %d", len(got), len(c.out))
			}
			for i := range got {
				if got[i] != c.out[i] {
					t.Errorf("buffer %d: PTS %v, want %v (in %v)", i, got[i], c.out[i], c.in)
				}
			}
		})
	}
}

// throughRisingPad pushes buffers of the given PTSs through an identity
// whose source pad keeps rising, and returns the PTSs that came out.
func throughRisingPad(t *testing.T, pts []time.Duration) []time.Duration {
	t.Helper()
	InitGStreamer()
	p, err := gst.NewPipelineFromString("appsrc name=src format=time caps=application/octet-stream ! identity name=rise ! appsink name=sink sync=false")
	if err != nil {
		t.Fatal(err)
	}
	defer p.SetState(gst.StateNull)
	src, _ := p.GetElementByName("src")
	rise, _ := p.GetElementByName("rise")
	sinkEl, _ := p.GetElementByName("sink")
	KeepRising(rise.GetStaticPad("src"))
	if err := p.SetState(gst.StatePlaying); err != nil {
		t.Fatal(err)
	}
	in, sink := app.SrcFromElement(src), app.SinkFromElement(sinkEl)
	for _, d := range pts {
		buf := gst.NewBufferFromBytes([]byte{0})
		buf.SetPresentationTimestamp(gst.ClockTime(d))
		if ret := in.PushBuffer(buf); ret != gst.FlowOK {
			t.Fatalf("push: %s", ret)
		}
	}
	in.EndStream()
	var out []time.Duration
	for range pts {
		sample := sink.TryPullSample(gst.ClockTime(5 * time.Second))
		if sample == nil {
			break
		}
		out = append(out, time.Duration(*sample.GetBuffer().PresentationTimestamp().AsDuration()))
	}
	return out
}
