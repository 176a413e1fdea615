package storage

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"calm/model"
	"calm/sanitize"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// A destination is one file copy being written: evidence or a mirror.
type destination struct {
	kind, path string
	journal    string // a session's evidence copy is its journal, moved in at seal
	// adopt: a tee's evidence copy is its spool, moved in at seal, as a
	// session's is its journal: tee wrote it from what it read, and the
	// copier reads it back as the store's bytes.
	adopt   bool
	tmp     *os.File
	err     error
	written int64
	// The copy is read back as it is written, not all at once at seal,
	// and compared with the bytes the store holds (whose SHA-256 the seal
	// checks): the reading overlaps the capture instead of delaying its
	// answer. Seal checks the name still leads to this file.
	readOff int64
	readBuf []byte
	differs bool  // what was read back is not what was written
	dropped int64 // the copy's pages before this offset left the cache
}

// cacheWindow is how much of a file calm writes or reads once (a journal,
// a copy read back, a file being hashed) stays in the page cache behind
// where it is written or read.
const cacheWindow = 8 << 20

// DropBehind lets f's pages from *dropped to a window before upTo leave the
// page cache, a window at a time, so that the next reads and writes reuse
// them (upTo: where f has been read, or written back). Fresh memory is dear
// (on a VM each new page can be a fault in the host), and a big capture
// would otherwise push other files out of the cache. Only clean pages are dropped: nothing
// written is at risk.
func DropBehind(f *os.File, dropped *int64, upTo int64) {
	if until := upTo - cacheWindow; until-*dropped >= cacheWindow {
		_ = unix.Fadvise(int(f.Fd()), *dropped, until-*dropped, unix.FADV_DONTNEED)
		*dropped = until
	}
}

// CachedShare is the share of the file at path that is in the page cache
// (mincore(2) on a mapping): what DropBehind and the journal's direct
// writes keep small, and what their tests measure.
func CachedShare(path string) (float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return 0, err
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return 0, fmt.Errorf("map %s: %w", path, err)
	}
	defer unix.Munmap(m)
	pages := make([]byte, (len(m)+os.Getpagesize()-1)/os.Getpagesize())
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&pages[0]))); errno != 0 {
		return 0, fmt.Errorf("mincore %s: %w", path, errno)
	}
	in := 0
	for _, p := range pages {
		in += int(p & 1)
	}
	return float64(in) / float64(len(pages)), nil
}

func (d *destination) Write(p []byte) (int, error) {
	if d.err == nil && d.tmp != nil {
		if _, d.err = d.tmp.Write(p); d.err != nil {
			// Give its space back now (a full disk), not at seal: the
			// copy is written again once there is room.
			d.tmp.Close()
			os.Remove(d.tmp.Name())
			d.tmp = nil
			return len(p), nil
		}
		// Start writing back to disk now, so the fsync at seal finds little
		// left to do; the hint may fail harmlessly on some filesystems.
		_ = unix.SyncFileRange(int(d.tmp.Fd()), d.written, int64(len(p)), unix.SYNC_FILE_RANGE_WRITE)
		d.written += int64(len(p))
	}
	return len(p), nil // one failing copy never stops the others
}

// readBack reads back from the file the bytes just written there, data,
// and compares them.
func (d *destination) readBack(data []byte) error {
	same, err := compareAt(d.tmp, &d.readBuf, &d.readOff, data)
	d.differs = d.differs || !same
	if err != nil {
		return err
	}
	DropBehind(d.tmp, &d.dropped, d.readOff) // a copy is not read again soon
	return nil
}

// compareAt reads len(data) bytes of f at *off into *buf, a MiB at a time,
// moves *off past them, and reports whether they were data.
func compareAt(f *os.File, buf *[]byte, off *int64, data []byte) (same bool, err error) {
	if *buf == nil {
		*buf = make([]byte, 1<<20)
	}
	same = true
	for len(data) > 0 {
		n, err := f.ReadAt((*buf)[:min(len(*buf), len(data))], *off)
		same = same && bytes.Equal((*buf)[:n], data[:n])
		*off += int64(n)
		data = data[n:]
		if err != nil && len(data) > 0 {
			return false, err
		}
	}
	return same, nil
}

