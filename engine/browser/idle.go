package browser

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"

	"golang.org/x/sys/unix"
)

// idled makes cmd start under SCHED_IDLE through chrt (at path chrt),
// which execs it in place (the same process; its group and death signal
// kept): its threads then run only on what the other processes leave. A
// niceness would not do: Chromium sets its threads' own (0 for most, -8
// for the compositor) where it may, as root.
func idled(cmd *exec.Cmd, chrt string) {
	cmd.Args = append([]string{"chrt", "--idle", "0", cmd.Path}, cmd.Args[1:]...)
	cmd.Path = chrt
}

// CanWake reports whether this process may Wake an Idle browser: leaving
// SCHED_IDLE for a niceness of 0 needs root, CAP_SYS_NICE or an
// RLIMIT_NICE of 20.
func CanWake() bool {
	if os.Geteuid() == 0 {
		return true
	}
	var lim unix.Rlimit
	return unix.Getrlimit(unix.RLIMIT_NICE, &lim) == nil && lim.Cur >= 20
}

// Wake moves every thread of every process of an Idle browser from
// SCHED_IDLE to the normal policy (a policy belongs to a thread on Linux),
// and its sound thread on to real-time (keepSound). Twice: a thread
// started during the first pass by one still idle would be idle too.
func (b *Browser) Wake() error {
	defer b.keepSound()
	var errs []error
	for range 2 {
		errs = errs[:0]
		for _, pid := range chromiumProcesses(b.pgid, b.dataDir) {
			for _, tid := range threads(pid) {
				attr, err := unix.SchedGetAttr(tid, 0)
				if err != nil || attr.Policy != unix.SCHED_IDLE {
					continue // gone, or not idle (Chromium's real-time audio thread)
				}
				normal := unix.SchedAttr{Policy: unix.SCHED_NORMAL}
				if err := unix.SchedSetAttr(tid, &normal, 0); err != nil && !errors.Is(err, unix.ESRCH) {
					errs = append(errs, fmt.Errorf("wake chromium thread %d: %w", tid, err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// threads lists the thread IDs of process pid (none if it is gone).
func threads(pid int) []int {
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	var tids []int
	for _, task := range tasks {
		if tid, err := strconv.Atoi(task.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids
}
