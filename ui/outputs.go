package ui

import (
	"errors"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"github.com/livekit/protocol/livekit"
)

// Where recordings go.
const (
	toDisk = "This computer"
	toS3   = "S3 bucket"
)

// outputsPanel sets what Start Recording writes: a file (MP4 or OGG),
// HLS segments and snapshots, in a folder or an S3 bucket.
type outputsPanel struct {
	win fyne.Window

	target      *widget.RadioGroup
	targetField *field
	folder      *widget.Entry
	folderField *field
	browse      *widget.Button

	file          *widget.Check
	fileType      *widget.Select
	fileTypeField *field
	fileName      *widget.Entry
	fileNameField *field
	people        *widget.Check
	fileBox       *fyne.Container

	hls          *widget.Check
	hlsName      *widget.Entry
	hlsNameField *field
	segments     *widget.Entry
	segField     *field
	livePlaylist *widget.Check
	hlsBox       *fyne.Container

	images         *widget.Check
	imageName      *widget.Entry
	imageNameField *field
	interval       *widget.Entry
	intervalField  *field
	imagesBox      *fyne.Container

	// outputsField carries errors about the set of outputs as a whole.
	outputsField *field
}

func newOutputsPanel(win fyne.Window) *outputsPanel { return &outputsPanel{win: win} }

func (o *outputsPanel) buildUI() fyne.CanvasObject {
	o.target = widget.NewRadioGroup([]string{toDisk, toS3}, o.onTarget)
	o.target.Horizontal = true
	o.target.Required = true
	o.targetField = newField("Save to", o.target)
	o.folder = o.entry("Folder for recordings", validateFolder)
	o.browse = widget.NewButtonWithIcon("", theme.FolderOpenIcon(), o.onBrowse)
	o.folderField = newField("Folder", container.NewBorder(nil, nil, nil, o.browse, o.folder)).watch(o.folder)

	o.file = widget.NewCheck("File", func(on bool) { setShown(o.fileBox, on); o.outputsField.setError(nil) })
	o.fileType = widget.NewSelect([]string{livekit.EncodedFileType_MP4.String(), livekit.EncodedFileType_OGG.String()},
		func(string) { o.fileTypeField.setError(nil) })
	o.fileTypeField = newField("Type", o.fileType)
	o.fileName = o.entry("{room_name}-{time}", validateFileName)
	o.fileNameField = newField("Name  ·  {room_name} {time} {utc}", o.fileName)
	o.people = widget.NewCheck("Also record each person separately", nil)
	o.fileBox = container.NewVBox(container.NewBorder(nil, nil, o.fileTypeField.object(), nil, o.fileNameField.object()), o.people)

	o.hls = widget.NewCheck("HLS segments", func(on bool) { setShown(o.hlsBox, on); o.outputsField.setError(nil) })
	o.hlsName = o.entry("{room_name}-{time}", validateHLSName)
	o.hlsNameField = newField("Playlist name", o.hlsName)
	o.segments = o.entry("6", validateSegments)
	o.segField = newField("Segment (s)", o.segments)
	o.livePlaylist = widget.NewCheck("Live playlist", nil)
	o.hlsBox = container.NewVBox(container.NewBorder(nil, nil, nil, o.segField.object(), o.hlsNameField.object()), o.livePlaylist)

	o.images = widget.NewCheck("Snapshots (JPEG)", func(on bool) { setShown(o.imagesBox, on); o.outputsField.setError(nil) })
	o.imageName = o.entry("{room_name}-snapshot", validateImageName)
	o.imageNameField = newField("Name prefix", o.imageName)
	o.interval = o.entry("10", validateInterval)
	o.intervalField = newField("Every (s)", o.interval)
	o.imagesBox = container.NewBorder(nil, nil, nil, o.intervalField.object(), o.imageNameField.object())

	o.outputsField = newField("", canvas.NewRectangle(color.Transparent))
	o.outputsField.caption.Hide()
	o.outputsField.input.Hide()

	return container.NewVBox(
		o.targetField.object(), o.folderField.object(),
		o.file, o.fileBox,
		o.hls, o.hlsBox,
		o.images, o.imagesBox,
		o.outputsField.object())
}

// entry makes an entry whose Validator is check.
func (o *outputsPanel) entry(placeholder string, check func(string) error) *widget.Entry {
	e := &widget.Entry{PlaceHolder: placeholder, Validator: check}
	e.ExtendBaseWidget(e)
	return e
}

func (o *outputsPanel) onTarget(choice string) {
	disk := choice != toS3
	if disk {
		o.folder.Enable()
		o.browse.Enable()
	} else {
		o.folder.Disable()
		o.browse.Disable()
	}
	o.targetField.setError(nil)
	o.folderField.setError(nil)
}

func (o *outputsPanel) onBrowse() {
	d := dialog.NewFolderOpen(func(dir fyne.ListableURI, err error) {
		if err != nil || dir == nil {
			return
		}
		o.folder.SetText(dir.Path())
	}, o.win)
	if l, err := storage.ListerForURI(storage.NewFileURI(expandHome(o.folder.Text))); err == nil {
		d.SetLocation(l)
	}
	d.Show()
}

// get copies the panel into p.Record.
func (o *outputsPanel) get(p *profile) {
	r := &p.Record
	r.ToS3 = o.target.Selected == toS3
	r.Folder = strings.TrimSpace(o.folder.Text)
	r.File, r.FileType, r.FileName = o.file.Checked, o.fileType.Selected, strings.TrimSpace(o.fileName.Text)
	r.People = o.people.Checked
	r.HLS, r.HLSName, r.LivePlaylist = o.hls.Checked, strings.TrimSpace(o.hlsName.Text), o.livePlaylist.Checked
	r.SegmentSeconds = parseUint(o.segments.Text)
	r.Images, r.ImageName = o.images.Checked, strings.TrimSpace(o.imageName.Text)
	r.ImageInterval = parseUint(o.interval.Text)
}

