package mediatest

import (
	"math"
	"testing"
)

func TestSlope(t *testing.T) {
	cases := []struct {
		name   string
		xs, ys []float64
		want   float64
	}{
		{"a line", []float64{0, 1, 2, 3}, []float64{1, 3, 5, 7}, 2},
		{"flat with noise either side", []float64{0, 1, 2, 3, 4}, []float64{5, 6, 4, 6, 4}, -0.2},
		{"falling", []float64{10, 20}, []float64{0, -5}, -0.5},
		{"one point", []float64{1}, []float64{2}, 0},
		{"no spread in x", []float64{3, 3, 3}, []float64{1, 2, 3}, 0},
		{"lengths differ: the shorter counts", []float64{0, 1, 2, 99}, []float64{0, 1, 2}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Slope(c.xs, c.ys); math.Abs(got-c.want) > 1e-9 {
				t.Errorf("Slope = %g, want %g", got, c.want)
			}
		})
	}
}
