package layouttest

import (
	"image"
	"image/color"
	"math"
)

// What the page draws in the tile of a participant whose camera is off
// (stage.js TileView, app.css .placeholder and .avatar): the theme's tile
// colour, with a disc of the identity's hue centred on it and the initials
// in white on the disc.
var (
	tileDark      = color.RGBA{0x17, 0x1a, 0x20, 0xff} // app.css --tile
	tileLight     = color.RGBA{0xe2, 0xe5, 0xea, 0xff}
	initialsColor = color.RGBA{0xff, 0xff, 0xff, 0xff} // --avatar-fg, both themes
)

// pageTol is how near a screenshot's pixel is to a colour the page paints
// itself (not video): exact but for a unit of rounding. 6 still tells the
// dark tile colour from the dark background, 12 or more apart in each
// channel.
const pageTol = 6

// hue is people.js hue: a stable hue (0-359) for an identity, FNV-1a over
// its code points.
func hue(id string) int {
	h := uint32(2166136261)
	for _, r := range id {
		h ^= uint32(r)
		h *= 16777619
	}
	return int(h % 360)
}

// avatarColor is the disc's colour for an identity: app.css
// hsl(var(--hue) var(--avatar-s) var(--avatar-l)), 36% and 34% in the dark
// theme, 42% and 56% in the light one.
func avatarColor(id string, light bool) color.RGBA {
	if light {
		return hsl(float64(hue(id)), 0.42, 0.56)
	}
	return hsl(float64(hue(id)), 0.36, 0.34)
}

// hsl converts a CSS hsl() colour (hue in degrees, saturation and
// lightness 0..1) to RGB as CSS Color 4 does.
func hsl(h, s, l float64) color.RGBA {
	a := s * math.Min(l, 1-l)
	f := func(n float64) uint8 {
		k := math.Mod(n+h/30, 12)
		return uint8(jsRound(255 * (l - a*math.Max(-1, math.Min(math.Min(k-3, 9-k), 1)))))
	}
	return color.RGBA{f(0), f(8), f(4), 0xff}
}

// avatarSize is the disc's diameter in tile r (page px) on a page of
// scale (stage.js --avatar-size).
func avatarSize(r image.Rectangle, scale float64) float64 {
	return jsRound(math.Min(0.38*float64(min(r.Dx(), r.Dy())), 220*scale))
}
