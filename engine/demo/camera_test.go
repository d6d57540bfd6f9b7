package demo

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
)

// avc3 frames NALs as h264Tail's h264parse does: each after its 4-byte
// length.
func avc3(nals ...[]byte) []byte {
	var b []byte
	for _, n := range nals {
		b = binary.BigEndian.AppendUint32(b, uint32(len(n)))
		b = append(b, n...)
	}
	return b
}

// annexB is what readH264 should yield for one picture's NALs.
func annexB(nals ...[]byte) []byte {
	var b []byte
	for _, n := range nals {
		b = append(append(b, 0, 0, 0, 1), n...)
	}
	return b
}

func TestReadH264(t *testing.T) {
	aud := []byte{0x09, 0xf0}
	sps := []byte{0x67, 0x42, 0xc0, 0x1f}
	pps := []byte{0x68, 0xce, 0x3c, 0x80}
	idr := []byte{0x65, 0x88, 0x84, 0x00}
	slice := []byte{0x41, 0x9a, 0x02}
	for _, c := range []struct {
		name   string
		stream []byte
		want   [][]byte
		err    string // of the read after the pictures; "" for io.EOF
	}{
		{"key frame then a frame", avc3(aud, sps, pps, idr, aud, slice),
			[][]byte{annexB(aud, sps, pps, idr), annexB(aud, slice)}, ""},
		{"a picture cut short", append(avc3(aud, idr), avc3(slice)[:5]...),
			[][]byte{annexB(aud, idr)}, "unexpected EOF"},
		{"not avc3: a zero length", append(avc3(idr), 0, 0, 0, 0),
			[][]byte{annexB(idr)}, "not an avc3 stream"},
	} {
		t.Run(c.name, func(t *testing.T) {
			next, err := readH264(bytes.NewReader(c.stream))
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range c.want {
				got, err := next()
				if err != nil {
					t.Fatalf("picture %d: %v", i, err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("picture %d = % x, want % x", i, got, want)
				}
			}
			_, err = next()
			switch {
			case c.err == "" && !errors.Is(err, io.EOF):
				t.Errorf("after the pictures: %v, want EOF", err)
			case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
				t.Errorf("after the pictures: %v, want %q", err, c.err)
			}
		})
	}
	if _, err := readH264(bytes.NewReader(nil)); err == nil {
		t.Error("an empty stream was taken for H.264")
	}
}

func TestCameraCodecNamed(t *testing.T) {
	for _, c := range []struct {
		name, want, err string
	}{
		{"", "vp8", ""},
		{"vp8", "vp8", ""},
		{"H264", "h264", ""},
		{"av1", "", `camera codec "av1": use one of vp8, h264`},
	} {
		got, err := cameraCodecNamed(c.name)
		switch {
		case c.err != "":
			if err == nil || err.Error() != c.err {
				t.Errorf("%q: error %v, want %q", c.name, err, c.err)
			}
		case err != nil || got.name != c.want:
			t.Errorf("%q: %q, %v; want %q", c.name, got.name, err, c.want)
		}
	}
}
