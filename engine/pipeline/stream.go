package pipeline

/*
One RTMP destination is a tap on its branch's encoded tees:

	video_sink ─► queue(leaky) ─┐
	                            flvmux(streamable) ! rtmp2sink location=URL
	audio_sink ─► queue(leaky) ─┘

Each destination muxes for itself, so one joining late gets its own FLV
header and codec headers; the encode is shared. Its queues are leaky so a
slow server drops its own data and never stalls the encoder, the file or
the other destinations.
*/

import (
	"fmt"
	"time"

	"github.com/go-gst/go-gst/gst"
)

// streamSettle is how long a destination must take data without an error
// to count as live: rtmp2sink connects in the background, and a refused
// connection or a rejected key fails well within it on loopback and on
// the internet alike.
const streamSettle = 2 * time.Second

// AddStream starts sending the branch to one more RTMP URL.
func (b *Branch) AddStream(url string) error {
	if b.cap == nil {
		return fmt.Errorf("%s: not attached", b.cfg.Name)
	}
	b.cap.mu.Lock()
	defer b.cap.mu.Unlock()
	if _, ok := b.cap.branches[b.cfg.Name]; !ok {
		return fmt.Errorf("%s: not attached", b.cfg.Name)
	}
	return b.addStreamLocked(url)
}

// addStreamLocked needs b.cap.mu.
func (b *Branch) addStreamLocked(url string) error {
	b.mu.Lock()
	if _, dup := b.streams[url]; dup {
		b.mu.Unlock()
		return fmt.Errorf("%s: already streaming to that URL", b.cfg.Name)
	}
	b.nextID++
	name := fmt.Sprintf("%s_rtmp%d", b.cfg.Name, b.nextID)
	b.mu.Unlock()

	var kinds []string
	// flvmux waits up to 1 s for a late input (a forced key frame takes
	// longer to encode); with less it dropped late video frames.
	desc := fmt.Sprintf("flvmux name=%s_flv streamable=true latency=1000000000 ! rtmp2sink name=%s_sink async=false sync=false ", name, name)
	q := "queue name=%s_%s_in leaky=downstream max-size-time=3000000000 max-size-buffers=0 max-size-bytes=0 ! %s%s_flv.%s "
	if b.cfg.Video != nil {
		kinds = append(kinds, "video")
		desc += fmt.Sprintf(q, name, "video", "h264parse ! ", name, "video")
	}
	if b.cfg.Audio != nil {
		kinds = append(kinds, "audio")
		desc += fmt.Sprintf(q, name, "audio", "", name, "audio")
	}
	t, err := newTap(name, desc, kinds)
	if err != nil {
		return err
	}
	sink, err := t.bin.GetElementByName(name + "_sink")
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	// The URL is set as a property, not in the launch text, so that no
	// stream key needs quoting (or shows up in a parse error).
	if err := sink.SetProperty("location", url); err != nil {
		return fmt.Errorf("%s: rtmp2sink location: %w", name, err)
	}
	t.watchSink(sink)
	b.cap.setOwners(t.elementNames(), &streamOwner{b: b, url: url})
	b.watchFlowing(sink.GetStaticPad("sink"), url)

	tees := map[string]*gst.Element{}
	for kind, tee := range map[string]string{"video": "_venc", "audio": "_aenc"} {
		if el, err := b.tap.bin.GetElementByName(b.cfg.Name + tee); err == nil {
			tees[kind] = el
		}
	}
	if err := t.attach(b.tap.bin, tees, dropUntilKeyFrame, requestKeyFrame); err != nil {
		return err
	}
	b.tap.sinkMu.Lock()
	b.tap.sinks[sink.GetName()] = t.sinks[sink.GetName()]
	b.tap.sinkMu.Unlock()
	b.mu.Lock()
	b.streams[url] = t
	b.mu.Unlock()
	return nil
}

// watchFlowing reports StreamFlowing once the destination has taken data
// for streamSettle without failing.
func (b *Branch) watchFlowing(p *gst.Pad, url string) {
	p.AddProbe(gst.PadProbeTypeBuffer, func(*gst.Pad, *gst.PadProbeInfo) gst.PadProbeReturn {
		go func() {
			time.Sleep(streamSettle)
			b.mu.Lock()
			_, still := b.streams[url]
			b.mu.Unlock()
			if still && b.events.StreamFlowing != nil {
				b.events.StreamFlowing(url)
			}
		}()
		return gst.PadProbeRemove
	})
}

// RemoveStream stops sending to url: EOS down that destination only (so
// the server sees a clean end), then it is removed. The encode, the other
// destinations and the other outputs go on.
func (b *Branch) RemoveStream(url string) error {
	return b.dropStream(url, true)
}

// dropStream removes a destination; finish sends it EOS first (a working
// one), otherwise it is torn down as it is (a failed one).
func (b *Branch) dropStream(url string, finish bool) error {
	if b.cap == nil {
		return fmt.Errorf("%s: not attached", b.cfg.Name)
	}
	b.cap.mu.Lock()
	defer b.cap.mu.Unlock()
	b.mu.Lock()
	t, ok := b.streams[url]
	delete(b.streams, url)
	b.mu.Unlock()
	if !ok {
		return fmt.Errorf("%s: not streaming to that URL", b.cfg.Name)
	}
	for name := range t.sinks {
		b.tap.unwatchSink(name)
	}
	b.cap.setOwners(t.elementNames(), nil)
	// A destination that does not take the EOS in time (a dead server)
	// is torn down anyway; that is no error of the egress.
	_ = t.detach(finish, streamEOSTimeout)
	return nil
}

// Streams lists the URLs the branch sends to now.
func (b *Branch) Streams() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]string, 0, len(b.streams))
	for u := range b.streams {
		out = append(out, u)
	}
	return out
}

// streamOwner routes a bus error from a destination's elements to it
// alone: the destination is dropped and reported, the branch goes on.
type streamOwner struct {
	b   *Branch
	url string
}

func (o *streamOwner) fail(err error) {
	go func() {
		_ = o.b.dropStream(o.url, false)
		if o.b.events.StreamFailed != nil {
			o.b.events.StreamFailed(o.url, err)
		}
	}()
}
