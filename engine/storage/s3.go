package storage

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Why two upload paths, and why transfermanager:
//
// Below MultipartThreshold (segments, images, playlists, manifests: nearly
// every call) one PutObject from service/s3 (v1, stable) sends the file; the
// SDK retries nothing there (RetryMaxAttempts 1) because the queue's own
// back-off does, in order.
//
// From MultipartThreshold on (recordings) parts go up four at a time through
// feature/s3/transfermanager, pinned at v0.5.7, with the SDK retrying a
// failed part (3 attempts) so that one glitch does not restart a large file.
// feature/s3/manager, the 1.x upload manager, is marked Deprecated by AWS in
// favour of transfermanager: it gets no more fixes and staticcheck (make
// lint) flags every use. transfermanager is pre-1.0, so its API may still
// move; v0.5.7 requires exactly the SDK versions already in go.mod, and it is
// used here in one call (UploadObject) with input fields named as
// s3.PutObjectInput's, so a change costs one function. Two warts: it aborts
// a failed multipart upload with the call's (maybe cancelled) context unless
// FailTimeout gives it a fresh one (set below), and it log.Printf's a failed
// CompleteMultipartUpload, with the server's error text, to the standard
// logger, which we cannot redirect. An outage mid-file restarts that file
// from its first part on the next attempt; parts of an upload that could not
// be aborted stay on the server until its lifecycle rule removes them.

const (
	defaultRegion = "us-east-1"
	minPartSize   = 5 << 20 // S3's minimum for all but the last part
	partsInFlight = 4       // 4 x 8 MiB buffers: 40 MiB of memory per big upload
	abortTimeout  = 5 * time.Second
	dialTimeout   = 5 * time.Second
)

// connect builds the S3 client from the destination alone.
func (u *Uploader) connect(ctx context.Context) error {
	d := u.dest
	u.region = d.Region
	if u.region == "" {
		u.region = defaultRegion
	}
	u.where = "AWS S3 (" + u.region + ")"
	if d.Endpoint != "" {
		u.where = plainURL(d.Endpoint)
	}
	for _, s := range []string{d.Secret, d.SessionToken, d.AccessKey, endpointPassword(d.Endpoint)} {
		if s != "" {
			u.secrets = append(u.secrets, s)
		}
	}

	httpc := awshttp.NewBuildableClient().
		WithDialerOptions(func(dl *net.Dialer) { dl.Timeout = dialTimeout }).
		WithTransportOptions(func(t *http.Transport) {
			// a server that took the request and never answers
			t.ResponseHeaderTimeout = u.opts.StallTimeout
		})
	retryer := func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 3
			o.MaxBackoff = time.Second
			// The default retry quota empties during an outage and then
			// fails requests without sending them; the queue paces itself.
			o.RateLimiter = ratelimit.None
		})
	}
	var cfg aws.Config
	if d.AccessKey == "" && d.Secret == "" {
		// As LiveKit Egress: no keys in the request means the environment's
		// (AWS_* variables, ~/.aws, an instance role). Only then. (The
		// client must be the SDK's own type here: AWS_CA_BUNDLE is added to it.)
		var err error
		cfg, err = config.LoadDefaultConfig(ctx, config.WithRegion(u.region), config.WithHTTPClient(httpc), config.WithRetryer(retryer))
		if err != nil {
			return &Error{Field: u.field + ".access_key/secret", Permanent: true, cause: u.scrubErr(err),
				Reason: "none given, and the environment's AWS configuration cannot be read (" + u.scrub(err.Error()) + "); give access_key and secret"}
		}
		u.checkCreds = func(ctx context.Context) error {
			_, err := cfg.Credentials.Retrieve(ctx)
			return err
		}
	} else {
		// Written out rather than LoadDefaultConfig: nothing of ~/.aws or
		// AWS_* may mix into a destination the request spelled out
		// (AWS_CA_BUNDLE neither; the system's trust store applies).
		cfg = aws.Config{
			Region:      u.region,
			Credentials: credentials.NewStaticCredentialsProvider(d.AccessKey, d.Secret, d.SessionToken),
			HTTPClient:  httpc,
			Retryer:     retryer,
		}
	}
	cfg.HTTPClient = &trackingClient{inner: cfg.HTTPClient}
	custom := d.Endpoint != ""
	u.client = s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = d.ForcePathStyle
		if custom {
			o.BaseEndpoint = aws.String(d.Endpoint)
			// The SDK's default CRC32 trailers (aws-chunked bodies) are
			// refused by several S3-compatible servers (GCS's XML API, older
			// gateways); send checksums only where the API requires them.
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
			// No "Expect: 100-continue" (sent by default above 2 MB): a
			// server that does not answer it (versitygw) stalls every part
			// for the transport's 1 s; measured 29 against 96 MB/s on
			// loopback. AWS answers it and keeps it: a refusal comes before
			// the body is sent.
			o.ContinueHeaderThresholdBytes = -1
		}
	})
	u.tm = transfermanager.New(u.client, func(o *transfermanager.Options) {
		o.MultipartUploadThreshold = u.opts.MultipartThreshold
		o.PartSizeBytes = u.opts.PartSize
		o.Concurrency = partsInFlight
		o.FailTimeout = abortTimeout
		if custom {
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		}
	})
	return nil
}

