// Package trackcopy records one LiveKit track as its publisher sent it,
// with no transcoding, as LiveKit's TrackEgress does: Opus to an Ogg
// file, VP8 to WebM, H.264 to MP4. No browser: a hidden, subscribe-only
// participant (a recorder's grant) subscribes to the track, and its RTP
// packets go through GStreamer's jitter buffer and depayloader into the
// file's muxer.
//
// GStreamer's RTP elements, not the SDK's samplebuilder, rebuild the
// frames: its jitter buffer reorders and times the packets from their
// arrival and RTP clock, and its depayloaders mark key frames and follow
// a publisher's change of resolution into the muxer's caps, which a
// samplebuilder's bare samples would need done again by hand.
package trackcopy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/go-gst/go-gst/gst"
	"github.com/go-gst/go-gst/gst/app"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"

	"roomcast/engine/internal/recorder"
	"roomcast/engine/pipeline"
	"roomcast/engine/request"
)

// Config is what to record and where.
type Config struct {
	// URL, APIKey and APISecret reach the LiveKit server; Room is the
	// room the track is published in.
	URL, APIKey, APISecret, Room string
	// TrackID is the track's SID (TR_...).
	TrackID string
	// Identity is the recorder's own, hidden from the room.
	Identity string
	// Path names the file to write, given the extension of the track's
	// container (".ogg", ".webm", ".mp4"), which its codec decides once
	// subscribed.
	Path func(ext string) string
	// Logf reports progress and trouble; nil for none.
	Logf func(format string, args ...any)
}

// container is how a codec's packets become a file.
type container struct {
	ext   string // the file's extension, with its dot
	media string // "audio", "video"
	// chain is what follows the jitter buffer: depayloader, parser, muxer.
	chain string
}

// containers are the codecs a copy writes, by MIME type (lower case).
var containers = map[string]container{
	"audio/opus": {".ogg", "audio", "rtpopusdepay ! opusparse ! oggmux"},
	// A publisher's change of resolution goes into the WebM as new caps:
	// webmmux takes them, and the frames on either side decode.
	"video/vp8": {".webm", "video", "rtpvp8depay name=frames ! webmmux"},
	// mp4mux (GStreamer 1.22) refuses new caps mid-file, and a change of
	// resolution brings them: the file is avc3, every key frame carrying
	// its SPS and PPS (config-interval=-1), and keepFirstCaps holds the
	// muxer to the first caps, so that a decoder takes the new size from
	// the stream. Fragmented as the file outputs are, so that it plays to
	// its last fragment after a crash.
	"video/h264": {".mp4", "video", "rtph264depay name=frames ! h264parse config-interval=-1 ! capsfilter name=firstcaps caps=video/x-h264,stream-format=avc3 ! mp4mux fragment-duration=500"},
}

// jitterLatency is how long the jitter buffer holds packets for
// reordering and retransmission before it gives up on a lost one.
const jitterLatency = 300 * time.Millisecond

// Result is what a finished copy wrote.
type Result struct {
	Path     string
	MimeType string
	// Started is when its first packet came, Ended when it stopped.
	Started, Ended time.Time
	Size           int64
	// Packets counts the RTP packets written.
	Packets int
	// EndReason says why it ended: "stopped", or that the track went.
	EndReason string
}

// Copy is one track being recorded.
type Copy struct {
	cfg      Config
	room     *lksdk.Room
	pipeline *gst.Pipeline
	src      *app.Source
	mime     string
	path     string

	stopOnce sync.Once
	stop     chan struct{} // closed by Stop: the reader ends the stream
	ended    chan error    // the pipeline's end: nil at EOS, or its error
	done     chan struct{} // closed when the file is finished
	// result and err are written before done closes, read after.
	result Result
	err    error
}

