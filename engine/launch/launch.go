// Package launch opens a Studio for a connection: this machine's engine
// on a LiveKit server or on the embedded demo room (started first), or a
// LiveKit Egress service. The window gets it as its engine.Connector.
package launch

import (
	"context"

	"roomcast/engine"
	"roomcast/engine/demo"
	"roomcast/engine/local"
)

var _ engine.Connector = Open

// Open connects as c asks. With an EngineURL (and a LiveKit server) the
// egresses run on that Egress service; otherwise on this machine, on the
// demo room when c asks for it or names no server.
func Open(ctx context.Context, c engine.Connection) (*engine.Session, error) {
	if c.EngineURL != "" && !c.UseDemo && c.LiveKitURL != "" {
		r, err := engine.NewRemote(engine.RemoteConfig{
			URL: c.EngineURL, RoomsURL: c.LiveKitURL, APIKey: c.APIKey, APISecret: c.APISecret, Logf: c.Logf,
		})
		if err != nil {
			return nil, err
		}
		return &engine.Session{Studio: r, Server: c.LiveKitURL + ", recording on the Egress service at " + c.EngineURL}, nil
	}
	s := &engine.Session{Server: c.LiveKitURL}
	if c.UseDemo || c.LiveKitURL == "" {
		d, err := demo.Start(ctx, demo.Options{Logf: c.Logf})
		if err != nil {
			return nil, err
		}
		c.LiveKitURL, c.APIKey, c.APISecret, c.TLSCA = d.URL(), d.APIKey(), d.APISecret(), ""
		s.Server, s.DemoRoom, s.Stop = "demo room on "+d.URL(), d.Room(), d.Close
	}
	l, err := local.New(local.Config{LiveKitURL: c.LiveKitURL, APIKey: c.APIKey, APISecret: c.APISecret, TLSCA: c.TLSCA, OutputDir: c.OutputDir, Logf: c.Logf})
	if err != nil {
		if s.Stop != nil {
			_ = s.Stop()
		}
		return nil, err
	}
	s.Studio = l
	return s, nil
}
