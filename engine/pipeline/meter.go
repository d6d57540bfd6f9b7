package pipeline

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-gst/go-gst/gst"
)

/*
The meter is a branch of the raw sound, as every output records it:

	rawaudio ─► queue (leaky 1 s) ! level (every 50 ms) ! fakesink

level posts each interval's peak and RMS per channel on the bus; the bus
goroutine keeps the newest, when the sound last clipped, and since when
it has been silent.
*/

// meterName is the level element's name, by which its messages are told.
const meterName = "meter"

// meterInterval is how often the meter reads the sound: 20 times a
// second, for a meter that moves smoothly at a window's 10+ updates.
const meterInterval = 50 * time.Millisecond

// ClipDB is the peak, in dBFS, from which a sample counts as clipped: a
// sample within about 1 % of full scale.
const ClipDB = -0.1

// SilentDB is the RMS, in dBFS, under which the sound counts as silence:
// a room's hiss and a muted page stay under it, a voice does not.
const SilentDB = -60.0

// meterDescription is the meter's branch, in gst-launch syntax, off the
// raw sound's tee.
func meterDescription() string {
	return fmt.Sprintf("rawaudio. ! queue leaky=downstream max-size-time=1000000000 max-size-buffers=0 max-size-bytes=0 "+
		"! level name=%s interval=%d post-messages=true ! fakesink sync=false async=false ",
		meterName, meterInterval.Nanoseconds())
}

// AudioLevel is what the meter read last: the loudest channel's peak and
// RMS over one interval, in dBFS (-Inf for digital silence); when the
// sound last clipped (zero: never), and since when it has been under
// SilentDB (zero: it is not).
type AudioLevel struct {
	Peak, RMS              float64
	At                     time.Time
	ClippedAt, SilentSince time.Time
}

// meter keeps the newest reading of the capture's level element.
type meter struct {
	mu    sync.Mutex
	level AudioLevel
}

// read takes one of level's messages (its structure, serialised).
func (m *meter) read(st *gst.Structure, now time.Time) {
	serialised := st.String()
	peak, err1 := levelField(serialised, "peak")
	rms, err2 := levelField(serialised, "rms")
	if err1 != nil || err2 != nil {
		return // not a level reading
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.level.Peak, m.level.RMS, m.level.At = peak, rms, now
	if peak >= ClipDB {
		m.level.ClippedAt = now
	}
	switch {
	case rms > SilentDB:
		m.level.SilentSince = time.Time{}
	case m.level.SilentSince.IsZero():
		m.level.SilentSince = now
	}
}

func (m *meter) get() AudioLevel {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.level
}

// levelField reads the loudest channel of a field of a level message, as
// GStreamer serialises it: "rms=(GValueArray)< -20.5, -21 >" (the
// values may carry a type, "(double)-20.5"). go-gst has no conversion of
// a GValueArray, so the text is read.
func levelField(serialised, name string) (float64, error) {
	i := strings.Index(serialised, " "+name+"=")
	if i < 0 {
		return 0, fmt.Errorf("no %s in %q", name, serialised)
	}
	rest := serialised[i+len(name)+2:]
	open, end := strings.IndexByte(rest, '<'), strings.IndexByte(rest, '>')
	if open < 0 || end < open {
		return 0, fmt.Errorf("%s is not a list in %q", name, serialised)
	}
	loudest := math.Inf(-1)
	for _, v := range strings.Split(rest[open+1:end], ",") {
		v = strings.TrimSpace(v)
		if j := strings.IndexByte(v, ')'); strings.HasPrefix(v, "(") && j > 0 {
			v = strings.TrimSpace(v[j+1:])
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %q is not a number", name, v)
		}
		loudest = max(loudest, f)
	}
	return loudest, nil
}
