//lint:file-ignore SA1019 EgressInfo's deprecated single-result field is filled as LiveKit Egress still fills it: older clients read it.

package local

import (
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"
)

// fillSingleResult copies the result of the one output kind into
// EgressInfo's deprecated single-result field, which older LiveKit clients
// read (see request.Plan.SingleResult).
func fillSingleResult(info *livekit.EgressInfo, kind string) {
	info.Result = nil
	switch {
	case kind == "file" && len(info.FileResults) > 0:
		info.Result = &livekit.EgressInfo_File{File: proto.Clone(info.FileResults[0]).(*livekit.FileInfo)}
	case kind == "stream":
		list := &livekit.StreamInfoList{}
		for _, si := range info.StreamResults {
			list.Info = append(list.Info, proto.Clone(si).(*livekit.StreamInfo))
		}
		info.Result = &livekit.EgressInfo_Stream{Stream: list}
	case kind == "segments" && len(info.SegmentResults) > 0:
		info.Result = &livekit.EgressInfo_Segments{Segments: proto.Clone(info.SegmentResults[0]).(*livekit.SegmentsInfo)}
	}
}
