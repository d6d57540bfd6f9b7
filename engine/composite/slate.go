package composite

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"os"
	"os/exec"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// slateText is what the screen shows while the browser is away.
const slateText = "Reconnecting…"

// The layouts' theme colours (layouts/src/app.css: --bg, --text).
var (
	slateDark  = [2]string{"#0b0d10", "#f5f7fa"} // background, text
	slateLight = [2]string{"#f4f5f7", "#14171c"}
)

// setSlate makes the screen's background, the X root window under the
// browser's window, a still "Reconnecting…" in the layout's theme. When
// the browser's window goes (it crashed, or a new one is not shown yet)
// the screen, and so every output and the preview, shows the slate rather
// than black, with no process and no CPU of its own: the X server paints
// it. xsetroot takes a bitmap of the screen's size in two colours.
func setSlate(ctx context.Context, display string, width, height int, light bool) error {
	colours := slateDark
	if light {
		colours = slateLight
	}
	bits, err := slateBitmap(width, height)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp("", "roomcast-slate-*.xbm")
	if err != nil {
		return fmt.Errorf("slate: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = f.WriteString(xbm(bits))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("slate: %w", err)
	}
	cmd := exec.CommandContext(ctx, "xsetroot", "-display", display, "-bitmap", f.Name(), "-fg", colours[1], "-bg", colours[0])
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("slate: xsetroot: %v: %s (run make deps: x11-xserver-utils)", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// slateBitmap draws slateText in the middle of a width x height image,
// one bit a pixel (set: text).
func slateBitmap(width, height int) (*image.Gray, error) {
	ttf, err := opentype.Parse(goregular.TTF)
	if err != nil {
		return nil, err
	}
	face, err := opentype.NewFace(ttf, &opentype.FaceOptions{Size: float64(min(width, height)) / 14, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		return nil, err
	}
	defer face.Close()
	img := image.NewGray(image.Rect(0, 0, width, height))
	d := &font.Drawer{Dst: img, Src: image.NewUniform(color.Gray{Y: 255}), Face: face}
	adv := d.MeasureString(slateText)
	m := face.Metrics()
	d.Dot = fixed.Point26_6{
		X: (fixed.I(width) - adv) / 2,
		Y: (fixed.I(height) + m.Ascent - m.Descent) / 2,
	}
	draw.Draw(img, img.Bounds(), image.NewUniform(color.Gray{}), image.Point{}, draw.Src)
	d.DrawString(slateText)
	return img, nil
}

// xbm writes img as an X bitmap: rows of bytes, least significant bit
// leftmost, a pixel set where img is bright.
func xbm(img *image.Gray) string {
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	var b strings.Builder
	fmt.Fprintf(&b, "#define slate_width %d\n#define slate_height %d\nstatic unsigned char slate_bits[] = {\n", w, h)
	for y := range h {
		for x0 := 0; x0 < w; x0 += 8 {
			var v byte
			for i := range 8 {
				if x := x0 + i; x < w && img.GrayAt(x, y).Y >= 128 {
					v |= 1 << i
				}
			}
			fmt.Fprintf(&b, "0x%02x,", v)
		}
		b.WriteByte('\n')
	}
	b.WriteString("};\n")
	return b.String()
}