// set shows p.Record in the panel.
func (o *outputsPanel) set(p profile) {
	r := p.Record
	if r.ToS3 {
		o.target.SetSelected(toS3)
	} else {
		o.target.SetSelected(toDisk)
	}
	o.folderField.setText(r.Folder)
	o.file.SetChecked(r.File)
	o.fileType.SetSelected(r.FileType)
	if o.fileType.Selected == "" {
		o.fileType.SetSelectedIndex(0)
	}
	o.fileNameField.setText(r.FileName)
	o.people.SetChecked(r.People)
	o.hls.SetChecked(r.HLS)
	o.hlsNameField.setText(r.HLSName)
	o.segField.setText(formatUint(r.SegmentSeconds))
	o.livePlaylist.SetChecked(r.LivePlaylist)
	o.images.SetChecked(r.Images)
	o.imageNameField.setText(r.ImageName)
	o.intervalField.setText(formatUint(r.ImageInterval))
	setShown(o.fileBox, r.File)
	setShown(o.hlsBox, r.HLS)
	setShown(o.imagesBox, r.Images)
}

// checkTarget checks what request.Build cannot: that the folder can be
// written (creating it if needed), or that Settings name a bucket.
func (o *outputsPanel) checkTarget(p *profile, s3 *livekit.S3Upload) bool {
	r := p.Record
	if !r.File && !r.HLS && !r.Images {
		return true // request.Build says what is missing
	}
	if r.ToS3 {
		if s3 == nil || s3.Bucket == "" {
			o.targetField.setError(errors.New("no S3 bucket is set; set one in Settings, or save to this computer"))
			return false
		}
		return true
	}
	if err := checkWritable(expandHome(r.Folder)); err != nil {
		o.folderField.setError(err)
		return false
	}
	return true
}

// validateFolder checks a folder as it is typed: a path, absolute (or
// from ~), that is not a file. Whether it can be written is checked on
// Start.
func validateFolder(s string) error {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return errors.New("give a folder for the recordings")
	case !filepath.IsAbs(expandHome(s)):
		return errors.New("give the full path of the folder, e.g. ~/Videos")
	}
	if st, err := os.Stat(expandHome(s)); err == nil && !st.IsDir() {
		return errors.New("this is a file, not a folder")
	}
	return nil
}

// checkWritable makes sure files can be created in dir, creating it.
func checkWritable(dir string) error {
	if err := validateFolder(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cannot create the folder: %w", unwrapPath(err))
	}
	f, err := os.CreateTemp(dir, ".roomcast-write-check-*")
	if err != nil {
		return fmt.Errorf("cannot write in this folder: %w", unwrapPath(err))
	}
	f.Close()
	return os.Remove(f.Name())
}

// unwrapPath drops the path from an *os.PathError: the field shows it.
func unwrapPath(err error) error {
	if pe, ok := errors.AsType[*os.PathError](err); ok {
		return pe.Err
	}
	return err
}

func validateFileName(s string) error {
	req := &livekit.RoomCompositeEgressRequest{FileOutputs: []*livekit.EncodedFileOutput{{Filepath: s}}}
	return validatorErr(fieldCheck(req, "file_outputs[0].filepath"))
}

func validateHLSName(s string) error {
	req := &livekit.RoomCompositeEgressRequest{SegmentOutputs: []*livekit.SegmentedFileOutput{{FilenamePrefix: s, PlaylistName: s + ".m3u8"}}}
	return validatorErr(fieldCheck(req, "segment_outputs[0]"))
}

func validateSegments(s string) error {
	n, err := parseUintStrict(s)
	if err != nil {
		return err
	}
	req := &livekit.RoomCompositeEgressRequest{SegmentOutputs: []*livekit.SegmentedFileOutput{{SegmentDuration: n}}}
	return validatorErr(fieldCheck(req, "segment_outputs[0].segment_duration"))
}

func validateImageName(s string) error {
	req := &livekit.RoomCompositeEgressRequest{ImageOutputs: []*livekit.ImageOutput{{FilenamePrefix: s, CaptureInterval: 10}}}
	return validatorErr(fieldCheck(req, "image_outputs[0].filename_prefix"))
}

func validateInterval(s string) error {
	n, err := parseUintStrict(s)
	if err != nil {
		return err
	}
	req := &livekit.RoomCompositeEgressRequest{ImageOutputs: []*livekit.ImageOutput{{CaptureInterval: n}}}
	return validatorErr(fieldCheck(req, "image_outputs[0].capture_interval"))
}

// parseUintStrict reads a count of seconds; empty is 0 (the default).
func parseUintStrict(s string) (uint32, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, errors.New("give a whole number of seconds")
	}
	return uint32(n), nil
}

func parseUint(s string) uint32 {
	n, _ := parseUintStrict(s)
	return n
}

func formatUint(n uint32) string {
	if n == 0 {
		return ""
	}
	return strconv.FormatUint(uint64(n), 10)
}

// expandHome reads a leading ~ as the home folder.
func expandHome(path string) string {
	path = strings.TrimSpace(path)
	if path != "~" && !strings.HasPrefix(path, "~/") {
		return path
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return path
	}
	return filepath.Join(home, path[1:])
}
