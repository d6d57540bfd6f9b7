package ui

import (
	"testing"
	"time"
)

// TestRecordingLeft: the disk warning comes when the recording's rate
// would fill what is free within 10 minutes, not before.
func TestRecordingLeft(t *testing.T) {
	const mbps3 = 3_000_000 / 8 // bytes a second at 3 Mb/s
	cases := []struct {
		name        string
		free        int64
		bytesPerSec float64
		left        time.Duration
		warn        bool
	}{
		{"not recording", 1 << 30, 0, 0, false},
		{"an hour left", 3600 * mbps3, mbps3, time.Hour, false},
		{"ten minutes left", 600 * mbps3, mbps3, 10 * time.Minute, false},
		{"nine minutes left", 540 * mbps3, mbps3, 9 * time.Minute, true},
		{"full", 0, mbps3, 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			left, warn := recordingLeft(c.free, c.bytesPerSec)
			if left != c.left || warn != c.warn {
				t.Errorf("recordingLeft(%d, %.0f) = %v, %v; want %v, %v", c.free, c.bytesPerSec, left, warn, c.left, c.warn)
			}
		})
	}
}
