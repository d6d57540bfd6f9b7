package yuv

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-gst/go-gst/gst"
	"github.com/go-gst/go-gst/gst/app"
)

var registered = sync.OnceValue(func() error {
	gst.Init(nil)
	return Register()
})

// TestMatchesVideoconvert: rgbtoi420's frames are videoconvert's, to
// within rounding, when videoconvert is asked for what rgbtoi420 says it
// makes (BT.601, limited range, centred chroma): each plane within 2
// levels, over test patterns with flat colours, bars and edges, and on
// both input formats and sizes whose chroma rows and lines are odd.
func TestMatchesVideoconvert(t *testing.T) {
	if err := registered(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		pattern, format string
		width, height   int
	}{
		{"smpte", "BGRx", 1280, 720},
		{"red", "BGRx", 640, 360},
		{"green", "BGRA", 640, 360},
		{"blue", "BGRx", 320, 180},
		{"white", "BGRx", 320, 180},
		{"black", "BGRA", 320, 180},
		{"checkers-8", "BGRx", 1920, 1080},
		{"ball", "BGRx", 1280, 720},
		{"pinwheel", "BGRA", 854, 480},
		{"smpte", "BGRx", 1080, 1920},
		{"snow", "BGRx", 326, 246},
	} {
		t.Run(fmt.Sprintf("%s %s %dx%d", c.pattern, c.format, c.width, c.height), func(t *testing.T) {
			src := fmt.Sprintf("videotestsrc pattern=%s num-buffers=1 ! video/x-raw,format=%s,width=%d,height=%d,framerate=30/1 ",
				c.pattern, c.format, c.width, c.height)
			ours, caps := convertOnce(t, src+"! rgbtoi420")
			theirs, _ := convertOnce(t, src+"! videoconvert ! video/x-raw,format=I420,colorimetry=bt601,chroma-site=jpeg")
			for _, want := range []string{"format=(string)I420", "colorimetry=(string)bt601", "chroma-site=(string)jpeg",
				fmt.Sprintf("width=(int)%d", c.width), fmt.Sprintf("height=(int)%d", c.height), "framerate=(fraction)30/1"} {
				if !strings.Contains(caps, want) {
					t.Errorf("caps %s, want %s in them", caps, want)
				}
			}
			if len(ours) != len(theirs) {
				t.Fatalf("%d bytes, videoconvert made %d", len(ours), len(theirs))
			}
			for _, p := range i420Planes(c.width, c.height) {
				worst, at := 0, 0
				for y := range p.height {
					for x := range p.width {
						i := p.offset + y*p.stride + x
						if d := abs(int(ours[i]) - int(theirs[i])); d > worst {
							worst, at = d, i
						}
					}
				}
				if worst > 2 {
					t.Errorf("%s plane: %d levels from videoconvert's at byte %d (%d against %d)", p.name, worst, at, ours[at], theirs[at])
				}
			}
		})
	}
}

// plane is where one plane of a raw frame lies in its buffer.
type plane struct {
	name                          string
	offset, stride, width, height int
}

// i420Planes lays out an I420 frame as GStreamer does by default: each
// line's stride rounded up to 4 bytes, chroma half the size rounded up.
func i420Planes(width, height int) []plane {
	up := func(n, to int) int { return (n + to - 1) / to * to }
	cw, ch := (width+1)/2, (height+1)/2
	ys, cs := up(width, 4), up(cw, 4)
	u := ys * up(height, 2)
	return []plane{
		{"Y", 0, ys, width, height},
		{"U", u, cs, cw, ch},
		{"V", u + cs*ch, cs, cw, ch},
	}
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// convertOnce runs a one-frame pipeline into an appsink and returns the
// frame's bytes and caps.
func convertOnce(t *testing.T, desc string) ([]byte, string) {
	t.Helper()
	p, err := gst.NewPipelineFromString(desc + " ! appsink name=sink sync=false")
	if err != nil {
		t.Fatalf("%s: %v", desc, err)
	}
	defer p.SetState(gst.StateNull)
	el, _ := p.GetElementByName("sink")
	if err := p.SetState(gst.StatePlaying); err != nil {
		t.Fatal(err)
	}
	sample := app.SinkFromElement(el).TryPullSample(gst.ClockTime(10 * time.Second))
	if sample == nil {
		t.Fatalf("%s: no frame came out", desc)
	}
	return sample.GetBuffer().Bytes(), sample.GetCaps().String()
}
