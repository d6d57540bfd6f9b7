package ui

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/widget"

	"roomcast/engine"
)

// lowDisk is when the free space of the output folder turns amber: about
// half an hour of 1080p60 at 6 Mb/s.
const lowDisk = 2_000_000_000

// overloadQuiet is how long the encoders must keep every frame before a
// new drop is warned of again in the history (the status bar says it at
// every sample with a drop).
const overloadQuiet = 30 * time.Second

// lowTimeLeft: while recording, the status bar warns when the disk will
// be full within this long at the recording's rate.
const lowTimeLeft = 10 * time.Minute

// statusBar shows the connection and, every second, the preview's frame
// rate, the recording's bitrate (from its file's growth), dropped frames
// (from the engine's composite figures), this process's CPU and the free
// space where recordings go. Figures are measured off the UI goroutine.
type statusBar struct {
	preview *previewPanel
	// onWarning, if set, is told (on the UI goroutine) each warning worth
	// keeping with the recording: the first time its file is projected to
	// fill the disk within lowTimeLeft, and each time the people the
	// composite cannot lip-sync change to some.
	onWarning func(warning string)

	connDot *canvas.Circle
	conn    *widget.Label
	fps     *widget.Label
	bitrate *widget.Label
	dropped *widget.Label
	cpu     *widget.Label
	disk    *widget.Label
	sync    *widget.Label // who cannot be lip-synced, and the fix
	sched   *widget.Label // what the schedule does next

	mu     sync.Mutex // guards what the sampler reads
	folder string
	file   string
	stats  engine.Statser

	sampler sampler // the paint clock's goroutine alone
}

func newStatusBar(preview *previewPanel) *statusBar {
	return &statusBar{preview: preview, sampler: sampler{freeSpace: freeSpace}}
}

func (b *statusBar) buildUI() fyne.CanvasObject {
	label := func() *widget.Label { return &widget.Label{Importance: widget.LowImportance} }
	b.connDot = canvas.NewCircle(colorIdle)
	b.conn = widget.NewLabel("Not connected")
	b.fps, b.bitrate, b.dropped, b.cpu, b.disk = label(), label(), label(), label(), label()
	b.sync = &widget.Label{Importance: widget.WarningImportance, Truncation: fyne.TextTruncateEllipsis}
	b.sync.Hide()
	b.sched = &widget.Label{Importance: widget.WarningImportance, Truncation: fyne.TextTruncateEllipsis}
	dot := container.NewCenter(container.NewGridWrap(fyne.NewSize(8, 8), b.connDot))
	bg := canvas.NewRectangle(colorPanel)
	bar := container.NewHBox(dot, b.conn, b.sched, layout.NewSpacer(), b.fps, b.bitrate, b.dropped, b.cpu, b.disk)
	return container.NewStack(bg, container.NewVBox(b.sync, bar))
}

// setSchedule shows what the schedule does next, with its countdown (""
// for nothing).
func (b *statusBar) setSchedule(text string) { b.sched.SetText(text) }

// setConnection shows the connection's state with its light.
func (b *statusBar) setConnection(c color.Color, text string) {
	b.connDot.FillColor = c
	b.connDot.Refresh()
	b.conn.SetText(text)
}

// watch sets what the sampler measures: the output folder, the file being
// recorded ("" for none) and the engine's figures (nil for none). Any
// goroutine.
func (b *statusBar) watch(folder, file string, stats engine.Statser) {
	b.mu.Lock()
	b.folder, b.file, b.stats = folder, file, stats
	b.mu.Unlock()
}

// sample measures the figures at now, off the UI goroutine, and returns
// what shows them, for the UI goroutine. The paint clock calls it once a
// second (see studio.paintClock).
func (b *statusBar) sample(now time.Time) func() {
	b.mu.Lock()
	folder, file, stats := b.folder, b.file, b.stats
	b.mu.Unlock()
	fig := b.sampler.sample(now, folder, file, stats, b.preview.painted.Load())
	return func() { b.show(fig) }
}

