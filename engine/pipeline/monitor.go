package pipeline

import (
	"fmt"

	"github.com/go-gst/go-gst/gst"
)

// ReadMonitor reads (and drops) a PulseAudio source until the returned
// release is called: a composite's sink has a reader from before its page
// plays until its capture reads it. A reader first joining a sink the
// page already plays into stalled the page's sound output for about
// 0.4 s, which Chromium then played late for some 10 s. It reads with the
// capture's latency, so that the sink's does not change when the capture
// takes over.
func ReadMonitor(server, device string) (release func(), err error) {
	InitGStreamer()
	desc := fmt.Sprintf("pulsesrc device=%s latency-time=%d provide-clock=false", device, soundBuffer.Microseconds())
	if server != "" {
		desc += " server=" + server
	}
	p, err := gst.NewPipelineFromString(desc + " ! " + monitorCaps + " ! fakesink sync=false async=false")
	if err != nil {
		return nil, fmt.Errorf("monitor reader: %w", err)
	}
	if err := setStateWait(p.Element, gst.StatePlaying); err != nil {
		_ = p.SetState(gst.StateNull)
		return nil, fmt.Errorf("monitor reader: %w", err)
	}
	return func() { _ = setStateWait(p.Element, gst.StateNull) }, nil
}
