package storage_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"roomcast/engine/request"
	"roomcast/engine/storage"
)

// The engine's side of an HLS output with an S3 upload: check at request
// time, put each segment and the rewritten playlist as they are finished,
// flush at the end and report where everything is.
func Example() {
	ctx := context.Background()
	dest := &request.Upload{AccessKey: "AK...", Secret: "...", Bucket: "media", Endpoint: "http://127.0.0.1:9000", ForcePathStyle: true}
	up, err := storage.New(ctx, dest, storage.Options{
		Field:    "segment_outputs[0].s3",
		SpoolDir: "/var/lib/roomcast/spool", // same filesystem as the recordings
		RetryFor: 30 * time.Second,
		Logf:     log.Printf,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer up.Close()

	checkCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := up.Check(checkCtx); err != nil {
		log.Fatal(err) // refuse the request: the error names the field to fix
	}

	// as each segment is closed by the muxer:
	_ = up.Put(ctx, "/tmp/eg/seg_00000.ts", "rooms/demo/seg_00000.ts")
	_ = up.Put(ctx, "/tmp/eg/index.m3u8", "rooms/demo/index.m3u8")

	flushCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	results, err := up.Flush(flushCtx)
	if err != nil {
		log.Print(err) // some files stayed on local disk
	}
	for _, r := range results {
		fmt.Println(r.Key, r.Location, r.Size, "backup_storage_used:", r.BackupPath != "")
	}
}
