package request

import (
	"bufio"
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// handled maps every field (Message.field) and every enum value
// (Enum.VALUE) that a RoomComposite request and the calls on its egress can
// carry to the test that shows it honoured, or refused at request time:
// "pkg.TestName" (a test function of that package), or
// "request.TestBadRequests/<case>" and "request.TestGoodRequests/<case>"
// (a case of this package's tables). TestEveryFieldHandled fails for a
// field or value missing here, so a field a newer protocol adds is
// refused or honoured, never ignored.
var handled = map[string]string{
	"RoomCompositeEgressRequest.room_name":       "local.TestRoomIDAndTwoImageOutputs",
	"RoomCompositeEgressRequest.layout":          "local.TestLayoutsInRecordings",
	"RoomCompositeEgressRequest.audio_only":      "local.TestAudioOnlyOutputs",
	"RoomCompositeEgressRequest.audio_mixing":    "request.TestBadRequests/audio mixing",
	"RoomCompositeEgressRequest.video_only":      "local.TestEncodingOptionsInTheMedia",
	"RoomCompositeEgressRequest.custom_base_url": "local.TestLayoutsInRecordings",
	"RoomCompositeEgressRequest.file":            "local.TestAudioSettings",
	"RoomCompositeEgressRequest.stream":          "local.TestStreamServerFault",
	"RoomCompositeEgressRequest.segments":        "local.TestAudioOnlyOutputs",
	"RoomCompositeEgressRequest.preset":          "local.TestRecordDemoRoom",
	"RoomCompositeEgressRequest.advanced":        "local.TestEncodingOptionsInTheMedia",
	"RoomCompositeEgressRequest.file_outputs":    "local.TestRecordDemoRoom",
	"RoomCompositeEgressRequest.stream_outputs":  "local.TestAllOutputsWithLiveStreamEdits",
	"RoomCompositeEgressRequest.segment_outputs": "local.TestAllOutputsWithLiveStreamEdits",
	"RoomCompositeEgressRequest.image_outputs":   "local.TestRoomIDAndTwoImageOutputs",
	"RoomCompositeEgressRequest.webhooks":        "local.TestRequestWebhooks",

	"AudioMixing.DEFAULT_MIXING":         "local.TestRecordDemoRoom",
	"AudioMixing.DUAL_CHANNEL_AGENT":     "request.TestBadRequests/audio mixing",
	"AudioMixing.DUAL_CHANNEL_ALTERNATE": "request.TestBadRequests/audio mixing alternate",

	"EncodingOptionsPreset.H264_720P_30":           "local.TestRecordDemoRoom",
	"EncodingOptionsPreset.H264_720P_60":           "request.TestPresets",
	"EncodingOptionsPreset.H264_1080P_30":          "request.TestPresets",
	"EncodingOptionsPreset.H264_1080P_60":          "request.TestPresets",
	"EncodingOptionsPreset.PORTRAIT_H264_720P_30":  "local.TestRecordDemoRoom",
	"EncodingOptionsPreset.PORTRAIT_H264_720P_60":  "request.TestPresets",
	"EncodingOptionsPreset.PORTRAIT_H264_1080P_30": "request.TestPresets",
	"EncodingOptionsPreset.PORTRAIT_H264_1080P_60": "request.TestPresets",
	"EncodingOptionsPreset.PASSTHROUGH":            "request.TestBadRequests/passthrough",

	"EncodingOptions.width":              "local.TestEncodingOptionsInTheMedia",
	"EncodingOptions.height":             "local.TestEncodingOptionsInTheMedia",
	"EncodingOptions.depth":              "request.TestBadRequests/depth",
	"EncodingOptions.framerate":          "local.TestEncodingOptionsInTheMedia",
	"EncodingOptions.audio_codec":        "local.TestAudioSettings",
	"EncodingOptions.audio_bitrate":      "local.TestEncodingOptionsInTheMedia",
	"EncodingOptions.audio_frequency":    "local.TestAudioSettings",
	"EncodingOptions.video_codec":        "local.TestEncodingOptionsInTheMedia",
	"EncodingOptions.video_bitrate":      "pipeline.TestEncoderSettingsInTheStream",
	"EncodingOptions.key_frame_interval": "local.TestEncodingOptionsInTheMedia",
	// Deprecated, and unused by LiveKit Egress too: a warning says so.
	"EncodingOptions.audio_quality": "request.TestGoodRequests/deprecated quality",
	"EncodingOptions.video_quality": "request.TestGoodRequests/deprecated quality",

	"AudioCodec.DEFAULT_AC":            "local.TestRecordDemoRoom",
	"AudioCodec.OPUS":                  "local.TestAudioSettings",
	"AudioCodec.AAC":                   "local.TestAudioSettings",
	"AudioCodec.AC_MP3":                "request.TestBadRequests/mp3 codec",
	"VideoCodec.DEFAULT_VC":            "local.TestRecordDemoRoom",
	"VideoCodec.H264_BASELINE":         "local.TestEncodingOptionsInTheMedia",
	"VideoCodec.H264_MAIN":             "local.TestRecordDemoRoom",
	"VideoCodec.H264_HIGH":             "local.TestEncodingOptionsInTheMedia",
	"VideoCodec.VP8":                   "request.TestBadRequests/vp8",
	"ImageCodec.IC_DEFAULT":            "local.TestRoomIDAndTwoImageOutputs",
	"ImageCodec.IC_JPEG":               "local.TestEncodingOptionsInTheMedia",
	"EncodedFileType.DEFAULT_FILETYPE": "local.TestRecordDemoRoom",
	"EncodedFileType.MP4":              "local.TestAudioOnlyOutputs",
	"EncodedFileType.OGG":              "request.TestGoodRequests/audio only ogg",
	"EncodedFileType.MP3":              "request.TestBadRequests/mp3 file",
	"EncodedFileType.MCAP":             "request.TestBadRequests/mcap file",

	"EncodedFileOutput.file_type":        "local.TestAudioOnlyOutputs",
	"EncodedFileOutput.filepath":         "local.TestRoomIDAndTwoImageOutputs",
	"EncodedFileOutput.disable_manifest": "local.TestEncodingOptionsInTheMedia",
	"EncodedFileOutput.s3":               "local.TestUploadsToS3WithAnOutage",
	"EncodedFileOutput.gcp":              "request.TestBadRequests/gcp",
	"EncodedFileOutput.azure":            "request.TestBadRequests/azure",
	"EncodedFileOutput.aliOSS":           "request.TestBadRequests/file alioss",

	"S3Upload.access_key":              "storage.TestCredentialSources",
	"S3Upload.secret":                  "storage.TestCheck",
	"S3Upload.session_token":           "storage.TestCheck",
	"S3Upload.assume_role_arn":         "request.TestBadRequests/s3 assume role",
	"S3Upload.assume_role_external_id": "request.TestBadRequests/s3 assume role external id",
	"S3Upload.region":                  "storage.TestCheck",
	"S3Upload.endpoint":                "local.TestUploadsToS3WithAnOutage",
	"S3Upload.bucket":                  "storage.TestCheck",
	"S3Upload.force_path_style":        "storage.TestCheck",
	"S3Upload.metadata":                "storage.TestUploadsLand",
	"S3Upload.tagging":                 "storage.TestUploadsLand",
	"S3Upload.content_disposition":     "storage.TestUploadsLand",
	"S3Upload.proxy":                   "request.TestBadRequests/s3 proxy",

	"StreamOutput.protocol":           "api.TestEgressAPI",
	"StreamOutput.urls":               "local.TestAllOutputsWithLiveStreamEdits",
	"StreamOutput.destinations":       "local.TestRecordAndGoLiveShareAnEncoder",
	"StreamDestination.id":            "local.TestRecordAndGoLiveShareAnEncoder",
	"StreamDestination.url":           "local.TestRecordAndGoLiveShareAnEncoder",
	"StreamProtocol.DEFAULT_PROTOCOL": "local.TestAllOutputsWithLiveStreamEdits",
	"StreamProtocol.RTMP":             "api.TestEgressAPI",
	"StreamProtocol.SRT":              "request.TestBadRequests/srt protocol",
	"StreamProtocol.WEBSOCKET":        "request.TestBadRequests/websocket protocol",

	"SegmentedFileOutput.protocol":                          "local.TestEncodingOptionsInTheMedia",
	"SegmentedFileOutput.filename_prefix":                   "local.TestAudioOnlyOutputs",
	"SegmentedFileOutput.playlist_name":                     "local.TestAudioOnlyOutputs",
	"SegmentedFileOutput.live_playlist_name":                "local.TestAudioOnlyOutputs",
	"SegmentedFileOutput.segment_duration":                  "local.TestAudioOnlyOutputs",
	"SegmentedFileOutput.filename_suffix":                   "local.TestEncodingOptionsInTheMedia",
	"SegmentedFileOutput.disable_manifest":                  "local.TestEncodingOptionsInTheMedia",
	"SegmentedFileOutput.s3":                                "local.TestUploadsToS3WithAnOutage",
	"SegmentedFileOutput.gcp":                               "request.TestBadRequests/segments gcp",
	"SegmentedFileOutput.azure":                             "request.TestBadRequests/segments azure",
	"SegmentedFileOutput.aliOSS":                            "request.TestBadRequests/alioss",
	"SegmentedFileProtocol.DEFAULT_SEGMENTED_FILE_PROTOCOL": "local.TestAudioOnlyOutputs",
	"SegmentedFileProtocol.HLS_PROTOCOL":                    "local.TestEncodingOptionsInTheMedia",
	"SegmentedFileProtocol.HLS_FMP4_PROTOCOL":               "request.TestBadRequests/fmp4 hls",
	"SegmentedFileSuffix.INDEX":                             "local.TestAudioOnlyOutputs",
	"SegmentedFileSuffix.TIMESTAMP":                         "local.TestEncodingOptionsInTheMedia",

	"ImageOutput.capture_interval":                "local.TestRoomIDAndTwoImageOutputs",
	"ImageOutput.width":                           "local.TestRoomIDAndTwoImageOutputs",
	"ImageOutput.height":                          "local.TestRoomIDAndTwoImageOutputs",
	"ImageOutput.filename_prefix":                 "local.TestRoomIDAndTwoImageOutputs",
	"ImageOutput.filename_suffix":                 "local.TestEncodingOptionsInTheMedia",
	"ImageOutput.image_codec":                     "local.TestEncodingOptionsInTheMedia",
	"ImageOutput.disable_manifest":                "local.TestRoomIDAndTwoImageOutputs",
	"ImageOutput.s3":                              "local.TestUploadsToS3WithAnOutage",
	"ImageOutput.gcp":                             "request.TestBadRequests/images gcp",
	"ImageOutput.azure":                           "request.TestBadRequests/images azure",
	"ImageOutput.aliOSS":                          "request.TestBadRequests/images alioss",
	"ImageFileSuffix.IMAGE_SUFFIX_INDEX":          "local.TestRoomIDAndTwoImageOutputs",
	"ImageFileSuffix.IMAGE_SUFFIX_TIMESTAMP":      "local.TestEncodingOptionsInTheMedia",
	"ImageFileSuffix.IMAGE_SUFFIX_NONE_OVERWRITE": "local.TestEncodingOptionsInTheMedia",

	"WebhookConfig.url":           "local.TestRequestWebhooks",
	"WebhookConfig.signing_key":   "local.TestRequestWebhooks",
	"WebhookConfig.filter_params": "local.TestRequestWebhooks",
	"FilterParams.include_events": "local.TestRequestWebhooks",
	"FilterParams.exclude_events": "hooks.TestTargetWants",

	"UpdateStreamRequest.egress_id":          "api.TestErrors",
	"UpdateStreamRequest.add_output_urls":    "api.TestEgressAPI",
	"UpdateStreamRequest.remove_output_urls": "local.TestAllOutputsWithLiveStreamEdits",
	"UpdateStreamRequest.add_destinations":   "local.TestRecordAndGoLiveShareAnEncoder",
	"UpdateLayoutRequest.egress_id":          "api.TestErrors",
	"UpdateLayoutRequest.layout":             "api.TestEgressAPI",
	"ListEgressRequest.room_name":            "api.TestEgressAPI",
	"ListEgressRequest.egress_id":            "local.TestStreamServerFault",
	"ListEgressRequest.active":               "api.TestEgressAPI",
	"ListEgressRequest.page_token":           "api.TestEgressAPI",
	"TokenPagination.token":                  "engine.TestRemoteListPages",
	"StopEgressRequest.egress_id":            "api.TestEgressAPI",

	"StartEgressRequest.room_name":   "api.TestEgressAPI",
	"StartEgressRequest.template":    "api.TestEgressAPI",
	"StartEgressRequest.web":         "request.TestUnifiedRefusals",
	"StartEgressRequest.media":       "request.TestUnifiedRefusals",
	"StartEgressRequest.preset":      "request.TestUnifiedBecomesComposite",
	"StartEgressRequest.advanced":    "request.TestUnifiedBecomesComposite",
	"StartEgressRequest.outputs":     "api.TestEgressAPI",
	"StartEgressRequest.storage":     "request.TestUnifiedBecomesComposite",
	"StartEgressRequest.webhooks":    "request.TestUnifiedBecomesComposite",
	"TemplateSource.layout":          "api.TestEgressAPI",
	"TemplateSource.audio_only":      "request.TestUnifiedBecomesComposite",
	"TemplateSource.video_only":      "request.TestUnifiedBecomesComposite",
	"TemplateSource.custom_base_url": "request.TestUnifiedBecomesComposite",
	"Output.file":                    "request.TestUnifiedBecomesComposite",
	"Output.stream":                  "api.TestEgressAPI",
	"Output.segments":                "request.TestUnifiedBecomesComposite",
	"Output.images":                  "request.TestUnifiedBecomesComposite",
	"Output.storage":                 "request.TestUnifiedBecomesComposite",
	"FileOutput.file_type":           "request.TestUnifiedBecomesComposite",
	"FileOutput.filepath":            "request.TestUnifiedBecomesComposite",
	"FileOutput.disable_manifest":    "request.TestUnifiedBecomesComposite",
	"StorageConfig.s3":               "request.TestUnifiedBecomesComposite",
	"StorageConfig.gcp":              "request.TestUnifiedRefusals",
	"StorageConfig.azure":            "request.TestUnifiedRefusals",
	"StorageConfig.aliOSS":           "request.TestUnifiedRefusals",
}

// refusedWhole are fields refused outright: what their messages hold is
// never read, so it is not walked.
var refusedWhole = map[string]bool{
	"EncodedFileOutput.gcp": true, "EncodedFileOutput.azure": true, "EncodedFileOutput.aliOSS": true,
	"SegmentedFileOutput.gcp": true, "SegmentedFileOutput.azure": true, "SegmentedFileOutput.aliOSS": true,
	"ImageOutput.gcp": true, "ImageOutput.azure": true, "ImageOutput.aliOSS": true,
	"StorageConfig.gcp": true, "StorageConfig.azure": true, "StorageConfig.aliOSS": true,
	"S3Upload.proxy":         true,
	"StartEgressRequest.web": true, "StartEgressRequest.media": true,
}

// testPackages are the packages handled names, by their short name.
var testPackages = map[string]string{
	"request":  "roomcast/engine/request",
	"engine":   "roomcast/engine",
	"api":      "roomcast/engine/api",
	"local":    "roomcast/engine/local",
	"storage":  "roomcast/engine/storage",
	"hooks":    "roomcast/engine/hooks",
	"pipeline": "roomcast/engine/pipeline",
}

// requestFields walks every message a RoomComposite request and the calls
// on its egress can carry, and returns the fields and enum values found,
// as handled names them.
func requestFields() []string {
	roots := []protoreflect.ProtoMessage{
		&livekit.RoomCompositeEgressRequest{}, &livekit.StartEgressRequest{},
		&livekit.UpdateStreamRequest{}, &livekit.UpdateLayoutRequest{},
		&livekit.ListEgressRequest{}, &livekit.StopEgressRequest{},
	}
	var names []string
	seen := map[string]bool{}
	add := func(name string) {
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	walked := map[protoreflect.FullName]bool{}
	var walk func(md protoreflect.MessageDescriptor)
	walk = func(md protoreflect.MessageDescriptor) {
		if walked[md.FullName()] {
			return
		}
		walked[md.FullName()] = true
		fields := md.Fields()
		for i := range fields.Len() {
			f := fields.Get(i)
			name := string(md.Name()) + "." + string(f.Name())
			add(name)
			if refusedWhole[name] {
				continue
			}
			if e := f.Enum(); e != nil {
				values := e.Values()
				for j := range values.Len() {
					add(string(e.Name()) + "." + string(values.Get(j).Name()))
				}
			}
			if f.Message() != nil && !f.IsMap() {
				walk(f.Message())
			}
		}
	}
	for _, r := range roots {
		walk(r.ProtoReflect().Descriptor())
	}
	return names
}

// TestEveryFieldHandled: every field and enum value of the request
// messages is in handled, and each test it names exists.
func TestEveryFieldHandled(t *testing.T) {
	fields := requestFields()
	for _, f := range fields {
		if handled[f] == "" {
			t.Errorf("%s is neither honoured nor refused: refuse it at request time or honour it, with a test, and list it in handled", f)
		}
	}
	for f := range handled {
		if !slices.Contains(fields, f) {
			t.Errorf("handled lists %s, which no request message has", f)
		}
	}

	cases := map[string][]string{}
	for _, c := range badCases {
		cases["TestBadRequests"] = append(cases["TestBadRequests"], c.name)
	}
	for _, c := range goodCases {
		cases["TestGoodRequests"] = append(cases["TestGoodRequests"], c.name)
	}
	wanted := map[string]map[string]bool{} // package -> test functions
	for field, ref := range handled {
		pkg, test, ok := strings.Cut(ref, ".")
		if _, known := testPackages[pkg]; !ok || !known {
			t.Errorf("%s: %q is not pkg.TestName with pkg one of testPackages", field, ref)
			continue
		}
		fn, sub, hasCase := strings.Cut(test, "/")
		if hasCase && (pkg != "request" || !slices.Contains(cases[fn], sub)) {
			t.Errorf("%s: %s has no case %q", field, fn, sub)
		}
		if wanted[pkg] == nil {
			wanted[pkg] = map[string]bool{}
		}
		wanted[pkg][fn] = true
	}

	var paths []string
	for pkg := range wanted {
		paths = append(paths, testPackages[pkg])
	}
	listed := listTests(t, paths)
	for pkg, fns := range wanted {
		for fn := range fns {
			if !listed[testPackages[pkg]][fn] {
				t.Errorf("%s.%s is named in handled but is not a test of %s", pkg, fn, testPackages[pkg])
			}
		}
	}
}

// listTests is `go test -list` of the packages (integration tests
// included), as package -> test functions.
func listTests(t *testing.T, paths []string) map[string]map[string]bool {
	t.Helper()
	slices.Sort(paths)
	cmd := exec.Command("go", append([]string{"test", "-tags", "integration", "-list", "."}, paths...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go test -list: %v\n%s%s", err, out, stderr.Bytes())
	}
	listed := map[string]map[string]bool{}
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		// Each package's names come before its "ok  <path>" line.
		if rest, ok := strings.CutPrefix(line, "ok  "); ok {
			path := strings.Fields(rest)[0]
			listed[path] = map[string]bool{}
			for _, n := range names {
				listed[path][n] = true
			}
			names = nil
			continue
		}
		names = append(names, line)
	}
	return listed
}
