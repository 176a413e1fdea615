package storage

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	bolt "go.etcd.io/bbolt"
)

// calm tee writes what it reads to a spool file before it passes it on, and
// stores from the spool at the store's pace: the downstream never waits for
// the store. A tee killed outright leaves its spool behind; the store takes
// from it what the capture lacks before sealing the capture as interrupted,
// so nothing tee passed on is lost.

// SpoolPath is where the writer w of a tee capture keeps its spool: named
// for the store (stores in one folder share its journal folder) and for the
// process, so the store finds it from the capture's writer.
func SpoolPath(storePath string, w *Writer) string {
	return filepath.Join(filepath.Dir(storePath), "journal", fmt.Sprintf("%s%d-%d.spool", spoolPrefix(storePath), w.PID, w.Start))
}

// SpoolWhyPath is where a tee that leaves before sealing its capture (a
// second Ctrl-C) says why, for the agent's seal to say it rather than only
// that the writer ended.
func SpoolWhyPath(spool string) string { return spool + ".why" }

// SpoolWholePath is where a tee that leaves after its input ended, before
// the store finished with it, says how many bytes its spool holds: all it
// read and passed on. A capture the agent then makes whole of them is
// sealed whole, not interrupted.
func SpoolWholePath(spool string) string { return spool + ".whole" }

// WriteSpoolWhole leaves size beside spool, synced: the spool holds every
// byte of its tee's input, size of them.
func WriteSpoolWhole(spool string, size int64) error {
	f, err := os.OpenFile(SpoolWholePath(spool), os.O_WRONLY|os.O_CREATE|os.O_TRUNC|noFollow, 0o600)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "%d\n", size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// spoolWhole reads the size a tee said its whole input was, or -1.
func spoolWhole(spool string) int64 {
	f, err := os.OpenFile(SpoolWholePath(spool), os.O_RDONLY|noFollow, 0)
	if err != nil {
		return -1
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return -1
	}
	b, _ := io.ReadAll(io.LimitReader(f, 32))
	size, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || size < 0 {
		return -1
	}
	return size
}

// SpoolIntentPath is where a tee says, as it starts, what its capture is
// to be: a tee that leaves before the store made its capture (an agent slow
// to answer, a second Ctrl-C at once) leaves its spool to become that
// capture, titled as typed.
func SpoolIntentPath(spool string) string { return spool + ".intent" }

// SpoolIntent is what a tee's capture is to be.
type SpoolIntent struct {
	Title    string `json:"title"`
	Incident string `json:"incident,omitempty"`
	Session  string `json:"session,omitempty"`
}

// WriteSpoolIntent leaves in beside spool. Without it, a capture made from
// the spool gets a title of the store's.
func WriteSpoolIntent(spool string, in SpoolIntent) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(SpoolIntentPath(spool), os.O_WRONLY|os.O_CREATE|os.O_TRUNC|noFollow, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// spoolIntent reads what the tee of spool meant its capture to be.
func spoolIntent(spool string) SpoolIntent {
	var in SpoolIntent
	f, err := os.OpenFile(SpoolIntentPath(spool), os.O_RDONLY|noFollow, 0)
	if err != nil {
		return in
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return in
	}
	b, _ := io.ReadAll(io.LimitReader(f, 64<<10))
	json.Unmarshal(b, &in)
	return in
}

// removeSpool removes a spool and what its tee left beside it.
func removeSpool(spool string) {
	os.Remove(spool)
	os.Remove(SpoolWhyPath(spool))
	os.Remove(SpoolIntentPath(spool))
	os.Remove(SpoolWholePath(spool))
}

// spoolWhy is what the tee of spool said before it left, on one line, or
// "" when it said nothing: the agent seals the capture with it.
func spoolWhy(spool string) string {
	f, err := os.OpenFile(SpoolWhyPath(spool), os.O_RDONLY|noFollow, 0)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return ""
	}
	buf := make([]byte, 512)
	n, _ := io.ReadFull(f, buf)
	line, _, _ := strings.Cut(string(buf[:n]), "\n")
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(line, ""))
}

func spoolPrefix(storePath string) string { return filepath.Base(storePath) + ".tee-" }

