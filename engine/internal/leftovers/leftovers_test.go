package leftovers

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestRemove: a folder of the prefix that no process names and that is
// over a minute old goes, even when a folder whose name begins with its
// name is named; one named on a live process's command line (as a flag's
// value, or as a path in it), one just made, and one of another prefix
// stay.
func TestRemove(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	mk := func(prefix string, age time.Duration) string {
		dir, err := os.MkdirTemp("", prefix)
		if err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-age)
		if err := os.Chtimes(dir, old, old); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	left, fresh := mk("roomcast-x-", time.Hour), mk("roomcast-x-", 0)
	byFlag, byPath := mk("roomcast-x-", time.Hour), mk("roomcast-x-", time.Hour)
	lookalike := byPath + "9"
	if err := os.Mkdir(lookalike, 0o700); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	_ = os.Chtimes(lookalike, old, old)
	other := mk("roomcast-y-", time.Hour)
	// Processes naming two of them, as Chromium and PulseAudio do.
	// The last names a folder whose name begins with left's, not left.
	user := exec.Command("sh", "-c", "sleep 30", "--user-data-dir="+byFlag, "socket="+filepath.Join(byPath, "native"), left+"9/x")
	if err := user.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = user.Process.Kill(); _ = user.Wait() }()

	Remove("roomcast-x-", t.Logf)
	cases := []struct {
		name string
		dir  string
		kept bool
	}{
		{"left behind", left, false},
		{"just made", fresh, true},
		{"named by a flag", byFlag, true},
		{"a path in it named", byPath, true},
		{"named like one in use", lookalike, false},
		{"another prefix", other, true},
	}
	for _, c := range cases {
		if _, err := os.Stat(c.dir); (err == nil) != c.kept {
			t.Errorf("%s (%s): kept %v, want %v", c.name, filepath.Base(c.dir), err == nil, c.kept)
		}
	}
}
