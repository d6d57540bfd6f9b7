package layouttest

import (
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// jsTile is one tile of geometry.js computeLayout's answer.
type jsTile struct {
	Key  string `json:"key"`
	X    int    `json:"x"`
	Y    int    `json:"y"`
	W    int    `json:"w"`
	H    int    `json:"h"`
	Role string `json:"role"`
}

type jsLayout struct {
	Tiles    []jsTile `json:"tiles"`
	Overflow *struct {
		X, Y, W, H, Count int
	} `json:"overflow"`
}

// TestMatchesGeometryJS runs geometry.js's computeLayout under node for
// every covered case and compares it with Arrange and ArrangeShare, so the
// Go copy cannot drift from what the page draws.
func TestMatchesGeometryJS(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not found (make deps installs it)")
	}
	src, err := filepath.Abs("../src/geometry.js")
	if err != nil {
		t.Fatal(err)
	}
	sizes := [][2]int{{1280, 720}, {720, 1280}, {1920, 1080}, {1080, 1920}, {640, 480}}
	bases := []string{"grid", "speaker", "single-speaker"}
	// One node run computes every case: a JSON array in the order of the
	// loops below, camera-only rooms of 1 to 16, then rooms of 0 to 10
	// cameras with a 16:9 screen share, whose speaker is the last camera
	// (to see the strip's order).
	const maxBesideShare = 10
	script := fmt.Sprintf(`
import { computeLayout } from %q;
const out = [];
const cameras = (n) => Array.from({ length: n }, (_, i) => ({ key: 'c' + i }));
for (const [width, height] of %[2]s)
  for (const layout of %[3]s)
    for (let n = 1; n <= 16; n++)
      out.push(computeLayout({ layout, width, height, cameras: cameras(n), speakerKey: 'c0' }));
for (const [width, height] of %[2]s)
  for (const layout of %[3]s)
    for (let n = 0; n <= %[4]d; n++) {
      const screens = [{ key: 's0', aspect: 16 / 9 }];
      out.push(computeLayout({ layout, width, height, cameras: cameras(n), screens, speakerKey: 'c' + (n - 1) }));
    }
console.log(JSON.stringify(out));
`, "file://"+src, mustJSON(t, sizes), mustJSON(t, bases), maxBesideShare)
	cmd := exec.Command(node, "--input-type=module", "-e", script)
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v: %s", err, stderr(err))
	}
	var all []jsLayout
	if err := json.Unmarshal(raw, &all); err != nil {
		t.Fatal(err)
	}
	i := 0
	for _, size := range sizes {
		for _, base := range bases {
			for n := 1; n <= 16; n++ {
				js := all[i]
				i++
				got, err := Arrange(base, size[0], size[1], n)
				if err != nil {
					t.Fatal(err)
				}
				name := fmt.Sprintf("%s %dx%d n=%d", base, size[0], size[1], n)
				compare(t, name, got, js)
			}
		}
	}
	covered := 0
	for _, size := range sizes {
		for _, base := range bases {
			for n := 0; n <= maxBesideShare; n++ {
				js := all[i]
				i++
				name := fmt.Sprintf("%s %dx%d n=%d with a screen share", base, size[0], size[1], n)
				got, err := ArrangeShare(base, size[0], size[1], n)
				if err != nil {
					// Not covered must mean the page shows some cameras
					// only, chosen by who spoke last.
					if js.Overflow == nil {
						t.Errorf("%s: %v, but geometry.js shows every camera", name, err)
					}
					continue
				}
				covered++
				compare(t, name, got, js)
				checkShareKeys(t, name, base, n, js)
			}
		}
	}
	if covered < 50 {
		t.Errorf("only %d cases with a screen share are covered", covered)
	}
}

// checkShareKeys checks what the tiles of a room with a screen share show
// (geometry.js asked with the last of n cameras as the speaker): the share
// in the main or full tile, the cameras in join order, but for the speaker
// layout's speaker first, as Check expects them.
func checkShareKeys(t *testing.T, name, base string, n int, js jsLayout) {
	t.Helper()
	var keys []string
	for _, tl := range js.Tiles {
		if tl.Role == "main" || tl.Role == "full" {
			if tl.Key != "s0" {
				t.Errorf("%s: the %s tile shows %s, want the share", name, tl.Role, tl.Key)
			}
			continue
		}
		keys = append(keys, tl.Key)
	}
	var want []string
	if base != "single-speaker" {
		for i := range n {
			want = append(want, fmt.Sprintf("c%d", i))
		}
		if base == "speaker" && n > 0 {
			want = append([]string{want[n-1]}, want[:n-1]...)
		}
	}
	if !slices.Equal(keys, want) {
		t.Errorf("%s: the strip shows %v, want %v", name, keys, want)
	}
}