// ReadsSpools says the store reads spools itself: PutSpooled.
func (db *DB) ReadsSpools() bool { return true }

// PutSpooled stores chunk n of a tee capture from its writer's spool: the
// size bytes at off.
func (db *DB) PutSpooled(incident, capture string, n uint64, off int64, size int) (uint64, error) {
	if size < 0 || size > MaxChunk {
		return 0, errorf(ErrInvalid, "chunk of %d bytes is over the %d byte limit", size, MaxChunk)
	}
	data := make([]byte, size)
	if err := db.ReadSpooled(incident, capture, off, data); err != nil {
		return 0, err
	}
	return db.putChunk(incident, capture, n, data, false)
}

// ReadSpooled reads into buf the bytes at off of the spool of tee capture
// incident/capture, found by its writer. The spool holds them already: its
// writer says so only once they are written.
func (db *DB) ReadSpooled(incident, capture string, off int64, buf []byte) error {
	c, err := db.Capture(incident + "/" + capture)
	if err != nil {
		return err
	}
	if c.Source != "tee" || c.Writer == nil || off < 0 {
		return errorf(ErrInvalid, "capture %s/%s has no spool to read from: send its bytes", incident, capture)
	}
	path := SpoolPath(db.opts.Path, c.Writer)
	f, err := os.OpenFile(path, os.O_RDONLY|noFollow, 0)
	if err != nil {
		return fmt.Errorf("read capture %s/%s's spool: %w", incident, capture, err)
	}
	defer f.Close()
	if k, err := f.ReadAt(buf, off); k < len(buf) {
		return errorf(ErrInvalid, "read capture %s/%s's spool %s: %d bytes at %d, only %d there (%v)", incident, capture, path, len(buf), off, k, err)
	}
	return nil
}

// adoptSpool stores the part of a dead writer's spool that the capture
// lacks, as chunks after its last one from the start; chunks after a gap
// (never acknowledged to the writer) are dropped first. It reports how many
// bytes it took; no spool takes none.
func (db *DB) adoptSpool(c Capture, spool string) (int64, error) {
	f, err := os.OpenFile(spool, os.O_RDONLY|noFollow, 0)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	// The caller refuses the dead writer's requests from before this (one
	// may still sit unread in the agent's socket); those accepted before
	// finish committing first: a chunk of theirs would otherwise land on
	// top of one taken here, with other boundaries.
	db.WaitCommitted(c.Incident, c.ID, math.MaxUint64)
	db.commitPending()
	cp := db.copierFor(c.Incident, c.ID)
	cp.mu.Lock()
	err = db.catchUp(cp)
	next, size := cp.next, cp.size
	cp.mu.Unlock()
	if err != nil {
		return 0, fmt.Errorf("read capture %s back from the store: %w", c.ID, err)
	}
	if err := db.dropChunksFrom(c.Incident, c.ID, next); err != nil {
		return 0, err
	}
	buf := make([]byte, ChunkSize)
	off := size
	for {
		k, err := f.ReadAt(buf, off)
		if k > 0 {
			if _, perr := db.putChunk(c.Incident, c.ID, next, buf[:k], true); perr != nil {
				return off - size, perr
			}
			next++
			off += int64(k)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return off - size, fmt.Errorf("read spool %s: %w", spool, err)
		}
	}
	db.commitPending()
	if committed, err := db.WaitCommitted(c.Incident, c.ID, next); err != nil || committed < next {
		return off - size, fmt.Errorf("commit what spool %s held (%d of %d chunks): %w", spool, committed, next, err)
	}
	return off - size, nil
}

