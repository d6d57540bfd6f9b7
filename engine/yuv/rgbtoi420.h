#ifndef ROOMCAST_RGBTOI420_H
#define ROOMCAST_RGBTOI420_H

#include <gst/gst.h>

// roomcast_register_rgbtoi420 registers the rgbtoi420 element for this
// process; TRUE once it is there.
gboolean roomcast_register_rgbtoi420(void);

#endif
