package storage

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// Check verifies, at request time, that the bucket exists and the
// credentials may use it: one HeadBucket, no retries. The error names the
// field to fix ("file_outputs[0].s3.bucket: bucket "x" does not exist on
// http://127.0.0.1:9000; ...") and never holds a credential. For local disk
// it returns nil. Bound it with ctx.
func (u *Uploader) Check(ctx context.Context) error {
	if u.dest == nil {
		return nil
	}
	if u.checkCreds != nil {
		if err := u.checkCreds(ctx); err != nil {
			return &Error{Field: u.field + ".access_key/secret", Permanent: true, cause: u.scrubErr(err),
				Reason: "none given, and no AWS credentials found in the environment (" + u.scrub(err.Error()) + "); give access_key and secret"}
		}
	}
	once := func(o *s3.Options) { o.RetryMaxAttempts = 1 }
	_, err := u.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(u.dest.Bucket)}, once)
	if err == nil {
		return nil
	}
	// A HEAD answer has no body, so its status alone must tell: a 403 is a
	// wrong secret, an unknown key or a missing permission; versitygw even
	// answers 404 to an unknown key. Ask again with a GET, whose answer
	// carries the S3 error code.
	var ae smithy.APIError
	if errors.As(err, &ae) {
		_, lerr := u.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(u.dest.Bucket), MaxKeys: aws.Int32(1)}, once)
		if lerr != nil && errors.As(lerr, &ae) {
			err = lerr
		}
	}
	return u.explain("", err)
}
