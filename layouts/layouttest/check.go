package layouttest

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"slices"
)

// Person is a participant as a picture shows it: a camera of one solid
// colour (the demo room's participants) or, with the camera off, a
// placeholder; and perhaps a screen share of one solid colour.
type Person struct {
	// Name is the participant's identity: messages name it, and the
	// placeholder's colour comes from it (people.js hue).
	Name  string
	Color color.RGBA
	// CameraOff: the camera is muted, so the page draws a placeholder in
	// the person's tile: the initials on a disc of the identity's hue, on
	// the theme's tile colour.
	CameraOff bool
	// Share, when set, is the colour of the person's screen share, 16:9
	// (the demo's). At most one person of a room may share.
	Share *color.RGBA
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
	// frame or the speaker layout's main tile, or with a screen share the
	// first of the speaker layout's strip; -1 if none or a grid.
	Speaker int
	// Strip are the participants in the speaker layout's strip (or beside
	// a screen share), in order (the overflow tile excluded).
	Strip []int
	// Problems says what is not where the layout puts it; empty when the
	// picture is right.
	Problems []string
}

// OK reports whether the picture matched the layout.
func (r Result) OK() bool { return len(r.Problems) == 0 }

// Check compares a picture of a page (a screenshot, a recorded frame, a
// scaled preview) with what layout draws for people (in join order) on a
// pageW x pageH page: every participant's colour (or placeholder) in its
// tile, the screen share where the layout puts it, the background dark or
// light as the layout says, and nothing else. The picture may be the page
// scaled down (e.g. a 480x270 preview of a 1280x720 page); at under 3/4 of
// the page's size only the tiles' centres and the margin are checked, not
// their exact edges nor a placeholder's initials.
func Check(img image.Image, layout string, pageW, pageH int, people []Person) Result {
	res := Result{Speaker: -1}
	l, err := Parse(layout)
	if err != nil {
		res.Problems = append(res.Problems, err.Error())
		return res
	}
	sharer := -1
	for i, p := range people {
		if p.Share == nil {
			continue
		}
		if sharer >= 0 {
			res.Problems = append(res.Problems, fmt.Sprintf("layouttest: %s and %s both share a screen; only one share is covered", people[sharer].Name, p.Name))
			return res
		}
		sharer = i
	}
	arrange := Arrange
	if sharer >= 0 {
		arrange = ArrangeShare
	}
	a, err := arrange(l.Base, pageW, pageH, len(people))
	if err != nil {
		res.Problems = append(res.Problems, err.Error())
		return res
	}
	c := checker{img: img, scale: float64(img.Bounds().Dx()) / float64(pageW), pageScale: pageScale(pageW, pageH), light: l.Light, people: people}
	c.fine = c.scale >= 0.75
	switch {
	case sharer >= 0:
		c.share(&res, a, l.Base == "speaker", sharer)
	case a.Full:
		c.full(&res, l.Base == "single-speaker")
	case a.Grid != nil:
		for i, r := range a.Grid {
			c.tile(&res, r, c.camera(i), fmt.Sprintf("grid tile %d", i))
		}
		c.background(&res, a)
	default:
		c.speaker(&res, a)
		c.background(&res, a)
	}
	return res
}

type checker struct {
	img       image.Image
	scale     float64 // picture pixels per page pixel
	pageScale float64 // the page's own (geometry.js metrics)
	fine      bool    // check tile edges too
	light     bool
	people    []Person
}

// face is what one tile shows: a video of one colour (a camera or a
// screen share), or a camera's placeholder.
type face struct {
	name string     // for messages
	fill color.RGBA // what fills the tile: the video, or the tile colour around a placeholder
	tol  int        // how near fill a pixel must be
	disc color.RGBA // a placeholder's disc; zero for a video
}

func (f face) placeholder() bool { return f.disc.A != 0 }

