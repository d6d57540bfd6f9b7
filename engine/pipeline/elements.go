package pipeline

/*
#cgo pkg-config: gstreamer-1.0
#include <stdlib.h>
#include <gst/gst.h>

// roomcast_set_property sets one property from its text form, as
// gst-launch reads it: numbers, true/false, enum nicks, caps. A string
// property takes the text as it is (no quoting rules). Returns 0, or 1
// for an unknown property, 2 for a value that does not parse.
static int roomcast_set_property(GstElement *el, const char *name, const char *text) {
	GParamSpec *spec = g_object_class_find_property(G_OBJECT_GET_CLASS(el), name);
	if (spec == NULL) return 1;
	GValue v = G_VALUE_INIT;
	g_value_init(&v, G_PARAM_SPEC_VALUE_TYPE(spec));
	if (G_PARAM_SPEC_VALUE_TYPE(spec) == G_TYPE_STRING) {
		g_value_set_string(&v, text);
	} else if (!gst_value_deserialize_with_pspec(&v, text, spec)) {
		g_value_unset(&v);
		return 2;
	}
	g_object_set_property(G_OBJECT(el), name, &v);
	g_value_unset(&v);
	return 0;
}
*/
import "C"

import (
	"fmt"
	"unsafe"

	"github.com/go-gst/go-gst/gst"
)

// Props are an element's properties in gst-launch's text form ("3000",
// "true", "downstream", "video/x-raw,width=640"), or any value that
// prints as such (numbers, booleans). A string property takes its value
// as it is: paths and URLs need no quoting.
type Props map[string]any

// Make creates a factory's element named name with props set, or says
// which element, property or value is wrong.
func Make(factory, name string, props Props) (*gst.Element, error) {
	initGStreamer()
	el, err := gst.NewElementWithName(factory, name)
	if err != nil {
		return nil, fmt.Errorf("%s: no %s element (is its GStreamer plugin installed? run make deps)", name, factory)
	}
	for prop, value := range props {
		if err := setProperty(el, prop, fmt.Sprint(value)); err != nil {
			return nil, err
		}
	}
	return el, nil
}

func setProperty(el *gst.Element, prop, text string) error {
	cprop, ctext := C.CString(prop), C.CString(text)
	defer C.free(unsafe.Pointer(cprop))
	defer C.free(unsafe.Pointer(ctext))
	switch C.roomcast_set_property((*C.GstElement)(unsafe.Pointer(el.Instance())), cprop, ctext) {
	case 1:
		return fmt.Errorf("%s: %s has no property %q", el.GetName(), el.GetFactory().GetName(), prop)
	case 2:
		return fmt.Errorf("%s: %q is not a value of %s's %q", el.GetName(), text, el.GetFactory().GetName(), prop)
	}
	return nil
}

// NewBin makes a bin named name holding elems, to be linked after: adding
// an element to a bin unlinks its pads.
func NewBin(name string, elems ...*gst.Element) (*gst.Bin, error) {
	initGStreamer()
	bin := gst.NewBin(name)
	if err := bin.AddMany(elems...); err != nil {
		return nil, fmt.Errorf("%s: add elements: %w", name, err)
	}
	return bin, nil
}

// Link links each element to the next, naming the pair that does not link.
func Link(elems ...*gst.Element) error {
	for i := 1; i < len(elems); i++ {
		if err := elems[i-1].Link(elems[i]); err != nil {
			return fmt.Errorf("link %s to %s: %w", elems[i-1].GetName(), elems[i].GetName(), err)
		}
	}
	return nil
}

// LinkPads links a source pad to a sink pad, naming both if they do not.
func LinkPads(src, sink *gst.Pad) error {
	if ret := src.Link(sink); ret != gst.PadLinkOK {
		return fmt.Errorf("link %s:%s to %s:%s: %s", src.GetParentElement().GetName(), src.GetName(),
			sink.GetParentElement().GetName(), sink.GetName(), ret)
	}
	return nil
}

// RequestPad asks el for a pad of template tmpl ("video_%u"), naming el
// when it has none to give.
func RequestPad(el *gst.Element, tmpl string) (*gst.Pad, error) {
	p := el.GetRequestPad(tmpl)
	if p == nil {
		return nil, fmt.Errorf("%s: no %s pad", el.GetName(), tmpl)
	}
	return p, nil
}
