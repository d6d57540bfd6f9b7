// Package yuv registers two GStreamer elements of our own that do with
// libyuv's SIMD rows what GStreamer 1.22 does slowly on every frame of a
// capture:
//
//   - rgbtoi420 turns the virtual screen's frames (packed 8-bit RGB) into
//     the I420 every encoder takes. videoconvert has no fast path from
//     RGB to I420: it unpacks each line, applies the colour matrix through
//     three table lookups a pixel in plain C, then subsamples and packs.
//     On the bench's 2-core box that took 2.7 ms a 720p frame (0.08 core
//     at 30 fps, 0.18 at 1080p30); libyuv's ARGBToI420 takes 0.4 ms (0.9
//     at 1080p), the rows Chromium itself converts with.
//   - i420scale scales a person's camera to the recording's size,
//     letterboxed: videoscale took 3 ms to double a 640x360 frame, libyuv's
//     bilinear I420Scale 0.17 ms.
package yuv

/*
#cgo pkg-config: gstreamer-1.0 gstreamer-base-1.0 gstreamer-video-1.0
#cgo LDFLAGS: -lyuv
#include "elements.h"
*/
import "C"

import "errors"

// The elements' factory names.
const (
	RGBToI420 = "rgbtoi420"
	Scale     = "i420scale"
)

// Register adds the elements to this process's GStreamer registry; call
// it after gst.Init, once.
func Register() error {
	if C.roomcast_register_rgbtoi420() == 0 {
		return errors.New("yuv: GStreamer refused to register " + RGBToI420)
	}
	if C.roomcast_register_i420scale() == 0 {
		return errors.New("yuv: GStreamer refused to register " + Scale)
	}
	return nil
}
