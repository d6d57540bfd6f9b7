package storage

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"roomcast/engine/request"
)

// Error is why a check or an upload failed. Its text names the request
// field to fix and never holds a credential.
type Error struct {
	// Field is the request field to fix, "file_outputs[0].s3.bucket", or the
	// destination's own field ("file_outputs[0].s3") when no one field is
	// at fault.
	Field string
	// Key is the object key of a failed upload, "" for Check.
	Key string
	// Code is the S3 error code ("NoSuchBucket"), Status the HTTP status;
	// both empty when the server did not answer.
	Code   string
	Status int
	// Permanent means that trying again will not help: the request, the
	// bucket or the credentials must change.
	Permanent bool
	// Reason is the message without the field and key.
	Reason string
	cause  error // scrubbed of credentials
}

func (e *Error) Error() string {
	if e.Key == "" {
		return e.Field + ": " + e.Reason
	}
	return e.Field + ": " + strconv.Quote(e.Key) + " not uploaded: " + e.Reason
}

// Unwrap gives the SDK's error (its text scrubbed), for errors.Is and As.
func (e *Error) Unwrap() error { return e.cause }

// Is makes a permanent error (a bucket that does not exist, credentials
// refused) a fault of the request, request.ErrInvalid: the field it names
// must change.
func (e *Error) Is(target error) bool { return e.Permanent && target == request.ErrInvalid }

var (
	errStalled = errors.New("no progress")
)

// localError marks a failure to read the snapshot: not the server's fault,
// and not one a retry mends.
type localError struct{ err error }

func (e *localError) Error() string { return "reading the local file: " + e.err.Error() }
func (e *localError) Unwrap() error { return e.err }

// kind is what to do about a failure.
type kind int

const (
	transient kind = iota // retry with back-off: unreachable, 5xx, throttled, timeout
	permanent             // report now: the server said no
	local                 // report now: the local file cannot be read
)

func (k kind) String() string {
	return [...]string{"transient", "permanent", "local"}[k]
}

// transientCodes are S3 error codes that a later retry may get past, even
// though some come with a 4xx status.
var transientCodes = map[string]bool{
	"InternalError":        true,
	"ServiceUnavailable":   true,
	"SlowDown":             true,
	"RequestTimeout":       true, // 400: the connection idled while sending
	"RequestTimeTooSkewed": true, // 403: the SDK corrects its clock offset on the next request
	"IncompleteBody":       true,
	"OperationAborted":     true, // 409: a conflicting operation is in progress
	"Throttling":           true,
	"ThrottlingException":  true,
	"RequestThrottled":     true,
}

// classify sorts an upload or check error: a server's answer by its code
// and status, the rest (refused or reset connections, DNS failures,
// timeouts: no answer at all) as transient.
func classify(err error) (k kind, code string, status int) {
	var le *localError
	if errors.As(err, &le) {
		return local, "", 0
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	switch {
	case transientCodes[code]:
		return transient, code, status
	case status >= 500, status == 408, status == 429:
		return transient, code, status
	case status >= 300, code != "":
		return permanent, code, status
	}
	return transient, code, status
}

// explain turns an SDK error into an *Error that names the field to fix.
// key is "" for Check.
func (u *Uploader) explain(key string, err error) *Error {
	k, code, status := classify(err)
	e := &Error{Field: u.field, Key: key, Code: code, Status: status, Permanent: k != transient, cause: u.scrubErr(err)}
	bucket := strconv.Quote(u.dest.Bucket)
	why := code
	if why == "" {
		why = strconv.Itoa(status)
	}
	sub := func(f, format string, args ...any) {
		e.Field = u.field + "." + f
		e.Reason = fmt.Sprintf(format, args...)
	}
	switch {
	case k == local:
		e.Reason = u.scrub(err.Error())
	case code == "NoSuchBucket" || code == "NotFound" && key == "":
		sub("bucket", "bucket %s does not exist on %s; create it or correct the name", bucket, u.where)
	case code == "InvalidBucketName":
		sub("bucket", "%s is not a bucket name on %s (%s)", bucket, u.where, why)
	case code == "InvalidAccessKeyId" || code == "XAdminUserNotFound": // versitygw's name for it, with a 404
		sub("access_key", "the server does not know this access key (%s); check access_key", why)
	case code == "SignatureDoesNotMatch":
		sub("access_key/secret", "the server refused the credentials (%s); check the secret that goes with this access key", why)
	case code == "ExpiredToken" || code == "InvalidToken" || code == "TokenRefreshRequired":
		sub("session_token", "the server refused the session token (%s); give fresh temporary credentials", why)
	case code == "AccessDenied" || code == "Forbidden" || code == "AllAccessDisabled" || code == "AccountProblem":
		sub("access_key/secret", "these credentials may not use bucket %s on %s (%s); grant them s3:ListBucket and s3:PutObject on it, or give other keys", bucket, u.where, why)
	case code == "PermanentRedirect" || code == "AuthorizationHeaderMalformed" || code == "IllegalLocationConstraintException" || status == 301:
		in := ""
		if r := bucketRegion(err); r != "" {
			in = ", it is in " + strconv.Quote(r)
		}
		sub("region", "bucket %s is not in region %q%s (%s); set region to the bucket's region", bucket, u.region, in, why)
	case code == "InvalidTag":
		sub("tagging", "the server refused the tags (%s): %s", why, u.message(err))
	case code == "MetadataTooLarge":
		sub("metadata", "the server refused the metadata as too large (%s); send less", why)
	case code == "EntityTooLarge":
		e.Reason = fmt.Sprintf("the file is larger than %s accepts (%s)", u.where, why)
	case k == permanent:
		e.Reason = fmt.Sprintf("%s refused it (%s): %s", u.where, why, u.message(err))
	case status != 0:
		e.Reason = fmt.Sprintf("%s answered %d %s", u.where, status, code)
	default:
		f := "endpoint"
		if u.dest.Endpoint == "" {
			f = "region"
		}
		sub(f, "cannot reach %s (%s); check the address and that the server runs", u.where, netReason(err, u.opts.StallTimeout))
	}
	return e
}

// netReason says in a few words why no answer came.
func netReason(err error, stall time.Duration) string {
	var dnsErr *net.DNSError
	var ne net.Error
	switch {
	case errors.Is(err, errStalled):
		return "no progress for " + stall.String()
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.As(err, &dnsErr):
		return "no such host " + dnsErr.Name
	case errors.As(err, &ne) && ne.Timeout():
		return "timed out"
	}
	return "no answer"
}

// message is the server's message for err, scrubbed.
func (u *Uploader) message(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorMessage() != "" {
		return u.scrub(ae.ErrorMessage())
	}
	return u.scrub(err.Error())
}

// bucketRegion is the region a 301 or 400 answer says the bucket is in.
func bucketRegion(err error) string {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.Header.Get("X-Amz-Bucket-Region")
	}
	return ""
}

// scrub removes every credential of the destination from s: an S3-compatible
// server may echo the access key in a message, a proxy the URL's password.
func (u *Uploader) scrub(s string) string {
	for _, c := range u.secrets {
		s = strings.ReplaceAll(s, c, "{redacted}")
	}
	return s
}

func (u *Uploader) scrubErr(err error) error {
	if err == nil {
		return nil
	}
	return &scrubbed{err: err, text: u.scrub(err.Error())}
}

// scrubbed is an error whose text has had the credentials removed; the
// original stays reachable for errors.Is and errors.As.
type scrubbed struct {
	err  error
	text string
}

func (s *scrubbed) Error() string { return s.text }
func (s *scrubbed) Unwrap() error { return s.err }
