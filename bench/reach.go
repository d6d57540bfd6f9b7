package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"time"

	"github.com/livekit/protocol/livekit"

	"roomcast/engine/local"
)

// refusalStarts is how many Starts each refusal figure takes.
const refusalStarts = 20

// refusalLatency measures how long Start takes to refuse a server the
// page could not reach: one on loopback whose TLS certificate no trusted
// CA signed (httptest's own), and a port where nothing listens. Before
// the check from Go, both cost the start timeout (20 s) with a browser
// started for nothing.
func (b *bench) refusalLatency(key, secret string) ([]figure, error) {
	untrusted := httptest.NewUnstartedServer(http.NotFoundHandler())
	untrusted.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	untrusted.StartTLS()
	defer untrusted.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	closed := ln.Addr().String()
	ln.Close()

	var figs []figure
	for _, c := range []struct{ name, url string }{
		{"untrusted TLS certificate", "wss://" + untrusted.Listener.Addr().String()},
		{"server not listening", "ws://" + closed},
	} {
		eng, err := local.New(local.Config{LiveKitURL: c.url, APIKey: key, APISecret: secret, OutputDir: b.dir})
		if err != nil {
			return nil, err
		}
		var took []time.Duration
		for range refusalStarts {
			began := time.Now()
			_, err := eng.Start(context.Background(), &livekit.RoomCompositeEgressRequest{
				RoomName: "demo", Layout: "grid",
				FileOutputs: []*livekit.EncodedFileOutput{{Filepath: filepath.Join(b.dir, "never.mp4")}},
			})
			took = append(took, time.Since(began))
			if err == nil {
				eng.Close()
				return nil, fmt.Errorf("%s: Start accepted a request for %s", c.name, c.url)
			}
		}
		eng.Close()
		slices.Sort(took)
		note := fmt.Sprintf("median of %d Starts; worst %.1f ms", refusalStarts, float64(took[len(took)-1].Microseconds())/1000)
		figs = append(figs, figure{Name: "Start refused: " + c.name, Value: float64(took[len(took)/2].Microseconds()) / 1000, Unit: "ms", Goal: 1000, Better: "<=", Note: note})
	}
	return figs, nil
}
