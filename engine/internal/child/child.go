// Package child runs the helper processes a composite needs (Xvfb,
// PulseAudio, livekit-server, gst-launch) so that they die with the studio:
// each in its own process group, killed by the kernel if the studio dies.
package child

import (
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

// Process is a started child.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // Wait's result, set before done is closed
}

// Start starts cmd in its own process group (so a stop finds all of it),
// with SIGKILL as its parent-death signal. That signal fires when the OS
// thread that forked the child ends, not the process
// (https://go.dev/issue/27505), so the fork happens on a goroutine locked
// to its thread until the child exits.
func Start(cmd *exec.Cmd) (*Process, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	p := &Process{cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

// Pid is the child's process ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the child has exited and was reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is how the child exited (Wait's error); nil until Done is closed.
func (p *Process) Err() error {
	select {
	case <-p.done:
		return p.err
	default:
		return nil
	}
}

// Stop asks the child's process group to end (SIGTERM), kills it if the
// child has not ended within grace, and returns once the child is reaped.
func (p *Process) Stop(grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	group := -p.cmd.Process.Pid
	syscall.Kill(group, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		syscall.Kill(group, syscall.SIGKILL)
		<-p.done
	}
}
