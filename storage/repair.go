package storage

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Copies come back. A file copy that failed (a full disk, a folder gone) is
// written again from the store's own copy, checked against the capture's
// SHA-256 as it is read, once the disk has room: by the agent, every
// repairEvery, and by `calm verify --repair` at once.

// repairEvery is how often the agent tries to write failed copies again.
const repairEvery = 30 * orphanPoll

// Repaired is one copy written again, or the reason it could not be.
type Repaired struct {
	Incident string `json:"incident"`
	Capture  string `json:"capture"`
	Copy     Copy   `json:"copy"`
}

// RepairCopies writes again every file copy (evidence or mirror) and
// bucket object of the incident's sealed captures ("" for all) that is not
// verified (nor pending, which the uploader has), from the store's copy,
// and records the result; and each incident's timeline copy
// that lacks events the store holds. It returns what it tried.
func (db *DB) RepairCopies(incident string) ([]Repaired, error) {
	incidents, err := db.incidentsFor(incident)
	if err != nil {
		return nil, err
	}
	var out []Repaired
	for _, inc := range incidents {
		caps, err := db.Captures(inc.ID)
		if err != nil {
			return out, err
		}
		for _, c := range caps {
			if c.State != CaptureSealed {
				continue
			}
			before := len(c.Copies)
			c.Copies = db.withMirrors(c)
			changed := len(c.Copies) != before
			for i, cp := range c.Copies {
				if cp.State == CopyVerified || cp.State == CopyPending {
					continue
				}
				switch cp.Kind {
				case CopyStore:
					c.Copies[i] = db.rewriteStore(&c, cp)
				case CopyEvidence, CopyMirror:
					c.Copies[i] = db.rewriteCopy(c, cp)
				case CopyRemote:
					// An object missing or damaged in the bucket goes up
					// again now, from a verified copy, and is read back.
					r, key := db.remoteFor(cp.Location)
					if r == nil {
						continue // a bucket no longer configured
					}
					db.remoteMu.Lock()
					c.Copies[i] = db.upload(r, key, c)
					db.remoteMu.Unlock()
				default:
					continue
				}
				changed = true
				out = append(out, Repaired{Incident: inc.ID, Capture: c.ID, Copy: c.Copies[i]})
			}
			if changed {
				if err := db.recordRepair(c); err != nil {
					return out, err
				}
			}
			db.keepMeta(c, true) // meta.go: the record beside each copy
		}
		db.kickRemotes() // a bucket added later: its pending copies
		// A folder whose SHA256SUMS is missing or stale (a mirror added
		// later, a file deleted by hand) gets it written from the records.
		var sums VerifyReport
		if err := db.checkSums(inc.ID, caps, &sums); err == nil && len(sums.Manifests) > 0 {
			db.sumsMu.Lock()
			db.writeSums(inc.ID, Capture{})
			db.sumsMu.Unlock()
		}
		// A timeline copy that lacks events (a full disk when they were
		// appended, a line deleted) is written again from the store.
		if r, tried := db.repairTimeline(inc.ID); tried { // timeline.go
			out = append(out, r)
		}
	}
	db.linesAfterRepair() // a store copy written again may now give search lines
	return out, nil
}

// withMirrors is a capture's copies plus a missing one in every configured
// mirror that has none of it, and a pending one in every bucket: a mirror
// or bucket added after the capture was sealed (`calm --mirror DIR agent
// restart`, an S3 remote in the config) must still get every capture.
func (db *DB) withMirrors(c Capture) []Copy {
	copies := c.Copies
	for _, root := range db.opts.Mirrors {
		loc := copyPath(root, c.Incident, c.ID)
		known := false
		for _, cp := range copies {
			known = known || (cp.Kind == CopyMirror && filepath.Clean(cp.Location) == loc)
		}
		if !known {
			copies = append(slices.Clip(copies), Copy{Kind: CopyMirror, Location: loc, State: CopyMissing,
				Error: "never written: the mirror was added after this capture was sealed"})
		}
	}
	// A bucket added later gets the older captures too: a pending copy
	// is the uploader's work list.
	for _, r := range db.opts.Remotes {
		known := false
		for _, cp := range copies {
			known = known || (cp.Kind == CopyRemote && strings.HasPrefix(cp.Location, r.Location("")))
		}
		if !known {
			copies = append(slices.Clip(copies), Copy{Kind: CopyRemote, Location: r.Location(r.Key(c.Incident, FileName(c.ID))), State: CopyPending,
				Error: "not uploaded yet: the bucket was not one of the agent's when this capture was sealed"})
		}
	}
	return copies
}

// rewriteCopy writes a capture's bytes from the store to cp's place: temp
// file, fsync, rename, fsync folder, then read back.
func (db *DB) rewriteCopy(c Capture, cp Copy) Copy {
	failed := func(err error) Copy {
		cp.State, cp.Error = CopyFailed, "writing it again failed: "+copyError(err)
		return cp
	}
	root := filepath.Dir(filepath.Dir(cp.Location))
	dir, err := privateDir(root, c.Incident)
	if err != nil {
		return failed(err)
	}
	tmp, err := createTemp(dir, FileName(c.ID))
	if err != nil {
		return failed(err)
	}
	if err = db.writeVerified(c, cp.Location, tmp); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return failed(err)
	}
	if err := commitFile(tmp, filepath.Join(dir, FileName(c.ID))); err != nil {
		return failed(err)
	}
	db.sumsMu.Lock()
	db.writeSums(c.Incident, c)
	db.sumsMu.Unlock()
	return checkFile(cp.Kind, filepath.Join(dir, FileName(c.ID)), c.SHA256, db.opts.Now)
}

