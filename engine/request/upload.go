package request

import (
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/livekit/protocol/livekit"
)

// uploadRequest is what every LiveKit output with an upload oneof has.
type uploadRequest interface {
	GetS3() *livekit.S3Upload
	GetGcp() *livekit.GCPUpload
	GetAzure() *livekit.AzureBlobUpload
	GetAliOSS() *livekit.AliOSSUpload
}

// upload is an output's storage: its own, else the server's default, else
// nil for local disk.
func (b *builder) upload(field string, o uploadRequest) (*Upload, error) {
	up, err := upload(field, o)
	if err != nil || up != nil || b.opt.DefaultUpload == nil {
		return up, err
	}
	// Errors in the default name its config keys (storage.s3.bucket...);
	// any output message serves to carry it.
	return upload("storage", &livekit.EncodedFileOutput{Output: &livekit.EncodedFileOutput_S3{S3: b.opt.DefaultUpload}})
}

// upload reads an output's upload oneof: nil for local disk, an Upload for
// S3; GCP, Azure and AliOSS are refused with the S3-compatible way round.
// Messages name credential fields but never show them.
func upload(field string, o uploadRequest) (*Upload, error) {
	switch {
	case o.GetGcp() != nil:
		return nil, unsupported(join(field, "gcp"), "Google Cloud Storage uploads are not supported by Roomcast; use s3 with endpoint https://storage.googleapis.com and an HMAC key as access_key/secret")
	case o.GetAzure() != nil:
		return nil, unsupported(join(field, "azure"), "Azure Blob uploads are not supported by Roomcast; use s3 (with an S3-compatible gateway) or record to local disk")
	case o.GetAliOSS() != nil:
		return nil, unsupported(join(field, "aliOSS"), "Alibaba OSS uploads are not supported by Roomcast; use s3 with endpoint https://oss-<region>.aliyuncs.com, which OSS serves S3-compatibly")
	case o.GetS3() == nil:
		return nil, nil
	}
	s3 := o.GetS3()
	f := join(field, "s3")
	if strings.TrimSpace(s3.Bucket) == "" {
		return nil, invalid(join(f, "bucket"), "required; name the bucket to upload to")
	}
	if strings.ContainsAny(s3.Bucket, "/") || hasControl(s3.Bucket) || strings.TrimSpace(s3.Bucket) != s3.Bucket {
		return nil, invalid(join(f, "bucket"), "%s is not a bucket name; give the name alone (put folders in the file path)", quote(s3.Bucket))
	}
	switch {
	case s3.AccessKey != "" && s3.Secret == "":
		return nil, invalid(join(f, "secret"), "required with access_key; give both, or neither to use the environment's AWS credentials")
	case s3.AccessKey == "" && s3.Secret != "":
		return nil, invalid(join(f, "access_key"), "required with secret; give both, or neither to use the environment's AWS credentials")
	case s3.SessionToken != "" && s3.AccessKey == "":
		return nil, invalid(join(f, "session_token"), "needs access_key and secret; give the temporary credentials' three parts together")
	}
	for _, c := range [...]struct{ name, v string }{{"access_key", s3.AccessKey}, {"secret", s3.Secret}, {"session_token", s3.SessionToken}} {
		if hasControl(c.v) || strings.TrimSpace(c.v) != c.v {
			return nil, invalid(join(f, c.name), "holds spaces or control characters; paste the credential again without them")
		}
	}
	if s3.AssumeRoleArn != "" || s3.AssumeRoleExternalId != "" {
		field := "assume_role_arn"
		if s3.AssumeRoleArn == "" {
			field = "assume_role_external_id"
		}
		return nil, unsupported(join(f, field), "assuming a role is not supported by Roomcast; give the role's temporary access_key, secret and session_token instead")
	}
	if s3.Proxy != nil {
		return nil, unsupported(join(f, "proxy"), "upload proxies are not supported by Roomcast; leave proxy out (the HTTPS_PROXY environment variable is honoured)")
	}
	if s3.Endpoint != "" {
		if err := checkHTTPURL(join(f, "endpoint"), s3.Endpoint, "the server's address, e.g. https://s3.example.com"); err != nil {
			return nil, err
		}
	}
	if hasControl(s3.Region) || strings.ContainsAny(s3.Region, " /") {
		return nil, invalid(join(f, "region"), "%s is not a region name; use e.g. us-east-1, or leave it out", quote(s3.Region))
	}
	if s3.Tagging != "" {
		if _, err := url.ParseQuery(s3.Tagging); err != nil || hasControl(s3.Tagging) {
			return nil, invalid(join(f, "tagging"), "is not a tag list; write it as key1=value1&key2=value2 with URL escapes")
		}
	}
	if hasControl(s3.ContentDisposition) {
		return nil, invalid(join(f, "content_disposition"), "holds a control character; give one header value, e.g. attachment")
	}
	var meta map[string]string
	if len(s3.Metadata) > 0 {
		meta = make(map[string]string, len(s3.Metadata))
		for _, k := range slices.Sorted(maps.Keys(s3.Metadata)) {
			v := s3.Metadata[k]
			if k == "" || hasControl(k) || hasControl(v) || strings.ContainsAny(k, " :") {
				return nil, invalid(join(f, "metadata"), "key %s or its value is not a valid header; use plain words without spaces, colons or control characters", quote(k))
			}
			meta[k] = v
		}
	}
	return &Upload{
		AccessKey:          s3.AccessKey,
		Secret:             s3.Secret,
		SessionToken:       s3.SessionToken,
		Region:             s3.Region,
		Endpoint:           s3.Endpoint,
		Bucket:             s3.Bucket,
		ForcePathStyle:     s3.ForcePathStyle,
		Metadata:           meta,
		Tagging:            s3.Tagging,
		ContentDisposition: s3.ContentDisposition,
	}, nil
}

// sameBucket reports whether two destinations are one place: both local
// disk (nil), or the same bucket on the same endpoint.
func (u *Upload) sameBucket(o *Upload) bool {
	if u == nil || o == nil {
		return u == o
	}
	return u.Endpoint == o.Endpoint && u.Bucket == o.Bucket
}
