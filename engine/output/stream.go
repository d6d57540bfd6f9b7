package output

/*
A stream output (stream_outputs[i]): RTMP/RTMPS destinations, each a
branch of its own on the shared encoders:

	venc tee ─► h264parse ─► flvmux.video ─┐
	aenc tee ─────────────► flvmux.audio ──┴► rtmp2sink location=URL

Each destination muxes for itself, so one joining late gets its own FLV
header, codec headers and timestamps from zero; the encode is shared. Its
input queues are leaky, so a slow server drops its own data and never
stalls the encoder, the file or the other destinations. Destinations are
added and removed while live (UpdateStream); one that fails is that
destination's problem (see the retry policy).
*/

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-gst/go-gst/gst"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"

	"roomcast/engine/pipeline"
	"roomcast/engine/request"
)

// Stream retry policy. A destination that had been live and drops is
// retried with back-off for streamRetryFor; one that never took data is
// not retried (a wrong URL or stream key does not fix itself).
const (
	streamRetryFor   = 30 * time.Second
	streamBackoffMax = 8 * time.Second
)

// streamSettle is how long a destination must take data without an error
// to count as live: rtmp2sink connects in the background, and a refused
// connection or a rejected key fails well within it on loopback and on
// the internet alike.
const streamSettle = 2 * time.Second

// streamEOSTimeout bounds a destination's end: an RTMP server that went
// away never acknowledges anything, and the other outputs must not wait.
const streamEOSTimeout = 2 * time.Second

// Stream sends the egress to its RTMP destinations.
type Stream struct {
	env Env
	enc Encoding

	mu      sync.Mutex
	cap     *pipeline.Capture // set by Start
	dests   []*destination
	nextID  int
	started time.Time // the first destination's first frame
	stopped bool
}

// destination is one RTMP URL of the output. Its fields are guarded by
// Stream.mu.
type destination struct {
	url          string // as given (holds the stream key): never shown
	info         *livekit.StreamInfo
	cur          *attempt  // the connection now; nil while none
	flowed       bool      // it has been live at least once
	failingSince time.Time // start of the current outage
	removed      bool
}

// attempt is one connection of a destination: its branch, which may fail
// before Attach has even returned it.
type attempt struct {
	att    *pipeline.Attachment
	failed bool
	sink   *gst.Element // its rtmp2sink, once attached

	// The sink's byte count when last read, and the rate since the read
	// before (Rates).
	sentBytes uint64
	sentAt    time.Time
	kbps      float64
}

// NewStream prepares a stream output with its first destinations (URLs
// checked by the request package); nothing runs until Start.
func NewStream(plan request.StreamOutput, enc Encoding, env Env) *Stream {
	o := &Stream{env: env, enc: enc}
	for _, d := range plan.Destinations {
		o.dests = append(o.dests, newDestination(d))
	}
	return o
}

func newDestination(d request.Destination) *destination {
	return &destination{url: d.URL, info: &livekit.StreamInfo{
		Id:        d.ID,
		Url:       request.RedactURL(d.URL),
		Status:    livekit.StreamInfo_ACTIVE,
		StartedAt: time.Now().UnixNano(),
	}}
}

// Field is the request field of the output.
func (o *Stream) Field() string { return o.env.Field }

// Start connects every destination. One that cannot is that
// destination's failure, not the output's.
func (o *Stream) Start(c *pipeline.Capture) error {
	if o.enc.Audio != nil && o.enc.Audio.Codec != pipeline.AAC {
		return fmt.Errorf("%s: RTMP carries AAC audio, not %s", o.env.Field, o.enc.Audio.Codec)
	}
	o.mu.Lock()
	o.cap = c
	dests := append([]*destination(nil), o.dests...)
	o.mu.Unlock()
	for _, d := range dests {
		o.connect(d)
	}
	return nil
}