// openSpool opens the spool of a tee capture's writer: a private regular
// file of this user's. Otherwise nil.
func openSpool(path string) *os.File {
	f, err := os.OpenFile(path, os.O_RDONLY|noFollow, 0)
	if err != nil {
		return nil
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Mode().Perm()&0o077 != 0 {
		f.Close()
		return nil
	}
	if uid, ok := ownerOf(st); !ok || uid != os.Getuid() {
		f.Close()
		return nil
	}
	return f
}

// sameDevice reports whether f lies on the file system of dir: then it can
// be moved there rather than copied.
func sameDevice(f *os.File, dir string) bool {
	a, err1 := f.Stat()
	b, err2 := os.Stat(dir)
	return err1 == nil && err2 == nil && a.Sys().(*syscall.Stat_t).Dev == b.Sys().(*syscall.Stat_t).Dev
}

// compareSpool reads back from the spool the bytes the store just gave,
// data, and compares them.
func (cp *copier) compareSpool(data []byte) {
	if cp.spoolErr != nil {
		return
	}
	// Writing the spool back to disk starts now, as for a written copy:
	// the fsync at seal finds little left to do.
	_ = unix.SyncFileRange(int(cp.spool.Fd()), cp.spoolOff, int64(len(data)), unix.SYNC_FILE_RANGE_WRITE)
	same, err := compareAt(cp.spool, &cp.spoolBuf, &cp.spoolOff, data)
	cp.spoolDiffers = cp.spoolDiffers || !same
	if err != nil {
		cp.spoolErr = fmt.Errorf("read the spool %s back: %w", cp.spoolPath, err)
	}
}

// spoolMatches says whether the store's bytes, all cp.size of them, are
// the spool's, and the spool holds nothing more.
func (cp *copier) spoolMatches() error {
	switch {
	case cp.spool == nil:
		return fmt.Errorf("its spool %s cannot be read", cp.spoolPath)
	case cp.spoolErr != nil:
		return cp.spoolErr
	case cp.spoolDiffers:
		return fmt.Errorf("the store's bytes differ from its spool %s", cp.spoolPath)
	}
	st, err := cp.spool.Stat()
	if err != nil {
		return err
	}
	if cp.spoolOff != cp.size || st.Size() != cp.size {
		return fmt.Errorf("the store holds %d bytes, its spool %s %d", cp.size, cp.spoolPath, st.Size())
	}
	return nil
}

// takeSpool moves the spool, read back whole as the store's bytes, to
// final and makes that durable. It returns the file's identity for
// checkCommitted.
func (cp *copier) takeSpool(final string) (os.FileInfo, error) {
	if err := cp.spoolMatches(); err != nil {
		return nil, err
	}
	mine, err := cp.spool.Stat()
	if err != nil {
		return nil, err
	}
	if err := cp.spool.Sync(); err != nil {
		return nil, err
	}
	_ = unix.Fadvise(int(cp.spool.Fd()), 0, 0, unix.FADV_DONTNEED) // as commitFile
	if now, err := os.Lstat(cp.spoolPath); err != nil || !os.SameFile(now, mine) {
		return nil, fmt.Errorf("the spool %s was replaced", cp.spoolPath)
	}
	if cp.spoolPath == final {
		return mine, syncDir(filepath.Dir(final)) // moved in before
	}
	if err := os.Rename(cp.spoolPath, final); err != nil {
		return nil, err
	}
	if err := syncDir(filepath.Dir(cp.spoolPath)); err != nil {
		return nil, err
	}
	return mine, syncDir(filepath.Dir(final))
}

// writeFromStore writes the copy from the store's chunks, for a spool that
// could not become it: temp file, fsync, rename, then read back whole.
func (db *DB) writeFromStore(d *destination, incident, capture, want string) Copy {
	failed := func(err error) Copy {
		return Copy{Kind: d.kind, Location: d.path, State: CopyFailed, Error: copyError(err)}
	}
	tmp, err := createTemp(filepath.Dir(d.path), filepath.Base(d.path))
	if err != nil {
		return failed(err)
	}
	err = db.eachChunk(incident, capture, func(_ uint64, data []byte) error {
		_, err := tmp.Write(data)
		return err
	})
	if err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return failed(err)
	}
	if err := commitFile(tmp, d.path); err != nil {
		return failed(err)
	}
	return checkFile(d.kind, d.path, want, db.opts.Now)
}

// copyPath is where a capture's file copy lives under a root folder.
func copyPath(root, incident, capture string) string {
	return filepath.Join(root, incident, FileName(capture))
}

func (db *DB) fileRoots() []destination {
	dests := []destination{{kind: CopyEvidence, path: db.opts.EvidenceDir}}
	for _, m := range db.opts.Mirrors {
		dests = append(dests, destination{kind: CopyMirror, path: m})
	}
	return dests
}

// privateDir makes root/incident with mode 0700 and refuses a symlink planted
// in place of the incident folder.
func privateDir(root, incident string) (string, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", err
	}
	dir := filepath.Join(root, incident)
	if err := os.Mkdir(dir, 0o700); err != nil && !os.IsExist(err) {
		return "", err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%s is not a plain folder (a symlink?): remove it and verify again", dir)
	}
	if uid, ok := ownerOf(fi); ok && uid != os.Getuid() {
		return "", fmt.Errorf("%s belongs to another user (uid %d), who could read or change the copies: remove it and verify again", dir, uid)
	}
	if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// ownerOf is the uid that owns a file.
func ownerOf(fi os.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return -1, false
	}
	return int(st.Uid), true
}

// createTemp opens a new private temp file in dir, never through a symlink.
func createTemp(dir, name string) (*os.File, error) {
	f, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return f, nil
}

// commitFile makes a written temp file durable under its final name.
func commitFile(f *os.File, final string) error {
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	// A kept copy is read again only by a verify, which should read the
	// disk anyway: once it is synced, its pages leave the cache for other
	// files' (and the next copy's) use.
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), final); err != nil {
		os.Remove(f.Name())
		return err
	}
	return syncDir(filepath.Dir(final))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// hashFile reads a file back (never through a symlink) and returns its SHA-256.
func hashFile(path string) (string, int64, error) { return hashFileContext(context.Background(), path) }

// hashFileContext is hashFile until ctx ends.
func hashFileContext(ctx context.Context, path string) (string, int64, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|noFollow, 0)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, 1<<20)
	var n, dropped int64
	for {
		if err := ctx.Err(); err != nil {
			return "", n, err
		}
		k, err := f.Read(buf)
		h.Write(buf[:k])
		n += int64(k)
		DropBehind(f, &dropped, n)
		if err == io.EOF {
			return hex.EncodeToString(h.Sum(nil)), n, nil
		}
		if err != nil {
			return "", n, err
		}
	}
}

func copyError(err error) string {
	s := err.Error()
	if strings.Contains(s, "no space left") {
		return s + ": free space on that disk, then run 'calm verify'"
	}
	return s
}

