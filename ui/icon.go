package ui

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
)

// drawIcon draws the app's icon, size x size: a violet rounded square
// with a red REC dot in a white ring, broadcasting to both sides. The
// same drawing is assets/icon.png (for fyne package) and the window's
// icon, so they cannot differ.
func drawIcon(size int) *image.RGBA {
	const ss = 4 // samples per pixel and axis, for smooth edges
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	for py := range size {
		for px := range size {
			var r, g, b, a float64
			for sy := range ss {
				for sx := range ss {
					x := (float64(px) + (float64(sx)+0.5)/ss) / float64(size)
					y := (float64(py) + (float64(sy)+0.5)/ss) / float64(size)
					c := iconSample(x, y)
					r += c[0] * c[3]
					g += c[1] * c[3]
					b += c[2] * c[3]
					a += c[3]
				}
			}
			n := float64(ss * ss)
			img.SetRGBA(px, py, color.RGBA{R: u8(r / n), G: u8(g / n), B: u8(b / n), A: u8(a / n)})
		}
	}
	return img
}

// iconSample is the icon's colour at (x, y) in the unit square, as
// straight (not premultiplied) RGBA in 0..1.
func iconSample(x, y float64) [4]float64 {
	const (
		margin = 0.04
		radius = 0.22 // of the rounded square's corners
	)
	// rounded square
	qx := math.Max(math.Abs(x-0.5)-(0.5-margin-radius), 0)
	qy := math.Max(math.Abs(y-0.5)-(0.5-margin-radius), 0)
	if math.Hypot(qx, qy) > radius {
		return [4]float64{}
	}
	// violet, lighter at the top
	t := (y - margin) / (1 - 2*margin)
	bg := [4]float64{mix(0.60, 0.33, t), mix(0.47, 0.22, t), mix(1.00, 0.80, t), 1}
	white := [4]float64{1, 1, 1, 1}
	dx, dy := x-0.5, y-0.5
	d := math.Hypot(dx, dy)
	switch {
	case d < 0.095:
		return [4]float64{0.96, 0.25, 0.32, 1} // the REC dot
	case d < 0.14:
		return white
	}
	// two arcs each side, within 42 degrees of the horizontal
	angle := math.Abs(math.Atan2(dy, math.Abs(dx)))
	for _, r := range []float64{0.235, 0.335} {
		const half = 0.026 // half the stroke
		if angle < 42*math.Pi/180 && math.Abs(d-r) < half {
			return white
		}
		// round caps
		for _, sx := range []float64{-1, 1} {
			for _, sy := range []float64{-1, 1} {
				cx := 0.5 + sx*r*math.Cos(42*math.Pi/180)
				cy := 0.5 + sy*r*math.Sin(42*math.Pi/180)
				if math.Hypot(x-cx, y-cy) < half {
					return white
				}
			}
		}
	}
	return bg
}

func mix(a, b, t float64) float64 { return a + (b-a)*math.Min(math.Max(t, 0), 1) }

func u8(f float64) uint8 { return uint8(math.Round(math.Min(math.Max(f, 0), 1) * 255)) }

// iconPNG encodes the icon at size.
func iconPNG(size int) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, drawIcon(size)); err != nil {
		panic(err) // encoding an in-memory RGBA cannot fail
	}
	return buf.Bytes()
}

// iconResource is the window's icon (window managers show it at 128 px
// or less; drawing it takes about 60 ms).
func iconResource() fyne.Resource {
	return fyne.NewStaticResource("roomcast.png", iconPNG(128))
}

// appLogo is the icon at the top left of the window.
func appLogo() fyne.CanvasObject {
	img := canvas.NewImageFromImage(drawIcon(64))
	img.FillMode = canvas.ImageFillContain
	img.SetMinSize(fyne.NewSize(28, 28))
	return img
}
