package main

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"roomcast/engine/proctest"
)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's CPU times; it is
// 100 on every Linux this runs on.
const clockTicks = 100

type cpuSample struct {
	at                     time.Time
	engine, chromium, xvfb float64 // CPU seconds used so far
}

// sampleCPU reads the CPU time of this process (the engine) and of the
// Chromium and Xvfb processes below it. The demo room's processes are
// below it too, and left out.
func sampleCPU() cpuSample { return sampleTree(os.Getpid(), false) }

// sampleTree reads the CPU time of root and of the Chromium and Xvfb
// processes below it; with helpers, root's other descendants (PulseAudio
// excepted) count as root.
func sampleTree(root int, helpers bool) cpuSample {
	s := cpuSample{at: time.Now(), engine: cpuSeconds(root)}
	for _, pid := range proctest.Descendants(root) {
		switch cmd := proctest.Command(pid); {
		case strings.Contains(cmd, "chromium"):
			s.chromium += cpuSeconds(pid)
		case proctest.Program(pid) == "Xvfb":
			s.xvfb += cpuSeconds(pid)
		case helpers && proctest.Program(pid) != "pulseaudio":
			s.engine += cpuSeconds(pid)
		}
	}
	return s
}

// cpuRate is CPU use in cores.
type cpuRate struct{ engine, chromium, xvfb float64 }

func (r cpuRate) total() float64 { return r.engine + r.chromium + r.xvfb }

func (r cpuRate) String() string {
	return fmt.Sprintf("engine %.3f, Chromium %.3f, Xvfb %.3f", r.engine, r.chromium, r.xvfb)
}

// measureCPU is the CPU use of the engine, its Chromium and its Xvfb over
// the next window.
func measureCPU(window time.Duration) cpuRate {
	s0 := sampleCPU()
	time.Sleep(window)
	return rateBetween(s0, sampleCPU())
}

// rateBetween is the CPU used from s0 to s1, in cores.
func rateBetween(s0, s1 cpuSample) cpuRate {
	secs := s1.at.Sub(s0.at).Seconds()
	return cpuRate{
		engine:   (s1.engine - s0.engine) / secs,
		chromium: (s1.chromium - s0.chromium) / secs,
		xvfb:     (s1.xvfb - s0.xvfb) / secs,
	}
}

// sampleRSS is the resident memory of this process and of its Chromium
// processes, in MB.
func sampleRSS() (engine, chromium float64) {
	engine = rssMB(os.Getpid())
	for _, pid := range proctest.Descendants(os.Getpid()) {
		if strings.Contains(proctest.Command(pid), "chromium") {
			chromium += rssMB(pid)
		}
	}
	return engine, chromium
}

func cpuSeconds(pid int) float64 {
	f, err := statFields(pid)
	if err != nil || len(f) < 13 {
		return 0
	}
	// After the command: state(0) ppid(1) ... utime(11) stime(12).
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / clockTicks
}

// statFields are the fields of /proc/<pid>/stat after the command name,
// which is in parentheses and may hold spaces: the line's third field
// (state) is the first of them.
func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	return strings.Fields(s[i+1:]), nil
}

func rssMB(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			kb, _ := strconv.ParseFloat(strings.Fields(line)[1], 64)
			return kb / 1024
		}
	}
	return 0
}

func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "model name") {
				model = strings.TrimSpace(strings.SplitN(line, ":", 2)[1])
				break
			}
		}
	}
	return fmt.Sprintf("%d cores, %s", runtime.NumCPU(), model)
}

// median is the middle of xs (the upper one of an even count), xs
// unchanged.
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
