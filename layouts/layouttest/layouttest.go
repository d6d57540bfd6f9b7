// Package layouttest tells tests where the layouts put each participant: a Go copy of the tile math of layouts/src/geometry.js, for rooms of cameras and at most one screen share.
//
// A test that takes a screenshot of a layout (real Chromium, or a frame of
// a recording) asks Arrange (or ArrangeShare) where tile i should be and
// checks the pixels there. The copy is checked against geometry.js itself
// by this package's own test (it runs node), so the two cannot drift apart
// unnoticed.
//
// Rooms of more than 16 people, more cameras than fit beside a screen
// share, and several shares are not covered: which tiles are shown then
// depends on who spoke last.
package layouttest

import (
	"fmt"
	"image"
	"math"
	"strings"
)

// maxGridTiles is geometry.js MAX_GRID_TILES.
const maxGridTiles = 16

// cameraAspect is geometry.js CAMERA_ASPECT.
const cameraAspect = 16.0 / 9.0

// Layout is a parsed layout name.
type Layout struct {
	Base  string // "grid", "speaker" or "single-speaker"
	Light bool   // the -light variant
}

// Parse reads a built-in layout name as the page does (geometry.js
// parseLayout): "" is grid, "-dark" is an alias of the dark layout.
func Parse(name string) (Layout, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	if name == "" {
		return Layout{Base: "grid"}, nil
	}
	var l Layout
	switch {
	case strings.HasSuffix(name, "-light"):
		l = Layout{Base: strings.TrimSuffix(name, "-light"), Light: true}
	case strings.HasSuffix(name, "-dark"):
		l = Layout{Base: strings.TrimSuffix(name, "-dark")}
	default:
		l = Layout{Base: name}
	}
	switch l.Base {
	case "grid", "speaker", "single-speaker":
		return l, nil
	}
	return Layout{}, fmt.Errorf("layouttest: %q is not a built-in layout", name)
}

// Arrangement is where a layout draws a room of n camera participants,
// and of a screen share if there is one (ArrangeShare).
// Rectangles are in pixels of the page (the output size); neighbours are
// Gap pixels apart and the outer margin is Pad pixels wide.
type Arrangement struct {
	Width, Height int
	Pad, Gap      int
	// Full: one tile fills the whole frame (no background is visible). It
	// shows participant 0 in a grid, or the active speaker; or the screen
	// share, whose picture is then at Main.
	Full bool
	// Grid: tile i shows participant i (join order).
	Grid []image.Rectangle
	// Main is the active speaker's tile in the speaker layouts (alone, in
	// single-speaker or a speaker layout of one, when the whole frame would
	// crop the camera too much), or the screen share's.
	Main image.Rectangle
	// Strip are the small tiles of the speaker layout in order. The others
	// than the speaker are shown there in join order; when not all fit,
	// the last tile is an overflow tile ("+Hidden") and the page picks the
	// most recent speakers for the others. Beside a screen share, every
	// camera is there: in join order, but for the speaker layout's speaker
	// first.
	Strip  []image.Rectangle
	Hidden int
}

// Arrange returns the arrangement of layout base ("grid", "speaker",
// "single-speaker") for n camera participants (1..16) on a width x height
// page, as computeLayout in geometry.js makes it.
func Arrange(base string, width, height, n int) (Arrangement, error) {
	if n < 1 || n > maxGridTiles {
		return Arrangement{}, fmt.Errorf("layouttest: %d participants; only 1..%d are covered", n, maxGridTiles)
	}
	pad, gap := metrics(width, height)
	a := Arrangement{Width: width, Height: height, Pad: pad, Gap: gap}
	portrait := height > width
	switch {
	case base == "single-speaker" || (base == "speaker" && n == 1):
		// The speaker alone: the whole frame if that crops it little
		// enough, else a main tile of its own on the background.
		if r, fits := cameraRect(rect{0, 0, float64(width), float64(height)}, cameraAspect); fits {
			a.Full = true
		} else {
			a.Main = r
		}
	case n == 1:
		a.Full = true
	case base == "grid":
		area := rect{float64(pad), float64(pad), float64(width - 2*pad), float64(height - 2*pad)}
		a.Grid = gridRects(n, area, float64(gap), portrait)
	case base == "speaker":
		s := splitStage(width, height, pad, gap)
		a.Main, _ = cameraRect(s.main, cameraAspect)
		others := n - 1
		count := others
		if others > s.slots {
			count = s.slots
			a.Hidden = others - (s.slots - 1)
		}
		a.Strip = stripRects(count, s.strip, s.tileW, s.tileH, float64(gap), s.vertical)
	default:
		return Arrangement{}, fmt.Errorf("layouttest: unknown layout base %q", base)
	}
	return a, nil
}

