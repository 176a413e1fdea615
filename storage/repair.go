package storage

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

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

// RepairCopies writes again every file copy (evidence or mirror) of the
// incident's sealed captures ("" for all) that is not verified, from the
// store's copy, and records the result. It returns what it tried.
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
			changed := false
			for i, cp := range c.Copies {
				if (cp.Kind != CopyEvidence && cp.Kind != CopyMirror) || cp.State == CopyVerified || cp.State == CopyPending {
					continue
				}
				c.Copies[i] = db.rewriteCopy(c, cp)
				changed = true
				out = append(out, Repaired{Incident: inc.ID, Capture: c.ID, Copy: c.Copies[i]})
			}
			if changed {
				if err := db.recordRepair(c); err != nil {
					return out, err
				}
			}
		}
	}
	return out, nil
}

// rewriteCopy writes a capture's bytes from the store to cp's place: temp
// file, fsync, rename, fsync folder, then read back.
func (db *DB) rewriteCopy(c Capture, cp Copy) Copy {
	failed := func(err error) Copy {
		cp.State, cp.Error = CopyFailed, "written again from the store, and failed: "+copyError(err)
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
	h := sha256.New()
	err = db.eachChunk(c.Incident, c.ID, func(_ uint64, data []byte) error {
		h.Write(data)
		_, err := tmp.Write(data)
		return err
	})
	if err == nil && hex.EncodeToString(h.Sum(nil)) != c.SHA256 {
		err = fmt.Errorf("the store's copy no longer matches sha256 %s, so it cannot be the source", c.SHA256[:12])
	}
	if err != nil {
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

func (db *DB) recordRepair(c Capture) error {
	return db.update(func(tx *bolt.Tx) error {
		b, err := incidentBucket(tx, c.Incident)
		if err != nil {
			return err
		}
		cur, err := readCapture(b, c.ID)
		if err != nil {
			return err
		}
		cur.Copies = c.Copies
		if err := writeCapture(b, cur); err != nil {
			return err
		}
		_, err = db.addEvent(b, EventCopy, c.ID, fmt.Sprintf("%s copies written again from the store: %s", c.ID, cur.CopiesSummary()))
		return err
	})
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
