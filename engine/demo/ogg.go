package demo

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// oggPacketReader splits an Ogg stream into its packets. pion's oggreader
// hands out whole pages, but GStreamer's oggmux puts several Opus packets
// in one page, and each must be its own media sample.
type oggPacketReader struct {
	r       *bufio.Reader
	partial []byte   // a packet continued on the next page
	ready   [][]byte // complete packets not yet returned
}

func newOggPacketReader(r io.Reader) *oggPacketReader {
	return &oggPacketReader{r: bufio.NewReaderSize(r, 64<<10)}
}

var oggCapture = []byte("OggS")

// Next returns the next packet. The first two packets of an Opus stream are
// its OpusHead and OpusTags headers; callers skip them.
func (o *oggPacketReader) Next() ([]byte, error) {
	for len(o.ready) == 0 {
		if err := o.readPage(); err != nil {
			return nil, err
		}
	}
	p := o.ready[0]
	o.ready = o.ready[1:]
	return p, nil
}

func (o *oggPacketReader) readPage() error {
	var head [27]byte
	if _, err := io.ReadFull(o.r, head[:]); err != nil {
		return err
	}
	if !bytes.Equal(head[:4], oggCapture) {
		return errors.New("ogg: lost page sync")
	}
	lacing := make([]byte, head[26])
	if _, err := io.ReadFull(o.r, lacing); err != nil {
		return fmt.Errorf("ogg: segment table: %w", err)
	}
	for _, l := range lacing {
		seg := make([]byte, l)
		if _, err := io.ReadFull(o.r, seg); err != nil {
			return fmt.Errorf("ogg: segment: %w", err)
		}
		o.partial = append(o.partial, seg...)
		// A lacing value under 255 ends a packet; 255 means it goes on.
		if l < 255 {
			o.ready = append(o.ready, o.partial)
			o.partial = nil
		}
	}
	return nil
}
