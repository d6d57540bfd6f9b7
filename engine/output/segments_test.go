package output

import (
	"slices"
	"testing"
	"time"
)

func TestCutterCutsOnlyAtBoundaries(t *testing.T) {
	const s = time.Second
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	cases := []struct {
		name      string
		every     time.Duration
		keyFrames []time.Duration
		cuts      []time.Duration
	}{
		{"one key frame a segment", 2 * s, []time.Duration{0, 2 * s, 4 * s, 6 * s}, []time.Duration{2 * s, 4 * s, 6 * s}},
		{"rounding just before a boundary", 2 * s, []time.Duration{0, ms(1990), ms(3999)}, []time.Duration{ms(1990), ms(3999)}},
		{"late start", 2 * s, []time.Duration{ms(170), ms(2170), ms(4170)}, []time.Duration{ms(2170), ms(4170)}},
		{"key frames dividing the segment", 6 * s, []time.Duration{0, 3 * s, 6 * s, 9 * s, 12 * s}, []time.Duration{6 * s, 12 * s}},
		// A destination joining at 4.7 s asks for a key frame; the GOPs
		// then restart from it.
		{"a requested key frame", 2 * s, []time.Duration{0, 2 * s, 4 * s, ms(4700), ms(6700), ms(8700)}, []time.Duration{2 * s, 4 * s, ms(6700), ms(8700)}},
		{"a boundary without key frame", 2 * s, []time.Duration{0, 4 * s, 6 * s}, []time.Duration{4 * s, 6 * s}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCutter(tc.every, s/30)
			var cuts []time.Duration
			for _, kf := range tc.keyFrames {
				if c.keyFrame(kf) {
					cuts = append(cuts, kf)
				}
			}
			if !slices.Equal(cuts, tc.cuts) {
				t.Errorf("cuts at %v, want %v", cuts, tc.cuts)
			}
		})
	}
}