func (b *statusBar) show(f figures) {
	b.fps.SetText(f.fps)
	b.bitrate.SetText(f.bitrate)
	b.dropped.SetText(f.dropped)
	b.dropped.Importance = widget.LowImportance
	if f.overloaded {
		b.dropped.Importance = widget.WarningImportance
	}
	b.dropped.Refresh()
	b.cpu.SetText(f.cpu)
	b.disk.SetText(f.disk)
	b.disk.Importance = widget.LowImportance
	if f.lowDisk {
		b.disk.Importance = widget.WarningImportance
	}
	b.disk.Refresh()
	b.sync.SetText(f.unsynced)
	if f.unsynced == "" {
		b.sync.Hide()
	} else {
		b.sync.Show()
	}
	if b.onWarning != nil {
		for _, w := range []string{f.diskFilling, f.unsyncedNew, f.overloadNew} {
			if w != "" {
				b.onWarning(w)
			}
		}
	}
}

// figures are one sample, as text.
type figures struct {
	fps, bitrate, dropped, cpu, disk string
	lowDisk                          bool
	// overloaded: the video encoders let frames go since the last sample
	// (the machine is short of CPU); overloadNew is the history's warning
	// of it, at the first drop after overloadQuiet without.
	overloaded  bool
	overloadNew string
	// diskFilling is the warning, once per file, that it will fill the
	// disk within lowTimeLeft; "" otherwise.
	diskFilling string
	// unsynced says who the composite cannot lip-sync and the fix, ""
	// when it can lip-sync everyone; unsyncedNew is it with its time,
	// when it changed to something since the last sample.
	unsynced, unsyncedNew string
}

// sampler keeps what the next sample is measured against.
type sampler struct {
	freeSpace func(dir string) (int64, error)
	at        time.Time
	cpu       float64 // seconds of CPU used by the process
	painted   uint64
	file      string
	sizes     []sizeAt // the file's last few sizes
	warned    string   // the file whose disk filling was warned of
	unsynced  string   // the last sample's unsynced
	// encoderDropped is the last sample's count of frames the encoders
	// let go; lastOverload when that count last grew.
	encoderDropped uint64
	lastOverload   time.Time
}

type sizeAt struct {
	at   time.Time
	size int64
}

// bitrateWindow smooths the bitrate: fragmented MP4 lands on disk about
// once a fragment is complete (every half second, in bursts), so a
// one-second difference jumps.
const bitrateWindow = 3 * time.Second