// copier builds a capture's file copies while its chunks arrive: it reads
// each newly committed chunk back from the store, hashes it (the store copy's
// verification) and appends it to every file copy's temp file, so sealing is
// left with only fsync, rename and the read-back of the files.
type copier struct {
	mu                sync.Mutex
	incident, capture string
	next              uint64 // chunks copied so far
	hash              hash.Hash
	size              int64
	dests             []destination
	closed            bool
	buf               []byte // decoding buffer
	// A tee capture's chunks are compared, as they commit, with its writer's
	// spool, which holds what tee passed on: that checks the store against
	// the writer (a spooling tee sends no SHA-256 of its own), and reads
	// back the evidence copy the spool becomes.
	spool        *os.File
	spoolPath    string
	spoolOff     int64
	spoolDiffers bool
	spoolErr     error
	spoolBuf     []byte
}

func (db *DB) newCopier(incident, capture string) *copier {
	cp := &copier{incident: incident, capture: capture, hash: sha256.New(), dests: db.fileRoots()}
	journal := ""
	if c, err := db.Capture(incident + "/" + capture); err == nil {
		if c.Recording != nil {
			journal = c.Recording.Journal
		}
		if c.Source == "tee" && c.Writer != nil {
			cp.spoolPath = SpoolPath(db.opts.Path, c.Writer)
			cp.spool = openSpool(cp.spoolPath)
			if moved := copyPath(db.opts.EvidenceDir, incident, capture); cp.spool == nil {
				// Moved in already, by an agent killed before it recorded
				// the seal: the evidence copy is the spool.
				if cp.spool = openSpool(moved); cp.spool != nil {
					cp.spoolPath = moved
				}
			}
		}
	}
	for i := range cp.dests {
		d := &cp.dests[i]
		dir, err := privateDir(d.path, incident)
		if err != nil {
			d.path, d.err = copyPath(d.path, incident, capture), err
			continue
		}
		d.path = filepath.Join(dir, FileName(capture))
		removeStaleTemps(dir, FileName(capture))
		if d.kind == CopyEvidence && journal != "" {
			// The recorder wrote this copy already, independently of the
			// store: writing it a second time would only cost the machine.
			d.journal = journal
			continue
		}
		if d.kind == CopyEvidence && cp.spool != nil && sameDevice(cp.spool, dir) {
			d.adopt = true
			continue
		}
		d.tmp, d.err = createTemp(dir, FileName(capture))
	}
	return cp
}

// adoptJournal moves a closed journal into the evidence folder (copying it
// when the two are on different file systems) and makes that durable.
func adoptJournal(journal, final string) error {
	if journal == final {
		return nil
	}
	if _, err := os.Lstat(journal); os.IsNotExist(err) {
		if _, err := os.Lstat(final); err == nil {
			return nil // moved already, by an agent killed before it recorded so; the read-back checks it
		}
	}
	if err := os.Rename(journal, final); err == nil {
		if err := syncDir(filepath.Dir(journal)); err != nil {
			return err
		}
		return syncDir(filepath.Dir(final))
	}
	in, err := os.OpenFile(journal, os.O_RDONLY|noFollow, 0)
	if err != nil {
		return fmt.Errorf("the session's journal: %w", err)
	}
	defer in.Close()
	tmp, err := createTemp(filepath.Dir(final), filepath.Base(final))
	if err != nil {
		return err
	}
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	return commitFile(tmp, final)
}

// removeStaleTemps deletes temp files a killed agent left for this copy.
func removeStaleTemps(dir, name string) {
	old, _ := filepath.Glob(filepath.Join(dir, "."+name+".tmp-*"))
	for _, f := range old {
		os.Remove(f)
	}
}

// catchUp copies every committed chunk not yet copied. The caller holds cp.mu.
func (db *DB) catchUp(cp *copier) error {
	for !cp.closed {
		var found bool
		err := db.view(func(tx *bolt.Tx) error {
			b, err := incidentBucket(tx, cp.incident)
			if err != nil {
				return err
			}
			cb := b.Bucket(bucketChunks).Bucket([]byte(cp.capture))
			if cb == nil {
				return nil
			}
			v := cb.Get(u64(cp.next))
			if v == nil {
				return nil
			}
			found = true
			data, err := decodeChunk(cp.next, &cp.buf, v)
			if err != nil {
				return fmt.Errorf("capture %s chunk %d: %w", cp.capture, cp.next, err)
			}
			cp.hash.Write(data)
			cp.size += int64(len(data))
			if cp.spool != nil {
				cp.compareSpool(data)
			}
			for i := range cp.dests {
				d := &cp.dests[i]
				d.Write(data)
				if d.err == nil && d.tmp != nil {
					if err := d.readBack(data); err != nil {
						d.err = fmt.Errorf("read the copy back: %w", err)
					}
				}
			}
			return nil
		})
		if err != nil || !found {
			return err
		}
		cp.next++
	}
	return nil
}

// discard throws a copier's temp files away. The caller holds cp.mu.
func (cp *copier) discard() {
	cp.closed = true
	if cp.spool != nil {
		cp.spool.Close() // tee's, never the copier's to remove
	}
	for _, d := range cp.dests {
		if d.journal != "" {
			continue // the recorder's file, never the copier's to remove
		}
		if d.tmp != nil {
			d.tmp.Close()
			os.Remove(d.tmp.Name())
		}
	}
}

// copierFor returns the capture's copier, making one if need be.
func (db *DB) copierFor(incident, capture string) *copier {
	db.mu.Lock()
	defer db.mu.Unlock()
	key := progressKey(incident, capture)
	cp := db.copiers[key]
	if cp == nil {
		cp = db.newCopier(incident, capture)
		db.copiers[key] = cp
	}
	return cp
}

func (db *DB) dropCopier(cp *copier) {
	db.mu.Lock()
	if db.copiers[progressKey(cp.incident, cp.capture)] == cp {
		delete(db.copiers, progressKey(cp.incident, cp.capture))
	}
	db.mu.Unlock()
}

