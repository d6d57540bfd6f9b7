#ifndef ROOMCAST_YUV_ELEMENTS_H
#define ROOMCAST_YUV_ELEMENTS_H

#include <gst/gst.h>

// Each registers its element for this process; TRUE once it is there.
gboolean roomcast_register_rgbtoi420(void);
gboolean roomcast_register_i420scale(void);

// rc_transform_each is a transform_caps that changes a copy of each of
// caps' structures with edit, then keeps what filter (if any) allows, in
// filter's order.
GstCaps *rc_transform_each(GstCaps *caps, GstPadDirection direction, GstCaps *filter,
                           void (*edit)(GstStructure *s, GstPadDirection direction));

// rc_libyuv_done is a transform_frame's return for libyuv's: 0 is done,
// anything else an error posted on the element.
GstFlowReturn rc_libyuv_done(GstElement *element, int failed);

#endif