// connect attaches a destination's branch; a failure goes to the policy.
func (o *Stream) connect(d *destination) {
	o.mu.Lock()
	if o.stopped || d.removed || o.cap == nil {
		o.mu.Unlock()
		return
	}
	o.nextID++
	name := fmt.Sprintf("%s-rtmp%d", o.env.Name, o.nextID)
	c, a := o.cap, &attempt{}
	d.cur = a
	o.mu.Unlock()

	br, sink, err := streamBranch(name, d.url, o.enc)
	var att *pipeline.Attachment
	if err == nil {
		att, err = c.Attach(br, o.enc.feed(), pipeline.Events{
			Active: o.active,
			Failed: func(err error) { go o.destinationFailed(d, a, err) },
		})
	}
	if err != nil {
		o.destinationFailed(d, a, err)
		return
	}
	o.mu.Lock()
	a.att, a.sink = att, sink
	stale := a.failed || d.cur != a // it failed, or was removed, meanwhile
	o.mu.Unlock()
	if stale {
		_ = att.Detach(false)
		return
	}
	o.watchFlowing(d, a, sink)
}

func streamBranch(name, url string, enc Encoding) (pipeline.Branch, *gst.Element, error) {
	br := pipeline.Branch{EOSTimeout: streamEOSTimeout}
	b := pipeline.NewBinBuilder(name)
	// flvmux waits up to 1 s for a late input (a forced key frame takes
	// longer to encode); with less it dropped late video frames.
	mux := b.Make("flvmux", "mux", pipeline.Props{"streamable": true, "latency": int64(time.Second)})
	if enc.Video != nil {
		parse := b.Make("h264parse", "parse", nil)
		b.LinkRequest(parse, mux, "video")
		br.Video = b.Pad(parse, "sink")
	}
	if enc.Audio != nil {
		br.Audio = b.Request(mux, "audio")
		br.AudioCapsIfNone = pipeline.AudioCapsAtFirstFrame
	}
	// The URL is a property, never launch text: no stream key needs
	// quoting or shows up in a parse error.
	sink := b.Make("rtmp2sink", "sink", pipeline.Props{"location": url, "async": false, "sync": false})
	b.Link(mux, sink)
	br.Sinks = []*gst.Element{sink}
	var err error
	br.Bin, err = b.Bin()
	return br, sink, err
}

func (o *Stream) active(zero time.Time) {
	o.mu.Lock()
	first := o.started.IsZero()
	if first {
		o.started = zero
	}
	o.mu.Unlock()
	if first {
		o.env.Changed()
	}
}

// watchFlowing marks the destination live once it has taken data for
// streamSettle without failing. The probe is the attachment's: it holds
// the attempt and the output, and so the capture, and must not outlive
// the branch of a destination that never took data.
func (o *Stream) watchFlowing(d *destination, a *attempt, sink *gst.Element) {
	a.att.Probe(sink.GetStaticPad("sink"), gst.PadProbeTypeBuffer, func(*gst.Pad, *gst.PadProbeInfo) gst.PadProbeReturn {
		time.AfterFunc(streamSettle, func() { o.flowing(d, a) })
		return gst.PadProbeRemove
	})
}

// rateWindow is the shortest time over which Rates measures a rate; a
// read sooner gives the last rate again.
const rateWindow = 500 * time.Millisecond

// Rates is each connected destination's send rate in kbit/s (RTMP bytes
// as rtmp2sink counts them, headers included) since the previous call,
// by its URL redacted as its StreamInfo has it. The first call for a
// connection reads 0.
func (o *Stream) Rates() map[string]float64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	rates := map[string]float64{}
	now := time.Now()
	for _, d := range o.dests {
		a := d.cur
		if d.removed || a == nil || a.sink == nil {
			continue
		}
		if dt := now.Sub(a.sentAt); a.sentAt.IsZero() || dt >= rateWindow {
			sent := sentBytes(a.sink)
			if !a.sentAt.IsZero() && sent >= a.sentBytes {
				a.kbps = float64(sent-a.sentBytes) * 8 / 1000 / dt.Seconds()
			}
			a.sentBytes, a.sentAt = sent, now
		}
		rates[d.info.Url] = a.kbps
	}
	return rates
}

