package pipeline

import (
	"math"
	"testing"
)

func TestLevelField(t *testing.T) {
	// As GStreamer 1.22's level serialises its message (trimmed).
	const stereo = "level, endtime=(guint64)1050000000, timestamp=(guint64)1000000000, " +
		"rms=(GValueArray)< -20.5, -18.25 >, peak=(GValueArray)< -3.5, -0.05 >, decay=(GValueArray)< -4, -2 >;"
	for _, c := range []struct {
		name, in, field string
		want            float64
		fails           bool
	}{
		{"the louder of two channels", stereo, "rms", -18.25, false},
		{"peak, not decay", stereo, "peak", -0.05, false},
		{"typed values", "level, rms=(GValueArray)< (double)-12.5, (double)-30 >;", "rms", -12.5, false},
		{"digital silence", "level, rms=(GValueArray)< -inf, -inf >;", "rms", math.Inf(-1), false},
		{"mono", "level, rms=(GValueArray)< -6 >;", "rms", -6, false},
		{"no such field", stereo, "loudness", 0, true},
		{"not a list", "level, rms=(double)-3;", "rms", 0, true},
		{"empty list", "level, rms=(GValueArray)<  >;", "rms", 0, true},
		{"not a number", "level, rms=(GValueArray)< loud >;", "rms", 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := levelField(c.in, c.field)
			if (err != nil) != c.fails {
				t.Fatalf("error %v, want failure %v", err, c.fails)
			}
			if !c.fails && got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}
