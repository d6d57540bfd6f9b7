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

// TestScaleLetterboxes: i420scale fits the picture into the size asked
// for with its display aspect ratio kept (pixel aspect ratio included),
// centred on even pixels, the borders black; the picture's colour is the
// input's, its caps say which colours they are (GStreamer's default for
// the input's size where the input's caps leave them out), and a frame
// already of the size passes through untouched.
func TestScaleLetterboxes(t *testing.T) {
	if err := registered(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		in        [2]int
		par       string // the input's pixel aspect ratio
		out       [2]int
		picture   [4]int // x, y, width, height of the picture in the output
		colours   string // the output's colorimetry
		untouched bool
	}{
		{"16:9 doubled", [2]int{640, 360}, "1/1", [2]int{1280, 720}, [4]int{0, 0, 1280, 720}, "bt601", false},
		{"4:3 pillarboxed", [2]int{640, 480}, "1/1", [2]int{1280, 720}, [4]int{160, 0, 960, 720}, "bt601", false},
		{"portrait pillarboxed", [2]int{360, 640}, "1/1", [2]int{1280, 720}, [4]int{436, 0, 406, 720}, "bt709", false},
		{"wide letterboxed", [2]int{1280, 400}, "1/1", [2]int{1280, 720}, [4]int{0, 160, 1280, 400}, "bt601", false},
		{"4:3 pixels to 16:9", [2]int{480, 360}, "4/3", [2]int{1280, 720}, [4]int{0, 0, 1280, 720}, "bt601", false},
		{"shrunk for a preview", [2]int{1920, 1080}, "1/1", [2]int{640, 360}, [4]int{0, 0, 640, 360}, "bt709", false},
		{"odd camera", [2]int{642, 362}, "1/1", [2]int{1280, 720}, [4]int{0, 0, 1280, 720}, "bt601", false},
		{"same size", [2]int{1280, 720}, "1/1", [2]int{1280, 720}, [4]int{0, 0, 1280, 720}, "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Orange, so that all three planes differ from the border's.
			src := fmt.Sprintf("videotestsrc pattern=solid-color foreground-color=0xffff8000 num-buffers=1 "+
				"! video/x-raw,format=I420,framerate=30/1,width=%d,height=%d,pixel-aspect-ratio=%s", c.in[0], c.in[1], c.par)
			in, _ := convertOnce(t, src)
			out, caps := convertOnce(t, fmt.Sprintf("%s ! i420scale ! video/x-raw,width=%d,height=%d", src, c.out[0], c.out[1]))
			if !strings.Contains(caps, "pixel-aspect-ratio=(fraction)1/1") {
				t.Errorf("caps %s: pixels not square", caps)
			}
			if c.colours != "" && !strings.Contains(caps, "colorimetry=(string)"+c.colours) {
				t.Errorf("caps %s, want colorimetry %s", caps, c.colours)
			}
			if c.untouched && string(in) != string(out) {
				t.Errorf("a frame of the size asked for was changed")
			}
			var colour [3]byte
			for i, p := range i420Planes(c.in[0], c.in[1]) {
				colour[i] = in[p.offset]
			}
			x, y, w, h := c.picture[0], c.picture[1], c.picture[2], c.picture[3]
			for i, p := range i420Planes(c.out[0], c.out[1]) {
				sub := 1
				if i > 0 {
					sub = 2
				}
				for py := range p.height {
					for px := range p.width {
						// Away from the picture's edges, where bilinear
						// filtering blends it with the border.
						X, Y := px*sub, py*sub
						inside := X >= x+2 && X < x+w-2 && Y >= y+2 && Y < y+h-2
						outside := X < x-2 || X >= x+w+2 || Y < y-2 || Y >= y+h+2
						want := colour[i]
						if outside {
							want = [3]byte{16, 128, 128}[i]
						} else if !inside {
							continue
						}
						if got := out[p.offset+py*p.stride+px]; abs(int(got)-int(want)) > 1 {
							t.Fatalf("%s plane at (%d,%d): %d, want %d (inside the picture %v: %t)", p.name, X, Y, got, want, c.picture, inside)
						}
					}
				}
			}
		})
	}
}

// TestScaleMatchesVideoscale: what i420scale draws is where videoscale
// draws it: a pattern of bars, circles and edges scaled both ways differs
// by at most 3 levels on average in each plane (the two filters round
// differently at edges, so single samples may differ more).
func TestScaleMatchesVideoscale(t *testing.T) {
	if err := registered(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		pattern string
		in, out [2]int
	}{
		{"smpte75", [2]int{640, 360}, [2]int{1280, 720}},
		{"pinwheel", [2]int{640, 480}, [2]int{1280, 720}},
		{"zone-plate", [2]int{1920, 1080}, [2]int{640, 360}},
		{"ball", [2]int{360, 640}, [2]int{1920, 1080}},
		{"colors", [2]int{640, 360}, [2]int{1280, 720}},
	} {
		t.Run(fmt.Sprintf("%s %dx%d to %dx%d", c.pattern, c.in[0], c.in[1], c.out[0], c.out[1]), func(t *testing.T) {
			// The colours fixed, for videoscale not to convert them
			// between its two sizes' defaults.
			src := fmt.Sprintf("videotestsrc pattern=%s num-buffers=1 ! video/x-raw,format=I420,framerate=30/1,width=%d,height=%d,colorimetry=bt601",
				c.pattern, c.in[0], c.in[1])
			size := fmt.Sprintf("video/x-raw,width=%d,height=%d,pixel-aspect-ratio=1/1", c.out[0], c.out[1])
			ours, _ := convertOnce(t, src+" ! i420scale ! "+size)
			theirs, _ := convertOnce(t, src+" ! videoscale add-borders=true ! "+size)
			for _, p := range i420Planes(c.out[0], c.out[1]) {
				sum := 0
				for y := range p.height {
					for x := range p.width {
						i := p.offset + y*p.stride + x
						sum += abs(int(ours[i]) - int(theirs[i]))
					}
				}
				if mean := float64(sum) / float64(p.width*p.height); mean > 3 {
					t.Errorf("%s plane: %.2f levels from videoscale's on average", p.name, mean)
				} else {
					t.Logf("%s plane: %.2f levels from videoscale's on average", p.name, mean)
				}
			}
		})
	}
}
