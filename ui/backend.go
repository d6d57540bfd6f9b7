package ui

import (
	"context"
	"errors"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"roomcast/engine"
	"roomcast/engine/demo"
)

// backend is what the window works with once connected: an engine and the
// rooms of one LiveKit server.
type backend struct {
	studio engine.Studio
	rooms  roomLister
	// server names the connection for the status bar.
	server string
	// demoRoom is the embedded demo's room, "" for a configured server.
	demoRoom string
	// close stops the engine (finalising recordings), then the demo.
	close func() error
}

// roomLister is the part of server-sdk-go's RoomServiceClient the room
// picker needs.
type roomLister interface {
	ListRooms(ctx context.Context, req *livekit.ListRoomsRequest) (*livekit.ListRoomsResponse, error)
}

// statser reports composite figures (engine.Local does), for the dropped
// frames in the status bar.
type statser interface {
	Stats() []engine.CompositeStats
}

// connection is how to reach LiveKit (a server, or the embedded demo) and
// which engine records: this machine's, or the Egress service at
// EngineURL (LiveKit's Egress behind a LiveKit server, or another
// machine's roomcast serve), reached with the same key and secret.
type connection struct {
	UseDemo                       bool
	LiveKitURL, APIKey, APISecret string
	EngineURL                     string
}

// connector makes a backend; the window calls it off the UI goroutine.
// outputDir is the default folder for recordings: the engine keeps there
// what waits for an upload.
type connector func(ctx context.Context, c connection, outputDir string, logf func(string, ...any)) (*backend, error)

// connectEngine runs the embedded engine on the configured server, or on
// the demo room (started first) when there is none or the demo is chosen;
// with an EngineURL it records through that remote Egress service instead.
func connectEngine(ctx context.Context, c connection, outputDir string, logf func(string, ...any)) (*backend, error) {
	if c.EngineURL != "" && !c.UseDemo && c.LiveKitURL != "" {
		r, err := engine.NewRemote(engine.RemoteConfig{URL: c.EngineURL, APIKey: c.APIKey, APISecret: c.APISecret, Logf: logf})
		if err != nil {
			return nil, err
		}
		return &backend{
			studio: r,
			rooms:  lksdk.NewRoomServiceClient(c.LiveKitURL, c.APIKey, c.APISecret),
			server: c.LiveKitURL + ", recording on the Egress service at " + c.EngineURL,
			close:  r.Close,
		}, nil
	}
	b := &backend{server: c.LiveKitURL}
	var d *demo.Demo
	if c.UseDemo || c.LiveKitURL == "" {
		var err error
		if d, err = demo.Start(ctx, demo.Options{Logf: logf}); err != nil {
			return nil, err
		}
		c.LiveKitURL, c.APIKey, c.APISecret = d.URL(), d.APIKey(), d.APISecret()
		b.server, b.demoRoom = "demo room on "+d.URL(), d.Room()
	}
	l, err := engine.NewLocal(engine.Config{LiveKitURL: c.LiveKitURL, APIKey: c.APIKey, APISecret: c.APISecret, OutputDir: outputDir, Logf: logf})
	if err != nil {
		if d != nil {
			d.Close()
		}
		return nil, err
	}
	b.studio = l
	b.rooms = lksdk.NewRoomServiceClient(c.LiveKitURL, c.APIKey, c.APISecret)
	b.close = func() error {
		err := l.Close()
		if d != nil {
			err = errors.Join(err, d.Close())
		}
		return err
	}
	return b, nil
}