// send makes one attempt at uploading it.
func (u *Uploader) send(ctx context.Context, it *item) error {
	f, err := os.Open(it.snap)
	if err != nil {
		return &localError{err}
	}
	defer f.Close()

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	tr := &tracker{progress: &u.progress}
	tr.last.Store(time.Now().UnixNano())
	ctx = context.WithValue(ctx, trackerKey{}, tr)
	defer u.watch(ctx, cancel, tr)()

	d := u.dest
	ct := contentType(it.key)
	if ct == "application/octet-stream" {
		ct = contentType(it.local)
	}
	if it.size < u.opts.MultipartThreshold {
		_, err = u.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket:             aws.String(d.Bucket),
			Key:                aws.String(it.key),
			Body:               f,
			ContentLength:      aws.Int64(it.size),
			ContentType:        aws.String(ct),
			ContentDisposition: nonEmpty(d.ContentDisposition),
			Metadata:           d.Metadata,
			Tagging:            nonEmpty(d.Tagging),
		}, func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	} else {
		_, err = u.tm.UploadObject(ctx, &transfermanager.UploadObjectInput{
			Bucket:             aws.String(d.Bucket),
			Key:                aws.String(it.key),
			Body:               f,
			ContentLength:      aws.Int64(it.size),
			ContentType:        aws.String(ct),
			ContentDisposition: nonEmpty(d.ContentDisposition),
			Metadata:           d.Metadata,
			Tagging:            nonEmpty(d.Tagging),
		})
	}
	if err != nil && context.Cause(ctx) == errStalled {
		return errStalled
	}
	return err
}

// watch cancels ctx with errStalled when a request body has been sending
// and no byte of it was taken for StallTimeout: a write stuck on a dead
// connection, which no HTTP timeout covers. (A request fully sent and
// unanswered is the transport's ResponseHeaderTimeout.) It returns the
// function that stops watching.
func (u *Uploader) watch(ctx context.Context, cancel context.CancelCauseFunc, tr *tracker) func() {
	stop := make(chan struct{})
	every := max(u.opts.StallTimeout/4, 10*time.Millisecond)
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case now := <-t.C:
				if tr.sending.Load() > 0 && now.UnixNano()-tr.last.Load() > int64(u.opts.StallTimeout) {
					cancel(errStalled)
					return
				}
			}
		}
	}()
	return func() { close(stop) }
}

// tracker follows the request bodies of one attempt.
type tracker struct {
	last     atomic.Int64  // unix nanoseconds of the last read of a body
	sending  atomic.Int32  // bodies not yet read to their end
	progress *atomic.Int64 // the uploader's, set with last
}

