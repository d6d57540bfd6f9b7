#ifndef ROOMCAST_YUV_ELEMENTS_H
#define ROOMCAST_YUV_ELEMENTS_H

#include <gst/gst.h>

// Each registers its element for this process; TRUE once it is there.
gboolean roomcast_register_rgbtoi420(void);
gboolean roomcast_register_i420scale(void);

#endif
