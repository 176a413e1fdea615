// Package s3 is a bucket (and prefix) in S3-compatible storage that keeps a
// copy of every capture: minio-go behind the few calls the store makes.
package s3

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// remoteRetries is how often minio-go tries a request: calm's uploader
// retries with its own back-off and shows the error meanwhile, which
// minio-go's ten quiet retries per request would hide.
const remoteRetries = 2

// Options say how to reach S3-compatible storage.
type Options struct {
	Endpoint string // host:port, or http(s)://host:port; default s3.amazonaws.com
	Region   string
}

// Bucket is a bucket (and prefix) that gets a verified copy of every capture.
type Bucket struct {
	URL    string // s3://bucket/prefix
	bucket string
	prefix string
	client *minio.Client
}

// New parses s3://bucket/prefix. Credentials come from the standard
// AWS environment (AWS_ACCESS_KEY_ID, ...) or profile files (~/.aws,
// AWS_PROFILE).
func New(s3url string, o Options) (*Bucket, error) {
	u, err := url.Parse(s3url)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return nil, fmt.Errorf("mirror %q: an S3 mirror looks like s3://bucket/prefix", s3url)
	}
	endpoint, secure := o.Endpoint, true
	if endpoint == "" {
		endpoint = "s3.amazonaws.com"
	}
	if e, err := url.Parse(endpoint); err == nil && e.Host != "" {
		endpoint, secure = e.Host, e.Scheme == "https"
	}
	creds := credentials.NewChainCredentials([]credentials.Provider{
		&credentials.EnvAWS{},
		&credentials.FileAWSCredentials{Profile: os.Getenv("AWS_PROFILE")},
	})
	client, err := minio.New(endpoint, &minio.Options{Creds: creds, Secure: secure, Region: o.Region, MaxRetries: remoteRetries})
	if err != nil {
		return nil, fmt.Errorf("mirror %s: %w", s3url, err)
	}
	return &Bucket{URL: strings.TrimSuffix(s3url, "/"), bucket: u.Host, prefix: strings.Trim(u.Path, "/"), client: client}, nil
}

// Key is where a file of an incident goes in the bucket.
func (r *Bucket) Key(incident, file string) string { return path.Join(r.prefix, incident, file) }

// Location is the copy's address as calm shows it.
func (r *Bucket) Location(key string) string { return "s3://" + r.bucket + "/" + key }

// Put uploads a local file. Over plain HTTP the request is signed with the
// payload's SHA-256, which the server checks; the SHA-256 calm sealed the
// capture with also goes along as metadata.
func (r *Bucket) Put(ctx context.Context, key, file, sum string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	_, err = r.client.PutObject(ctx, r.bucket, key, f, fi.Size(), minio.PutObjectOptions{
		ContentType:  "application/octet-stream",
		UserMetadata: map[string]string{"calm-sha256": sum},
		AutoChecksum: minio.ChecksumSHA256,
	})
	if err != nil {
		return fmt.Errorf("upload to %s: %w", r.Location(key), err)
	}
	return nil
}

// Hash reads an object back and returns its SHA-256 and size.
func (r *Bucket) Hash(ctx context.Context, key string) (string, int64, error) {
	obj, err := r.client.GetObject(ctx, r.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return "", 0, r.notFound(key, err)
	}
	defer obj.Close()
	h := sha256.New()
	n, err := io.Copy(h, obj)
	if err != nil {
		return "", n, r.notFound(key, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// Get downloads an object into w.
func (r *Bucket) Get(ctx context.Context, key string, w io.Writer) error {
	obj, err := r.client.GetObject(ctx, r.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return r.notFound(key, err)
	}
	defer obj.Close()
	_, err = io.Copy(w, obj)
	return r.notFound(key, err)
}

func (r *Bucket) String() string { return r.URL }

// Device names the bucket as a place copies are kept: copies in one bucket
// share its fate.
func (r *Bucket) Device() string { return "s3:" + r.bucket }

// isNotFound reports an object or bucket that does not exist.
func isNotFound(err error) bool {
	var e minio.ErrorResponse
	if errors.As(err, &e) {
		return e.Code == "NoSuchKey" || e.Code == "NoSuchBucket" || e.StatusCode == 404
	}
	return false
}

// notFound says an object that does not exist as fs.ErrNotExist, which
// callers test for without knowing minio's errors.
func (r *Bucket) notFound(key string, err error) error {
	if err != nil && isNotFound(err) {
		return fmt.Errorf("%s: %w", r.Location(key), fs.ErrNotExist)
	}
	return err
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Reachable checks that the bucket answers and exists.
func (r *Bucket) Reachable(ctx context.Context) error {
	ok, err := r.client.BucketExists(ctx, r.bucket)
	if err != nil {
		return fmt.Errorf("%s: %s", r.URL, oneLine(err.Error()))
	}
	if !ok {
		return fmt.Errorf("%s: the bucket does not exist", r.URL)
	}
	return nil
}

// CopyObject makes a copy of the object at from under to, inside the
// bucket: the bytes stay on the server (and keep their calm-sha256).
func (r *Bucket) CopyObject(ctx context.Context, from, to string) error {
	_, err := r.client.CopyObject(ctx, minio.CopyDestOptions{Bucket: r.bucket, Object: to}, minio.CopySrcOptions{Bucket: r.bucket, Object: from})
	if err != nil {
		return fmt.Errorf("copy %s to %s: %w", r.Location(from), r.Location(to), err)
	}
	return nil
}

// Remove deletes an object; one that is not there is not an error.
func (r *Bucket) Remove(ctx context.Context, key string) error {
	if err := r.client.RemoveObject(ctx, r.bucket, key, minio.RemoveObjectOptions{}); err != nil && !isNotFound(err) {
		return fmt.Errorf("remove %s: %w", r.Location(key), err)
	}
	return nil
}
