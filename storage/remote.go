package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	bolt "go.etcd.io/bbolt"
)

// remoteRetries is how often minio-go tries a request: calm's uploader
// retries with its own back-off and shows the error meanwhile, which
// minio-go's ten quiet retries per request would hide.
const remoteRetries = 2

// RemoteOptions say how to reach S3-compatible storage.
type RemoteOptions struct {
	Endpoint string // host:port, or http(s)://host:port; default s3.amazonaws.com
	Region   string
}

// Remote is a bucket (and prefix) that gets a verified copy of every capture.
type Remote struct {
	URL    string // s3://bucket/prefix
	bucket string
	prefix string
	client *minio.Client
}

// NewRemote parses s3://bucket/prefix. Credentials come from the standard
// AWS environment (AWS_ACCESS_KEY_ID, ...) or profile files (~/.aws,
// AWS_PROFILE).
func NewRemote(s3url string, o RemoteOptions) (*Remote, error) {
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
	return &Remote{URL: strings.TrimSuffix(s3url, "/"), bucket: u.Host, prefix: strings.Trim(u.Path, "/"), client: client}, nil
}

// Key is where a file of an incident goes in the bucket.
func (r *Remote) Key(incident, file string) string { return path.Join(r.prefix, incident, file) }

// Location is the copy's address as calm shows it.
func (r *Remote) Location(key string) string { return "s3://" + r.bucket + "/" + key }

