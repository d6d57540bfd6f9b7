//go:build integration

package pipeline

import "time"

// BaseTimeShifts gives, for each element of the attachment's bin (the bin
// included), how far its clock base time is from the capture's: the
// branch's time zero on the capture's timeline, the same for all of them.
func BaseTimeShifts(c *Capture, a *Attachment) map[string]time.Duration {
	base := c.pipeline.GetBaseTime()
	bin := a.tap.bin
	shifts := map[string]time.Duration{bin.GetName(): time.Duration(bin.GetBaseTime() - base)}
	if elems, err := bin.GetElementsRecursive(); err == nil {
		for _, e := range elems {
			shifts[e.GetName()] = time.Duration(e.GetBaseTime() - base)
		}
	}
	return shifts
}
