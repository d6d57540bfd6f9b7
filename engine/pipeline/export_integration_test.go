//go:build integration

package pipeline

import "time"

// BaseTimeShifts gives, for each element of the branch (itself included),
// how far its clock base time is from the capture's: the branch's time
// zero on the capture's timeline, the same for all of them.
func BaseTimeShifts(c *Capture, b *Branch) map[string]time.Duration {
	base := c.pipeline.GetBaseTime()
	shifts := map[string]time.Duration{b.tap.bin.GetName(): time.Duration(b.tap.bin.GetBaseTime() - base)}
	if elems, err := b.tap.bin.GetElementsRecursive(); err == nil {
		for _, e := range elems {
			shifts[e.GetName()] = time.Duration(e.GetBaseTime() - base)
		}
	}
	return shifts
}
