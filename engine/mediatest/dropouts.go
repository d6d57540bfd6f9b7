package mediatest

import (
	"fmt"
	"time"
)

// Dropout detection: the sound's power is measured in windows of
// dropoutWindow, one every tickHop. The demo room's tones (440, 660 and
// 880 Hz, 0.3 each) never come near dropoutFloor in a window of 2 ms,
// where a gap of digital silence (a buffer the mixer or the sink filled
// with nothing) is far below it, even through AAC.
const (
	dropoutWindow = 2 * time.Millisecond
	dropoutFloor  = 1e-5 // mean square: -50 dBFS RMS
)

// SoundDropouts returns where the sound of path, a recording of sound
// that never stops (the demo room's tones), falls silent and comes back:
// the start of each gap, on the file's timeline. Silence before the sound
// first starts, or after it last stops, is not a dropout.
func SoundDropouts(path string) ([]time.Duration, error) {
	origin, pcm, err := soundOf(path)
	if err != nil {
		return nil, err
	}
	win := int(dropoutWindow.Seconds() * pcmRate)
	hop := int(tickHop.Seconds() * pcmRate)
	var gaps []time.Duration
	heard, silentAt := false, -1 // silentAt: the sample where the current gap began
	for i := 0; i+win <= len(pcm); i += hop {
		power := 0.0
		for _, x := range pcm[i : i+win] {
			power += x * x
		}
		silent := power/float64(win) < dropoutFloor
		switch {
		case silent && heard && silentAt < 0:
			silentAt = i
		case !silent && silentAt >= 0:
			gaps = append(gaps, origin+time.Duration(float64(silentAt)/pcmRate*float64(time.Second)))
			silentAt = -1
		case !silent:
			heard = true
		}
	}
	if !heard {
		return nil, fmt.Errorf("%s: no sound at all", path)
	}
	return gaps, nil
}
