package mediatest

import (
	"os/exec"
	"testing"
)

// needFFmpeg skips a test that makes its recordings with ffmpeg when
// ffmpeg is not installed.
func needFFmpeg(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed: run make deps")
	}
}
