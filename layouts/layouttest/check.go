package layouttest

import (
	"fmt"
	"image"
	"image/color"
	"math"
)

// Person is a participant as a picture shows it: a camera of one solid
// colour (the demo room's participants), named for messages.
type Person struct {
	Name  string
	Color color.RGBA
}

// Tolerances, from what VP8 (4:2:0) and Chromium's video path do to the
// demo's solid colours: within 10 in each of R, G and B on screen, 30 after
// an H.264 recording and scaling. The demo's colours are at least 127 apart
// in some channel, so 60 cannot mistake one for another.
const (
	colorTol = 60
	// fillShare is how much of a tile's centre must be the colour: the rest
	// is room for the name the demo draws into its video, which a cover
	// fit may pull into the centre of a narrow tile.
	fillShare = 0.85
	// Background luma thresholds: dark layouts draw #0b0d10 (luma 12),
	// light ones #f4f5f7 (luma 245).
	darkMax  = 40
	lightMin = 215
)

// Result is what Check saw.
type Result struct {
	// Speaker is the index (into people) of the participant filling the
	// frame or the speaker layout's main tile; -1 if none or a grid.
	Speaker int
	// Strip are the participants in the speaker layout's strip, in order
	// (the overflow tile excluded).
	Strip []int
	// Problems says what is not where the layout puts it; empty when the
	// picture is right.
	Problems []string
}

// OK reports whether the picture matched the layout.
func (r Result) OK() bool { return len(r.Problems) == 0 }

// Check compares a picture of a page (a screenshot, a recorded frame, a
// scaled preview) with what layout draws for people (in join order, every
// one with video) on a pageW x pageH page: every participant's colour in
// its tile, the background dark or light as the layout says, and nothing
// else. The picture may be the page scaled down (e.g. a 480x270 preview of
// a 1280x720 page); at under 3/4 of the page's size only the tiles' centres
// and the margin are checked, not their exact edges.
func Check(img image.Image, layout string, pageW, pageH int, people []Person) Result {
	res := Result{Speaker: -1}
	l, err := Parse(layout)
	if err != nil {
		res.Problems = append(res.Problems, err.Error())
		return res
	}
	a, err := Arrange(l.Base, pageW, pageH, len(people))
	if err != nil {
		res.Problems = append(res.Problems, err.Error())
		return res
	}
	c := checker{img: img, scale: float64(img.Bounds().Dx()) / float64(pageW), light: l.Light, people: people}
	c.fine = c.scale >= 0.75
	switch {
	case a.Full:
		c.full(&res, l.Base == "single-speaker")
	case a.Grid != nil:
		for i, r := range a.Grid {
			c.tile(&res, r, i, fmt.Sprintf("grid tile %d", i))
		}
		c.background(&res, a)
	default:
		c.speaker(&res, a)
		c.background(&res, a)
	}
	return res
}

type checker struct {
	img    image.Image
	scale  float64 // picture pixels per page pixel
	fine   bool    // check tile edges too
	light  bool
	people []Person
}

func (c *checker) at(x, y float64) color.Color {
	b := c.img.Bounds()
	return c.img.At(b.Min.X+int(x*c.scale), b.Min.Y+int(y*c.scale))
}

// region maps a page rectangle to the picture's pixels.
func (c *checker) region(r image.Rectangle) image.Rectangle {
	b := c.img.Bounds()
	s := c.scale
	return image.Rect(
		b.Min.X+int(math.Ceil(float64(r.Min.X)*s)), b.Min.Y+int(math.Ceil(float64(r.Min.Y)*s)),
		b.Min.X+int(float64(r.Max.X)*s), b.Min.Y+int(float64(r.Max.Y)*s))
}

// centre is the part of a tile that shows nothing but the camera: clear of
// the name label and of the name the demo draws into the bottom left.
func centre(r image.Rectangle) image.Rectangle {
	w, h := r.Dx(), r.Dy()
	return image.Rect(r.Min.X+w*15/100, r.Min.Y+h*10/100, r.Max.X-w*15/100, r.Min.Y+h*60/100)
}

func (c *checker) fraction(r image.Rectangle, want color.RGBA) float64 {
	r = c.region(r).Intersect(c.img.Bounds())
	step := max(1, int(4*c.scale))
	n, hit := 0, 0
	for y := r.Min.Y; y < r.Max.Y; y += step {
		for x := r.Min.X; x < r.Max.X; x += step {
			n++
			if near(c.img.At(x, y), want, colorTol) {
				hit++
			}
		}
	}
	if n == 0 {
		return 0
	}
	return float64(hit) / float64(n)
}

// who tells which participant fills the centre of r, or -1.
func (c *checker) who(r image.Rectangle) int {
	for i, p := range c.people {
		if c.fraction(centre(r), p.Color) >= fillShare {
			return i
		}
	}
	return -1
}