type trackerKey struct{}

// trackingClient is the SDK's HTTP client with each request body counted
// by the attempt's tracker (found in the request's context).
type trackingClient struct{ inner aws.HTTPClient }

func (c *trackingClient) Do(r *http.Request) (*http.Response, error) {
	if tr, ok := r.Context().Value(trackerKey{}).(*tracker); ok && r.Body != nil && r.Body != http.NoBody {
		tr.sending.Add(1)
		tr.last.Store(time.Now().UnixNano())
		r.Body = &trackedBody{ReadCloser: r.Body, tr: tr}
	}
	return c.inner.Do(r)
}

type trackedBody struct {
	io.ReadCloser
	tr   *tracker
	done atomic.Bool
}

func (b *trackedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	now := time.Now().UnixNano()
	b.tr.last.Store(now)
	b.tr.progress.Store(now)
	if err != nil {
		b.finish()
	}
	return n, err
}

func (b *trackedBody) Close() error {
	b.finish()
	return b.ReadCloser.Close()
}

func (b *trackedBody) finish() {
	if b.done.CompareAndSwap(false, true) {
		b.tr.sending.Add(-1)
	}
}

// location is the URL of key as the SDK addresses it: virtual-hosted
// (https://bucket.s3.region.amazonaws.com/key, or bucket.host of a custom
// endpoint) unless path style is asked for, the endpoint is an IP address,
// or the bucket name is no plain DNS label (dots: no TLS certificate covers
// them), and then endpoint/bucket/key. Key segments are URL-escaped.
func location(endpoint, region, bucket, key string, pathStyle bool) string {
	if region == "" {
		region = defaultRegion
	}
	scheme, host, base := "https", "s3."+region+".amazonaws.com", ""
	if endpoint != "" {
		if p, err := url.Parse(endpoint); err == nil && p.Host != "" {
			scheme, host, base = p.Scheme, p.Host, strings.TrimSuffix(p.EscapedPath(), "/")
			if net.ParseIP(p.Hostname()) != nil {
				pathStyle = true
			}
		}
	}
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	k := strings.Join(segs, "/")
	if pathStyle || !dnsLabel(bucket) {
		return scheme + "://" + host + base + "/" + url.PathEscape(bucket) + "/" + k
	}
	return scheme + "://" + bucket + "." + host + base + "/" + k
}

// dnsLabel reports whether bucket can be a host name label.
func dnsLabel(bucket string) bool {
	if len(bucket) < 3 || len(bucket) > 63 || bucket[0] == '-' || bucket[len(bucket)-1] == '-' {
		return false
	}
	for _, c := range bucket {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// contentTypes are the types of what the engine writes, by extension.
var contentTypes = map[string]string{
	".mp4":  "video/mp4",
	".m4a":  "audio/mp4",
	".ogg":  "audio/ogg",
	".m3u8": "application/x-mpegURL",
	".ts":   "video/MP2T",
	".jpeg": "image/jpeg",
	".jpg":  "image/jpeg",
	".png":  "image/png",
	".json": "application/json",
	".txt":  "text/plain; charset=utf-8",
}

// contentType is the Content-Type of an object named name.
func contentType(name string) string {
	if t, ok := contentTypes[strings.ToLower(path.Ext(name))]; ok {
		return t
	}
	return "application/octet-stream"
}

// plainURL is an endpoint fit to show: no user information, query or
// fragment.
func plainURL(endpoint string) string {
	p, err := url.Parse(endpoint)
	if err != nil || p.Host == "" {
		return "the endpoint"
	}
	return (&url.URL{Scheme: p.Scheme, Host: p.Host, Path: p.Path}).String()
}

func endpointPassword(endpoint string) string {
	if p, err := url.Parse(endpoint); err == nil && p.User != nil {
		pw, _ := p.User.Password()
		return pw
	}
	return ""
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
