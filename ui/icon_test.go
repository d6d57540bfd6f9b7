package ui

import (
	"bytes"
	"flag"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"roomcast/engine/mediatest"
)

// update rewrites the files the tests check against: assets/icon.png, and
// with the integration tag the README's screenshot.
var update = flag.Bool("update", false, "rewrite assets/icon.png (and assets/screenshots/studio.png)")

// TestIconAsset: assets/icon.png (FyneApp.toml's icon, for fyne package)
// is drawIcon at 512 px, the window's own icon.
func TestIconAsset(t *testing.T) {
	path := filepath.Join("..", "assets", "icon.png")
	want := iconPNG(512)
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v; run go test ./ui -run TestIconAsset -update", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("assets/icon.png is not drawIcon(512); run go test ./ui -run TestIconAsset -update")
	}
	img, err := png.Decode(bytes.NewReader(got))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 512 || b.Dy() != 512 {
		t.Errorf("icon is %v, want 512x512", b)
	}
	if _, _, _, a := img.At(2, 2).RGBA(); a != 0 {
		t.Error("the icon's corner is not transparent")
	}
	if !mediatest.Near(img.At(256, 256), color.RGBA{R: 245, G: 64, B: 82}, 8) {
		t.Errorf("the icon's centre is %v, want the REC red", img.At(256, 256))
	}
}