func (c *checker) bgOK(col color.Color) bool {
	if c.light {
		return luma(col) > lightMin
	}
	return luma(col) < darkMax
}

func (c *checker) theme() string {
	if c.light {
		return fmt.Sprintf("light (luma > %d)", lightMin)
	}
	return fmt.Sprintf("dark (luma < %d)", darkMax)
}

// tile checks that participant i fills r: its centre, and (fine) just
// inside each edge its colour, just outside background.
func (c *checker) tile(res *Result, r image.Rectangle, i int, what string) {
	p := c.people[i]
	if f := c.fraction(centre(r), p.Color); f < fillShare {
		got := "nobody's colour"
		if j := c.who(r); j >= 0 {
			got = c.people[j].Name + "'s colour"
		}
		res.Problems = append(res.Problems, fmt.Sprintf("%s %v: %.0f%% of its centre is %s's colour, want >= %.0f%% (it shows %s)",
			what, r, 100*f, p.Name, 100*fillShare, got))
		return
	}
	if !c.fine {
		return
	}
	const in, out = 8, 5 // page px; out is half the 10 px gap
	midX, midY := float64(r.Min.X+r.Max.X)/2, float64(r.Min.Y+r.Max.Y)/2
	// The bottom point is right of the middle, off the name label.
	bx := float64(r.Min.X) + 0.6*float64(r.Dx())
	inside := [][2]float64{
		{float64(r.Min.X + in), midY}, {float64(r.Max.X - in), midY},
		{midX, float64(r.Min.Y + in)}, {bx, float64(r.Max.Y - in)},
	}
	outside := [][2]float64{
		{float64(r.Min.X - out), midY}, {float64(r.Max.X + out - 1), midY},
		{midX, float64(r.Min.Y - out)}, {bx, float64(r.Max.Y + out - 1)},
	}
	sides := []string{"left", "right", "top", "bottom"}
	for k, pt := range inside {
		if col := c.at(pt[0], pt[1]); !near(col, p.Color, colorTol) {
			res.Problems = append(res.Problems, fmt.Sprintf("%s %v (%s): %s edge, %d px inside, is %v, not the tile's colour",
				what, r, p.Name, sides[k], in, col))
		}
	}
	for k, pt := range outside {
		if pt[0] < 0 || pt[1] < 0 || pt[0] >= float64(c.img.Bounds().Dx())/c.scale || pt[1] >= float64(c.img.Bounds().Dy())/c.scale {
			continue
		}
		if col := c.at(pt[0], pt[1]); !c.bgOK(col) {
			res.Problems = append(res.Problems, fmt.Sprintf("%s %v (%s): %s edge, %d px outside, is %v (luma %.0f), want the %s background",
				what, r, p.Name, sides[k], out, col, luma(col), c.theme()))
		}
	}
}

// background checks the outer margin's top-left corner.
func (c *checker) background(res *Result, a Arrangement) {
	x, y := float64(a.Pad)/2, float64(a.Pad)/2
	if col := c.at(x, y); !c.bgOK(col) {
		res.Problems = append(res.Problems, fmt.Sprintf("background at (%.0f,%.0f) is %v (luma %.0f), want %s",
			x, y, col, luma(col), c.theme()))
	}
}

// full checks a frame filled by one participant: participant 0 for a grid
// of one, anyone (the active speaker) for single-speaker. Nobody else's
// colour may appear, and the name label shows the theme.
func (c *checker) full(res *Result, anyone bool) {
	frame := c.img.Bounds()
	page := image.Rect(0, 0, int(float64(frame.Dx())/c.scale+0.5), int(float64(frame.Dy())/c.scale+0.5))
	i := 0
	if anyone {
		if i = c.who(page); i < 0 {
			res.Problems = append(res.Problems, "no participant's colour fills the frame")
			return
		}
	}
	res.Speaker = i
	c.tileFull(res, page, i)
	for j, p := range c.people {
		if j != i && contains(c.img, frame, p.Color, 40, 4) {
			res.Problems = append(res.Problems, fmt.Sprintf("%s's colour is on screen, but only %s should be", p.Name, c.people[i].Name))
		}
	}
}