// The shape of the screen shares covered: the demo's (16:9), which is also
// geometry.js CAMERA_ASPECT. The page sizes a share's tile by the picture's
// aspect.
const shareAspect = cameraAspect

// geometry.js PORTRAIT_SHARE_MAX and PORTRAIT_SHARE_CAMERAS.
const (
	portraitShareMax     = 0.62
	portraitShareCameras = 9
)

// ArrangeShare returns the arrangement of layout base for n camera
// participants (0..) and one 16:9 screen share, as computeLayout in
// geometry.js makes it: in single-speaker (or with no camera) the share
// alone, Full, its picture at Main (letterboxed where the frame is not
// 16:9); else the share at Main and all n cameras in the Strip, which n
// must fit (4 beside a 1280x720 share, 9 under a portrait one).
func ArrangeShare(base string, width, height, n int) (Arrangement, error) {
	switch base {
	case "grid", "speaker", "single-speaker":
	default:
		return Arrangement{}, fmt.Errorf("layouttest: unknown layout base %q", base)
	}
	if n < 0 {
		return Arrangement{}, fmt.Errorf("layouttest: %d participants", n)
	}
	pad, gap := metrics(width, height)
	a := Arrangement{Width: width, Height: height, Pad: pad, Gap: gap}
	if base == "single-speaker" || n == 0 {
		a.Full = true
		a.Main = fitAspect(rect{0, 0, float64(width), float64(height)}, shareAspect)
		return a, nil
	}
	g := float64(gap)
	if height > width {
		p := float64(pad)
		area := rect{p, p, float64(width) - 2*p, float64(height) - 2*p}
		if n > portraitShareCameras {
			return Arrangement{}, fmt.Errorf("layouttest: %d cameras under a portrait screen share; only up to %d are covered", n, portraitShareCameras)
		}
		mainH := jsRound(math.Min(area.w/shareAspect, area.h*portraitShareMax))
		a.Main = fitAspect(rect{area.x, area.y, area.w, mainH}, shareAspect)
		rest := rect{area.x, area.y + mainH + g, area.w, area.h - mainH - g}
		a.Strip = gridRects(n, rest, g, rest.h > rest.w)
		return a, nil
	}
	s := splitStage(width, height, pad, gap)
	if n > s.slots {
		return Arrangement{}, fmt.Errorf("layouttest: %d cameras beside a screen share; only up to %d are covered at %dx%d", n, s.slots, width, height)
	}
	a.Main = fitAspect(s.main, shareAspect)
	a.Strip = stripRects(n, s.strip, s.tileW, s.tileH, g, s.vertical)
	return a, nil
}

// fitAspect is geometry.js fitAspect: the largest rectangle of aspect
// (w/h) centred in r.
func fitAspect(r rect, aspect float64) image.Rectangle {
	w, h := r.w, r.w/aspect
	if h > r.h {
		h, w = r.h, r.h*aspect
	}
	return snap(r.x+(r.w-w)/2, r.y+(r.h-h)/2, w, h)
}

// cameraCropMax is geometry.js CAMERA_CROP_MAX.
const cameraCropMax = 0.05

// cameraRect is geometry.js cameraRect: r itself when a camera of aspect
// filling it loses at most cameraCropMax of its width or height, else the
// largest rectangle within r that loses exactly that much; and whether r
// was kept.
func cameraRect(r rect, aspect float64) (image.Rectangle, bool) {
	shape := r.w / r.h
	keep := 1 - cameraCropMax
	tile := math.Min(math.Max(shape, aspect*keep), aspect/keep)
	if math.Abs(tile/shape-1) < 1e-9 {
		return r.image(), true
	}
	return fitAspect(r, tile), false
}

// rect is geometry.js's {x, y, w, h} before rounding.
type rect struct{ x, y, w, h float64 }