func (s *sampler) sample(now time.Time, folder, file string, stats engine.Statser, painted uint64) figures {
	var f figures
	dt := now.Sub(s.at).Seconds()
	first := s.at.IsZero()
	s.at = now

	f.fps = "Preview –"
	if !first && dt > 0 {
		f.fps = fmt.Sprintf("Preview %.0f fps", float64(painted-s.painted)/dt)
	}
	s.painted = painted

	f.cpu = "CPU –"
	if cpu, err := processCPU(); err == nil {
		if !first && dt > 0 {
			f.cpu = fmt.Sprintf("CPU %.0f%%", 100*(cpu-s.cpu)/dt)
		}
		s.cpu = cpu
	}

	f.bitrate = "– kb/s"
	bytesPerSec := 0.0
	if file != s.file {
		s.file, s.sizes = file, nil
	}
	if st, err := os.Stat(file); file != "" && err == nil {
		s.sizes = append(s.sizes, sizeAt{now, st.Size()})
		for len(s.sizes) > 1 && now.Sub(s.sizes[0].at) > bitrateWindow {
			s.sizes = s.sizes[1:]
		}
		if a := s.sizes[0]; len(s.sizes) > 1 {
			bytesPerSec = float64(st.Size()-a.size) / now.Sub(a.at).Seconds()
			f.bitrate = fmt.Sprintf("%.0f kb/s", bytesPerSec*8/1000)
		}
	}

	f.dropped = "Dropped –"
	if stats != nil {
		var want, got float64
		var encoderDropped uint64
		var unsynced []string
		for _, c := range stats.Stats() {
			want += c.Running.Seconds() * float64(c.FPS)
			got += float64(c.GrabbedFrames)
			encoderDropped += c.EncoderDroppedFrames
			unsynced = append(unsynced, c.Unsynced...)
		}
		if want > 0 {
			// Frames missing from the recording: never grabbed, or grabbed
			// and let go by an encoder short of time.
			lost := max(0, want-got) + float64(encoderDropped)
			f.dropped = fmt.Sprintf("Dropped %.0f (%.1f%%)", lost, 100*lost/want)
		}
		f.overloaded = encoderDropped > s.encoderDropped
		if f.overloaded {
			if s.lastOverload.IsZero() || now.Sub(s.lastOverload) >= overloadQuiet {
				f.overloadNew = fmt.Sprintf("%s: the encoder is overloaded and drops frames: "+
					"a lower resolution or frame rate needs less CPU", now.Format("15:04:05"))
			}
			s.lastOverload = now
			f.dropped += ": encoder overloaded"
		}
		s.encoderDropped = encoderDropped
		f.unsynced = unsyncedWarning(unsynced)
	}
	if f.unsynced != s.unsynced && f.unsynced != "" {
		f.unsyncedNew = now.Format("15:04:05") + ": " + f.unsynced
	}
	s.unsynced = f.unsynced

	f.disk = "Disk –"
	if free, err := s.freeSpace(expandHome(folder)); err == nil {
		f.disk = formatBytes(free) + " free"
		f.lowDisk = free < lowDisk
		if left, ok := recordingLeft(free, bytesPerSec); ok {
			f.disk = fmt.Sprintf("%s free: disk full in about %.0f min", formatBytes(free), math.Ceil(left.Minutes()))
			f.lowDisk = true
			if s.warned != file {
				s.warned = file
				f.diskFilling = fmt.Sprintf("%s: disk full in about %.0f min at this rate (%s free)",
					now.Format("15:04:05"), math.Ceil(left.Minutes()), formatBytes(free))
			}
		}
	}
	return f
}

// unsyncedWarning names the people the composite cannot lip-sync, and
// why and what to do; "" for none.
func unsyncedWarning(identities []string) string {
	slices.Sort(identities)
	identities = slices.Compact(identities)
	if len(identities) == 0 {
		return ""
	}
	return fmt.Sprintf("No lip sync for %s: the LiveKit server sends camera and microphone as separate streams. "+
		"Set room.sync_streams: true in its config.", strings.Join(identities, ", "))
}

// recordingLeft is how long a recording growing bytesPerSec can go on
// with free bytes left, and whether that is under lowTimeLeft (the
// warning's threshold).
func recordingLeft(free int64, bytesPerSec float64) (time.Duration, bool) {
	if bytesPerSec <= 0 {
		return 0, false
	}
	left := time.Duration(float64(free) / bytesPerSec * float64(time.Second))
	return left, left < lowTimeLeft
}

// clockTick is the kernel's USER_HZ, the unit of /proc CPU times: 100 on
// every Linux architecture Go supports.
const clockTick = 100

// processCPU reads the CPU time of this process (user + system, all
// threads; GStreamer's encoders run in it) from /proc/self/stat.
func processCPU() (float64, error) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, err
	}
	s := string(b)
	// After the command name in parentheses: state is field 3, utime 14,
	// stime 15.
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/self/stat: %d fields", len(f))
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/self/stat: bad CPU times")
	}
	return float64(utime+stime) / clockTick, nil
}

// freeSpace is what an unprivileged user may still write where dir is (or
// would be: the nearest folder that exists).
func freeSpace(dir string) (int64, error) {
	if dir == "" {
		return 0, os.ErrNotExist
	}
	for {
		var st syscall.Statfs_t
		err := syscall.Statfs(dir, &st)
		if err == nil {
			return int64(st.Bavail) * st.Bsize, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return 0, err
		}
		dir = parent
	}
}
