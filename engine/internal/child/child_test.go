package child

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"roomcast/engine/proctest"
)

func TestStop(t *testing.T) {
	cases := []struct {
		name   string
		script string
		grace  time.Duration
		signal syscall.Signal // what ended it
	}{
		{"ends on SIGTERM", "sleep 30", 5 * time.Second, syscall.SIGTERM},
		{"killed with its own children when it ignores SIGTERM", "trap '' TERM; sleep 30 & wait", 200 * time.Millisecond, syscall.SIGKILL},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Start(exec.Command("sh", "-c", tc.script))
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond) // let sh install its trap
			if p.Err() != nil {
				t.Fatalf("Err = %v while it runs", p.Err())
			}
			family := append(proctest.Descendants(p.Pid()), p.Pid())
			p.Stop(tc.grace)
			select {
			case <-p.Done():
			default:
				t.Fatal("Done not closed after Stop")
			}
			ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
			if !ok || !ws.Signaled() || ws.Signal() != tc.signal {
				t.Errorf("ended by %v (%v), want %v", p.cmd.ProcessState, p.Err(), tc.signal)
			}
			// Nothing of it is left (the shell's sleep included; the
			// kernel may take a moment to end what is not our child).
			for _, pid := range family {
				for deadline := time.Now().Add(2 * time.Second); proctest.Alive(pid) && time.Now().Before(deadline); {
					time.Sleep(10 * time.Millisecond)
				}
				if proctest.Alive(pid) {
					t.Errorf("pid %d (%s) alive after Stop", pid, proctest.Command(pid))
				}
			}
		})
	}
}

func TestStartFails(t *testing.T) {
	if _, err := Start(exec.Command("/nonexistent/roomcast-child")); err == nil {
		t.Fatal("Start of a missing binary succeeded")
	}
}

// TestDiesWithParent runs this test binary as a parent that starts a child
// and is then killed: the kernel must kill the child too.
func TestDiesWithParent(t *testing.T) {
	if os.Getenv("ROOMCAST_CHILD_PARENT") == "1" {
		p, err := Start(exec.Command("sleep", "60"))
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println(p.Pid())
		select {} // until killed
	}
	parent := exec.Command(os.Args[0], "-test.run=^TestDiesWithParent$")
	parent.Env = append(os.Environ(), "ROOMCAST_CHILD_PARENT=1")
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		parent.Process.Kill()
		t.Fatalf("parent said nothing: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		parent.Process.Kill()
		t.Fatalf("parent said %q", line)
	}
	if !proctest.Alive(pid) {
		t.Fatalf("child %d not running while its parent is", pid)
	}
	parent.Process.Kill()
	parent.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for proctest.Alive(pid) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if proctest.Alive(pid) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("child %d outlived its killed parent", pid)
	}
}
