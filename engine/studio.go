// Package engine makes the media: it runs room composites (a virtual
// screen, an audio sink, a browser showing the layout, and a capture
// pipeline) and attaches egresses to them. Studio is what the UI and the
// API use; Local is the embedded engine.
package engine

import (
	"context"
	"image"

	"github.com/livekit/protocol/livekit"
)

// Studio runs room-composite egresses. Requests and results are LiveKit's
// own types, so the same calls can go to the embedded engine or to a
// LiveKit Egress service.
type Studio interface {
	// Start begins an egress and returns its info (STARTING). Progress
	// arrives through Watch.
	Start(ctx context.Context, req *livekit.RoomCompositeEgressRequest) (*livekit.EgressInfo, error)
	// Stop ends an egress: its outputs are finalised; the composite (and a
	// preview on it) keeps running.
	Stop(ctx context.Context, egressID string) (*livekit.EgressInfo, error)
	// UpdateLayout switches a running egress's composite to another
	// built-in layout; the recording goes on.
	UpdateLayout(ctx context.Context, egressID, layout string) (*livekit.EgressInfo, error)
	// UpdateStream adds and removes RTMP destinations of a running egress.
	UpdateStream(ctx context.Context, req *livekit.UpdateStreamRequest) (*livekit.EgressInfo, error)
	// List reports egresses, filtered as LiveKit's ListEgress does.
	List(ctx context.Context, req *livekit.ListEgressRequest) ([]*livekit.EgressInfo, error)
	// Watch delivers every EgressInfo update until ctx ends.
	Watch(ctx context.Context) <-chan *livekit.EgressInfo
	// Preview runs (or joins) the composite for req's room, layout and
	// preset without recording, and hands small RGBA frames to onFrame
	// until the returned stop is called.
	Preview(ctx context.Context, req *livekit.RoomCompositeEgressRequest, onFrame func(*image.RGBA)) (stop func(), err error)
	// Close stops every egress cleanly, then every composite.
	Close() error
}
