package storage

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// readCheck is where a sealed capture's bytes are read from once checked:
// path "" for the store's chunks, which hash to the capture's SHA-256;
// otherwise the file copy that does. note says so, for the person reading.
type readCheck struct {
	at         time.Time
	path, note string
	err        error
}

// readChecks keeps a check for a moment, so the agent's handler (which
// must say where it reads from before the first byte) and WriteContent do
// not hash the same capture twice.
var readChecks sync.Map // readCheckKey -> readCheck

type readCheckKey struct {
	db       *DB
	ref, sum string
}

const readCheckFor = 2 * time.Second

// checkRead hashes the store's copy of a sealed capture before it is shown
// or exported: a damaged store must not be read as if it were sound. On a
// mismatch it takes the first file copy (evidence, then mirrors) that still
// matches, and says so; with none, it is an error naming what to do.
func (db *DB) checkRead(c Capture) (path, note string, err error) {
	if c.State != CaptureSealed || c.SHA256 == "" {
		return "", "", nil
	}
	key := readCheckKey{db, c.Incident + "/" + c.ID, c.SHA256}
	if v, ok := readChecks.Load(key); ok && time.Since(v.(readCheck).at) < readCheckFor {
		rc := v.(readCheck)
		return rc.path, rc.note, rc.err
	}
	path, note, err = db.checkReadNow(c)
	readChecks.Store(key, readCheck{time.Now(), path, note, err})
	return path, note, err
}

func (db *DB) checkReadNow(c Capture) (path, note string, err error) {
	sum, _, herr := db.hashStored(c.Incident, c.ID)
	if herr == nil && sum == c.SHA256 {
		return "", "", nil
	}
	why, state := "does not match its SHA-256", CopyMismatch
	if herr != nil {
		why, state = "cannot be read ("+herr.Error()+")", CopyFailed
	}
	db.recordStoreDamage(c, state, "found on read: the store's copy "+why)
	for _, cp := range c.Copies {
		if cp.Kind == CopyStore || cp.Location == "" || strings.Contains(cp.Location, "://") {
			continue
		}
		if got, _, err := hashFile(cp.Location); err == nil && got == c.SHA256 {
			return cp.Location, fmt.Sprintf("the store's copy of %s/%s %s: using its verified %s copy %s, which matches (run 'calm verify', then 'calm doctor')", c.Incident, c.ID, why, cp.Kind, cp.Location), nil
		}
	}
	return "", "", fmt.Errorf("%w: the store's copy of %s/%s %s, and no file copy matches it either: run 'calm verify' to see every copy", ErrDamaged, c.Incident, c.ID, why)
}

// ReadNotice checks a capture as WriteContent will read it, and says which
// copy that is when it is not the store's ("" when it is).
func (db *DB) ReadNotice(ref string) (string, error) {
	c, err := db.Capture(ref)
	if err != nil {
		return "", err
	}
	_, note, err := db.checkRead(c)
	return note, err
}

// notice tells a local reader (tests, a UI on the bbolt file) which copy
// was read instead of the store's; the agent says it in a header instead.
func (db *DB) notice(n string) {
	if db.opts.Notice != nil && n != "" {
		db.opts.Notice(n)
	}
}

// writeCopy writes a file copy's bytes from offset from, hashing the whole
// file as it goes: the copy was checked a moment ago, but what is written
// must be what matched, so a copy that changed since ends in an error.
func writeCopy(path string, from int64, want string, w io.Writer) error {
	f, err := os.OpenFile(path, os.O_RDONLY|noFollow, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyN(h, f, from); err != nil && err != io.EOF {
		return err
	}
	if _, err := io.Copy(io.MultiWriter(w, h), f); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); want != "" && got != want {
		return fmt.Errorf("%w: the copy %s changed while it was read (sha256 %s, not %s): run 'calm verify' to see every copy", ErrDamaged, path, got, want)
	}
	return nil
}

// textSound reports whether a session's derived text hashes to what was
// recorded at its derivation; when it does not, show and the viewer use
// the session's output as recorded (itself checked) instead.
func (db *DB) textSound(c Capture) bool {
	if c.Text == nil {
		return false
	}
	key := readCheckKey{db, c.Incident + "/" + textBucketOf(c), c.Text.SHA256}
	if v, ok := readChecks.Load(key); ok && time.Since(v.(readCheck).at) < readCheckFor {
		return v.(readCheck).err == nil
	}
	sum, _, err := db.hashStored(c.Incident, textBucketOf(c))
	if err == nil && sum != c.Text.SHA256 {
		err = ErrDamaged
	}
	readChecks.Store(key, readCheck{at: time.Now(), err: err})
	return err == nil
}

// TextNotice is ReadNotice for WriteText.
func (db *DB) TextNotice(ref string) (string, error) {
	c, err := db.Capture(ref)
	if err != nil || c.Text == nil || db.textSound(c) {
		if err == nil && c.Recording == nil {
			return db.ReadNotice(ref)
		}
		return "", err
	}
	note, err := db.ReadNotice(ref)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(textDamaged(c, "showing")+"; "+note, "; "), nil
}

// textDamaged says a session's derived text is damaged and what is read
// instead (doing: "showing", "searching").
func textDamaged(c Capture, doing string) string {
	return fmt.Sprintf("the store's text of %s/%s does not match its SHA-256: %s the session's output as recorded", c.Incident, c.ID, doing)
}

// recordStoreDamage marks the store's copy of c as state in its record, so
// that `calm status` stops counting it verified once a read found it
// damaged. Best effort: a store that refuses writes keeps its record.
func (db *DB) recordStoreDamage(c Capture, state, why string) {
	_, _ = db.changeCapture(c.Incident, c.ID, func(b *bolt.Bucket, cur *Capture) (bool, error) {
		changed := false
		for i, cp := range cur.Copies {
			if cp.Kind == CopyStore && cp.State == CopyVerified {
				cur.Copies[i].State, cur.Copies[i].Error, changed = state, why, true
			}
		}
		if !changed {
			return false, nil
		}
		_, err := db.addEvent(b, EventVerify, c.ID, fmt.Sprintf("%s: %s; %d of %d copies verified", c.ID, why, cur.VerifiedCopies(), len(cur.Copies)))
		return true, err
	})
}
