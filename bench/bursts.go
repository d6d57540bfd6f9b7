package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/livekit/protocol/livekit"
)

// CPU bursts: another program on the machine takes every core for
// burstLength every burstEvery, at burstNice, as a backup or a build
// starting beside a show does. A sound thread held through a burst plays
// silence (a dropout) where the picture only repeats a frame.
const (
	burstEvery  = 2 * time.Second
	burstLength = 400 * time.Millisecond
	burstNice   = -15
	burstWindow = 60 * time.Second
)

// burn is the -burn process: every core busy for burstLength every
// burstEvery, until it is killed.
func burn() {
	for {
		until := time.Now().Add(burstLength)
		done := make(chan struct{})
		for range runtime.NumCPU() {
			go func() {
				for time.Now().Before(until) {
				}
				done <- struct{}{}
			}()
		}
		for range runtime.NumCPU() {
			<-done
		}
		time.Sleep(burstEvery - burstLength)
	}
}

// startBursts runs this program with -burn under nice(1) at burstNice,
// so that every thread of it has that niceness from the start, until the
// returned stop (safe to call twice); nice is the niceness it got (0 where this process may not
// give a lower one).
func startBursts() (stop func(), nice int, err error) {
	self, err := os.Executable()
	if err != nil {
		return nil, 0, err
	}
	cmd := exec.Command("nice", "-n", strconv.Itoa(burstNice), self, "-burn")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, 0, err
	}
	stop = sync.OnceFunc(func() { cmd.Process.Kill(); cmd.Wait() })
	time.Sleep(100 * time.Millisecond) // nice has exec'd the burner
	if nice, err = niceness(cmd.Process.Pid); err != nil {
		stop()
		return nil, 0, err
	}
	return stop, nice, nil
}

// niceness is process pid's niceness (the 19th field of /proc/PID/stat).
func niceness(pid int) (int, error) {
	fields, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	if len(fields) < 17 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(fields))
	}
	return strconv.Atoi(fields[16])
}

// soundUnderBursts records the room (with the clapper) at 720p30 for d
// while CPU bursts run: the sound's dropouts and every flip's A/V offset.
func (b *bench) soundUnderBursts(room *demoRoom, d time.Duration) ([]figure, error) {
	if err := room.addClapper(); err != nil {
		return nil, err
	}
	stop, nice, err := startBursts()
	if err != nil {
		return nil, err
	}
	defer stop()
	path := filepath.Join(b.dir, "bursts.mp4")
	if _, err := b.recordFor(fileRequest(path, livekit.EncodingOptionsPreset_H264_720P_30), d); err != nil {
		return nil, err
	}
	stop()
	label := fmt.Sprintf("720p30 under CPU bursts (every core %s every %s, nice %d)", burstLength, burstEvery, nice)
	return append(flipFigures(path, label), dropoutFigure(path, label)), nil
}