// camera is what participant i's camera tile shows.
func (c *checker) camera(i int) face {
	p := c.people[i]
	if !p.CameraOff {
		return face{name: p.Name, fill: p.Color, tol: colorTol}
	}
	fill := tileDark
	if c.light {
		fill = tileLight
	}
	return face{name: p.Name + "'s placeholder", fill: fill, tol: pageTol, disc: avatarColor(p.Name, c.light)}
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

func (c *checker) fraction(r image.Rectangle, want color.RGBA, tol int) float64 {
	r = c.region(r).Intersect(c.img.Bounds())
	step := max(1, int(4*c.scale))
	n, hit := 0, 0
	for y := r.Min.Y; y < r.Max.Y; y += step {
		for x := r.Min.X; x < r.Max.X; x += step {
			n++
			if near(c.img.At(x, y), want, tol) {
				hit++
			}
		}
	}
	if n == 0 {
		return 0
	}
	return float64(hit) / float64(n)
}

// who tells which participant's camera (or placeholder) fills r, or -1.
func (c *checker) who(r image.Rectangle) int {
	for i := range c.people {
		if c.shows(r, c.camera(i)) == "" {
			return i
		}
	}
	return -1
}

// shows says why tile r does not show f in its centre ("" if it does): a
// video's colour filling it, or a placeholder's disc, sampled left of,
// right of and above the initials, with (fine) the white initials on it.
func (c *checker) shows(r image.Rectangle, f face) string {
	if !f.placeholder() {
		if frac := c.fraction(centre(r), f.fill, f.tol); frac < fillShare {
			return fmt.Sprintf("%.0f%% of its centre is the colour of %s, want >= %.0f%%", 100*frac, f.name, 100*fillShare)
		}
		return ""
	}
	d := avatarSize(r, c.pageScale)
	cx, cy := float64(r.Min.X+r.Max.X)/2, float64(r.Min.Y+r.Max.Y)/2
	for _, pt := range [][2]float64{{cx - 0.3*d, cy}, {cx + 0.3*d, cy}, {cx, cy - 0.3*d}} {
		if col := c.at(pt[0], pt[1]); !near(col, f.disc, pageTol) {
			return fmt.Sprintf("(%.0f,%.0f) is %v, want the disc of %s, %v", pt[0], pt[1], col, f.name, f.disc)
		}
	}
	if c.fine {
		initials := image.Rect(int(cx-0.15*d), int(cy-0.15*d), int(cx+0.15*d), int(cy+0.15*d))
		if !contains(c.img, c.region(initials), initialsColor, 40, 1) {
			return fmt.Sprintf("no initials (white) in the middle %v of %s", initials, f.name)
		}
	}
	return ""
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

// tile checks that r shows f: its centre, and (fine) just inside each
// edge its fill, just outside background.
func (c *checker) tile(res *Result, r image.Rectangle, f face, what string) {
	if why := c.shows(r, f); why != "" {
		got := "nobody"
		if j := c.who(r); j >= 0 {
			got = c.camera(j).name
		}
		res.Problems = append(res.Problems, fmt.Sprintf("%s %v: %s (it shows %s)", what, r, why, got))
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
		if col := c.at(pt[0], pt[1]); !near(col, f.fill, f.tol) {
			res.Problems = append(res.Problems, fmt.Sprintf("%s %v (%s): %s edge, %d px inside, is %v, not the tile's colour %v",
				what, r, f.name, sides[k], in, col, f.fill))
		}
	}
	for k, pt := range outside {
		if pt[0] < 0 || pt[1] < 0 || pt[0] >= float64(c.img.Bounds().Dx())/c.scale || pt[1] >= float64(c.img.Bounds().Dy())/c.scale {
			continue
		}
		if col := c.at(pt[0], pt[1]); !c.bgOK(col) {
			res.Problems = append(res.Problems, fmt.Sprintf("%s %v (%s): %s edge, %d px outside, is %v (luma %.0f), want the %s background",
				what, r, f.name, sides[k], out, col, luma(col), c.theme()))
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
	c.tileFull(res, page, c.camera(i))
	for j, p := range c.people {
		if j != i && contains(c.img, frame, p.Color, 40, 4) {
			res.Problems = append(res.Problems, fmt.Sprintf("%s's colour is on screen, but only %s should be", p.Name, c.people[i].Name))
		}
	}
}

// tileFull checks a tile that fills the frame (page) with f.
func (c *checker) tileFull(res *Result, page image.Rectangle, f face) {
	if why := c.shows(page, f); why != "" {
		res.Problems = append(res.Problems, "full frame: "+why)
		return
	}
	if !c.fine {
		return
	}
	// Full bleed: the colour reaches the edges (no margin).
	w, h := float64(page.Dx()), float64(page.Dy())
	for _, pt := range [][2]float64{{4, 4}, {w / 2, 4}, {w - 5, 4}, {w - 5, h / 2}, {4, h / 3}} {
		if col := c.at(pt[0], pt[1]); !near(col, f.fill, f.tol) {
			res.Problems = append(res.Problems, fmt.Sprintf("full frame: (%.0f,%.0f) is %v, not the colour of %s: the tile does not reach the edge", pt[0], pt[1], col, f.name))
		}
	}
	// The theme shows in the name label: dark rgba(8,10,13,0.68) or light
	// rgba(255,255,255,0.86) over the tile (app.css --label-bg), at
	// 20 px from the bottom-left corner (label inset of a full-bleed tile
	// at scale 1); the point is in the label's left padding, off the text.
	scale := c.pageScale
	inset := math.Floor(20*scale + 0.5)
	x, y := inset+8*scale, h-inset-10*scale
	want := blend(color.RGBA{8, 10, 13, 255}, 0.68, f.fill)
	if c.light {
		want = blend(color.RGBA{255, 255, 255, 255}, 0.86, f.fill)
	}
	if col := c.at(x, y); !near(col, want, 30) {
		res.Problems = append(res.Problems, fmt.Sprintf("full frame: name label at (%.0f,%.0f) is %v, want %v (the %s theme's label over %s)",
			x, y, col, want, map[bool]string{false: "dark", true: "light"}[c.light], f.name))
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
	c.tile(res, a.Main, c.camera(s), "main tile")
	var others []int
	for i := range c.people {
		if i != s {
			others = append(others, i)
		}
	}
	if a.Hidden == 0 {
		for k, r := range a.Strip {
			res.Strip = append(res.Strip, others[k])
			c.tile(res, r, c.camera(others[k]), fmt.Sprintf("strip tile %d", k))
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
		c.tile(res, r, c.camera(i), fmt.Sprintf("strip tile %d", k))
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

// share checks a room with a screen share (ArrangeShare): the share in the
// main tile and every camera in the strip, in join order but for the
// speaker layout's speaker first; or the share alone, filling the frame.
func (c *checker) share(res *Result, a Arrangement, speakerFirst bool, sharer int) {
	p := c.people[sharer]
	sf := face{name: p.Name + "'s screen share", fill: *p.Share, tol: colorTol}
	if a.Full {
		if page := image.Rect(0, 0, a.Width, a.Height); a.Main == page {
			c.tileFull(res, page, sf)
		} else {
			c.tile(res, a.Main, sf, "screen share") // letterboxed: the bars are the theme's
		}
		for _, q := range c.people {
			if contains(c.img, c.img.Bounds(), q.Color, 40, 4) {
				res.Problems = append(res.Problems, fmt.Sprintf("%s's colour is on screen, but only %s should be", q.Name, sf.name))
			}
		}
		return
	}
	c.tile(res, a.Main, sf, "screen share")
	order := make([]int, len(c.people))
	for i := range order {
		order[i] = i
	}
	if speakerFirst {
		s := c.who(a.Strip[0])
		if s < 0 {
			res.Problems = append(res.Problems, fmt.Sprintf("strip tile 0 %v: no participant's camera fills it, want the speaker's", a.Strip[0]))
			return
		}
		res.Speaker = s
		order = append([]int{s}, slices.Delete(order, s, s+1)...)
	}
	for k, r := range a.Strip {
		res.Strip = append(res.Strip, order[k])
		c.tile(res, r, c.camera(order[k]), fmt.Sprintf("strip tile %d", k))
	}
	c.background(res, a)
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
