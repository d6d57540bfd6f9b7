// rgbtoi420: packed 8-bit RGB (BGRx, BGRA) to I420 with libyuv's rows
// (see yuv.go for why). Its output is what ARGBToI420 makes: BT.601
// limited range, each chroma sample the mean of a 2x2 block, so its caps
// say so (colorimetry bt601, chroma-site jpeg) and every element after it
// reads the colours right.

#include "elements.h"

#include <gst/base/gstbasetransform.h>
#include <gst/video/video.h>
#include <libyuv/convert.h>

typedef struct {
	GstBaseTransform parent;
	GstVideoInfo in, out;
} RcRgbToI420;

typedef struct {
	GstBaseTransformClass parent_class;
} RcRgbToI420Class;

G_DEFINE_TYPE(RcRgbToI420, rc_rgb_to_i420, GST_TYPE_BASE_TRANSFORM)

static GstStaticPadTemplate rc_sink = GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS,
	GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE("{ BGRx, BGRA }")));
static GstStaticPadTemplate rc_src = GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS,
	GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE("I420")));

// Caps across the element keep everything but the format and the
// colour description, which are this element's to set.
static GstCaps *rc_transform_caps(GstBaseTransform *bt, GstPadDirection direction, GstCaps *caps, GstCaps *filter) {
	GstCaps *res = gst_caps_new_empty();
	for (guint i = 0; i < gst_caps_get_size(caps); i++) {
		GstStructure *s = gst_structure_copy(gst_caps_get_structure(caps, i));
		gst_structure_remove_fields(s, "format", "colorimetry", "chroma-site", NULL);
		if (direction == GST_PAD_SINK) {
			gst_structure_set(s, "format", G_TYPE_STRING, "I420", "colorimetry", G_TYPE_STRING, "bt601",
			                  "chroma-site", G_TYPE_STRING, "jpeg", NULL);
		} else {
			GstCaps *formats = gst_static_pad_template_get_caps(&rc_sink);
			gst_structure_set_value(s, "format", gst_structure_get_value(gst_caps_get_structure(formats, 0), "format"));
			gst_caps_unref(formats);
		}
		res = gst_caps_merge_structure(res, s);
	}
	if (filter) {
		GstCaps *both = gst_caps_intersect_full(filter, res, GST_CAPS_INTERSECT_FIRST);
		gst_caps_unref(res);
		res = both;
	}
	return res;
}

static gboolean rc_set_caps(GstBaseTransform *bt, GstCaps *in, GstCaps *out) {
	RcRgbToI420 *self = (RcRgbToI420 *)bt;
	return gst_video_info_from_caps(&self->in, in) && gst_video_info_from_caps(&self->out, out);
}

static gboolean rc_get_unit_size(GstBaseTransform *bt, GstCaps *caps, gsize *size) {
	GstVideoInfo info;
	if (!gst_video_info_from_caps(&info, caps)) return FALSE;
	*size = GST_VIDEO_INFO_SIZE(&info);
	return TRUE;
}

static GstFlowReturn rc_transform(GstBaseTransform *bt, GstBuffer *inbuf, GstBuffer *outbuf) {
	RcRgbToI420 *self = (RcRgbToI420 *)bt;
	GstVideoFrame in, out;
	if (!gst_video_frame_map(&in, &self->in, inbuf, GST_MAP_READ)) {
		GST_ELEMENT_ERROR(bt, STREAM, FAILED, (NULL), ("could not map the input frame"));
		return GST_FLOW_ERROR;
	}
	if (!gst_video_frame_map(&out, &self->out, outbuf, GST_MAP_WRITE)) {
		gst_video_frame_unmap(&in);
		GST_ELEMENT_ERROR(bt, STREAM, FAILED, (NULL), ("could not map the output frame"));
		return GST_FLOW_ERROR;
	}
	// libyuv names formats by 32-bit words, GStreamer by bytes: libyuv's
	// ARGB is GStreamer's BGRA, B first in memory.
	int failed = ARGBToI420(GST_VIDEO_FRAME_PLANE_DATA(&in, 0), GST_VIDEO_FRAME_PLANE_STRIDE(&in, 0),
	                        GST_VIDEO_FRAME_PLANE_DATA(&out, 0), GST_VIDEO_FRAME_PLANE_STRIDE(&out, 0),
	                        GST_VIDEO_FRAME_PLANE_DATA(&out, 1), GST_VIDEO_FRAME_PLANE_STRIDE(&out, 1),
	                        GST_VIDEO_FRAME_PLANE_DATA(&out, 2), GST_VIDEO_FRAME_PLANE_STRIDE(&out, 2),
	                        GST_VIDEO_FRAME_WIDTH(&in), GST_VIDEO_FRAME_HEIGHT(&in));
	gst_video_frame_unmap(&out);
	gst_video_frame_unmap(&in);
	if (failed) {
		GST_ELEMENT_ERROR(bt, STREAM, FAILED, (NULL), ("libyuv refused the frame"));
		return GST_FLOW_ERROR;
	}
	return GST_FLOW_OK;
}

static void rc_rgb_to_i420_class_init(RcRgbToI420Class *klass) {
	GstElementClass *element = GST_ELEMENT_CLASS(klass);
	GstBaseTransformClass *transform = GST_BASE_TRANSFORM_CLASS(klass);
	gst_element_class_set_static_metadata(element, "RGB to I420", "Filter/Converter/Video",
	                                      "Packed RGB to BT.601 I420 with libyuv", "Roomcast Studio");
	gst_element_class_add_static_pad_template(element, &rc_sink);
	gst_element_class_add_static_pad_template(element, &rc_src);
	transform->transform_caps = rc_transform_caps;
	transform->set_caps = rc_set_caps;
	transform->get_unit_size = rc_get_unit_size;
	transform->transform = rc_transform;
}

static void rc_rgb_to_i420_init(RcRgbToI420 *self) {}

gboolean roomcast_register_rgbtoi420(void) {
	return gst_element_register(NULL, "rgbtoi420", GST_RANK_NONE, rc_rgb_to_i420_get_type());
}