// TestPlaceholderHue compares hue with people.js's, which gives a
// placeholder its colour.
func TestPlaceholderHue(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not found (make deps installs it)")
	}
	src, err := filepath.Abs("../src/people.js")
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{"alice", "bob", "carol", "dave", "sybil2", "Zoë", "名前", "EG_x", ""}
	script := fmt.Sprintf(`
import { hue } from %q;
console.log(JSON.stringify(%s.map(hue)));
`, "file://"+src, mustJSON(t, ids))
	raw, err := exec.Command(node, "--input-type=module", "-e", script).Output()
	if err != nil {
		t.Fatalf("node: %v: %s", err, stderr(err))
	}
	var want []int
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		if got := hue(id); got != want[i] {
			t.Errorf("hue(%q) = %d, people.js says %d", id, got, want[i])
		}
	}
}

// TestHSL checks the CSS hsl() conversion on colours whose RGB is known.
func TestHSL(t *testing.T) {
	for _, c := range []struct {
		h, s, l float64
		want    color.RGBA
	}{
		{0, 1, 0.5, color.RGBA{255, 0, 0, 255}},
		{240, 1, 0.5, color.RGBA{0, 0, 255, 255}},
		{120, 0.75, 0.25, color.RGBA{16, 112, 16, 255}},
		{300, 0, 0.5, color.RGBA{128, 128, 128, 255}},
	} {
		if got := hsl(c.h, c.s, c.l); got != c.want {
			t.Errorf("hsl(%g %g%% %g%%) = %v, want %v", c.h, 100*c.s, 100*c.l, got, c.want)
		}
	}
}

func compare(t *testing.T, name string, a Arrangement, js jsLayout) {
	t.Helper()
	r := func(tl jsTile) image.Rectangle { return image.Rect(tl.X, tl.Y, tl.X+tl.W, tl.Y+tl.H) }
	var full, mains, strips, grids []image.Rectangle
	for _, tl := range js.Tiles {
		switch tl.Role {
		case "full":
			full = append(full, r(tl))
		case "main":
			mains = append(mains, r(tl))
		case "strip":
			strips = append(strips, r(tl))
		case "grid":
			grids = append(grids, r(tl))
		}
	}
	frame := image.Rect(0, 0, a.Width, a.Height)
	switch {
	case a.Full:
		if len(js.Tiles) != 1 || len(full) != 1 || full[0] != frame {
			t.Errorf("%s: Go says one full-frame tile; geometry.js: %+v", name, js.Tiles)
		}
	case a.Grid != nil:
		if !slices.Equal(a.Grid, grids) || len(grids) != len(js.Tiles) {
			t.Errorf("%s: Go grid %v; geometry.js %+v", name, a.Grid, js.Tiles)
		}
		for i, tl := range js.Tiles {
			if want := fmt.Sprintf("c%d", i); tl.Key != want {
				t.Errorf("%s: grid tile %d shows %s, want %s (join order)", name, i, tl.Key, want)
			}
		}
	default:
		if len(mains) != 1 || mains[0] != a.Main {
			t.Errorf("%s: Go main %v; geometry.js %v", name, a.Main, mains)
		}
		jsStrip := strips
		hidden := 0
		if o := js.Overflow; o != nil {
			jsStrip = append(jsStrip, image.Rect(o.X, o.Y, o.X+o.W, o.Y+o.H))
			hidden = o.Count
		}
		if !slices.Equal(a.Strip, jsStrip) || a.Hidden != hidden {
			t.Errorf("%s: Go strip %v (+%d); geometry.js %v (+%d)", name, a.Strip, a.Hidden, jsStrip, hidden)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func stderr(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Layout
		bad  bool
	}{
		{in: "", want: Layout{Base: "grid"}},
		{in: "grid", want: Layout{Base: "grid"}},
		{in: "Speaker-Light", want: Layout{Base: "speaker", Light: true}},
		{in: "single-speaker-dark", want: Layout{Base: "single-speaker"}},
		{in: "mosaic", bad: true},
	} {
		got, err := Parse(c.in)
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v (error: %v)", c.in, got, err, c.want, c.bad)
		}
	}
}