// Start joins the room, subscribes to the track and begins writing. It
// fails at once, naming the field, for a track that is not published in
// the room or whose codec is not copied.
func Start(ctx context.Context, cfg Config) (*Copy, error) {
	pipeline.InitGStreamer()
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.TrackID == "" {
		return nil, &request.FieldError{Field: "track_id", Msg: "empty; give the SID (TR_...) of the track to record"}
	}
	c := &Copy{cfg: cfg, stop: make(chan struct{}), ended: make(chan error, 1), done: make(chan struct{})}
	subscribed := make(chan *webrtc.TrackRemote, 1)
	cb := lksdk.NewRoomCallback()
	cb.OnTrackSubscribed = func(track *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, _ *lksdk.RemoteParticipant) {
		if pub.SID() == cfg.TrackID {
			select {
			case subscribed <- track:
			default:
			}
		}
	}
	room, err := recorder.Join(cfg.URL, cfg.APIKey, cfg.APISecret, cfg.Room, cfg.Identity, cb)
	if err != nil {
		return nil, fmt.Errorf("track copy: %w", err)
	}
	c.room = room
	pub, owner := recorder.FindTrack(room, cfg.TrackID)
	if pub == nil {
		room.Disconnect()
		return nil, &request.FieldError{Field: "track_id", Msg: fmt.Sprintf("%s is not published in room %q; list the room's tracks (lk room participants list) for a SID", cfg.TrackID, cfg.Room)}
	}
	if err := pub.SetSubscribed(true); err != nil {
		room.Disconnect()
		return nil, fmt.Errorf("track copy: subscribe to %s: %w", cfg.TrackID, err)
	}
	var track *webrtc.TrackRemote
	select {
	case track = <-subscribed:
	case <-ctx.Done():
		room.Disconnect()
		return nil, fmt.Errorf("track copy: %s of %s never arrived: %w", cfg.TrackID, owner, ctx.Err())
	}
	codec := track.Codec()
	c.mime = strings.ToLower(codec.MimeType)
	cont, ok := containers[c.mime]
	if !ok {
		room.Disconnect()
		return nil, &request.FieldError{Field: "track_id", Msg: fmt.Sprintf("%s is %s, which a track copy does not write (Opus, VP8 and H.264 it does); record it through a room composite egress instead", cfg.TrackID, codec.MimeType)}
	}
	c.path = cfg.Path(cont.ext)
	if err := c.startPipeline(cont, codec); err != nil {
		room.Disconnect()
		return nil, err
	}
	cfg.Logf("track copy: %s (%s of %s) to %s", cfg.TrackID, codec.MimeType, owner, c.path)
	go c.pump(track)
	return c, nil
}

func (c *Copy) startPipeline(cont container, codec webrtc.RTPCodecParameters) error {
	caps := fmt.Sprintf("application/x-rtp,media=%s,clock-rate=%d,encoding-name=%s,payload=%d",
		cont.media, codec.ClockRate, strings.ToUpper(strings.TrimPrefix(c.mime, cont.media+"/")), codec.PayloadType)
	desc := fmt.Sprintf("appsrc name=rtp is-live=true format=time do-timestamp=true caps=\"%s\" "+
		"! rtpjitterbuffer latency=%d ! %s ! filesink name=file",
		caps, jitterLatency.Milliseconds(), cont.chain)
	p, err := gst.NewPipelineFromString(desc)
	if err != nil {
		return fmt.Errorf("track copy: pipeline: %w", err)
	}
	el, err := p.GetElementByName("rtp")
	if err != nil {
		return fmt.Errorf("track copy: %w", err)
	}
	c.pipeline, c.src = p, app.SrcFromElement(el)
	// The path is set as a property, not in the description, where its
	// quotes or backslashes would be parsed.
	file, err := p.GetElementByName("file")
	if err != nil {
		return fmt.Errorf("track copy: %w", err)
	}
	if err := file.SetProperty("location", c.path); err != nil {
		return fmt.Errorf("track copy: file %s: %w", c.path, err)
	}
	if frames, err := p.GetElementByName("frames"); err == nil {
		// A publisher that changed its camera's size sent a frame with
		// the last one's RTP time, and a jitter buffer's first frames can
		// come out a fraction of a millisecond apart: WebM then held two
		// frames at one time, which ffmpeg called non-monotonic.
		pipeline.KeepRising(frames.GetStaticPad("src"))
	}
	if first, err := p.GetElementByName("firstcaps"); err == nil {
		keepFirstCaps(first.GetStaticPad("src"))
	}
	if err := p.SetState(gst.StatePlaying); err != nil {
		p.SetState(gst.StateNull)
		return fmt.Errorf("track copy: start: %w", err)
	}
	go c.watchBus()
	return nil
}

