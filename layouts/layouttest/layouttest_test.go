package layouttest

import (
	"encoding/json"
	"fmt"
	"image"
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
// every covered case and compares it with Arrange, so the Go copy cannot
// drift from what the page draws.
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
	// loops below.
	script := fmt.Sprintf(`
import { computeLayout } from %q;
const out = [];
for (const [width, height] of %s)
  for (const layout of %s)
    for (let n = 1; n <= 16; n++) {
      const cameras = Array.from({ length: n }, (_, i) => ({ key: 'c' + i }));
      out.push(computeLayout({ layout, width, height, cameras, speakerKey: 'c0' }));
    }
console.log(JSON.stringify(out));
`, "file://"+src, mustJSON(t, sizes), mustJSON(t, bases))
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
