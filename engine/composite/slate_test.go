package composite

import (
	"context"
	"image"
	"image/color"
	"testing"
	"time"

	"roomcast/engine/display"
	"roomcast/engine/mediatest"
	"roomcast/engine/proctest"
)

// TestSlate sets the slate on a real screen and finds it there: the
// theme's background, and its text in the middle.
func TestSlate(t *testing.T) {
	proctest.Need(t, "Xvfb", "xsetroot", "ffmpeg")
	cases := []struct {
		name     string
		light    bool
		bg, text color.RGBA
	}{
		{"dark", false, color.RGBA{0x0b, 0x0d, 0x10, 255}, color.RGBA{0xf5, 0xf7, 0xfa, 255}},
		{"light", true, color.RGBA{0xf4, 0xf5, 0xf7, 255}, color.RGBA{0x14, 0x17, 0x1c, 255}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s, err := display.Start(ctx, 640, 360)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := setSlate(ctx, s.Name(), 640, 360, c.light); err != nil {
				t.Fatal(err)
			}
			img, err := mediatest.Grab(s.Name(), 640, 360)
			if err != nil {
				t.Fatal(err)
			}
			if !mediatest.Near(img.At(5, 5), c.bg, 2) || !mediatest.Near(img.At(635, 355), c.bg, 2) {
				t.Errorf("corners %v %v, want the background %v", img.At(5, 5), img.At(635, 355), c.bg)
			}
			middle := img.SubImage(image.Rect(160, 140, 480, 220))
			if !mediatest.Contains(middle, c.text, 2, 1) {
				t.Errorf("no %v text in the middle", c.text)
			}
		})
	}
}
