package pipeline

import (
	"time"

	"github.com/go-gst/go-gst/gst"
)

// onElementMessage turns the outputs' bus announcements into callbacks:
// splitmuxsink's fragment-opened/closed for segments, multifilesink's
// per-file message for images. Runs on the bus goroutine.
func (b *Branch) onElementMessage(st *gst.Structure) {
	switch st.Name() {
	case "splitmuxsink-fragment-opened":
		loc, _ := st.GetValue("location")
		path, _ := loc.(string)
		b.mu.Lock()
		b.segmentOpen = path
		b.mu.Unlock()
	case "splitmuxsink-fragment-closed":
		// Each segment runs from where the previous one ended: the
		// closed messages carry the running time of the cut.
		seg := b.cfg.Segments
		loc, _ := st.GetValue("location")
		path, _ := loc.(string)
		rt, ok := clockField(st, "running-time")
		if seg == nil || seg.OnSegment == nil || path == "" || !ok {
			return
		}
		b.mu.Lock()
		start := b.segmentEnd
		b.segmentEnd = rt
		b.segmentLast = path
		b.mu.Unlock()
		seg.OnSegment(path, start, rt-start)
		select {
		case b.segmentClosed <- struct{}{}:
		default:
		}
	case "GstMultiFileSink":
		im := b.cfg.Images
		v, _ := st.GetValue("filename")
		path, _ := v.(string)
		rt, _ := clockField(st, "running-time")
		if im != nil && im.OnImage != nil && path != "" {
			im.OnImage(path, rt)
		}
	}
}

func clockField(st *gst.Structure, name string) (time.Duration, bool) {
	v, err := st.GetValue(name)
	if err != nil {
		return 0, false
	}
	switch t := v.(type) {
	case uint64:
		return time.Duration(t), true
	case int64:
		return time.Duration(t), true
	case gst.ClockTime:
		return time.Duration(t), true
	}
	return 0, false
}
