// i420scale: I420 frames scaled to the size downstream asks for with
// libyuv's bilinear rows, the picture letterboxed to keep its display
// aspect ratio (borders black), as videoscale add-borders=true does. The
// output's pixels are square.

#include "elements.h"

#include <gst/video/gstvideofilter.h>
#include <libyuv/planar_functions.h>
#include <libyuv/scale.h>

typedef GstVideoFilter RcI420Scale;
typedef GstVideoFilterClass RcI420ScaleClass;

G_DEFINE_TYPE(RcI420Scale, rc_i420_scale, GST_TYPE_VIDEO_FILTER)

static GstStaticPadTemplate rc_sink = GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS,
	GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE("I420")));
static GstStaticPadTemplate rc_src = GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS,
	GST_STATIC_CAPS(GST_VIDEO_CAPS_MAKE("I420")));

// Caps across the element keep everything but the size and the pixels'
// shape: any size in, any size out, square pixels out.
static void rc_edit(GstStructure *s, GstPadDirection direction) {
	gst_structure_set(s, "width", GST_TYPE_INT_RANGE, 1, G_MAXINT, "height", GST_TYPE_INT_RANGE, 1, G_MAXINT, NULL);
	if (direction == GST_PAD_SINK) {
		gst_structure_set(s, "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, NULL);
	} else {
		gst_structure_remove_field(s, "pixel-aspect-ratio");
	}
}

static GstCaps *rc_transform_caps(GstBaseTransform *bt, GstPadDirection direction, GstCaps *caps, GstCaps *filter) {
	return rc_transform_each(caps, direction, filter, rc_edit);
}

// A size downstream leaves open is the input's. The output's colours are
// the input's, and its caps say so even where the input's leave them to
// the size (GStreamer takes a frame under 577 lines for BT.601 and a
// larger one for BT.709): a 640x360 camera doubled without a colorimetry
// would be read as BT.709, every colour a little off.
static GstCaps *rc_fixate_caps(GstBaseTransform *bt, GstPadDirection direction, GstCaps *caps, GstCaps *othercaps) {
	othercaps = gst_caps_truncate(gst_caps_make_writable(othercaps));
	GstStructure *in = gst_caps_get_structure(caps, 0), *out = gst_caps_get_structure(othercaps, 0);
	gint width, height;
	if (gst_structure_get_int(in, "width", &width)) gst_structure_fixate_field_nearest_int(out, "width", width);
	if (gst_structure_get_int(in, "height", &height)) gst_structure_fixate_field_nearest_int(out, "height", height);
	GstVideoInfo info;
	if (direction == GST_PAD_SINK && gst_video_info_from_caps(&info, caps)) {
		if (!gst_structure_has_field(out, "colorimetry")) {
			gchar *colorimetry = gst_video_colorimetry_to_string(&info.colorimetry);
			if (colorimetry) gst_structure_set(out, "colorimetry", G_TYPE_STRING, colorimetry, NULL);
			g_free(colorimetry);
		}
		if (!gst_structure_has_field(out, "chroma-site")) {
			gchar *site = gst_video_chroma_site_to_string(info.chroma_site);
			if (site) gst_structure_set(out, "chroma-site", G_TYPE_STRING, site, NULL);
			g_free(site);
		}
	}
	return gst_caps_fixate(othercaps);
}

// rc_fit is where the picture goes in the output: as large as fits with
// its display aspect ratio kept, centred, on even pixels (chroma is
// subsampled by two both ways).
static void rc_fit(const GstVideoInfo *in, const GstVideoInfo *out, gint *x, gint *y, gint *w, gint *h) {
	gint64 ow = GST_VIDEO_INFO_WIDTH(out), oh = GST_VIDEO_INFO_HEIGHT(out);
	gint64 dw = (gint64)GST_VIDEO_INFO_WIDTH(in) * GST_VIDEO_INFO_PAR_N(in);
	gint64 dh = (gint64)GST_VIDEO_INFO_HEIGHT(in) * GST_VIDEO_INFO_PAR_D(in);
	gint64 fw = ow, fh = oh;
	if (dw * oh > ow * dh) {
		fh = (ow * dh + dw / 2) / dw;
	} else {
		fw = (oh * dw + dh / 2) / dh;
	}
	fw = MAX(MIN(fw + (fw & 1), ow), 1);
	fh = MAX(MIN(fh + (fh & 1), oh), 1);
	*w = fw;
	*h = fh;
	*x = ((ow - fw) / 2) & ~1;
	*y = ((oh - fh) / 2) & ~1;
}

static GstFlowReturn rc_transform_frame(GstVideoFilter *filter, GstVideoFrame *in, GstVideoFrame *out) {
	guint8 *y = GST_VIDEO_FRAME_PLANE_DATA(out, 0), *u = GST_VIDEO_FRAME_PLANE_DATA(out, 1), *v = GST_VIDEO_FRAME_PLANE_DATA(out, 2);
	gint ys = GST_VIDEO_FRAME_PLANE_STRIDE(out, 0), us = GST_VIDEO_FRAME_PLANE_STRIDE(out, 1), vs = GST_VIDEO_FRAME_PLANE_STRIDE(out, 2);
	gint x, top, w, h, failed = 0;
	rc_fit(&filter->in_info, &filter->out_info, &x, &top, &w, &h);
	if (w != GST_VIDEO_FRAME_WIDTH(out) || h != GST_VIDEO_FRAME_HEIGHT(out)) {
		gint black = GST_VIDEO_INFO_COLORIMETRY(&filter->out_info).range == GST_VIDEO_COLOR_RANGE_0_255 ? 0 : 16;
		failed = I420Rect(y, ys, u, us, v, vs, 0, 0, GST_VIDEO_FRAME_WIDTH(out), GST_VIDEO_FRAME_HEIGHT(out), black, 128, 128);
	}
	if (!failed) {
		failed = I420Scale(GST_VIDEO_FRAME_PLANE_DATA(in, 0), GST_VIDEO_FRAME_PLANE_STRIDE(in, 0),
		                   GST_VIDEO_FRAME_PLANE_DATA(in, 1), GST_VIDEO_FRAME_PLANE_STRIDE(in, 1),
		                   GST_VIDEO_FRAME_PLANE_DATA(in, 2), GST_VIDEO_FRAME_PLANE_STRIDE(in, 2),
		                   GST_VIDEO_FRAME_WIDTH(in), GST_VIDEO_FRAME_HEIGHT(in),
		                   y + top * ys + x, ys, u + top / 2 * us + x / 2, us, v + top / 2 * vs + x / 2, vs,
		                   w, h, kFilterBilinear);
	}
	return rc_libyuv_done(GST_ELEMENT(filter), failed);
}

static void rc_i420_scale_class_init(RcI420ScaleClass *klass) {
	GstElementClass *element = GST_ELEMENT_CLASS(klass);
	GstBaseTransformClass *transform = GST_BASE_TRANSFORM_CLASS(klass);
	gst_element_class_set_static_metadata(element, "I420 scale", "Filter/Converter/Video/Scaler",
	                                      "Scales I420 with libyuv, letterboxed", "Roomcast Studio");
	gst_element_class_add_static_pad_template(element, &rc_sink);
	gst_element_class_add_static_pad_template(element, &rc_src);
	transform->transform_caps = rc_transform_caps;
	transform->fixate_caps = rc_fixate_caps;
	transform->passthrough_on_same_caps = TRUE;
	klass->transform_frame = rc_transform_frame;
}

// As rgbtoi420's: no frame dropped for QoS.
static void rc_i420_scale_init(RcI420Scale *self) {
	gst_base_transform_set_qos_enabled(GST_BASE_TRANSFORM(self), FALSE);
}

gboolean roomcast_register_i420scale(void) {
	return gst_element_register(NULL, "i420scale", GST_RANK_NONE, rc_i420_scale_get_type());
}
