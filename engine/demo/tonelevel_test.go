package demo

import "testing"

// TestToneLevel: the RFC 6464 level sent with each Opus frame follows the
// tone's amplitude, and the levels the tests use are on the right side of
// the LiveKit server's speaking threshold (35: -35 dBov).
func TestToneLevel(t *testing.T) {
	for _, c := range []struct {
		volume float64
		want   uint8
	}{
		{1.0, 3},   // a full-scale sine is 3 dB below a full-scale square
		{0.3, 13},  // the demo's default
		{0.05, 29}, // quiet, still speaking
		{0.001, 63},
		{0, 127}, // silence
	} {
		opts := toneLevel(c.volume)
		if opts == nil || opts.AudioLevel == nil || *opts.AudioLevel != c.want {
			t.Errorf("toneLevel(%g) = %v, want level %d", c.volume, opts, c.want)
		}
	}
}