// copyLoop catches copiers up after each commit, beside the committer.
func (db *DB) copyLoop() {
	for key := range db.copyQueue {
		if db.following(key) {
			continue // its follower copies on its own idle thread
		}
		cp := db.openCopier(key)
		if cp == nil {
			continue // sealed meanwhile: its copies are done
		}
		cp.mu.Lock()
		_ = db.catchUp(cp) // a failure here shows again, and counts, at seal
		cp.mu.Unlock()
	}
}

// openCopier returns the copier of a capture still being written, or nil
// once it is sealed. (A commit's notice can arrive after the seal; making a
// copier then would copy the whole capture again, for nothing.)
func (db *DB) openCopier(key string) *copier {
	db.mu.Lock()
	defer db.mu.Unlock()
	cp := db.copiers[key]
	if cp == nil && db.progress[key] != nil {
		inc, capture := SplitRef(key)
		cp = db.newCopier(inc, capture)
		db.copiers[key] = cp
	}
	return cp
}

// SealCapture checks every chunk against what the client computed, finishes
// the file copies, reads each back, and records the result.
func (db *DB) SealCapture(incident, capture string, s Seal) (Capture, error) {
	inc, err := db.Incident(incident)
	if err != nil {
		return Capture{}, err
	}
	incident = inc.ID
	db.commitPending()
	c, err := db.Capture(incident + "/" + capture)
	if err != nil {
		return c, err
	}
	if c.State == CaptureSealed {
		if c.SHA256 == s.SHA256 && c.Size == s.Size {
			return c, nil
		}
		return c, errorf(ErrConflict, "capture %s is already sealed with sha256 %s", capture, c.SHA256)
	}
	keys, err := db.chunkKeys(incident, capture)
	if err != nil {
		return c, err
	}
	for i, k := range keys {
		if uint64(i) != k {
			return c, errorf(ErrConflict, "capture %s misses chunk %d: send it again", capture, i)
		}
	}
	if uint64(len(keys)) != s.Chunks {
		return c, errorf(ErrConflict, "capture %s has %d chunks, the client sent %d: send the missing ones again", capture, len(keys), s.Chunks)
	}

	cp := db.copierFor(incident, capture)
	cp.mu.Lock()
	defer cp.mu.Unlock()
	defer db.dropCopier(cp)
	err = db.catchUp(cp)
	storeSum := hex.EncodeToString(cp.hash.Sum(nil))
	if s.SHA256 == "" && err == nil && cp.size == s.Size {
		// A spooling tee's seal: the store's bytes must be its spool's.
		if err := cp.spoolMatches(); err != nil {
			cp.discard()
			return c, errorf(ErrConflict, "capture %s: %v", capture, err)
		}
		s.SHA256 = storeSum
	}
	if err != nil || cp.next != s.Chunks || storeSum != s.SHA256 || cp.size != s.Size {
		cp.discard()
		if err != nil {
			return c, fmt.Errorf("read capture %s back from the store: %w", capture, err)
		}
		return c, errorf(ErrConflict, "capture %s: the store holds %d bytes with sha256 %s, the client sent %d bytes with %s", capture, cp.size, storeSum, s.Size, s.SHA256)
	}
	cp.closed = true
	return db.finishSeal(c, cp, storeSum, s.Chunks, s.Interrupted, nil)
}

// SealInterrupted seals what the store has committed of a capture whose
// writer is gone (killed, or a second Ctrl-C): the chunks from the start up to
// the first one missing, hashed by the store and copied like any other. A
// capture already sealed is returned as it is.
func (db *DB) SealInterrupted(incident, capture, reason string) (Capture, error) {
	return db.sealTaken(incident, capture, reason, -1)
}

// sealTaken is SealInterrupted, but for a capture whose writer said, before
// it left, that its whole input was whole bytes (-1: it did not): holding
// exactly that many, it is sealed whole, the reason only logged.
func (db *DB) sealTaken(incident, capture, reason string, whole int64) (Capture, error) {
	// The writer's last chunks may be answered but not committed yet (in an
	// encoder, or waiting for one): they commit first, so that none lands
	// after the seal, past what it hashed.
	for deadline := time.Now().Add(time.Minute); db.answeredUncommitted(incident, capture) && !db.stopping() && time.Now().Before(deadline); {
		if _, err := db.WaitCommitted(incident, capture, math.MaxUint64); err != nil {
			time.Sleep(10 * time.Millisecond) // an error answers at once: no spinning
		}
	}
	db.commitPending()
	c, err := db.Capture(incident + "/" + capture)
	if err != nil || c.State == CaptureSealed {
		return c, err
	}
	if c.Recording != nil && c.Recording.Journal != "" {
		return c, errorf(ErrInvalid, "%s/%s is sealed from its journal", incident, capture)
	}
	cp := db.copierFor(c.Incident, capture)
	cp.mu.Lock()
	defer cp.mu.Unlock()
	defer db.dropCopier(cp)
	if err := db.catchUp(cp); err != nil {
		cp.discard()
		return c, fmt.Errorf("read capture %s back from the store: %w", capture, err)
	}
	keys, err := db.chunkKeys(c.Incident, capture)
	if err != nil {
		cp.discard()
		return c, err
	}
	var stray []uint64 // after a gap: never part of what the writer saw stored
	for _, k := range keys {
		if k >= cp.next {
			stray = append(stray, k)
		}
	}
	cp.closed = true
	if whole >= 0 && cp.size == whole && len(stray) == 0 {
		db.opts.Logf("sealing %s/%s whole for its writer, which left after its input ended (%s): %d bytes in %d chunks", c.Incident, capture, reason, cp.size, cp.next)
		reason = ""
	} else {
		db.opts.Logf("sealing %s/%s as interrupted (%s): %d bytes in %d chunks", c.Incident, capture, reason, cp.size, cp.next)
	}
	return db.finishSeal(c, cp, hex.EncodeToString(cp.hash.Sum(nil)), cp.next, reason, stray)
}

