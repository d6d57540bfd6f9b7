package pipeline

/*
#cgo pkg-config: gstreamer-1.0
#include <gst/gst.h>

// A mark is what a probe keeps of the buffers through a pad: how many,
// and the last one's timestamps and when it passed (Unix ns, 0 before
// any). The probe holds one reference and Go the other.
typedef struct {
	gint refs;
	gint64 count, at, pts, dur;
} rc_mark;

static void rc_mark_note(rc_mark *m, GstBuffer *buf) {
	__atomic_store_n(&m->pts, (gint64)GST_BUFFER_PTS(buf), __ATOMIC_RELAXED);
	__atomic_store_n(&m->dur, (gint64)GST_BUFFER_DURATION(buf), __ATOMIC_RELAXED);
	__atomic_store_n(&m->at, g_get_real_time() * 1000, __ATOMIC_RELEASE);
	__atomic_add_fetch(&m->count, 1, __ATOMIC_RELAXED);
}

static gint64 rc_load(gint64 *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }

static void rc_mark_unref(gpointer data) {
	rc_mark *m = data;
	if (g_atomic_int_dec_and_test(&m->refs)) g_free(m);
}

static GstPadProbeReturn rc_mark_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
	GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
	if (buf) rc_mark_note(data, buf);
	return GST_PAD_PROBE_OK;
}

static rc_mark *rc_mark_pad(GstPad *pad) {
	rc_mark *m = g_new0(rc_mark, 1);
	m->refs = 2;
	m->pts = m->dur = -1;
	gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, rc_mark_probe, m, rc_mark_unref);
	return m;
}

// An isolation hands each buffer of a tee's pad to a tap's entrance
// itself (see isolate), marking it, and drops those from end on (a
// running time; -1 for none). Go holds a reference, and each probe one.
typedef struct {
	rc_mark mark;
	GstPad *entrance;
	gint64 end;
	gint past_end;
} rc_isolation;

static rc_isolation *rc_isolation_new(GstPad *entrance) {
	rc_isolation *in = g_new0(rc_isolation, 1);
	in->mark.refs = 1;
	in->mark.pts = in->mark.dur = -1;
	in->entrance = gst_object_ref(entrance);
	in->end = -1;
	return in;
}

static void rc_isolation_unref(gpointer data) {
	rc_isolation *in = data;
	if (g_atomic_int_dec_and_test(&in->mark.refs)) {
		gst_object_unref(in->entrance);
		g_free(in);
	}
}

static GstPadProbeReturn rc_isolate_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
	rc_isolation *in = data;
	GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
	if (!buf) return GST_PAD_PROBE_OK;
	gint64 end = __atomic_load_n(&in->end, __ATOMIC_ACQUIRE);
	if (end >= 0 && GST_BUFFER_PTS_IS_VALID(buf)) {
		GstEvent *ev = gst_pad_get_sticky_event(pad, GST_EVENT_SEGMENT, 0);
		if (ev) {
			const GstSegment *seg;
			gst_event_parse_segment(ev, &seg);
			guint64 rt = gst_segment_to_running_time(seg, GST_FORMAT_TIME, GST_BUFFER_PTS(buf));
			gst_event_unref(ev);
			if (rt != GST_CLOCK_TIME_NONE && (gint64)rt >= end) {
				__atomic_store_n(&in->past_end, 1, __ATOMIC_RELEASE);
				return GST_PAD_PROBE_DROP;
			}
		}
	}
	rc_mark_note(&in->mark, buf);
	// The entrance takes the probe's reference; what it returns is the
	// tap's own business (HANDLED: the tee is told OK).
	gst_pad_chain(in->entrance, buf);
	return GST_PAD_PROBE_HANDLED;
}

static gulong rc_isolate(GstPad *pad, rc_isolation *in) {
	g_atomic_int_inc(&in->mark.refs);
	return gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, rc_isolate_probe, in, rc_isolation_unref);
}

static void rc_set_end(rc_isolation *in, gint64 end) { __atomic_store_n(&in->end, end, __ATOMIC_RELEASE); }
static gboolean rc_past_end(rc_isolation *in) { return __atomic_load_n(&in->past_end, __ATOMIC_ACQUIRE); }

// A rising probe keeps the last PTS through its pad (-1 before any) and
// moves a buffer less than 1 ms after it to 1 ms after it (see KeepRising).
static GstPadProbeReturn rc_rising_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
	gint64 *last = data;
	GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
	if (!buf || !GST_BUFFER_PTS_IS_VALID(buf)) return GST_PAD_PROBE_OK;
	gint64 pts = GST_BUFFER_PTS(buf);
	if (*last >= 0 && pts < *last + GST_MSECOND) {
		pts = *last + GST_MSECOND;
		buf = gst_buffer_make_writable(buf);
		GST_BUFFER_PTS(buf) = pts;
		GST_PAD_PROBE_INFO_DATA(info) = buf;
	}
	*last = pts;
	return GST_PAD_PROBE_OK;
}

static void rc_keep_rising(GstPad *pad) {
	gint64 *last = g_new(gint64, 1);
	*last = -1;
	gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, rc_rising_probe, last, g_free);
}
*/
import "C"

