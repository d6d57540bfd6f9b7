package browser

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Chromium's sound reaches PulseAudio in two hops: the renderer's audio
// thread (real-time already: Chromium makes it so where it may) fills a
// buffer shared with the audio service, whose libpulse thread writes it to
// the stream. That second thread runs at normal priority, and PulseAudio
// keeps only 60 ms of the stream buffered (tlength, asked by Chromium): a
// thread held longer by a busy machine plays silence. Under CPU bursts
// beside a composite (both cores busy for 400 ms every 2 s at nice -15),
// a 90 s recording had 143 dropouts; 45 with this thread real-time alone,
// 31 with PulseAudio's sink threads alone (engine/audio), none with both.
const (
	// soundThread is libpulse's name for the thread of its threaded main
	// loop, where Chromium's audio service writes each stream.
	soundThread = "threaded-ml"
	// audioService marks the command line of Chromium's audio service.
	audioService = "--utility-sub-type=audio.mojom.AudioService"
	// soundPriority is PulseAudio's own default real-time priority, which
	// its sink threads take.
	soundPriority = 5
	// soundCheckEvery is how often new sound threads are looked for: the
	// audio service starts with the page's first sound, and opens a
	// thread per stream.
	soundCheckEvery = time.Second
)

// keepSound starts keepSoundRealtime, once: at launch, or for an Idle
// browser when it wakes.
func (b *Browser) keepSound() {
	b.soundOnce.Do(func() {
		b.wg.Add(1)
		go b.keepSoundRealtime()
	})
}

// keepSoundRealtime runs the audio service's libpulse threads under
// SCHED_RR until the browser ends, or until the first refusal (a process
// without root, CAP_SYS_NICE or an RLIMIT_RTPRIO of soundPriority), which
// is logged once. Threads under SCHED_IDLE (an Idle browser not woken
// yet, if one still starts) are left alone.
func (b *Browser) keepSoundRealtime() {
	defer b.wg.Done()
	tick := time.NewTicker(soundCheckEvery)
	defer tick.Stop()
	service := 0
	logged := false
	for {
		if service == 0 || !isAudioService(service) {
			service = b.findAudioService()
		}
		if service != 0 {
			n, err := makeSoundRealtime(service)
			if err != nil {
				b.logf("chromium's sound thread stays at normal priority, and may drop sound when the machine is busy: %v (real-time needs root, CAP_SYS_NICE or an RLIMIT_RTPRIO of %d)", err, soundPriority)
				return
			}
			if n > 0 && !logged {
				b.logf("chromium's sound thread runs real-time (SCHED_RR %d)", soundPriority)
				logged = true
			}
		}
		select {
		case <-b.done:
			return
		case <-tick.C:
		}
	}
}

// findAudioService is the pid of the browser's audio service; 0 if none
// runs.
func (b *Browser) findAudioService() int {
	for _, pid := range chromiumProcesses(b.pgid, b.dataDir) {
		if isAudioService(pid) {
			return pid
		}
	}
	return 0
}

func isAudioService(pid int) bool {
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return err == nil && strings.Contains(string(cmdline), audioService)
}

// makeSoundRealtime moves the libpulse threads of process pid that run
// under the normal policy to SCHED_RR, and says how many it moved.
func makeSoundRealtime(pid int) (int, error) {
	moved := 0
	for _, tid := range namedThreads(pid, soundThread) {
		attr, err := unix.SchedGetAttr(tid, 0)
		if err != nil || attr.Policy != unix.SCHED_NORMAL {
			continue // gone, idle, or real-time already
		}
		rr := unix.SchedAttr{Policy: unix.SCHED_RR, Priority: soundPriority, Flags: unix.SCHED_FLAG_RESET_ON_FORK}
		if err := unix.SchedSetAttr(tid, &rr, 0); err != nil {
			if errors.Is(err, unix.ESRCH) {
				continue
			}
			return moved, err
		}
		moved++
	}
	return moved, nil
}

// namedThreads lists the thread IDs of process pid whose name is name.
func namedThreads(pid int, name string) []int {
	var named []int
	for _, tid := range threads(pid) {
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/comm", pid, tid))
		if err == nil && strings.TrimSpace(string(comm)) == name {
			named = append(named, tid)
		}
	}
	return named
}