// answeredUncommitted reports whether a chunk of the capture was accepted and
// is not committed yet.
func (db *DB) answeredUncommitted(incident, capture string) bool {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.pendingCount[progressKey(incident, capture)] > 0
}

// finishSeal finishes the copies of a capture whose bytes the copier holds,
// reads each back, and records the capture sealed (interrupted, when a reason
// is given). stray chunks, past what is sealed, are deleted. The caller holds
// cp.mu.
func (db *DB) finishSeal(c Capture, cp *copier, storeSum string, chunks uint64, interrupted string, stray []uint64) (Capture, error) {
	incident, capture := c.Incident, c.ID
	s := Seal{Chunks: chunks, Size: cp.size, SHA256: storeSum}
	now := db.opts.Now().UTC()
	copies := make([]Copy, 1+len(cp.dests))
	copies[0] = Copy{Kind: CopyStore, Location: db.opts.Path, State: CopyVerified, SHA256: storeSum, Verified: now, Device: db.storeDevice()}
	if cp.spool != nil {
		defer cp.spool.Close()
	}
	var wg sync.WaitGroup
	for i := range cp.dests {
		wg.Add(1)
		go func(d *destination, out *Copy) {
			defer wg.Done()
			*out = Copy{Kind: d.kind, Location: d.path}
			if d.journal != "" {
				d.err = adoptJournal(d.journal, d.path)
			} else if d.adopt {
				mine, err := cp.takeSpool(d.path)
				if err == nil {
					d.readOff = cp.spoolOff
					*out = d.checkCommitted(mine, s.SHA256, db.opts.Now)
					return
				}
				db.opts.Logf("%s/%s: its spool does not become its %s copy (%v): writing that from the store", incident, capture, d.kind, err)
				*out = db.writeFromStore(d, incident, capture, s.SHA256)
				return
			} else if d.err == nil {
				var mine os.FileInfo
				if mine, d.err = d.tmp.Stat(); d.err == nil {
					d.err = commitFile(d.tmp, d.path)
				}
				if d.err == nil {
					*out = d.checkCommitted(mine, s.SHA256, db.opts.Now)
					return
				}
			} else if d.tmp != nil {
				d.tmp.Close()
				os.Remove(d.tmp.Name())
			}
			if d.err != nil {
				out.State, out.Error = CopyFailed, copyError(d.err)
				return
			}
			*out = checkFile(d.kind, d.path, s.SHA256, db.opts.Now)
		}(&cp.dests[i], &copies[i+1])
	}
	wg.Wait()
	for _, d := range cp.dests {
		if d.journal != "" && d.err == nil && c.Recording != nil {
			c.Recording.Journal = d.path // moved into the evidence folder
		}
	}

	// Remote copies are made in the background: the network never holds up
	// the responder. They show as pending until uploaded and read back.
	for _, r := range db.opts.Remotes {
		copies = append(copies, Copy{Kind: CopyRemote, Location: r.Location(r.Key(incident, FileName(capture))), State: CopyPending})
	}
	c.State, c.Size, c.Chunks, c.SHA256, c.Sealed, c.Copies = CaptureSealed, cp.size, s.Chunks, storeSum, now, copies
	c.Interrupted = interrupted
	// SHA256SUMS names the capture before its record says sealed: whoever
	// sees it sealed (a verify, a viewer) finds the manifest already right,
	// and an agent killed in between seals it again on its next start.
	db.sumsMu.Lock()
	defer db.sumsMu.Unlock()
	db.writeSums(incident, c)
	err := db.update(func(tx *bolt.Tx) error {
		b, err := incidentBucket(tx, incident)
		if err != nil {
			return err
		}
		if err := writeCapture(b, c); err != nil {
			return err
		}
		if cb := b.Bucket(bucketChunks).Bucket([]byte(capture)); cb != nil {
			for _, k := range stray {
				if err := cb.Delete(u64(k)); err != nil {
					return err
				}
			}
		}
		what := "saved"
		if interrupted != "" {
			what = "INTERRUPTED: " + interrupted + "; saved what it had"
		}
		_, err = db.addEvent(b, EventCapture, capture, fmt.Sprintf("%s %s: %q, %d bytes, sha256 %s, %s",
			capture, what, sanitize.Text([]byte(c.Title)), c.Size, storeSum[:12], c.CopiesSummary())) // a title typed with $'\e[7m' reads as its text
		return err
	})
	if err != nil {
		return c, fmt.Errorf("record capture %s: %w", capture, err)
	}
	db.mu.Lock()
	delete(db.progress, progressKey(incident, capture))
	delete(db.stoppedBy, progressKey(incident, capture))
	db.mu.Unlock()
	db.kickRemotes()
	db.kickLines()
	return c, nil
}

// checkCommitted finishes the read-back of a copy written and renamed into
// place: the bytes read back as they were written hash to want, and the
// name leads to that same file, at that length.
func (d *destination) checkCommitted(mine os.FileInfo, want string, now func() time.Time) Copy {
	cp := Copy{Kind: d.kind, Location: d.path, Device: deviceOf(d.path)}
	st, err := os.Lstat(d.path)
	switch {
	case os.IsNotExist(err):
		cp.State, cp.Error = CopyMissing, "the file is gone"
		return cp
	case err != nil:
		cp.State, cp.Error = CopyFailed, copyError(err)
		return cp
	}
	if !os.SameFile(st, mine) || st.Size() != d.readOff || d.differs {
		// Replaced meanwhile, or it read back other bytes: read it whole,
		// to say what it holds.
		return checkFile(d.kind, d.path, want, now)
	}
	// Every byte read back is the store's: its SHA-256 is the store's.
	cp.State, cp.SHA256, cp.Verified = CopyVerified, want, now().UTC()
	return cp
}

