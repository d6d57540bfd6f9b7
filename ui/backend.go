package ui

import "roomcast/engine"

// connection is how to reach LiveKit (a server, or the embedded demo) and
// which engine records: this machine's, or the Egress service at
// EngineURL (LiveKit's Egress behind a LiveKit server, or another
// machine's roomcast serve), reached with the same key and secret. It is
// what Settings save.
type connection struct {
	UseDemo                       bool
	LiveKitURL, APIKey, APISecret string
	TLSCA                         string // livekit.tls_ca: a CA file for a self-signed server
	EngineURL                     string
}

// engineConnection is c for the engine, with the folder for recordings
// and the log.
func (c connection) engineConnection(outputDir string, logf func(string, ...any)) engine.Connection {
	return engine.Connection{
		UseDemo: c.UseDemo, LiveKitURL: c.LiveKitURL, APIKey: c.APIKey, APISecret: c.APISecret,
		TLSCA: c.TLSCA, EngineURL: c.EngineURL, OutputDir: outputDir, Logf: logf,
	}
}
