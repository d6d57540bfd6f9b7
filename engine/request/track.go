package request

import (
	"strings"
	"time"

	"github.com/livekit/protocol/livekit"
)

// TrackPlan is a validated TrackEgressRequest: one track copied as sent
// into a local file.
type TrackPlan struct {
	RoomName, TrackID string
	// name is the file's cleaned name before its extension is known (the
	// track's codec picks it); see Path.
	name     string
	place    place
	Warnings []string
}

// Path is the file the track is written to, once its codec's container
// extension ext (".ogg") is known: a name given with another media
// extension gets ext in its place, as LiveKit Egress does, with a
// warning through warn.
func (p *TrackPlan) Path(ext string, warn func(string)) string {
	return p.place.resolve(withExtension("file.filepath", p.name, ext, warn))
}

// Dir is the folder the file goes in.
func (p *TrackPlan) Dir() string {
	dir, _ := splitName(p.name)
	return p.place.resolveDir(dir)
}

// Track validates a TrackEgressRequest: a room, a track, and a file on
// this machine's disk. Its filepath takes LiveKit's tokens {room_name},
// {room_id}, {track_id}, {time} and {utc}; empty, it is
// {room_name}-{track_id}-{time}. Uploads and the websocket output are
// refused here, naming the field, before anything joins the room.
func Track(req *livekit.TrackEgressRequest, opt Options) (*TrackPlan, error) {
	if req.RoomName == "" {
		return nil, invalid("room_name", "empty; give the room the track is published in")
	}
	if req.TrackId == "" {
		return nil, invalid("track_id", "empty; give the SID (TR_...) of the track to record")
	}
	var f *livekit.DirectFileOutput
	switch out := req.Output.(type) {
	case *livekit.TrackEgressRequest_File:
		f = out.File
	case *livekit.TrackEgressRequest_WebsocketUrl:
		return nil, unsupported("websocket_url", "Roomcast writes a track to a file only; give file.filepath instead")
	}
	if f == nil {
		return nil, invalid("file", "missing; a track egress needs a file output, e.g. \"file\": {\"filepath\": \"{room_name}-{track_id}\"}")
	}
	switch {
	case f.GetS3() != nil:
		return nil, unsupported("file.s3", "a track copy is written to this machine's disk only, for now; leave s3 out and upload the file afterwards")
	case f.GetGcp() != nil, f.GetAzure() != nil, f.GetAliOSS() != nil:
		return nil, unsupported("file", "a track copy is written to this machine's disk only; leave the upload out")
	}
	// file.disable_manifest holds as asked: a track copy writes no
	// manifest either way.
	p := &TrackPlan{RoomName: req.RoomName, TrackID: req.TrackId, place: place{outputDir: opt.OutputDir}, Warnings: opt.Warnings}
	warn := func(w string) { p.Warnings = append(p.Warnings, w) }
	now := opt.Now
	if now.IsZero() {
		now = time.Now()
	}
	names := namer{room: req.RoomName, roomID: opt.RoomID, track: req.TrackId, now: now, warn: warn}
	name, err := p.place.cleanName("file.filepath", names.expand("file.filepath", f.Filepath), warn)
	if err != nil {
		return nil, err
	}
	if name == "" || strings.HasSuffix(name, "/") {
		name += strings.ReplaceAll(req.RoomName, "/", "-") + "-" + req.TrackId + "-" + now.Format(TimeLayout)
	}
	p.name = name
	return p, nil
}
