// Package mediatest reads media back for tests: ffprobe fields, decoded
// frames and their pixel colours, and the strength of tones in the audio.
package mediatest

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// Stream is the part of ffprobe's stream record that tests check.
type Stream struct {
	Index        int    `json:"index"`
	CodecType    string `json:"codec_type"`
	CodecName    string `json:"codec_name"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
	AvgFrameRate string `json:"avg_frame_rate"`
	RFrameRate   string `json:"r_frame_rate"`
	SampleRate   string `json:"sample_rate"`
	Channels     int    `json:"channels"`
	Duration     string `json:"duration"`
	NbFrames     string `json:"nb_frames"`
	NbReadFrames string `json:"nb_read_frames"`
	// Profile is the codec profile ("High", "Constrained Baseline", "LC").
	Profile string `json:"profile"`
	// BitRate is the stream's bits per second, as the container states it.
	BitRate string `json:"bit_rate"`
}

// Kbps is the stream's bit rate in kbit/s, 0 when unknown.
func (s Stream) Kbps() float64 { b, _ := strconv.ParseFloat(s.BitRate, 64); return b / 1000 }

// Frames is the number of frames ffprobe decoded (ProbeFile with
// countFrames), 0 if it did not count.
func (s Stream) Frames() int { n, _ := strconv.Atoi(s.NbReadFrames); return n }

// FPS is the stream's average frame rate as a number.
func (s Stream) FPS() float64 { return ratio(s.AvgFrameRate) }

// Probe is ffprobe's view of a file.
type Probe struct {
	Streams []Stream `json:"streams"`
	Format  struct {
		FormatName string `json:"format_name"`
		Duration   string `json:"duration"`
		Size       string `json:"size"`
	} `json:"format"`
}

// Duration is the container's duration in seconds.
func (p *Probe) Duration() float64 { f, _ := strconv.ParseFloat(p.Format.Duration, 64); return f }

// First returns the first stream of a kind ("video", "audio"), or nil.
func (p *Probe) First(kind string) *Stream {
	for i := range p.Streams {
		if p.Streams[i].CodecType == kind {
			return &p.Streams[i]
		}
	}
	return nil
}

// ProbeFile runs ffprobe on path. With countFrames, every video frame is
// decoded and counted (nb_read_frames), which proves the file decodes.
func ProbeFile(path string, countFrames bool) (*Probe, error) {
	args := []string{"-v", "error", "-print_format", "json", "-show_streams", "-show_format"}
	if countFrames {
		args = append(args, "-count_frames")
	}
	out, err := exec.Command("ffprobe", append(args, path)...).Output()
	if err != nil {
		return nil, fmt.Errorf("ffprobe %s: %w: %s", path, err, stderrOf(err))
	}
	var p Probe
	if err := json.Unmarshal(out, &p); err != nil {
		return nil, fmt.Errorf("ffprobe %s: %w", path, err)
	}
	return &p, nil
}

// KeyFrames are the times, in seconds, of the video's key frames.
func KeyFrames(path string) ([]float64, error) {
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0",
		"-show_entries", "packet=pts_time,flags", "-of", "csv=p=0", path).Output()
	if err != nil {
		return nil, fmt.Errorf("ffprobe packets of %s: %w: %s", path, err, stderrOf(err))
	}
	var keys []float64
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pts, flags, ok := strings.Cut(line, ",")
		if !ok || !strings.HasPrefix(flags, "K") {
			continue
		}
		t, err := strconv.ParseFloat(pts, 64)
		if err != nil {
			return nil, fmt.Errorf("ffprobe packets of %s: time %q: %w", path, pts, err)
		}
		keys = append(keys, t)
	}
	return keys, nil
}

// FrameAt decodes the video frame at second t of path.
func FrameAt(path string, t float64) (image.Image, error) {
	out, err := exec.Command("ffmpeg", "-v", "error", "-ss", fmt.Sprintf("%.3f", t), "-i", path,
		"-frames:v", "1", "-f", "image2pipe", "-vcodec", "png", "-").Output()
	if err != nil {
		return nil, fmt.Errorf("ffmpeg frame at %.1fs of %s: %w: %s", t, path, err, stderrOf(err))
	}
	img, err := png.Decode(bytes.NewReader(out))
	if err != nil {
		return nil, fmt.Errorf("decode frame of %s: %w", path, err)
	}
	return img, nil
}

// Frames decodes path's video at fps frames a second, scaled to width x
// height, in one ffmpeg run: a picture of the whole recording, for runs of
// frames (a gap, a slate) to be found in.
func Frames(path string, fps, width, height int) ([]*image.RGBA, error) {
	out, err := exec.Command("ffmpeg", "-v", "error", "-i", path,
		"-vf", fmt.Sprintf("fps=%d,scale=%d:%d", fps, width, height),
		"-f", "rawvideo", "-pix_fmt", "rgba", "-").Output()
	if err != nil {
		return nil, fmt.Errorf("ffmpeg frames of %s: %w: %s", path, err, stderrOf(err))
	}
	size := width * height * 4
	frames := make([]*image.RGBA, 0, len(out)/size)
	for len(out) >= size {
		frames = append(frames, toRGBA(out[:size], width, height))
		out = out[size:]
	}
	return frames, nil
}

// AudioPCM decodes the first audio stream of path to mono float samples at
// rate Hz, from second start for length seconds (length 0: to the end).
// Start 0 is the first sample the decoder gives (ffmpeg's -ss 0 would drop
// a first frame that starts before 0, as an Opus stream's does).
func AudioPCM(path string, rate int, start, length float64) ([]float64, error) {
	args := []string{"-v", "error"}
	if start > 0 {
		args = append(args, "-ss", fmt.Sprintf("%.3f", start))
	}
	args = append(args, "-i", path)
	if length > 0 {
		args = append(args, "-t", fmt.Sprintf("%.3f", length))
	}
	args = append(args, "-vn", "-ac", "1", "-ar", strconv.Itoa(rate), "-f", "s16le", "-")
	out, err := exec.Command("ffmpeg", args...).Output()
	if err != nil {
		return nil, fmt.Errorf("ffmpeg audio of %s: %w: %s", path, err, stderrOf(err))
	}
	samples := make([]float64, len(out)/2)
	for i := range samples {
		samples[i] = float64(int16(binary.LittleEndian.Uint16(out[2*i:]))) / 32768
	}
	return samples, nil
}

// Volume is ffmpeg's volumedetect of the first audio stream of path, from
// second start for length seconds: the mean (RMS) and the maximum (peak)
// volume, in dBFS.
func Volume(path string, start, length float64) (mean, peak float64, err error) {
	out, err := exec.Command("ffmpeg", "-v", "info", "-nostats", "-ss", fmt.Sprintf("%.3f", start), "-i", path,
		"-t", fmt.Sprintf("%.3f", length), "-vn", "-af", "volumedetect", "-f", "null", "-").CombinedOutput()
	if err != nil {
		return 0, 0, fmt.Errorf("ffmpeg volumedetect of %s: %w: %s", path, err, out)
	}
	read := func(name string) (float64, error) {
		m := regexp.MustCompile(name + `: (-?[0-9.]+|-inf) dB`).FindSubmatch(out)
		if m == nil {
			return 0, fmt.Errorf("ffmpeg volumedetect of %s gave no %s: %s", path, name, out)
		}
		return strconv.ParseFloat(string(m[1]), 64)
	}
	if mean, err = read("mean_volume"); err != nil {
		return 0, 0, err
	}
	peak, err = read("max_volume")
	return mean, peak, err
}

// ToneLevel is the amplitude of the frequency hz in samples (Goertzel),
// normalised so that a full-scale sine gives about 1.
func ToneLevel(samples []float64, rate int, hz float64) float64 {
	if len(samples) == 0 {
		return 0
	}
	w := 2 * math.Pi * hz / float64(rate)
	coeff := 2 * math.Cos(w)
	var s1, s2 float64
	for _, x := range samples {
		s0 := x + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	power := s1*s1 + s2*s2 - coeff*s1*s2
	return 2 * math.Sqrt(math.Max(power, 0)) / float64(len(samples))
}

// Near reports whether c is within tol of want in each of R, G and B.
func Near(c color.Color, want color.RGBA, tol int) bool {
	r, g, b, _ := c.RGBA()
	d := func(a uint32, w uint8) bool { return abs(int(a>>8)-int(w)) <= tol }
	return d(r, want.R) && d(g, want.G) && d(b, want.B)
}

// Contains reports whether any pixel of img (sampled on a grid of step
// pixels) is within tol of want.
func Contains(img image.Image, want color.RGBA, tol, step int) bool {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += step {
		for x := b.Min.X; x < b.Max.X; x += step {
			if Near(img.At(x, y), want, tol) {
				return true
			}
		}
	}
	return false
}

func ratio(s string) float64 {
	n, d, ok := strings.Cut(s, "/")
	num, _ := strconv.ParseFloat(n, 64)
	if !ok {
		return num
	}
	den, _ := strconv.ParseFloat(d, 64)
	if den == 0 {
		return 0
	}
	return num / den
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return strings.TrimSpace(string(ee.Stderr))
	}
	return ""
}

// RegionContains reports whether the part r of img holds a pixel within tol
// of want (sampled every step pixels).
func RegionContains(img image.Image, r image.Rectangle, want color.RGBA, tol, step int) bool {
	sub, ok := img.(interface {
		SubImage(image.Rectangle) image.Image
	})
	if !ok {
		return false
	}
	return Contains(sub.SubImage(r), want, tol, step)
}