// keepFirstCaps lets only the first caps through pad. (A Go probe: it
// runs on events, not on every buffer.)
func keepFirstCaps(pad *gst.Pad) {
	seen := false
	pad.AddProbe(gst.PadProbeTypeEventDownstream, func(_ *gst.Pad, info *gst.PadProbeInfo) gst.PadProbeReturn {
		if info.GetEvent().Type() != gst.EventTypeCaps {
			return gst.PadProbeOK
		}
		if seen {
			return gst.PadProbeDrop
		}
		seen = true
		return gst.PadProbeOK
	})
}

// watchBus hands the pipeline's end to ended: nil at its EOS, else the
// error that stopped it (a full disk, a muxer refusing the stream).
func (c *Copy) watchBus() {
	bus := c.pipeline.GetPipelineBus()
	for {
		msg := bus.TimedPopFiltered(gst.ClockTime(250*time.Millisecond), gst.MessageEOS|gst.MessageError)
		switch {
		case msg == nil:
			select {
			case <-c.done:
				return
			default:
				continue
			}
		case msg.Type() == gst.MessageError:
			c.ended <- fmt.Errorf("track copy: %s: %w", msg.Source(), msg.ParseError())
		default:
			c.ended <- nil
		}
		return
	}
}

// pump reads the track's packets into the pipeline until Stop, or until
// the track goes (unpublished, its publisher gone, the room closed), then
// finishes the file.
func (c *Copy) pump(track *webrtc.TrackRemote) {
	reason := "stopped"
	incoming := make(chan []byte, 64)
	readErr := make(chan error, 1)
	go func() {
		buf := make([]byte, 1500)
		for {
			n, _, err := track.Read(buf)
			if err != nil {
				readErr <- err
				return
			}
			select {
			case incoming <- append([]byte(nil), buf[:n]...):
			case <-c.done:
				return
			}
		}
	}()
	var failed error
	var started time.Time
	packets := 0
loop:
	for {
		select {
		case <-c.stop:
			break loop
		case failed = <-c.ended:
			// Whatever was muxed before it stays in the file.
			reason = fmt.Sprintf("the file failed: %v", failed)
			break loop
		case err := <-readErr:
			reason = "the track ended"
			if !errors.Is(err, io.EOF) {
				reason = fmt.Sprintf("the track ended: %v", err)
			}
			break loop
		case pkt := <-incoming:
			if packets == 0 {
				started = time.Now()
			}
			packets++
			if ret := c.src.PushBuffer(gst.NewBufferFromBytes(pkt)); ret != gst.FlowOK {
				reason = fmt.Sprintf("the file's pipeline refused a packet (%s)", ret)
				break loop
			}
		}
	}
	c.finish(Result{Path: c.path, MimeType: c.mime, Started: started, Packets: packets, EndReason: reason}, failed)
}

// finish ends the stream, waits for the muxer to close the file (unless
// the pipeline failed already), and leaves the room.
func (c *Copy) finish(res Result, err error) {
	defer close(c.done)
	defer c.room.Disconnect()
	if err == nil {
		c.src.EndStream()
		select {
		case err = <-c.ended:
		case <-time.After(10 * time.Second):
			err = errors.New("track copy: the file was not finished within 10 s")
		}
	}
	c.pipeline.SetState(gst.StateNull)
	res.Ended = time.Now()
	if st, statErr := os.Stat(c.path); statErr == nil {
		res.Size = st.Size()
	}
	c.result, c.err = res, err
	c.cfg.Logf("track copy: %s ended (%s): %d packets, %d bytes", c.cfg.TrackID, res.EndReason, res.Packets, res.Size)
}

// Stop ends the copy and returns what it wrote.
func (c *Copy) Stop() (Result, error) {
	c.stopOnce.Do(func() { close(c.stop) })
	return c.Wait()
}

// Done is closed when the copy has ended, by Stop or because its track
// went.
func (c *Copy) Done() <-chan struct{} { return c.done }

// Wait waits for the copy to end and returns what it wrote.
func (c *Copy) Wait() (Result, error) {
	<-c.done
	return c.result, c.err
}