// rewriteStore writes the store's chunks of a sealed capture again from its
// first verified file copy that still hashes to the capture's SHA-256, then
// reads them back. The file copy is never written from the store here: the
// store is the damaged one.
func (db *DB) rewriteStore(c *Capture, cp Copy) Copy {
	src := ""
	for _, f := range c.Copies {
		if (f.Kind == CopyEvidence || f.Kind == CopyMirror) && f.State == CopyVerified {
			if sum, _, err := hashFile(f.Location); err == nil && sum == c.SHA256 {
				src = f.Location
				break
			}
		}
	}
	if src == "" {
		cp.State, cp.Error = CopyFailed, "no verified file copy to write it again from: 'calm doctor --salvage NEW/calm.db' keeps what can still be read"
		return cp
	}
	var chunks uint64
	err := db.update(func(tx *bolt.Tx) error {
		b, err := incidentBucket(tx, c.Incident)
		if err != nil {
			return err
		}
		all, err := b.CreateBucketIfNotExists(bucketChunks)
		if err != nil {
			return err
		}
		if all.Bucket([]byte(c.ID)) != nil {
			if err := all.DeleteBucket([]byte(c.ID)); err != nil {
				return err
			}
		}
		cb, err := all.CreateBucket([]byte(c.ID))
		if err != nil {
			return err
		}
		chunks, err = rechunk(cb, src) // salvage.go
		return err
	})
	if err != nil {
		cp.State, cp.Error = CopyFailed, "written again from "+src+", and failed: "+err.Error()
		return cp
	}
	c.Chunks = chunks
	readChecks.Range(func(k, _ any) bool { // readcheck.go: the next read checks again
		if k.(readCheckKey).db == db {
			readChecks.Delete(k)
		}
		return true
	})
	out := Copy{Kind: CopyStore, Location: cp.Location, Device: db.storeDevice()}
	sum, _, err := db.hashStored(c.Incident, c.ID)
	switch {
	case err != nil:
		out.State, out.Error = CopyFailed, "written again from "+src+", and cannot be read back: "+err.Error()
	case sum != c.SHA256:
		out.State, out.SHA256, out.Error = CopyMismatch, sum, "written again from "+src+", and reads back as sha256 "+sum
	default:
		out.State, out.SHA256, out.Verified = CopyVerified, sum, db.opts.Now().UTC()
	}
	return out
}

// writeVerified writes a capture's bytes to tmp from the store's copy, or,
// when that no longer hashes to the capture's SHA-256, from the first
// verified file copy other than except that still does.
func (db *DB) writeVerified(c Capture, except string, tmp *os.File) error {
	h := sha256.New()
	err := db.eachChunk(c.Incident, c.ID, func(_ uint64, data []byte) error {
		h.Write(data)
		_, err := tmp.Write(data)
		return err
	})
	if err == nil && hex.EncodeToString(h.Sum(nil)) == c.SHA256 {
		return nil
	}
	if err == nil {
		err = fmt.Errorf("the store's copy no longer matches sha256 %s and no verified file copy does", c.SHA256[:12])
	}
	for _, cp := range c.Copies {
		if (cp.Kind != CopyEvidence && cp.Kind != CopyMirror) || cp.State != CopyVerified || cp.Location == except {
			continue
		}
		if copyFrom(cp.Location, c.SHA256, tmp) == nil {
			return nil
		}
	}
	return err
}

// copyFrom replaces tmp's contents with the file at path, if its bytes hash
// to want.
func copyFrom(path, want string, tmp *os.File) error {
	if err := tmp.Truncate(0); err != nil {
		return err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|noFollow, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(h, tmp), f); err != nil {
		return err
	}
	if hex.EncodeToString(h.Sum(nil)) != want {
		return fmt.Errorf("%s differs from sha256 %s", path, want[:12])
	}
	return nil
}

func (db *DB) recordRepair(c Capture) error {
	_, err := db.changeCapture(c.Incident, c.ID, func(b *bolt.Bucket, cur *Capture) (bool, error) {
		cur.Copies, cur.Chunks = c.Copies, c.Chunks
		_, err := db.addEvent(b, EventCopy, c.ID, fmt.Sprintf("%s copies written again from a verified copy: %s", c.ID, cur.CopiesSummary()))
		return true, err
	})
	return err
}

// repairQuietly is the agent's periodic repair: it logs what it wrote.
func (db *DB) repairQuietly() {
	done, err := db.RepairCopies("")
	if err != nil {
		db.opts.Logf("repair copies: %v", err)
	}
	for _, r := range done {
		db.opts.Logf("%s/%s %s copy %s written again: %s %s", r.Incident, r.Capture, r.Copy.Kind, r.Copy.Location, r.Copy.State, r.Copy.Error)
	}
}
