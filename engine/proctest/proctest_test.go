package proctest

import (
	"os/exec"
	"testing"
	"time"
)

// TestProgram: a process started by its full path (as Xvfb is) is known by
// its program's name alone, whatever its arguments.
func TestProgram(t *testing.T) {
	cases := []struct {
		path string
		args []string
	}{
		{"/bin/sleep", []string{"30"}},
		{"sleep", []string{"30"}},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			cmd := exec.Command(c.path, c.args...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
			// Under load a clean CI run read an empty command line right
			// after the start; the name is what is tested here.
			for deadline := time.Now().Add(2 * time.Second); Command(cmd.Process.Pid) == "" && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
			}
			if got := Program(cmd.Process.Pid); got != "sleep" {
				t.Errorf("Program = %q, want sleep (command %q)", got, Command(cmd.Process.Pid))
			}
		})
	}
}
