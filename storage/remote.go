package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// checkRemote reads a remote copy back and compares it with want.
func checkRemote(r Remote, key, want string, now func() time.Time) Copy {
	return checkRemoteContext(context.Background(), r, key, want, now)
}

// checkRemoteContext is checkRemote until ctx ends.
func checkRemoteContext(ctx context.Context, r Remote, key, want string, now func() time.Time) Copy {
	c := Copy{Kind: CopyRemote, Location: r.Location(key), Device: r.Device()}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
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

// Remote is a bucket that gets a verified copy of every capture (storage/s3
// makes one on S3-compatible storage). A read of an object that is not
// there fails with fs.ErrNotExist.
type Remote interface {
	String() string                   // s3://bucket/prefix
	Key(incident, file string) string // where a file of an incident goes
	Location(key string) string       // the copy's address as calm shows it
	Device() string                   // what copies in it share
	Put(ctx context.Context, key, file, sum string) error
	Hash(ctx context.Context, key string) (sum string, size int64, err error)
	Get(ctx context.Context, key string, w io.Writer) error
	Reachable(ctx context.Context) error
	CopyObject(ctx context.Context, from, to string) error
	Remove(ctx context.Context, key string) error
}

func notFound(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// remoteFor finds the configured remote a copy's location belongs to.
func (db *DB) remoteFor(location string) (Remote, string) {
	for _, r := range db.opts.Remotes {
		if rest, ok := strings.CutPrefix(location, r.Location("")); ok {
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
func (db *DB) upload(r Remote, key string, c Capture) Copy {
	out := Copy{Kind: CopyRemote, Location: r.Location(key), State: CopyPending, Device: r.Device()}
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