// deviceOf names the file system that holds path ("dev:MAJOR:MINOR"), or ""
// when it cannot be read.
func deviceOf(path string) string {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return ""
	}
	return fmt.Sprintf("dev:%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev))
}

// storeDevice names the file system that holds the store's open file,
// which its path may no longer lead to (deleted or replaced while open).
func (db *DB) storeDevice() string {
	if db.opened != nil {
		if st, ok := db.opened.Sys().(*syscall.Stat_t); ok {
			dev := uint64(st.Dev)
			return fmt.Sprintf("dev:%d:%d", unix.Major(dev), unix.Minor(dev))
		}
	}
	return deviceOf(db.opts.Path)
}

// checkFile reads a file copy back and compares it with the expected hash.
func checkFile(kind, path, want string, now func() time.Time) Copy {
	return checkFileContext(context.Background(), kind, path, want, now)
}

// checkFileContext is checkFile until ctx ends; the copy it returns then
// says nothing of the file (the caller drops it).
func checkFileContext(ctx context.Context, kind, path, want string, now func() time.Time) Copy {
	cp := Copy{Kind: kind, Location: path, Device: deviceOf(path)}
	sum, _, err := hashFileContext(ctx, path)
	switch {
	case os.IsNotExist(err):
		cp.State, cp.Error = CopyMissing, "the file is gone"
	case err != nil:
		cp.State, cp.Error = CopyFailed, copyError(err)
	case sum != want:
		cp.State, cp.SHA256, cp.Error = CopyMismatch, sum, "sha256 "+sum+" differs from "+want
	default:
		cp.State, cp.SHA256, cp.Verified = CopyVerified, sum, now().UTC()
	}
	return cp
}

// writeSums rewrites SHA256SUMS in every copy folder of an incident from the
// sealed capture records and the one being sealed, so that
// `sha256sum -c SHA256SUMS` checks them. The caller holds db.sumsMu until the
// sealing's record is committed, so that two seals never drop each other's line.
func (db *DB) writeSums(incident string, sealing Capture) {
	caps, err := db.Captures(incident)
	if err != nil {
		return
	}
	var sb strings.Builder
	for _, c := range caps {
		if c.ID == sealing.ID {
			c = sealing
		}
		if c.State == CaptureSealed {
			fmt.Fprintf(&sb, "%s  %s\n", c.SHA256, FileName(c.ID))
		}
	}
	for _, d := range db.fileRoots() {
		dir, err := privateDir(d.path, incident)
		if err != nil {
			continue
		}
		if sealing.State == CaptureSealed {
			if err := writeMeta(dir, sealing, false); err != nil { // meta.go
				db.opts.Logf("the record of %s/%s beside its copy in %s: %v", incident, sealing.ID, dir, err)
			}
		}
		f, err := createTemp(dir, "SHA256SUMS")
		if err != nil {
			continue
		}
		if _, err := f.WriteString(sb.String()); err != nil {
			f.Close()
			os.Remove(f.Name())
			continue
		}
		_ = commitFile(f, filepath.Join(dir, "SHA256SUMS"))
	}
}

// hashStored hashes the store's own copy of a capture.
func (db *DB) hashStored(incident, capture string) (string, int64, error) {
	return db.hashStoredContext(context.Background(), incident, capture)
}

// hashStoredContext is hashStored until ctx ends.
func (db *DB) hashStoredContext(ctx context.Context, incident, capture string) (string, int64, error) {
	h := sha256.New()
	var size int64
	err := db.eachChunkToHash(incident, capture, func(_ uint64, data []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		h.Write(data)
		size += int64(len(data))
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)), size, err
}

// WriteContent writes a capture's committed bytes in order, from byte offset
// from. Chunks wholly before it are skipped without being decoded.
func (db *DB) WriteContent(ctx context.Context, ref string, from int64, w io.Writer) error {
	c, err := db.Capture(ref)
	if err != nil {
		return err
	}
	return db.readContent(ctx, c, from, w, db.notice)
}

// readContent is WriteContent on a capture's record; notice hears which
// copy is read when the store's is damaged.
func (db *DB) readContent(ctx context.Context, c Capture, from int64, w io.Writer, notice func(string)) error {
	w = untilDone{ctx, w}
	if path, note, err := db.checkRead(c); err != nil { // readcheck.go
		return err
	} else if path != "" {
		notice(note)
		return writeCopy(path, from, c.SHA256, w)
	}
	var pos int64
	return db.eachChunkFrom(c.Incident, c.ID, func(size int64) bool {
		skip := pos+size <= from
		if skip {
			pos += size
		}
		return skip
	}, false, func(_ uint64, data []byte) error {
		start := max(from-pos, 0)
		pos += int64(len(data))
		_, err := w.Write(data[start:])
		return err
	})
}

