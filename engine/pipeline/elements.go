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
	InitGStreamer()
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

// BinBuilder builds one bin: each element is made into the bin at once
// (adding an element to a bin unlinks its pads, so elements go in first
// and are linked after), named "<bin>-<role>". It keeps the first error
// and does nothing after it, so a branch is built as its diagram reads and
// checked once, with Bin.
type BinBuilder struct {
	bin *gst.Bin
	err error
}

// NewBinBuilder starts a bin named name.
func NewBinBuilder(name string) *BinBuilder {
	InitGStreamer()
	return &BinBuilder{bin: gst.NewBin(name)}
}

// Make makes a factory's element with props into the bin; nil after an
// error.
func (b *BinBuilder) Make(factory, role string, props Props) *gst.Element {
	if b.err != nil {
		return nil
	}
	el, err := Make(factory, b.bin.GetName()+"-"+role, props)
	if err == nil {
		if err = b.bin.Add(el); err != nil {
			err = fmt.Errorf("%s: add %s: %w", b.bin.GetName(), el.GetName(), err)
		}
	}
	b.err = err
	return el
}

// Link links each element to the next.
func (b *BinBuilder) Link(elems ...*gst.Element) {
	for i := 1; i < len(elems) && b.err == nil; i++ {
		if err := elems[i-1].Link(elems[i]); err != nil {
			b.err = fmt.Errorf("link %s to %s: %w", elems[i-1].GetName(), elems[i].GetName(), err)
		}
	}
}

// LinkRequest links from's src pad to a new request pad of to (template
// tmpl: "video_%u").
func (b *BinBuilder) LinkRequest(from, to *gst.Element, tmpl string) {
	if sink := b.Request(to, tmpl); b.err == nil {
		b.err = linkPads(from.GetStaticPad("src"), sink)
	}
}

// Request returns a new request pad of el (an input of the branch); nil
// after an error.
func (b *BinBuilder) Request(el *gst.Element, tmpl string) *gst.Pad {
	if b.err != nil {
		return nil
	}
	p := el.GetRequestPad(tmpl)
	if p == nil {
		b.err = fmt.Errorf("%s: no %s pad", el.GetName(), tmpl)
	}
	return p
}

// Pad returns el's static pad name (an input of the branch); nil after an
// error.
func (b *BinBuilder) Pad(el *gst.Element, name string) *gst.Pad {
	if b.err != nil {
		return nil
	}
	p := el.GetStaticPad(name)
	if p == nil {
		b.err = fmt.Errorf("%s has no %s pad", el.GetName(), name)
	}
	return p
}

// Bin is the bin built, or the first error.
func (b *BinBuilder) Bin() (*gst.Bin, error) {
	if b.err != nil {
		return nil, fmt.Errorf("%s: %w", b.bin.GetName(), b.err)
	}
	return b.bin, nil
}

// linkPads links a source pad to a sink pad, naming both if they do not.
func linkPads(src, sink *gst.Pad) error {
	if ret := src.Link(sink); ret != gst.PadLinkOK {
		return fmt.Errorf("link %s:%s to %s:%s: %s", src.GetParentElement().GetName(), src.GetName(),
			sink.GetParentElement().GetName(), sink.GetName(), ret)
	}
	return nil
}