func (r rect) image() image.Rectangle {
	return image.Rect(int(r.x), int(r.y), int(r.x+r.w), int(r.y+r.h))
}

// jsRound is JavaScript's Math.round (halves go up).
func jsRound(x float64) float64 { return math.Floor(x + 0.5) }

// snap is geometry.js snap: integer edges shared by neighbours.
func snap(x, y, w, h float64) image.Rectangle {
	x0, y0 := jsRound(x), jsRound(y)
	return image.Rect(int(x0), int(y0), int(jsRound(x+w)), int(jsRound(y+h)))
}

// pageScale is geometry.js metrics' scale: sizes are designed at 720 px on
// the short side.
func pageScale(width, height int) float64 {
	return math.Max(0.25, float64(min(width, height))/720)
}

func metrics(width, height int) (pad, gap int) {
	scale := pageScale(width, height)
	return int(jsRound(16 * scale)), int(jsRound(10 * scale))
}

func gridDims(n int, portrait bool) (cols, rows int) {
	switch {
	case n <= 1:
		cols, rows = 1, 1
	case n == 2:
		cols, rows = 2, 1
	case n <= 4:
		cols, rows = 2, 2
	case n <= 9:
		cols, rows = 3, 3
	default:
		cols, rows = 4, 4
	}
	if portrait {
		return rows, cols
	}
	return cols, rows
}

func gridRects(n int, area rect, gap float64, portrait bool) []image.Rectangle {
	cols, rows := gridDims(min(n, maxGridTiles), portrait)
	cellW := (area.w - gap*float64(cols-1)) / float64(cols)
	cellH := (area.h - gap*float64(rows-1)) / float64(rows)
	count := min(n, cols*rows)
	usedRows := (count + cols - 1) / cols
	usedH := float64(usedRows)*cellH + float64(usedRows-1)*gap
	y0 := area.y + (area.h-usedH)/2
	out := make([]image.Rectangle, 0, count)
	for i := range count {
		row, col := i/cols, i%cols
		inRow := min(cols, count-row*cols)
		rowW := float64(inRow)*cellW + float64(inRow-1)*gap
		x0 := area.x + (area.w-rowW)/2
		out = append(out, snap(x0+float64(col)*(cellW+gap), y0+float64(row)*(cellH+gap), cellW, cellH))
	}
	return out
}

type split struct {
	main, strip  rect
	tileW, tileH float64
	slots        int
	vertical     bool
}

func splitStage(width, height, pad, gap int) split {
	p, g := float64(pad), float64(gap)
	area := rect{p, p, float64(width) - 2*p, float64(height) - 2*p}
	if height <= width {
		slotH0 := (area.h - 3*g) / 4
		tileW := math.Min(slotH0*cameraAspect, 0.3*area.w)
		tileH := tileW / cameraAspect
		slots := max(1, int(math.Floor((area.h+g)/(tileH+g))))
		stripW := jsRound(tileW)
		return split{
			main:  rect{area.x, area.y, area.w - g - stripW, area.h},
			strip: rect{area.x + area.w - stripW, area.y, stripW, area.h},
			tileW: tileW, tileH: tileH, slots: slots, vertical: true,
		}
	}
	side := math.Min((area.w-2*g)/3, 0.25*area.h)
	slots := max(1, int(math.Floor((area.w+g)/(side+g))))
	stripH := jsRound(side)
	return split{
		main:  rect{area.x, area.y, area.w, area.h - g - stripH},
		strip: rect{area.x, area.y + area.h - stripH, area.w, stripH},
		tileW: side, tileH: side, slots: slots, vertical: false,
	}
}

func stripRects(n int, strip rect, tileW, tileH, gap float64, vertical bool) []image.Rectangle {
	out := make([]image.Rectangle, 0, n)
	if vertical {
		used := float64(n)*tileH + float64(n-1)*gap
		y0 := strip.y + (strip.h-used)/2
		for i := range n {
			out = append(out, snap(strip.x, y0+float64(i)*(tileH+gap), strip.w, tileH))
		}
		return out
	}
	used := float64(n)*tileW + float64(n-1)*gap
	x0 := strip.x + (strip.w-used)/2
	for i := range n {
		out = append(out, snap(x0+float64(i)*(tileW+gap), strip.y, tileW, strip.h))
	}
	return out
}
