// What both elements share beyond GstVideoFilter.

#include "elements.h"

GstCaps *rc_transform_each(GstCaps *caps, GstPadDirection direction, GstCaps *filter,
                           void (*edit)(GstStructure *s, GstPadDirection direction)) {
	GstCaps *res = gst_caps_new_empty();
	for (guint i = 0; i < gst_caps_get_size(caps); i++) {
		GstStructure *s = gst_structure_copy(gst_caps_get_structure(caps, i));
		edit(s, direction);
		res = gst_caps_merge_structure(res, s);
	}
	if (!filter) return res;
	GstCaps *both = gst_caps_intersect_full(filter, res, GST_CAPS_INTERSECT_FIRST);
	gst_caps_unref(res);
	return both;
}

GstFlowReturn rc_libyuv_done(GstElement *element, int failed) {
	if (!failed) return GST_FLOW_OK;
	GST_ELEMENT_ERROR(element, STREAM, FAILED, (NULL), ("libyuv refused the frame (%d)", failed));
	return GST_FLOW_ERROR;
}
