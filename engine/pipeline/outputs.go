package pipeline

import (
	"time"

	"github.com/go-gst/go-gst/gst"
)

// onElementMessage turns the outputs' bus announcements into callbacks:
// multifilesink's per-file message, for segments and images. Runs on the
// bus goroutine.
func (b *Branch) onElementMessage(source string, st *gst.Structure) {
	if st.Name() != "GstMultiFileSink" {
		return
	}
	v, _ := st.GetValue("filename")
	path, _ := v.(string)
	rt, ok := clockField(st, "running-time")
	if path == "" || !ok {
		return
	}
	switch source {
	case b.cfg.Name + "_hls":
		b.segmentDone(path, rt)
	case b.cfg.Name + "_images":
		if im := b.cfg.Images; im.OnImage != nil {
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
