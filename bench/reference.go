package main

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"roomcast/engine/proctest"
)

// referenceWindow is how long the reference encode runs.
const referenceWindow = 40 * time.Second

// referenceEncode is the floor the composite's CPU is held against: ffmpeg
// grabbing the composite's own screen (the same pixels, the page drawing
// the room) and encoding it as a plain screen recorder would, for
// referenceWindow, in cores. It runs beside the composite, after the
// composite's own figure was taken.
func referenceEncode(width, height int) (float64, error) {
	display, err := compositeDisplay()
	if err != nil {
		return 0, err
	}
	cmd := exec.Command("ffmpeg", "-v", "error", "-f", "x11grab", "-framerate", "30",
		"-video_size", fmt.Sprintf("%dx%d", width, height), "-i", display,
		"-t", fmt.Sprintf("%.0f", referenceWindow.Seconds()),
		"-c:v", "libx264", "-preset", "veryfast", "-b:v", "3000k", "-maxrate", "3000k", "-bufsize", "6000k",
		"-pix_fmt", "yuv420p", "-f", "null", "-")
	began := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("reference encode: %v: %s", err, out)
	}
	st := cmd.ProcessState
	return (st.UserTime() + st.SystemTime()).Seconds() / time.Since(began).Seconds(), nil
}

// compositeDisplay is the X display (":N") of the composite's Xvfb: the
// X11 socket it listens on, found by the inode of one of its file
// descriptors in /proc/net/unix. The engine keeps a room view ready beside
// the composite, with a screen of its own, made after the composite took
// the last one (or started cold): the composite's is the oldest.
func compositeDisplay() (string, error) {
	xvfb := proctest.Running("Xvfb")
	if len(xvfb) == 0 {
		return "", errors.New("reference encode: no Xvfb screen running")
	}
	oldest := slices.MinFunc(xvfb, func(a, b int) int { return cmp.Compare(startTicks(a), startTicks(b)) })
	inodes := map[string]bool{}
	fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", oldest))
	for _, fd := range fds {
		if link, err := os.Readlink(fd); err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	f, err := os.Open("/proc/net/unix")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// Num RefCount Protocol Flags Type St Inode Path
		fields := strings.Fields(sc.Text())
		if len(fields) == 8 && inodes[fields[6]] {
			// An abstract socket (Xvfb's only one here) reads "@/tmp/...".
			if n, ok := strings.CutPrefix(strings.TrimPrefix(fields[7], "@"), "/tmp/.X11-unix/X"); ok {
				return ":" + n, nil
			}
		}
	}
	return "", errors.New("reference encode: the composite's Xvfb listens on no X11 socket")
}

// startTicks is when process pid started, in clock ticks after boot (the
// 22nd field of /proc/PID/stat).
func startTicks(pid int) uint64 {
	fields, err := statFields(pid)
	if err != nil || len(fields) < 20 {
		return math.MaxUint64
	}
	t, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return math.MaxUint64
	}
	return t
}