// Verify reads back and hashes every copy of every sealed capture, until
// ctx is done: the agent stops reading copies back for a client that has
// hung up.
func (db *DB) Verify(ctx context.Context, incident string) (VerifyReport, error) {
	var rep VerifyReport
	incidents, err := db.incidentsFor(incident)
	if err != nil {
		return rep, err
	}
	var devices DeviceCount
	var sealed []Capture
	unread := map[string]*bucketCopies{} // s3://bucket -> its copies, the agent not having the bucket
	for _, inc := range incidents {
		caps, err := db.Captures(inc.ID)
		if err != nil {
			return rep, err
		}
		for _, c := range caps {
			if err := ctx.Err(); err != nil {
				return rep, err
			}
			if c.State != CaptureSealed {
				if c.Recording != nil && c.Recording.JournalSize == 0 && db.following(progressKey(inc.ID, c.ID)) && db.recorderAlive(c.Recording) {
					rep.Recording = append(rep.Recording, inc.ID+"/"+c.ID)
					continue
				}
				ref, now := inc.ID+"/"+c.ID, db.WithWaiting(c)
				switch {
				case now.Waiting != "":
					rep.Unsealed = append(rep.Unsealed, ref+": "+now.Waiting)
				case now.Streaming:
					rep.Streaming = append(rep.Streaming, ref)
				default:
					rep.Unsealed = append(rep.Unsealed, ref)
				}
				continue
			}
			if c.Partial() {
				rep.Interrupted = append(rep.Interrupted, inc.ID+"/"+c.ID+": "+c.Interrupted)
			}
			rep.Captures++
			c.Copies = db.withMirrors(c) // repair.go
			checked := db.verifyCapture(ctx, c)
			if err := ctx.Err(); err != nil {
				return rep, err // its copies half read: nothing is recorded
			}
			// A bucket this agent has not (not configured now, or its
			// endpoint invalid): its objects are not read back, so they
			// count for nothing here; a copy never uploaded there is
			// dropped (a bucket configured again gets it back, pending).
			c.Copies = checked[:0:0]
			for _, cp := range checked {
				if db.unread(cp) {
					b := bucketOf(cp.Location)
					if unread[b] == nil {
						unread[b] = &bucketCopies{}
					}
					if cp.State == CopyPending {
						unread[b].dropped++
						continue
					}
					unread[b].kept++
				}
				c.Copies = append(c.Copies, cp)
			}
			sealed = append(sealed, c)
			for _, cp := range c.Copies {
				if db.unread(cp) {
					continue
				}
				devices.Add(cp)
				rep.Copies++
				if cp.State == CopyPending {
					rep.Pending++
					if why := cp.Error; why != "" && len(rep.PendingWhy) < 3 && !slices.Contains(rep.PendingWhy, why) {
						rep.PendingWhy = append(rep.PendingWhy, why)
					}
					continue
				}
				if cp.State != CopyVerified {
					rep.Problems = append(rep.Problems, Problem{Incident: inc.ID, Capture: c.ID, Copy: cp})
				}
			}
			written, err := db.recordVerify(c)
			if err != nil {
				// A full disk must not keep the person from knowing
				// whether their copies hold: the rest is read back.
				rep.NotRecorded = cmp.Or(rep.NotRecorded, err.Error())
			}
			if written {
				checkMeta(c, &rep) // meta.go
			}
		}
		if err := db.checkSums(inc.ID, caps, &rep); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				return rep, err
			}
			rep.NotRecorded = cmp.Or(rep.NotRecorded, err.Error())
		}
		if err := db.checkTimeline(inc.ID, &rep); err != nil { // evidence_check.go
			if !errors.Is(err, syscall.ENOSPC) {
				return rep, err
			}
			rep.NotRecorded = cmp.Or(rep.NotRecorded, err.Error())
		}
	}
	rep.Devices = devices.Len()
	rep.Forgotten = forgottenMirrors(sealed, db.opts.Mirrors)
	for _, b := range slices.Sorted(maps.Keys(unread)) {
		var what []string
		if n := unread[b].kept; n > 0 {
			verb := "were"
			if n == 1 {
				verb = "was"
			}
			what = append(what, fmt.Sprintf("%s uploaded there before %s not read back", model.Plural(n, "copy"), verb))
		}
		if n := unread[b].dropped; n > 0 {
			what = append(what, fmt.Sprintf("%s never uploaded there will not be", model.Plural(n, "copy")))
		}
		rep.Forgotten = append(rep.Forgotten, fmt.Sprintf("%s is not one of the agent's buckets now (not configured, or its endpoint not valid), so %s: they count for nothing here", b, strings.Join(what, ", and ")))
	}
	db.kickRemotes() // a bucket added later: its pending copies
	return rep, nil
}

// incidentsFor resolves an incident reference, "" meaning every incident.
func (db *DB) incidentsFor(ref string) ([]Incident, error) {
	if ref == "" {
		return db.Incidents()
	}
	inc, err := db.Incident(ref)
	if err != nil {
		return nil, err
	}
	return []Incident{inc}, nil
}

func (db *DB) verifyCapture(ctx context.Context, c Capture) []Copy {
	out := make([]Copy, len(c.Copies))
	var wg sync.WaitGroup
	for i, cp := range c.Copies {
		wg.Add(1)
		go func(i int, cp Copy) {
			defer wg.Done()
			if cp.Kind == CopyRemote {
				r, key := db.remoteFor(cp.Location)
				if r == nil {
					out[i] = cp // a bucket no longer configured: left as it was
					return
				}
				if cp.State == CopyPending {
					out[i] = cp // not uploaded yet: the uploader's job
					return
				}
				out[i] = checkRemoteContext(ctx, r, key, c.SHA256, db.opts.Now)
				return
			}
			if cp.Kind != CopyStore {
				out[i] = checkFileContext(ctx, cp.Kind, cp.Location, c.SHA256, db.opts.Now)
				if out[i].State == CopyMissing && cp.State == CopyMissing && cp.Verified.IsZero() && cp.Error != "" {
					out[i].Error = cp.Error // never written, rather than gone
				}
				return
			}
			out[i] = Copy{Kind: CopyStore, Location: cp.Location, Device: db.storeDevice()}
			sum, _, err := db.hashStoredContext(ctx, c.Incident, c.ID)
			switch {
			case err != nil:
				out[i].State, out[i].Error = CopyFailed, err.Error()
			case sum != c.SHA256:
				out[i].State, out[i].SHA256, out[i].Error = CopyMismatch, sum, "sha256 "+sum+" differs from "+c.SHA256
			default:
				out[i].State, out[i].SHA256, out[i].Verified = CopyVerified, sum, db.opts.Now().UTC()
			}
		}(i, cp)
	}
	wg.Wait()
	return out
}