func (c *checker) tileFull(res *Result, page image.Rectangle, i int) {
	p := c.people[i]
	if f := c.fraction(centre(page), p.Color); f < fillShare {
		res.Problems = append(res.Problems, fmt.Sprintf("full frame: %.0f%% of the centre is %s's colour, want >= %.0f%%", 100*f, p.Name, 100*fillShare))
		return
	}
	if !c.fine {
		return
	}
	// Full bleed: the colour reaches the edges (no margin).
	w, h := float64(page.Dx()), float64(page.Dy())
	for _, pt := range [][2]float64{{4, 4}, {w / 2, 4}, {w - 5, 4}, {w - 5, h / 2}, {4, h / 3}} {
		if col := c.at(pt[0], pt[1]); !near(col, p.Color, colorTol) {
			res.Problems = append(res.Problems, fmt.Sprintf("full frame: (%.0f,%.0f) is %v, not %s's colour: the tile does not reach the edge", pt[0], pt[1], col, p.Name))
		}
	}
	// The theme shows in the name label: dark rgba(8,10,13,0.68) or light
	// rgba(255,255,255,0.86) over the camera (app.css --label-bg), at
	// 20 px from the bottom-left corner (label inset of a full-bleed tile
	// at scale 1); the point is in the label's left padding, off the text.
	scale := math.Max(0.25, math.Min(w, h)/720)
	inset := math.Floor(20*scale + 0.5)
	x, y := inset+8*scale, h-inset-10*scale
	want := blend(color.RGBA{8, 10, 13, 255}, 0.68, p.Color)
	if c.light {
		want = blend(color.RGBA{255, 255, 255, 255}, 0.86, p.Color)
	}
	if col := c.at(x, y); !near(col, want, 30) {
		res.Problems = append(res.Problems, fmt.Sprintf("full frame: name label at (%.0f,%.0f) is %v, want %v (the %s theme's label over %s)",
			x, y, col, want, map[bool]string{false: "dark", true: "light"}[c.light], p.Name))
	}
}

// speaker checks the speaker layout: someone in the main tile, the others
// in the strip in join order (or, when not all fit, some of them and an
// overflow tile last).
func (c *checker) speaker(res *Result, a Arrangement) {
	s := c.who(a.Main)
	if s < 0 {
		res.Problems = append(res.Problems, fmt.Sprintf("main tile %v: no participant's colour fills it", a.Main))
		return
	}
	res.Speaker = s
	c.tile(res, a.Main, s, "main tile")
	var others []int
	for i := range c.people {
		if i != s {
			others = append(others, i)
		}
	}
	if a.Hidden == 0 {
		for k, r := range a.Strip {
			res.Strip = append(res.Strip, others[k])
			c.tile(res, r, others[k], fmt.Sprintf("strip tile %d", k))
		}
		return
	}
	shown := a.Strip[:len(a.Strip)-1]
	last := -1
	for k, r := range shown {
		i := c.who(r)
		switch {
		case i < 0:
			res.Problems = append(res.Problems, fmt.Sprintf("strip tile %d %v: no participant's colour fills it", k, r))
			continue
		case i == s:
			res.Problems = append(res.Problems, fmt.Sprintf("strip tile %d %v: shows the speaker %s again", k, r, c.people[i].Name))
		case i <= last:
			res.Problems = append(res.Problems, fmt.Sprintf("strip tile %d %v: %s is out of join order", k, r, c.people[i].Name))
		}
		last = i
		res.Strip = append(res.Strip, i)
		c.tile(res, r, i, fmt.Sprintf("strip tile %d", k))
	}
	o := a.Strip[len(a.Strip)-1]
	if i := c.who(o); i >= 0 {
		res.Problems = append(res.Problems, fmt.Sprintf("overflow tile %v shows %s, want the \"+%d\" tile", o, c.people[i].Name, a.Hidden))
		return
	}
	// The overflow tile is the theme's tile colour (--tile: #171a20 dark,
	// luma 25; #e2e5ea light, luma 228) with "+N" in its middle.
	x, y := float64(o.Min.X)+0.15*float64(o.Dx()), float64(o.Min.Y)+0.15*float64(o.Dy())
	col := c.at(x, y)
	if l := luma(col); (c.light && l < 200) || (!c.light && l > darkMax) {
		res.Problems = append(res.Problems, fmt.Sprintf("overflow tile %v at (%.0f,%.0f) is %v (luma %.0f), want the %s theme's tile colour", o, x, y, col, l, c.theme()))
	}
}

func near(c color.Color, want color.RGBA, tol int) bool {
	r, g, b, _ := c.RGBA()
	d := func(a uint32, w uint8) bool { return math.Abs(float64(int(a>>8)-int(w))) <= float64(tol) }
	return d(r, want.R) && d(g, want.G) && d(b, want.B)
}

func contains(img image.Image, r image.Rectangle, want color.RGBA, tol, step int) bool {
	for y := r.Min.Y; y < r.Max.Y; y += step {
		for x := r.Min.X; x < r.Max.X; x += step {
			if near(img.At(x, y), want, tol) {
				return true
			}
		}
	}
	return false
}

func luma(c color.Color) float64 {
	r, g, b, _ := c.RGBA()
	return 0.299*float64(r>>8) + 0.587*float64(g>>8) + 0.114*float64(b>>8)
}

// blend is top at alpha over bottom.
func blend(top color.RGBA, alpha float64, bottom color.RGBA) color.RGBA {
	m := func(t, b uint8) uint8 { return uint8(math.Round(alpha*float64(t) + (1-alpha)*float64(b))) }
	return color.RGBA{m(top.R, bottom.R), m(top.G, bottom.G), m(top.B, bottom.B), 255}
}
