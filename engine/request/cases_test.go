package request

import (
	"path/filepath"
	"time"
)

// The fixed clock and folder of every table case.
var (
	testNow    = time.Date(2024, 3, 5, 14, 7, 9, 123e6, time.UTC)
	testOutDir = filepath.FromSlash("/rec")
	testRoomID = "RM_abc123"
)

const (
	stamp = "2024-03-05T140709" // {time} at testNow
	utc   = "20240305140709123" // {utc} at testNow
)

// badCase is a request Load must refuse: the error must start with field
// and contain msg; none of secrets may show in it.
type badCase struct {
	name    string
	json    string
	field   string
	msg     string
	unsup   bool // errors.Is(err, ErrUnsupported)
	secrets []string
}

var badCases = []badCase{
	// request shape and JSON
	{name: "empty object", json: `{}`, field: "room_name", msg: "required"},
	{name: "blank room", json: `{"room_name":"  ","file_outputs":[{}]}`, field: "room_name", msg: "required"},
	{name: "no output", json: `{"room_name":"r"}`, field: "request", msg: "no output; add file_outputs"},
	{name: "not an object", json: `["room_name"]`, field: "request.json", msg: "expected an object, got a list"},
	{name: "two objects", json: `{"room_name":"r"} {}`, field: "request.json", msg: "more after"},
	{name: "syntax error inside", json: "{\"room_name\":\"r\",\n \"file_outputs\":[{\"filepath\": }]}", field: "file_outputs[0].filepath", msg: "line 2, column"},
	{name: "cut short", json: `{"room_name":"r","file_outputs":[`, field: "file_outputs", msg: "ends too early"},
	{name: "key twice", json: `{"room_name":"a","room_name":"b","file_outputs":[{}]}`, field: "room_name", msg: "given twice"},
	{name: "proto and json name", json: `{"room_name":"a","roomName":"b","file_outputs":[{}]}`, field: "room_name", msg: "given twice"},
	{name: "empty key", json: `{"":[]}`, field: `""`, msg: "unknown field"},
	{name: "odd key", json: `{"room_name":"r","file_outputs":[{"a b":1}]}`, field: `file_outputs[0]."a b"`, msg: "unknown field"},
	{name: "unknown field typo", json: `{"room":"r","file_outputs":[{}]}`, field: "room", msg: `did you mean "room_name"?`},
	{name: "nested typo", json: `{"room_name":"r","file_outputs":[{"filepth":"x.mp4"}]}`, field: "file_outputs[0].filepth", msg: `did you mean "filepath"?`},
	{name: "preset in a stream", json: `{"room_name":"r","stream_outputs":[{"preset":"H264_720P_30","urls":["rtmp://h/app/key"]}]}`, field: "stream_outputs[0].preset", msg: "belongs at the top level"},
	{name: "bucket outside s3", json: `{"room_name":"r","file_outputs":[{"bucket":"b"}]}`, field: "file_outputs[0].bucket", msg: `belongs inside "s3"`},
	{name: "urls as a string", json: `{"room_name":"r","stream_outputs":[{"urls":"rtmp://h/app/streamkey123"}]}`, field: "stream_outputs[0].urls", msg: "wrap it in [ ]", secrets: []string{"streamkey123"}},
	{name: "null url", json: `{"room_name":"r","stream_outputs":[{"urls":[null]}]}`, field: "stream_outputs[0].urls[0]", msg: "null in a list"},
	{name: "bool as string", json: `{"room_name":"r","audio_only":"yes","file_outputs":[{}]}`, field: "audio_only", msg: "expected true or false, got a string"},
	{name: "width as word", json: `{"room_name":"r","advanced":{"width":"wide"},"file_outputs":[{}]}`, field: "advanced.width", msg: "whole number"},
	{name: "width fraction", json: `{"room_name":"r","advanced":{"width":1280.5},"file_outputs":[{}]}`, field: "advanced.width", msg: `"1280.5" is not a whole number`},
	{name: "duration too big for uint32", json: `{"room_name":"r","segment_outputs":[{"segment_duration":5000000000}]}`, field: "segment_outputs[0].segment_duration", msg: "out of range"},

	// source
	{name: "audio and video only", json: `{"room_name":"r","audio_only":true,"video_only":true,"file_outputs":[{}]}`, field: "video_only", msg: "cannot be combined with audio_only"},
	{name: "audio mixing alternate", json: `{"room_name":"r","audio_mixing":"DUAL_CHANNEL_ALTERNATE","file_outputs":[{}]}`, field: "audio_mixing", msg: "not supported", unsup: true},
	{name: "audio mixing", json: `{"room_name":"r","audio_mixing":"DUAL_CHANNEL_AGENT","file_outputs":[{}]}`, field: "audio_mixing", msg: "not supported", unsup: true},
	{name: "unknown layout", json: `{"room_name":"r","layout":"gird","file_outputs":[{}]}`, field: "layout", msg: `(did you mean grid?)`},
	{name: "layout far off", json: `{"room_name":"r","layout":"mosaic","file_outputs":[{}]}`, field: "layout", msg: "use one of grid, grid-light, speaker"},
	{name: "template not http", json: `{"room_name":"r","custom_base_url":"ftp://example.com/t","file_outputs":[{}]}`, field: "custom_base_url", msg: "not an http:// or https:// URL"},
	{name: "template without host", json: `{"room_name":"r","custom_base_url":"https:///t?token=templatesecret99","file_outputs":[{}]}`, field: "custom_base_url", msg: "no host", secrets: []string{"templatesecret99"}},

	// encoding
	{name: "preset typo", json: `{"room_name":"r","preset":"H264_720","file_outputs":[{}]}`, field: "preset", msg: `"H264_720" is not a preset; use one of H264_720P_30, H264_720P_60`},
	{name: "preset number", json: `{"room_name":"r","preset":42,"file_outputs":[{}]}`, field: "preset", msg: `"42" is not a preset`},
	{name: "passthrough", json: `{"room_name":"r","preset":"PASSTHROUGH","file_outputs":[{}]}`, field: "preset", msg: "PASSTHROUGH skips transcoding"},
	{name: "preset and advanced", json: `{"room_name":"r","preset":"H264_720P_30","advanced":{},"file_outputs":[{}]}`, field: "advanced", msg: "cannot be used with preset"},
	{name: "narrow", json: `{"room_name":"r","advanced":{"width":320},"file_outputs":[{}]}`, field: "advanced.width", msg: "320 is under 500 px, the narrowest window Chromium draws; use 500 or more"},
	{name: "too wide", json: `{"room_name":"r","advanced":{"width":7680},"file_outputs":[{}]}`, field: "advanced.width", msg: "over 3840 px"},
	{name: "odd height", json: `{"room_name":"r","advanced":{"height":721},"file_outputs":[{}]}`, field: "advanced.height", msg: "721 is odd"},
	{name: "low height", json: `{"room_name":"r","advanced":{"height":100},"file_outputs":[{}]}`, field: "advanced.height", msg: "under 144 px"},
	{name: "fps", json: `{"room_name":"r","advanced":{"framerate":120},"file_outputs":[{}]}`, field: "advanced.framerate", msg: "outside 1 to 60"},
	{name: "video bitrate", json: `{"room_name":"r","advanced":{"video_bitrate":50},"file_outputs":[{}]}`, field: "advanced.video_bitrate", msg: "outside 100 to 50000"},
	{name: "audio bitrate", json: `{"room_name":"r","advanced":{"audio_bitrate":-1},"file_outputs":[{}]}`, field: "advanced.audio_bitrate", msg: "outside 8 to 512"},
	{name: "aac over 320", json: `{"room_name":"r","advanced":{"audio_bitrate":400},"file_outputs":[{}]}`, field: "advanced.audio_bitrate", msg: "over the 320 kbps AAC goes to"},
	{name: "sample rate", json: `{"room_name":"r","advanced":{"audio_frequency":44000},"file_outputs":[{}]}`, field: "advanced.audio_frequency", msg: "not a sample rate"},
	{name: "opus 44.1k", json: `{"room_name":"r","audio_only":true,"advanced":{"audio_frequency":44100},"file_outputs":[{"file_type":"OGG"}]}`, field: "advanced.audio_frequency", msg: "does not suit Opus"},
	{name: "depth", json: `{"room_name":"r","advanced":{"depth":16},"file_outputs":[{}]}`, field: "advanced.depth", msg: "24", unsup: true},
	{name: "vp8", json: `{"room_name":"r","advanced":{"video_codec":"VP8"},"file_outputs":[{}]}`, field: "advanced.video_codec", msg: "H.264 only", unsup: true},
	{name: "mp3 codec", json: `{"room_name":"r","advanced":{"audio_codec":"AC_MP3"},"file_outputs":[{}]}`, field: "advanced.audio_codec", msg: "use AAC or OPUS", unsup: true},
	{name: "negative kfi", json: `{"room_name":"r","advanced":{"key_frame_interval":-1},"file_outputs":[{}]}`, field: "advanced.key_frame_interval", msg: "negative"},
	{name: "nan kfi", json: `{"room_name":"r","advanced":{"key_frame_interval":"NaN"},"file_outputs":[{}]}`, field: "advanced.key_frame_interval", msg: "not a number of seconds"},
	{name: "kfi vs segments", json: `{"room_name":"r","advanced":{"key_frame_interval":4},"segment_outputs":[{}]}`, field: "advanced.key_frame_interval", msg: "does not divide segment_outputs[0].segment_duration of 6 s"},
	{name: "opus to rtmp", json: `{"room_name":"r","advanced":{"audio_codec":"OPUS"},"stream_outputs":[{"urls":["rtmp://h/app/k"]}]}`, field: "advanced.audio_codec", msg: "OPUS cannot go into stream_outputs[0] (RTMP carries AAC)"},

	// outputs in general
	{name: "two files", json: `{"room_name":"r","file_outputs":[{},{}]}`, field: "file_outputs[1]", msg: "at most one file"},
	{name: "two stream outputs", json: `{"room_name":"r","stream_outputs":[{"urls":["rtmp://h/a/k1"]},{"urls":["rtmp://h/a/k2"]}]}`, field: "stream_outputs[1]", msg: "stream_outputs[0].urls"},
	{name: "two segment outputs", json: `{"room_name":"r","segment_outputs":[{},{}]}`, field: "segment_outputs[1]", msg: "at most one segment output"},
	{name: "two image outputs writing the same files", json: `{"room_name":"r","image_outputs":[{"capture_interval":5},{"capture_interval":5}]}`, field: "image_outputs[1].filename_prefix", msg: "the same files as image_outputs[0]"},
	{name: "legacy and plural file", json: `{"room_name":"r","file":{},"file_outputs":[{}]}`, field: "file", msg: "cannot be combined with file_outputs"},
	{name: "two legacy outputs", json: `{"room_name":"r","file":{},"stream":{"urls":["rtmp://h/a/k"]}}`, field: "stream", msg: "cannot be used with file"},

	// files
	{name: "ogg with video", json: `{"room_name":"r","file_outputs":[{"file_type":"OGG"}]}`, field: "file_outputs[0].file_type", msg: "OGG holds audio only"},
	{name: "ogg and rtmp", json: `{"room_name":"r","audio_only":true,"file_outputs":[{"file_type":"OGG"}],"stream_outputs":[{"urls":["rtmp://h/a/k"]}]}`, field: "file_outputs[0].file_type", msg: "OGG carries Opus but stream_outputs[0] needs AAC"},
	{name: "mcap file", json: `{"room_name":"r","file_outputs":[{"file_type":"MCAP"}]}`, field: "file_outputs[0].file_type", msg: "use MP4 or OGG", unsup: true},
	{name: "mp3 file", json: `{"room_name":"r","audio_only":true,"file_outputs":[{"file_type":"MP3"}]}`, field: "file_outputs[0].file_type", msg: "use OGG", unsup: true},
	{name: "file type number", json: `{"room_name":"r","file_outputs":[{"file_type":9}]}`, field: "file_outputs[0].file_type", msg: `"9" is not a file type`},
	{name: "file type name", json: `{"room_name":"r","file_outputs":[{"file_type":"MOV"}]}`, field: "file_outputs[0].file_type", msg: `"MOV" is not a file type; use one of MP4 or OGG`},
	{name: "local climb", json: `{"room_name":"r","file_outputs":[{"filepath":"../../etc/x.mp4"}]}`, field: "file_outputs[0].filepath", msg: "climbs out of the output folder"},
	{name: "room climbs", json: `{"room_name":"../../x","file_outputs":[{"filepath":"{room_name}/a.mp4"}]}`, field: "file_outputs[0].filepath", msg: "climbs out"},
	{name: "s3 climb", json: `{"room_name":"r","file_outputs":[{"filepath":"a/../../x.mp4","s3":{"bucket":"b"}}]}`, field: "file_outputs[0].filepath", msg: "climbs out of the bucket"},
	{name: "gcp", json: `{"room_name":"r","file_outputs":[{"gcp":{"credentials":"{\"private_key\":\"gcpsecretvalue\"}","bucket":"b"}}]}`, field: "file_outputs[0].gcp", msg: "use s3", unsup: true, secrets: []string{"gcpsecretvalue"}},
	{name: "azure", json: `{"room_name":"r","file_outputs":[{"azure":{"account_name":"a","account_key":"azuresecretkey1","container_name":"c"}}]}`, field: "file_outputs[0].azure", msg: "use s3", unsup: true, secrets: []string{"azuresecretkey1"}},
	{name: "alioss", json: `{"room_name":"r","segment_outputs":[{"aliOSS":{"access_key":"a","secret":"alisecret123","bucket":"b"}}]}`, field: "segment_outputs[0].aliOSS", msg: "use s3", unsup: true, secrets: []string{"alisecret123"}},
	{name: "file alioss", json: `{"room_name":"r","file_outputs":[{"aliOSS":{"bucket":"b"}}]}`, field: "file_outputs[0].aliOSS", msg: "use s3", unsup: true},
	{name: "segments gcp", json: `{"room_name":"r","segment_outputs":[{"gcp":{"bucket":"b"}}]}`, field: "segment_outputs[0].gcp", msg: "use s3", unsup: true},
	{name: "segments azure", json: `{"room_name":"r","segment_outputs":[{"azure":{"container_name":"c"}}]}`, field: "segment_outputs[0].azure", msg: "use s3", unsup: true},
	{name: "images gcp", json: `{"room_name":"r","image_outputs":[{"capture_interval":5,"gcp":{"bucket":"b"}}]}`, field: "image_outputs[0].gcp", msg: "use s3", unsup: true},
	{name: "images azure", json: `{"room_name":"r","image_outputs":[{"capture_interval":5,"azure":{"container_name":"c"}}]}`, field: "image_outputs[0].azure", msg: "use s3", unsup: true},
	{name: "images alioss", json: `{"room_name":"r","image_outputs":[{"capture_interval":5,"aliOSS":{"bucket":"b"}}]}`, field: "image_outputs[0].aliOSS", msg: "use s3", unsup: true},
	{name: "upload oneof twice", json: `{"room_name":"r","file_outputs":[{"s3":{"bucket":"b"},"gcp":{"bucket":"b"}}]}`, field: "file_outputs[0].gcp", msg: "cannot be used with s3"},
	{name: "s3 no bucket", json: `{"room_name":"r","file_outputs":[{"s3":{"access_key":"AKIAEXAMPLEKEY","secret":"s3secretvalue/xyz"}}]}`, field: "file_outputs[0].s3.bucket", msg: "required", secrets: []string{"AKIAEXAMPLEKEY", "s3secretvalue/xyz"}},
	{name: "s3 key without secret", json: `{"room_name":"r","file_outputs":[{"s3":{"access_key":"AKIAEXAMPLEKEY","bucket":"b"}}]}`, field: "file_outputs[0].s3.secret", msg: "required with access_key", secrets: []string{"AKIAEXAMPLEKEY"}},
	{name: "s3 token alone", json: `{"room_name":"r","file_outputs":[{"s3":{"session_token":"tokentokentoken","bucket":"b"}}]}`, field: "file_outputs[0].s3.session_token", msg: "needs access_key", secrets: []string{"tokentokentoken"}},
	{name: "s3 assume role external id", json: `{"room_name":"r","file_outputs":[{"s3":{"assume_role_external_id":"ext-secret-id","bucket":"b"}}]}`, field: "file_outputs[0].s3.assume_role_external_id", msg: "not supported", unsup: true, secrets: []string{"ext-secret-id"}},
	{name: "s3 proxy", json: `{"room_name":"r","file_outputs":[{"s3":{"bucket":"b","proxy":{"url":"http://proxy:3128","username":"u","password":"proxy-pass"}}}]}`, field: "file_outputs[0].s3.proxy", msg: "HTTPS_PROXY", unsup: true, secrets: []string{"proxy-pass"}},
	{name: "s3 assume role", json: `{"room_name":"r","file_outputs":[{"s3":{"assume_role_arn":"arn:aws:iam::1:role/x","bucket":"b"}}]}`, field: "file_outputs[0].s3.assume_role_arn", msg: "not supported", unsup: true},
	{name: "s3 endpoint without scheme", json: `{"room_name":"r","file_outputs":[{"s3":{"endpoint":"s3.example.com","bucket":"b","secret":"s3secretvalue/xyz","access_key":"AKIAEXAMPLEKEY"}}]}`, field: "file_outputs[0].s3.endpoint", msg: "not an http:// or https:// URL", secrets: []string{"s3secretvalue/xyz"}},
	{name: "s3 endpoint password", json: `{"room_name":"r","file_outputs":[{"s3":{"endpoint":"ftp://u:endpointpass1@s3.example.com","bucket":"b"}}]}`, field: "file_outputs[0].s3.endpoint", msg: "not an http", secrets: []string{"endpointpass1"}},
	{name: "s3 bucket with folder", json: `{"room_name":"r","file_outputs":[{"s3":{"bucket":"b/recordings"}}]}`, field: "file_outputs[0].s3.bucket", msg: "not a bucket name"},

	// streams
	{name: "url not rtmp", json: `{"room_name":"r","stream_outputs":[{"urls":["rtmp:/x"]}]}`, field: "stream_outputs[0].urls[0]", msg: "is not an rtmp:// or rtmps:// URL"},
	{name: "https url", json: `{"room_name":"r","stream_outputs":[{"urls":["rtmp://h/app/ok-key","https://h/app/httpskey12345"]}]}`, field: "stream_outputs[0].urls[1]", msg: "not an rtmp://", secrets: []string{"httpskey12345"}},
	{name: "url without key", json: `{"room_name":"r","stream_outputs":[{"urls":["rtmp://live.example.com/live/"]}]}`, field: "stream_outputs[0].urls[0]", msg: "no stream key"},
	{name: "url without app", json: `{"room_name":"r","stream_outputs":[{"urls":["rtmp://live.example.com/sk_live_123456"]}]}`, field: "stream_outputs[0].urls[0]", msg: "no app path", secrets: []string{"sk_live_123456"}},
	{name: "url without host", json: `{"room_name":"r","stream_outputs":[{"urls":["rtmp:///app/sk_live_123456"]}]}`, field: "stream_outputs[0].urls[0]", msg: "no host", secrets: []string{"sk_live_123456"}},
	{name: "url bad port", json: `{"room_name":"r","stream_outputs":[{"urls":["rtmp://h:99999/app/sk_live_123456"]}]}`, field: "stream_outputs[0].urls[0]", msg: "port", secrets: []string{"sk_live_123456"}},
	{name: "url with space", json: `{"room_name":"r","stream_outputs":[{"urls":["rtmp://h/app/sk_live_123456 pubPasswd=pw_secret_1"]}]}`, field: "stream_outputs[0].urls[0]", msg: "has a space", secrets: []string{"sk_live_123456", "pw_secret_1"}},
	{name: "duplicate url", json: `{"room_name":"r","stream_outputs":[{"urls":["rtmp://h/app/sk_live_123456","rtmps://x/app/other_key_1","RTMP://H:1935/app/sk_live_123456"]}]}`, field: "stream_outputs[0].urls[2]", msg: "given twice (also stream_outputs[0].urls[0])", secrets: []string{"sk_live_123456"}},
	{name: "url password", json: `{"room_name":"r","stream_outputs":[{"urls":["rtmp://bob:hunter2hunter2@h/app/"]}]}`, field: "stream_outputs[0].urls[0]", msg: "no stream key", secrets: []string{"hunter2hunter2"}},
	{name: "srt url", json: `{"room_name":"r","stream_outputs":[{"urls":["srt://h:9000?streamid=srtsecret99"]}]}`, field: "stream_outputs[0].urls[0]", msg: "SRT", unsup: true, secrets: []string{"srtsecret99"}},
	{name: "websocket protocol", json: `{"room_name":"r","audio_only":true,"stream_outputs":[{"protocol":"WEBSOCKET","urls":["wss://h/ws"]}]}`, field: "stream_outputs[0].protocol", msg: "use RTMP", unsup: true},
	{name: "srt protocol", json: `{"room_name":"r","stream_outputs":[{"protocol":"SRT","urls":["srt://h:9000"]}]}`, field: "stream_outputs[0].protocol", msg: "use RTMP", unsup: true},
	{name: "stream without urls", json: `{"room_name":"r","stream_outputs":[{"protocol":"RTMP"}]}`, field: "stream_outputs[0].urls", msg: "empty"},
	{name: "too many urls", json: `{"room_name":"r","stream_outputs":[{"urls":["rtmp://h/app/key0","rtmp://h/app/key1","rtmp://h/app/key2","rtmp://h/app/key3","rtmp://h/app/key4","rtmp://h/app/key5","rtmp://h/app/key6","rtmp://h/app/key7","rtmp://h/app/key8","rtmp://h/app/key9","rtmp://h/app/key10","rtmp://h/app/key11","rtmp://h/app/key12","rtmp://h/app/key13","rtmp://h/app/key14","rtmp://h/app/key15","rtmp://h/app/key16"]}]}`, field: "stream_outputs[0].urls", msg: "17 destinations is more than 16"},
	{name: "destination without id", json: `{"room_name":"r","stream_outputs":[{"destinations":[{"url":"rtmp://h/app/destkey12345"}]}]}`, field: "stream_outputs[0].destinations[0].id", msg: "required", secrets: []string{"destkey12345"}},
	{name: "destination without url", json: `{"room_name":"r","stream_outputs":[{"destinations":[{"id":"yt"}]}]}`, field: "stream_outputs[0].destinations[0].url", msg: "empty"},
	{name: "destination ids twice", json: `{"room_name":"r","stream_outputs":[{"destinations":[{"id":"yt","url":"rtmp://h/app/destkey1"},{"id":"yt","url":"rtmp://h/app/destkey2"}]}]}`, field: "stream_outputs[0].destinations[1].id", msg: "given twice", secrets: []string{"destkey1", "destkey2"}},
	{name: "destination url also a url", json: `{"room_name":"r","stream_outputs":[{"urls":["rtmp://h/app/destkey1"],"destinations":[{"id":"yt","url":"rtmp://h:1935/app/destkey1"}]}]}`, field: "stream_outputs[0].destinations[0].url", msg: "also stream_outputs[0].urls[0]", secrets: []string{"destkey1"}},

	// webhooks
	{name: "webhook not http", json: `{"room_name":"r","file_outputs":[{}],"webhooks":[{"url":"ftp://h/hook?token=hushhush"}]}`, field: "webhooks[0].url", msg: "not an http:// or https:// URL", secrets: []string{"hushhush"}},
	{name: "webhook empty", json: `{"room_name":"r","file_outputs":[{}],"webhooks":[{}]}`, field: "webhooks[0].url", msg: "not an http"},

	// segments
	{name: "segment duration", json: `{"room_name":"r","segment_outputs":[{"segment_duration":61}]}`, field: "segment_outputs[0].segment_duration", msg: "over 60 s"},
	{name: "fmp4 hls", json: `{"room_name":"r","segments":{"protocol":"HLS_FMP4_PROTOCOL"}}`, field: "segments.protocol", msg: "HLS_PROTOCOL", unsup: true},
	{name: "segment suffix", json: `{"room_name":"r","segment_outputs":[{"filename_suffix":5}]}`, field: "segment_outputs[0].filename_suffix", msg: "use INDEX or TIMESTAMP"},
	{name: "live equals playlist", json: `{"room_name":"r","segment_outputs":[{"playlist_name":"a.m3u8","live_playlist_name":"a.m3u8"}]}`, field: "segment_outputs[0].live_playlist_name", msg: "same as playlist_name"},
	{name: "live playlist folder only", json: `{"room_name":"r","segment_outputs":[{"live_playlist_name":"live/"}]}`, field: "segment_outputs[0].live_playlist_name", msg: "folder only"},
	{name: "quirk conflicts", json: `{"room_name":"r","preset":"H264_1080P_30","segments":{"preset":"PORTRAIT_H264_720P_30"}}`, field: "segments.preset", msg: "conflicts with the request's preset H264_1080P_30"},
	{name: "quirk not a preset", json: `{"room_name":"r","segments":{"preset":"PORTRAIT_720"}}`, field: "segments.preset", msg: "is not a preset"},
	{name: "quirk with advanced", json: `{"room_name":"r","advanced":{},"segment_outputs":[{"preset":"H264_720P_30"}]}`, field: "segment_outputs[0].preset", msg: "conflicts with the request's advanced options"},

	// images
	{name: "capture interval", json: `{"room_name":"r","image_outputs":[{}]}`, field: "image_outputs[0].capture_interval", msg: "required"},
	{name: "images audio only", json: `{"room_name":"r","audio_only":true,"file_outputs":[{}],"image_outputs":[{"capture_interval":10}]}`, field: "image_outputs[0]", msg: "no video"},
	{name: "image codec", json: `{"room_name":"r","image_outputs":[{"capture_interval":10,"image_codec":7}]}`, field: "image_outputs[0].image_codec", msg: "use IC_JPEG"},
	{name: "image width", json: `{"room_name":"r","image_outputs":[{"capture_interval":10,"width":8}]}`, field: "image_outputs[0].width", msg: "outside 16 to 3840"},
	{name: "image suffix", json: `{"room_name":"r","image_outputs":[{"capture_interval":10,"filename_suffix":"IMAGE_SUFFIX_NONE"}]}`, field: "image_outputs[0].filename_suffix", msg: "did you mean IMAGE_SUFFIX_INDEX?"},
}