// sentBytes is what rtmp2sink has sent (its stats' out-bytes-total); 0
// when it cannot say.
func sentBytes(sink *gst.Element) uint64 {
	v, err := sink.GetProperty("stats")
	if err != nil {
		return 0
	}
	st, ok := v.(*gst.Structure)
	if !ok || st == nil {
		return 0
	}
	n, _ := st.GetValue("out-bytes-total")
	sent, _ := n.(uint64)
	return sent
}

// flowing: the destination is live; an outage, if any, is over.
func (o *Stream) flowing(d *destination, a *attempt) {
	o.mu.Lock()
	if d.cur != a || a.failed || d.removed {
		o.mu.Unlock()
		return
	}
	d.flowed = true
	if !d.failingSince.IsZero() {
		d.failingSince = time.Time{}
		d.info.Error = ""
	}
	o.mu.Unlock()
	o.env.Changed()
}

// destinationFailed drops a failed attempt and decides between a retry
// and giving up (see the policy).
func (o *Stream) destinationFailed(d *destination, a *attempt, err error) {
	o.mu.Lock()
	if a.failed {
		o.mu.Unlock()
		return
	}
	a.failed = true
	att, current := a.att, d.cur == a
	if current {
		d.cur = nil
	}
	o.mu.Unlock()
	if att != nil {
		_ = att.Detach(false)
	}
	if !current {
		return // an older attempt's late error
	}
	now := time.Now()
	o.mu.Lock()
	if d.removed || o.stopped || d.info.Status != livekit.StreamInfo_ACTIVE {
		o.mu.Unlock()
		return
	}
	why := scrubURL(reason(err), d.url)
	var retryIn time.Duration
	switch {
	case !d.flowed:
		d.info.Status = livekit.StreamInfo_FAILED
		d.info.Error = "the server never accepted the stream (check the URL and the stream key): " + why
	default:
		if d.failingSince.IsZero() {
			d.failingSince = now
		}
		if now.Sub(d.failingSince) >= streamRetryFor {
			d.info.Status = livekit.StreamInfo_FAILED
			d.info.Error = fmt.Sprintf("gave up after %s of retries: %s", streamRetryFor, why)
			break
		}
		retryIn = min(time.Second<<min(d.info.Retries, 3), streamBackoffMax)
		d.info.Error = fmt.Sprintf("connection lost, retrying in %s: %s", retryIn, why)
	}
	if d.info.Status == livekit.StreamInfo_FAILED {
		d.info.EndedAt = now.UnixNano()
		d.info.Duration = d.info.EndedAt - d.info.StartedAt
	}
	msg := d.info.Url + ": " + d.info.Error
	o.mu.Unlock()
	o.env.Logf("%s: %s", o.env.Field, msg)
	o.env.Changed()
	if retryIn > 0 {
		time.AfterFunc(retryIn, func() { o.retry(d) })
	}
}

func (o *Stream) retry(d *destination) {
	o.mu.Lock()
	if d.removed || o.stopped || d.info.Status != livekit.StreamInfo_ACTIVE {
		o.mu.Unlock()
		return
	}
	d.info.Retries++
	d.info.LastRetryAt = time.Now().UnixNano()
	o.mu.Unlock()
	o.env.Changed()
	o.connect(d)
}

// find returns the destination of u still in the output, or nil.
// Needs o.mu.
func (o *Stream) findLocked(u string) *destination {
	for _, d := range o.dests {
		if !d.removed && request.SameStreamURL(d.url, u) {
			return d
		}
	}
	return nil
}