// dropChunksFrom deletes the capture's chunks numbered from on.
func (db *DB) dropChunksFrom(incident, capture string, from uint64) error {
	keys, err := db.chunkKeys(incident, capture)
	if err != nil {
		return err
	}
	var stray []uint64
	for _, k := range keys {
		if k >= from {
			stray = append(stray, k)
		}
	}
	if len(stray) == 0 {
		return nil
	}
	err = db.update(func(tx *bolt.Tx) error {
		b, err := incidentBucket(tx, incident)
		if err != nil {
			return err
		}
		if cb := b.Bucket(bucketChunks).Bucket([]byte(capture)); cb != nil {
			for _, k := range stray {
				if err := cb.Delete(u64(k)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	db.mu.Lock()
	delete(db.progress, progressKey(incident, capture)) // read again: the stray chunks are gone
	db.mu.Unlock()
	return err
}

// spoolSweepEvery is how often the store looks for spools no capture will
// take.
const spoolSweepEvery = time.Minute

// spoolSettled is how long a gone tee's spool is left alone before the
// store makes a capture of it: a request of the tee's that was on its way
// when it left may still make one.
const spoolSettled = 10 * time.Second

// sweepSpools takes the spools of tees that are gone without a capture of
// theirs (they left before the store made it: an agent slow to answer, a
// second Ctrl-C at once, a kill): what such a spool holds reached the tee's
// downstream, so it becomes a capture, sealed as interrupted; an empty one
// is removed. A spool whose capture exists is its orphan path's to take, or
// kept for a person to look at when taking it failed.
func (db *DB) sweepSpools() {
	prefix := spoolPrefix(db.opts.Path)
	// A tee that said why it left, just as its capture was sealed anyway,
	// leaves the saying without a spool; its intent outlives a spool moved
	// in as its capture's copy.
	for _, ext := range []string{".why", ".intent"} {
		left, _ := filepath.Glob(filepath.Join(filepath.Dir(db.opts.Path), "journal", globEscape(prefix)+"*.spool"+ext))
		for _, p := range left {
			if _, err := os.Lstat(strings.TrimSuffix(p, ext)); errors.Is(err, fs.ErrNotExist) {
				os.Remove(p)
			}
		}
	}
	paths, _ := filepath.Glob(filepath.Join(filepath.Dir(db.opts.Path), "journal", globEscape(prefix)+"*.spool"))
	if len(paths) == 0 {
		return
	}
	host, _ := os.Hostname()
	gone := map[Writer]string{}
	for _, p := range paths {
		w := Writer{Host: host}
		if _, err := fmt.Sscanf(strings.TrimPrefix(filepath.Base(p), prefix), "%d-%d.spool", &w.PID, &w.Start); err != nil || w.Start == 0 {
			continue
		}
		if writerGone(&w) {
			gone[w] = p
		}
	}
	if len(gone) == 0 {
		return
	}
	incidents, err := db.Incidents()
	if err != nil {
		return
	}
	for _, inc := range incidents {
		caps, err := db.Captures(inc.ID)
		if err != nil {
			return
		}
		for _, c := range caps {
			if c.Writer != nil {
				delete(gone, Writer{Host: host, PID: c.Writer.PID, Start: c.Writer.Start})
			}
		}
	}
	for w, p := range gone {
		st, err := os.Lstat(p)
		switch {
		case err != nil || !st.Mode().IsRegular():
		case st.Size() == 0:
			removeSpool(p)
		case time.Since(st.ModTime()) >= spoolSettled:
			db.captureSpool(w, p)
		}
	}
}

// captureSpool makes a capture of what a tee that left before its capture
// was made read and passed on, from its spool p: in the incident it named
// (else the current one), titled as it was typed.
func (db *DB) captureSpool(w Writer, p string) {
	in := spoolIntent(p)
	nc := NewCapture{
		Title: in.Title, Source: "tee", Session: in.Session, Writer: &w,
		Warning: "its tee left before the store had made this capture: it was made from what the tee had read, kept in its spool",
	}
	c, err := db.CreateCapture(in.Incident, nc)
	if err != nil && in.Incident != "" {
		c, err = db.CreateCapture("", nc) // that incident is gone
	}
	if err != nil {
		db.opts.Logf("make a capture of the spool %s, whose tee left before its capture was made: %v; the spool is kept", p, err)
		return
	}
	db.opts.Logf("%s/%s: made from the spool %s, whose tee left before its capture was made", c.Incident, c.ID, p)
	db.sealOrphan(c, "its tee left before its capture was made")
}

// globEscape quotes the characters filepath.Match reads as a pattern.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\\`, r) {
			b.WriteRune('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
