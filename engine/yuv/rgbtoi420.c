// rgbtoi420: packed 8-bit RGB (BGRx, BGRA) to I420 with libyuv's rows
// (see yuv.go for why). Its output is what ARGBToI420 makes: BT.601
// limited range, each chroma sample the mean of a 2x2 block, so its caps
// say so (colorimetry bt601, chroma-site jpeg) and every element after it
// reads the colours right.

#include "elements.h"

#include <gst/video/gstvideofilter.h>
#include <libyuv/convert.h>

typedef GstVideoFilter RcRgbToI420;
typedef GstVideoFilterClass RcRgbToI420Class;

G_DEFINE_TYPE(RcRgbToI420, rc_rgb_to_i420, GST_TYPE_VIDEO_FILTER)

static GstStaticPadTemplate rc_sink = GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS,
	GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE("{ BGRx, BGRA }")));
static GstStaticPadTemplate rc_src = GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS,
	GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE("I420")));

// Caps across the element keep everything but the format and the
// colour description, which are this element's to set.
static void rc_edit(GstStructure *s, GstPadDirection direction) {
	gst_structure_remove_fields(s, "format", "colorimetry", "chroma-site", NULL);
	if (direction == GST_PAD_SINK) {
		gst_structure_set(s, "format", G_TYPE_STRING, "I420", "colorimetry", G_TYPE_STRING, "bt601",
		                  "chroma-site", G_TYPE_STRING, "jpeg", NULL);
		return;
	}
	GstCaps *formats = gst_static_pad_template_get_caps(&rc_sink);
	gst_structure_set_value(s, "format", gst_structure_get_value(gst_caps_get_structure(formats, 0), "format"));
	gst_caps_unref(formats);
}

static GstCaps *rc_transform_caps(GstBaseTransform *bt, GstPadDirection direction, GstCaps *caps, GstCaps *filter) {
	return rc_transform_each(caps, direction, filter, rc_edit);
}

static GstFlowReturn rc_transform_frame(GstVideoFilter *filter, GstVideoFrame *in, GstVideoFrame *out) {
	// libyuv names formats by 32-bit words, GStreamer by bytes: libyuv's
	// ARGB is GStreamer's BGRA, B first in memory.
	return rc_libyuv_done(GST_ELEMENT(filter),
		ARGBToI420(GST_VIDEO_FRAME_PLANE_DATA(in, 0), GST_VIDEO_FRAME_PLANE_STRIDE(in, 0),
		           GST_VIDEO_FRAME_PLANE_DATA(out, 0), GST_VIDEO_FRAME_PLANE_STRIDE(out, 0),
		           GST_VIDEO_FRAME_PLANE_DATA(out, 1), GST_VIDEO_FRAME_PLANE_STRIDE(out, 1),
		           GST_VIDEO_FRAME_PLANE_DATA(out, 2), GST_VIDEO_FRAME_PLANE_STRIDE(out, 2),
		           GST_VIDEO_FRAME_WIDTH(in), GST_VIDEO_FRAME_HEIGHT(in)));
}

static void rc_rgb_to_i420_class_init(RcRgbToI420Class *klass) {
	GstElementClass *element = GST_ELEMENT_CLASS(klass);
	gst_element_class_set_static_metadata(element, "RGB to I420", "Filter/Converter/Video",
	                                      "Packed RGB to BT.601 I420 with libyuv", "Roomcast Studio");
	gst_element_class_add_static_pad_template(element, &rc_sink);
	gst_element_class_add_static_pad_template(element, &rc_src);
	GST_BASE_TRANSFORM_CLASS(klass)->transform_caps = rc_transform_caps;
	klass->transform_frame = rc_transform_frame;
}

// Every frame is converted: QoS, which a video filter would heed, could
// drop frames of a recording for a late sink downstream.
static void rc_rgb_to_i420_init(RcRgbToI420 *self) {
	gst_base_transform_set_qos_enabled(GST_BASE_TRANSFORM(self), FALSE);
}

gboolean roomcast_register_rgbtoi420(void) {
	return gst_element_register(NULL, "rgbtoi420", GST_RANK_NONE, rc_rgb_to_i420_get_type());
}