// Update adds and removes destinations while live (an UpdateStream, its
// added URLs and destinations checked by request.Destinations). A URL or
// an ID the output already has, or a URL to remove it lacks, changes
// nothing; the other destinations and outputs go on undisturbed.
func (o *Stream) Update(add []request.Destination, remove []string) error {
	var adds []*destination
	var removes []*destination
	o.mu.Lock()
	if o.stopped {
		o.mu.Unlock()
		return fmt.Errorf("%s has ended", o.env.Field)
	}
	for _, d := range add {
		if o.findLocked(d.URL) != nil {
			o.mu.Unlock()
			return fmt.Errorf("%s: %s is already a destination of this egress", d.Field, request.RedactURL(d.URL))
		}
		for _, have := range o.dests {
			if d.ID != "" && have.info.Id == d.ID && !have.removed {
				o.mu.Unlock()
				return fmt.Errorf("%s.id: %q is already a destination's of this egress", strings.TrimSuffix(d.Field, ".url"), d.ID)
			}
		}
		adds = append(adds, newDestination(d))
	}
	for i, u := range remove {
		d := o.findLocked(u)
		if d == nil {
			o.mu.Unlock()
			return fmt.Errorf("remove_output_urls[%d]: %s is not a destination of this egress", i, request.RedactURL(u))
		}
		removes = append(removes, d)
	}
	o.dests = append(o.dests, adds...)
	o.mu.Unlock()

	for _, d := range adds {
		o.connect(d)
	}
	for _, d := range removes {
		o.end(d)
	}
	o.env.Changed()
	return nil
}

// end finishes one destination: EOS down its branch only (so the server
// sees a clean end), then it is removed.
func (o *Stream) end(d *destination) {
	o.mu.Lock()
	d.removed = true
	var att *pipeline.Attachment
	if d.cur != nil {
		att = d.cur.att
	}
	d.cur = nil
	if d.info.Status == livekit.StreamInfo_ACTIVE {
		d.info.Status = livekit.StreamInfo_FINISHED
		d.info.EndedAt = time.Now().UnixNano()
		d.info.Duration = d.info.EndedAt - d.info.StartedAt
	}
	o.mu.Unlock()
	if att != nil {
		// A destination that does not take the EOS in time (a dead
		// server) is torn down anyway; that is no error of the egress.
		_ = att.Detach(true)
	}
}

// Started is when the first destination's first frame was captured.
func (o *Stream) Started() time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.started
}

// Running reports whether any destination is live or being retried.
func (o *Stream) Running() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, d := range o.dests {
		if !d.removed && d.info.Status == livekit.StreamInfo_ACTIVE {
			return true
		}
	}
	return false
}

// Stop finishes every destination.
func (o *Stream) Stop() {
	o.mu.Lock()
	o.stopped = true
	o.cap = nil // an ended egress stays listed; its capture need not
	dests := append([]*destination(nil), o.dests...)
	o.mu.Unlock()
	var wg sync.WaitGroup
	for _, d := range dests {
		wg.Go(func() { o.end(d) })
	}
	wg.Wait()
	o.env.Changed()
}

// Err is nil when some destination finished well, ErrNothingWritten when
// there never was one, else why they all failed.
func (o *Stream) Err() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.dests) == 0 {
		return ErrNothingWritten
	}
	var reasons []string
	for _, d := range o.dests {
		if d.info.Status != livekit.StreamInfo_FAILED {
			return nil
		}
		reasons = append(reasons, d.info.Url+": "+d.info.Error)
	}
	return fmt.Errorf("%s: every destination failed: %s", o.env.Field, strings.Join(reasons, "; "))
}

// Fill adds a result for every destination the output ever had.
func (o *Stream) Fill(info *livekit.EgressInfo) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, d := range o.dests {
		info.StreamResults = append(info.StreamResults, proto.Clone(d.info).(*livekit.StreamInfo))
	}
}

// redactedKey stands for a stream key in messages.
const redactedKey = "{redacted}"

// scrubURL keeps a stream URL (and its key on its own) out of a message
// that GStreamer may have built with it.
func scrubURL(msg, u string) string {
	msg = strings.ReplaceAll(msg, u, request.RedactURL(u))
	if i := strings.LastIndexByte(u, '/'); i >= 0 && len(u)-i > 4 {
		msg = strings.ReplaceAll(msg, u[i+1:], redactedKey)
	}
	return msg
}