// recordVerify writes a verify's results into the capture's record, unless
// the capture moved meanwhile (calm move): its record would come back in the
// old incident. It reports whether it wrote.
func (db *DB) recordVerify(c Capture) (written bool, err error) {
	err = db.update(func(tx *bolt.Tx) error {
		b, err := incidentBucket(tx, c.Incident)
		if err != nil {
			return err
		}
		if _, err := readCapture(b, c.ID); errors.Is(err, ErrNotFound) {
			return nil
		}
		written = true
		if err := writeCapture(b, c); err != nil {
			return err
		}
		read, match := 0, 0
		for _, cp := range c.Copies {
			if db.unread(cp) {
				continue // not read back: a bucket the agent has not
			}
			read++
			if cp.State == CopyVerified {
				match++
			}
		}
		_, err = db.addEvent(b, EventVerify, c.ID, fmt.Sprintf("%s verified: %d of %d copies match", c.ID, match, read))
		return err
	})
	return written && err == nil, err
}

// checkSums makes sure each copy folder's SHA256SUMS names the right hash for
// every capture it holds, since that is what a person checks by hand.
func (db *DB) checkSums(incident string, caps []Capture, rep *VerifyReport) error {
	want := map[string]string{}
	for _, c := range caps {
		if c.State == CaptureSealed {
			want[FileName(c.ID)] = c.SHA256
		}
	}
	if len(want) == 0 {
		return nil
	}
	for _, d := range db.fileRoots() {
		path := filepath.Join(d.path, incident, "SHA256SUMS")
		data, err := os.ReadFile(path)
		bad, state := "", CopyMismatch
		if os.IsNotExist(err) {
			bad, state = "the folder has none", CopyMissing
		} else if err != nil {
			bad, state = "cannot be read: "+copyError(err), CopyFailed
		} else {
			got := map[string]string{}
			for _, line := range strings.Split(string(data), "\n") {
				if sum, name, ok := strings.Cut(line, "  "); ok {
					got[name] = sum
				}
			}
			for name, sum := range want {
				if got[name] != sum {
					bad = "its line for " + name + " is wrong or missing"
					break
				}
			}
			for _, name := range slices.Sorted(maps.Keys(got)) {
				if _, held := want[name]; !held && bad == "" {
					bad = "it has a line for " + name + ", which the incident does not hold: sha256sum -c fails on it"
				}
			}
		}
		if bad != "" {
			rep.Manifests = append(rep.Manifests, Problem{Incident: incident, Capture: "SHA256SUMS",
				Copy: Copy{Kind: d.kind, Location: path, State: state, Error: bad}})
		}
	}
	return nil
}

// untilDone is a writer that fails once ctx is done: a read stops between
// two writes when its reader has gone.
type untilDone struct {
	ctx context.Context
	w   io.Writer
}

func (u untilDone) Write(p []byte) (int, error) {
	if err := u.ctx.Err(); err != nil {
		return 0, err
	}
	return u.w.Write(p)
}

// unread reports a copy in a bucket the agent has not (not configured now,
// or its endpoint not valid): a verify cannot read it back.
func (db *DB) unread(cp Copy) bool {
	if cp.Kind != CopyRemote {
		return false
	}
	r, _ := db.remoteFor(cp.Location)
	return r == nil
}

// bucketCopies counts a bucket's copies a verify could not read back:
// kept (uploaded before), dropped (never uploaded).
type bucketCopies struct{ kept, dropped int }

// bucketOf is the s3://bucket of an object's location.
func bucketOf(location string) string {
	rest, _ := strings.CutPrefix(location, "s3://")
	b, _, _ := strings.Cut(rest, "/")
	return "s3://" + b
}

// forgottenMirrors names the mirror folders some captures were copied to
// that this agent does not copy to (a --mirror flag lasts as long as the
// agent it started), each with the captures that have no copy there.
func forgottenMirrors(caps []Capture, mirrors []string) []string {
	configured := map[string]bool{}
	for _, m := range mirrors {
		configured[filepath.Clean(m)] = true
	}
	has := map[string]map[string]bool{} // root -> the captures with a copy there
	for _, c := range caps {
		for _, cp := range c.Copies {
			if root := filepath.Dir(filepath.Dir(filepath.Clean(cp.Location))); cp.Kind == CopyMirror && !configured[root] {
				if has[root] == nil {
					has[root] = map[string]bool{}
				}
				has[root][c.Incident+"/"+c.ID] = true
			}
		}
	}
	var said []string
	for _, root := range slices.Sorted(maps.Keys(has)) {
		var lacking []string
		for _, c := range caps {
			if ref := c.Incident + "/" + c.ID; !has[root][ref] {
				lacking = append(lacking, ref)
			}
		}
		if len(lacking) > 0 {
			shown := strings.Join(lacking[:min(len(lacking), 5)], ", ")
			if len(lacking) > 5 {
				shown += fmt.Sprintf(" and %d more", len(lacking)-5)
			}
			lack := "have"
			if len(lacking) == 1 {
				lack = "has"
			}
			said = append(said, fmt.Sprintf("%s holds copies of %s, but the agent does not copy to it now (a --mirror flag lasts only as long as the agent it started): %s %s none there", root, model.Plural(len(has[root]), "capture"), shown, lack))
		}
	}
	return said
}
