// Package disktest makes small disks for tests of what happens when one
// fills up: a tmpfs of a given size, mounted on a temporary folder (root
// only) and unmounted at the end of the test.
package disktest

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// Small mounts a tmpfs of size bytes and returns its folder. It skips the
// test when not run as root (mounting needs it).
func Small(t testing.TB, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a small disk needs a tmpfs mount, which needs root")
	}
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0755", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("mount a %d-byte tmpfs: %v: %s", size, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("unmount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}