import (
	"runtime"
	"time"
	"unsafe"

	"github.com/go-gst/go-gst/gst"
)

/*
Probes that run on every buffer are written in C. A Go probe is a call
from a GStreamer thread into Go: each one takes a scheduler slot (a P)
that the thread keeps, parked, when it goes back to C, and Go's monitor
thread then polls every 20 µs to take it back. A participant recording
made about 400 such calls a second; two of them kept that thread waking
10,000 times a second, 0.17 core of context switches.
*/

// mark is what a native probe keeps of the buffers through a pad.
type mark struct{ c *C.rc_mark }

// markPad puts a mark on pad's buffers, for as long as the pad lives.
func markPad(pad *gst.Pad) *mark {
	m := &mark{c: C.rc_mark_pad((*C.GstPad)(unsafe.Pointer(pad.Instance())))}
	runtime.AddCleanup(m, func(c *C.rc_mark) { C.rc_mark_unref(C.gpointer(unsafe.Pointer(c))) }, m.c)
	return m
}

func (m *mark) count() int64 {
	defer runtime.KeepAlive(m) // its cleanup frees what C reads
	return int64(C.rc_load(&m.c.count))
}

// last is the last buffer's timestamps and when it passed (zero before
// any).
func (m *mark) last() (at time.Time, pts, dur gst.ClockTime) {
	defer runtime.KeepAlive(m)
	return lastOf(m.c)
}

// lastOf reads a mark's last buffer; its owner must be kept alive.
func lastOf(c *C.rc_mark) (at time.Time, pts, dur gst.ClockTime) {
	ns := int64(C.rc_load(&c.at))
	if ns == 0 {
		return time.Time{}, gst.ClockTimeNone, gst.ClockTimeNone
	}
	return time.Unix(0, ns), gst.ClockTime(C.rc_load(&c.pts)), gst.ClockTime(C.rc_load(&c.dur))
}

// isolation keeps a tap's failures to itself. A tee returns the first
// fatal flow return of any branch to its upstream, so one failing output
// (an RTMP server gone, a full disk) would stop the encoder or the screen
// grab for everyone. Its probe hands each buffer to the tap's entrance
// itself, ignores what the tap returns, and tells the tee the buffer was
// handled (OK); the tap reports its failure on the bus instead. Events
// keep the plain link.
//
// It also notes the last buffer handed over, and holds back those past
// the input's end once one is set (endAt).
type isolation struct{ c *C.rc_isolation }

func newIsolation(entrance *gst.Pad) *isolation {
	in := &isolation{c: C.rc_isolation_new((*C.GstPad)(unsafe.Pointer(entrance.Instance())))}
	runtime.AddCleanup(in, func(c *C.rc_isolation) { C.rc_isolation_unref(C.gpointer(unsafe.Pointer(c))) }, in.c)
	return in
}

// attach puts the probe on teePad and returns its ID.
func (in *isolation) attach(teePad *gst.Pad) uint64 {
	id := C.rc_isolate((*C.GstPad)(unsafe.Pointer(teePad.Instance())), in.c)
	runtime.KeepAlive(in)
	return uint64(id)
}

func (in *isolation) last() (at time.Time, pts, dur gst.ClockTime) {
	defer runtime.KeepAlive(in)
	return lastOf(&in.c.mark)
}

// setEnd holds back the buffers from running time end on; -1 for none.
func (in *isolation) setEnd(end int64) {
	C.rc_set_end(in.c, C.gint64(end))
	runtime.KeepAlive(in)
}

// pastEnd reports whether a buffer past the end was held back.
func (in *isolation) pastEnd() bool {
	past := C.rc_past_end(in.c) != 0
	runtime.KeepAlive(in)
	return past
}

// KeepRising gives each buffer through pad whose PTS is less than 1 ms
// after its predecessor's a PTS 1 ms after that, for as long as the pad
// lives: a muxer takes two frames at one time as a stream going
// backwards, and WebM keeps time in milliseconds, so frames 0.3 ms apart
// (a jitter buffer's first packets) land on one time there.
func KeepRising(pad *gst.Pad) {
	C.rc_keep_rising((*C.GstPad)(unsafe.Pointer(pad.Instance())))
}
