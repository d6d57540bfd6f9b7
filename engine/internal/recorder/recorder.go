// Package recorder joins a LiveKit room as LiveKit's own recorders do:
// hidden from the room, subscribing only to what it asks for, publishing
// nothing. Track copies and track recordings join this way.
package recorder

import (
	"fmt"
	"time"

	"github.com/livekit/protocol/auth"
	protologger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"
)

// Join connects to room at url as identity, with a recorder's grant
// signed by key and secret; nothing is subscribed until asked.
func Join(url, key, secret, room, identity string, cb *lksdk.RoomCallback) (*lksdk.Room, error) {
	yes, no := true, false
	jwt, err := auth.NewAccessToken(key, secret).
		SetIdentity(identity).
		SetValidFor(24 * time.Hour).
		SetVideoGrant(&auth.VideoGrant{
			RoomJoin: true, Room: room, Hidden: true, Recorder: true,
			CanSubscribe: &yes, CanPublish: &no, CanPublishData: &no,
		}).ToJWT()
	if err != nil {
		return nil, fmt.Errorf("join %s: the API key and secret are needed: %w", room, err)
	}
	r, err := lksdk.ConnectToRoomWithToken(url, jwt, cb,
		lksdk.WithAutoSubscribe(false), lksdk.WithLogger(protologger.GetDiscardLogger()))
	if err != nil {
		return nil, fmt.Errorf("join %s: %w", room, err)
	}
	return r, nil
}

// FindTrack is the publication of SID sid in room, and its publisher's
// identity; nil if no one publishes it.
func FindTrack(room *lksdk.Room, sid string) (*lksdk.RemoteTrackPublication, string) {
	for _, p := range room.GetRemoteParticipants() {
		for _, pub := range p.TrackPublications() {
			if rpub, ok := pub.(*lksdk.RemoteTrackPublication); ok && pub.SID() == sid {
				return rpub, p.Identity()
			}
		}
	}
	return nil, ""
}