// Put uploads a local file. Over plain HTTP the request is signed with the
// payload's SHA-256, which the server checks; the SHA-256 calm sealed the
// capture with also goes along as metadata.
func (r *Remote) Put(ctx context.Context, key, file, sum string) error {
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
func (r *Remote) Hash(ctx context.Context, key string) (string, int64, error) {
	obj, err := r.client.GetObject(ctx, r.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return "", 0, err
	}
	defer obj.Close()
	h := sha256.New()
	n, err := io.Copy(h, obj)
	if err != nil {
		return "", n, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// Get downloads an object into w.
func (r *Remote) Get(ctx context.Context, key string, w io.Writer) error {
	obj, err := r.client.GetObject(ctx, r.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return err
	}
	defer obj.Close()
	_, err = io.Copy(w, obj)
	return err
}

// notFound reports an object or bucket that does not exist.
func notFound(err error) bool {
	var e minio.ErrorResponse
	if errors.As(err, &e) {
		return e.Code == "NoSuchKey" || e.Code == "NoSuchBucket" || e.StatusCode == 404
	}
	return false
}

// checkRemote reads a remote copy back and compares it with want.
func checkRemote(r *Remote, key, want string, now func() time.Time) Copy {
	c := Copy{Kind: CopyRemote, Location: r.Location(key), Device: "s3:" + r.bucket}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sum, _, err := r.Hash(ctx, key)
	switch {
	case notFound(err):
		c.State, c.Error = CopyMissing, "the object is not in the bucket"
	case err != nil:
		c.State, c.Error = CopyPending, "cannot be read now: "+oneLine(err.Error())
	case sum != want:
		c.State, c.SHA256, c.Error = CopyMismatch, sum, "the object's SHA-256 differs from the capture's"
	default:
		c.State, c.SHA256, c.Verified = CopyVerified, sum, now().UTC()
	}
	return c
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// remoteFor finds the configured remote a copy's location belongs to.
func (db *DB) remoteFor(location string) (*Remote, string) {
	for _, r := range db.opts.Remotes {
		if rest, ok := strings.CutPrefix(location, "s3://"+r.bucket+"/"); ok {
			return r, rest
		}
	}
	return nil, ""
}

func (db *DB) kickRemotes() {
	if db.remoteKick == nil {
		return
	}
	select {
	case db.remoteKick <- struct{}{}:
	default:
	}
}

// remoteLoop uploads pending remote copies, oldest first, and reads each
// back before it counts as verified. A failure leaves the copy pending with
// its error, and the loop tries again with back-off (1 s doubling to a
// minute): the queue is the capture records themselves, so it survives the
// agent's restart.
func (db *DB) remoteLoop() {
	wait := time.Second
	for {
		select {
		case <-db.stop:
			return
		case <-db.remoteKick:
		case <-time.After(wait):
		}
		pending, failed := db.uploadPending()
		switch {
		case failed:
			wait = min(wait*2, time.Minute)
		case pending:
			wait = time.Second
		default:
			wait = time.Minute // nothing to do: a kick wakes it sooner
		}
	}
}

// uploadPending tries every pending remote copy once.
func (db *DB) uploadPending() (pending, failed bool) {
	incs, err := db.Incidents()
	if err != nil {
		return false, true
	}
	for _, inc := range incs {
		caps, err := db.Captures(inc.ID)
		if err != nil {
			return true, true
		}
		for _, c := range caps {
			for i, cp := range c.Copies {
				if cp.Kind != CopyRemote || cp.State != CopyPending {
					continue
				}
				select {
				case <-db.stop:
					return true, false
				default:
				}
				pending = true
				if !db.uploadOne(c.Incident, c.ID, i, cp.Location) {
					failed = true
				}
			}
		}
	}
	return pending, failed
}

// uploadOne uploads the pending remote copy i of a capture, if it is still
// that: the record is read again under remoteMu, which a move holds, so no
// object goes up under a name the capture has just left (a moved capture's
// copy is uploaded under its new name on the next round). It reports
// whether nothing failed.
func (db *DB) uploadOne(incident, capture string, i int, location string) bool {
	db.remoteMu.Lock()
	defer db.remoteMu.Unlock()
	c, err := db.Capture(incident + "/" + capture)
	if err != nil {
		return errors.Is(err, ErrNotFound)
	}
	if i >= len(c.Copies) || c.Copies[i].Location != location || c.Copies[i].State != CopyPending {
		return true
	}
	r, key := db.remoteFor(location)
	if r == nil {
		return true
	}
	result := db.upload(r, key, c)
	if err := db.setCopy(c.Incident, c.ID, i, result); err != nil {
		return false
	}
	return result.State == CopyVerified
}

// upload sends a capture's evidence copy (itself verified) to the bucket and
// reads it back.
func (db *DB) upload(r *Remote, key string, c Capture) Copy {
	out := Copy{Kind: CopyRemote, Location: r.Location(key), State: CopyPending, Device: "s3:" + r.bucket}
	src := copyPath(db.opts.EvidenceDir, c.Incident, c.ID)
	if sum, _, err := hashFile(src); err != nil || sum != c.SHA256 {
		// The evidence copy is gone or damaged: write a fresh file from the store.
		tmp, err := os.CreateTemp(db.opts.EvidenceDir, ".upload-*")
		if err != nil {
			out.Error = "prepare the upload: " + err.Error()
			return out
		}
		defer os.Remove(tmp.Name())
		err = db.eachChunk(c.Incident, c.ID, func(_ uint64, data []byte) error {
			_, err := tmp.Write(data)
			return err
		})
		tmp.Close()
		if err != nil {
			out.Error = "prepare the upload: " + err.Error()
			return out
		}
		src = tmp.Name()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := r.Put(ctx, key, src, c.SHA256); err != nil {
		out.Error = oneLine(err.Error())
		return out
	}
	return checkRemote(r, key, c.SHA256, db.opts.Now)
}

// setCopy records one copy's new state in its capture's record.
func (db *DB) setCopy(incident, capture string, i int, cp Copy) error {
	_, err := db.changeCapture(incident, capture, func(b *bolt.Bucket, c *Capture) (bool, error) {
		if i >= len(c.Copies) || c.Copies[i].Location != cp.Location {
			return false, nil // the record changed meanwhile: the next round sees it
		}
		was := c.Copies[i].State
		c.Copies[i] = cp
		if was != cp.State {
			if _, err := db.addEvent(b, EventCopy, capture, fmt.Sprintf("%s copy %s: %s", capture, cp.Location, cp.State)); err != nil {
				return false, err
			}
		}
		return true, nil
	})
	return err
}

// HashReader returns the SHA-256 and size of what r holds.
func HashReader(r io.Reader) (string, int64, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

// Reachable checks that the bucket answers and exists.
func (r *Remote) Reachable(ctx context.Context) error {
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
func (r *Remote) CopyObject(ctx context.Context, from, to string) error {
	_, err := r.client.CopyObject(ctx, minio.CopyDestOptions{Bucket: r.bucket, Object: to}, minio.CopySrcOptions{Bucket: r.bucket, Object: from})
	if err != nil {
		return fmt.Errorf("copy %s to %s: %w", r.Location(from), r.Location(to), err)
	}
	return nil
}

// Remove deletes an object; one that is not there is not an error.
func (r *Remote) Remove(ctx context.Context, key string) error {
	if err := r.client.RemoveObject(ctx, r.bucket, key, minio.RemoveObjectOptions{}); err != nil && !notFound(err) {
		return fmt.Errorf("remove %s: %w", r.Location(key), err)
	}
	return nil
}
