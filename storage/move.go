package storage

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A move makes every copy again under the new incident before it forgets
// any under the old one: file copies are hard-linked (or written again from
// the store where a link cannot be made), S3 objects copied on the server
// (or uploaded again), and each is read back there. Only then does one
// transaction move the record, and only after it has committed are the old
// names removed. A copy that cannot be made again undoes the new ones and
// leaves the capture where it was, whole; a move cut short by a crash leaves
// at most stray new names (the capture is whole in the old incident) or
// stray old ones (it is whole in the new).

// moveTimeout bounds the S3 requests of one move.
const moveTimeout = 10 * time.Minute

// MoveCapture moves a sealed capture or session into another incident,
// where it takes the next free ID: its record, its chunks, its derived
// text, its file copies and its S3 objects go along, both incidents'
// SHA256SUMS are written again, and both timelines say so.
func (db *DB) MoveCapture(ref, toIncident string) (Capture, error) {
	// No upload changes a remote copy while it moves, and none starts
	// under the old name once it has gone.
	db.remoteMu.Lock()
	defer db.remoteMu.Unlock()
	old, moved, err := db.reserveMove(ref, toIncident)
	if err != nil {
		return Capture{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), moveTimeout)
	defer cancel()
	var made []func() // undoes each new copy
	undo := func() {
		for _, f := range made {
			f()
		}
		db.releaseID(moved)
	}
	for i, cp := range old.Copies {
		var err error
		switch cp.Kind {
		case CopyStore: // goes with the record
		case CopyEvidence, CopyMirror:
			moved.Copies[i], err = db.fileAgain(old, cp, copyPath(filepath.Dir(filepath.Dir(cp.Location)), moved.Incident, moved.ID))
			if err == nil {
				path := moved.Copies[i].Location
				made = append(made, func() { os.Remove(path); syncDir(filepath.Dir(path)) })
			}
		case CopyRemote:
			var r Remote
			var key string
			moved.Copies[i], r, key, err = db.remoteAgain(ctx, old, cp, moved)
			if err == nil && r != nil {
				made = append(made, func() { r.Remove(ctx, key) })
			}
		default:
			err = fmt.Errorf("%s copy %s cannot be moved: export it to the other incident instead", cp.Kind, cp.Location)
		}
		if err != nil {
			undo()
			return Capture{}, fmt.Errorf("%s/%s stays where it was, whole: %w", old.Incident, old.ID, err)
		}
	}
	if moved.Recording != nil {
		for i, cp := range old.Copies {
			if cp.Location == moved.Recording.Journal {
				moved.Recording.Journal = moved.Copies[i].Location // the journal was kept as the evidence copy
			}
		}
	}

	db.sumsMu.Lock() // no seal rewrites either SHA256SUMS meanwhile
	defer db.sumsMu.Unlock()
	if err := db.commitMove(old, moved); err != nil {
		undo()
		return Capture{}, fmt.Errorf("%s/%s stays where it was, whole: %w", old.Incident, old.ID, err)
	}
	db.forgetOld(ctx, old, moved)
	db.writeSums(old.Incident, Capture{})
	db.writeSums(moved.Incident, moved)
	db.kickRemotes() // a pending S3 copy is uploaded under its new name
	db.kickLines()   // search lines being derived under the old name are derived again
	return moved, nil
}

// reserveMove checks that ref can move to toIncident and takes the next
// ID there for it, so that its new copies have their names before its
// record moves. moved is the capture as it will be, its copies still the
// old ones.
func (db *DB) reserveMove(ref, toIncident string) (old, moved Capture, err error) {
	fromIncident, item := SplitRef(ref)
	err = db.update(func(tx *bolt.Tx) error {
		src, srcID, err := incidentIn(tx, fromIncident)
		if err != nil {
			return err
		}
		dst, dstID, err := incidentIn(tx, toIncident)
		if err != nil {
			return err
		}
		if old, err = readCapture(src, item); err != nil {
			return err
		}
		switch {
		case srcID == dstID:
			return errorf(ErrInvalid, "%s/%s is in %s already", srcID, old.ID, dstID)
		case old.State != CaptureSealed:
			return errorf(ErrInvalid, "%s/%s is still being written: move it once it is sealed ('calm status')", srcID, old.ID)
		case old.Recording != nil && old.Text == nil:
			return errorf(ErrInvalid, "%s/%s's text is still being derived: move it in a moment", srcID, old.ID)
		}
		for _, cp := range old.Copies {
			switch cp.Kind {
			case CopyStore, CopyEvidence, CopyMirror, CopyRemote:
			default:
				return errorf(ErrInvalid, "%s/%s has a %s copy (%s), which cannot be moved yet: export it to the other incident instead", srcID, old.ID, cp.Kind, cp.Location)
			}
		}
		bucket, _, err := itemKey(old.ID)
		if err != nil {
			return err
		}
		items, err := dst.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		n, err := items.NextSequence()
		if err != nil {
			return err
		}
		moved = old
		moved.Incident, moved.ID = dstID, old.ID[:1]+strconv.FormatUint(n, 10)
		moved.Copies = append([]Copy(nil), old.Copies...)
		if old.Recording != nil {
			r := *old.Recording
			moved.Recording = &r
		}
		return nil
	})
	return old, moved, err
}

// releaseID gives back the ID a failed move took, unless another item has
// taken a later one meanwhile.
func (db *DB) releaseID(moved Capture) {
	err := db.update(func(tx *bolt.Tx) error {
		b, err := incidentBucket(tx, moved.Incident)
		if err != nil {
			return err
		}
		bucket, n, err := itemKey(moved.ID)
		if err != nil {
			return err
		}
		if items := b.Bucket(bucket); items != nil && items.Sequence() == n {
			return items.SetSequence(n - 1)
		}
		return nil
	})
	if err != nil {
		db.opts.Logf("give back %s/%s after a failed move: %v", moved.Incident, moved.ID, err)
	}
}

// fileAgain makes a file copy of c at path, beside the one at cp: a hard
// link when that one reads back right, else the bytes again from the store.
// It returns the new copy, read back, or why it could not be made.
func (db *DB) fileAgain(c Capture, cp Copy, path string) (Copy, error) {
	dir, err := privateDir(filepath.Dir(filepath.Dir(path)), filepath.Base(filepath.Dir(path)))
	if err != nil {
		return cp, fmt.Errorf("its %s copy cannot go to %s (%s): fix the folder, then move again", cp.Kind, filepath.Dir(path), copyError(err))
	}
	if _, err := os.Lstat(path); err == nil {
		// Not this capture's: its ID there was free until now.
		return cp, fmt.Errorf("%s already exists: move that file away, then move again", path)
	}
	if err := os.Link(cp.Location, path); err == nil {
		syncDir(dir)
		if got := checkFile(cp.Kind, path, c.SHA256, db.opts.Now); got.State == CopyVerified {
			return got, nil
		}
		os.Remove(path) // the old copy is damaged or gone: the store's bytes instead
	}
	f, err := createTemp(dir, filepath.Base(path))
	if err == nil {
		err = db.eachChunk(c.Incident, c.ID, func(_ uint64, data []byte) error {
			_, err := f.Write(data)
			return err
		})
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		} else {
			err = commitFile(f, path)
		}
	}
	if err != nil {
		return cp, fmt.Errorf("its %s copy could not be written at %s (%s): fix that, then move again", cp.Kind, path, copyError(err))
	}
	got := checkFile(cp.Kind, path, c.SHA256, db.opts.Now)
	if got.State != CopyVerified {
		os.Remove(path)
		return cp, fmt.Errorf("its %s copy written at %s reads back %s (%s): run 'calm verify --repair', then move again", cp.Kind, path, got.State, got.Error)
	}
	return got, nil
}

// remoteAgain makes c's S3 copy cp under moved's name: a copy on the server
// when the object reads back right there, else an upload from the local
// copies. A copy not uploaded yet only changes its name, for the uploader.
// r and key are where an object was made, for an undo; r is nil when none
// was.
func (db *DB) remoteAgain(ctx context.Context, c Capture, cp Copy, moved Capture) (got Copy, r Remote, key string, err error) {
	r, oldKey := db.remoteFor(cp.Location)
	if r == nil {
		return cp, nil, "", fmt.Errorf("its copy %s is in a bucket calm is not configured for: add that bucket to mirrors in the config, then move again", cp.Location)
	}
	key = r.Key(moved.Incident, FileName(moved.ID))
	if cp.State == CopyPending {
		cp.Location, cp.Error = r.Location(key), ""
		return cp, nil, "", nil
	}
	got = Copy{State: CopyFailed}
	copyErr := r.CopyObject(ctx, oldKey, key)
	if copyErr == nil {
		got = checkRemote(r, key, c.SHA256, db.opts.Now)
	}
	if got.State != CopyVerified {
		// The old object is gone or damaged, or the server cannot copy:
		// the bytes go up again from the evidence copy or the store.
		got = db.upload(r, key, c)
	}
	if got.State != CopyVerified {
		why := got.Error
		if copyErr != nil {
			why = oneLine(cmp.Or(errors.Unwrap(copyErr), copyErr).Error())
		}
		r.Remove(ctx, key)
		return cp, nil, "", fmt.Errorf("its S3 copy could not be made at %s (%s): check the endpoint and credentials ('calm doctor'), then move again", r.Location(key), why)
	}
	return got, r, key, nil
}

// commitMove moves the record, chunks and derived text, as prepared, in one
// transaction, if the capture is still as it was when the move began.
func (db *DB) commitMove(old, moved Capture) error {
	return db.update(func(tx *bolt.Tx) error {
		src, err := incidentBucket(tx, old.Incident)
		if err != nil {
			return err
		}
		dst, err := incidentBucket(tx, moved.Incident)
		if err != nil {
			return err
		}
		now, err := readCapture(src, old.ID)
		if err != nil {
			return err
		}
		if !sameCopies(now, old) {
			return errors.New("its copies changed while it moved (a verify or an upload): move it again")
		}
		moved.Lines, moved.Text = now.Lines, now.Text // derived meanwhile, perhaps
		srcChunks := src.Bucket(bucketChunks)
		dstChunks, err := dst.CreateBucketIfNotExists(bucketChunks)
		if err != nil {
			return err
		}
		for _, names := range [][2]string{{old.ID, moved.ID}, {textBucketOf(now), textBucketOf(moved)}, {linesBucket(old.ID), linesBucket(moved.ID)}} {
			if err := moveBucket(srcChunks, dstChunks, names[0], names[1]); err != nil {
				return err
			}
		}
		if err := writeCapture(dst, moved); err != nil {
			return err
		}
		bucket, key, _ := itemKey(old.ID)
		if err := src.Bucket(bucket).Delete(u64(key)); err != nil {
			return err
		}
		if err := db.moveMarkers(src, dst, old.ID, moved.ID); err != nil {
			return err
		}
		if _, err := db.addEvent(src, EventMove, old.ID, fmt.Sprintf("moved %s to %s as %s", old.ID, moved.Incident, moved.ID)); err != nil {
			return err
		}
		_, err = db.addEvent(dst, EventMove, moved.ID, fmt.Sprintf("moved in from %s/%s as %s: %s", old.Incident, old.ID, moved.ID, old.Title))
		return err
	})
}

// moveMarkers moves the markers that point into the item id of src to dst,
// renamed to newID, keeping their time and place in the session: they are
// about what was run in it, which the incident that holds it must count and
// show. The item's capture, copy and verify events stay: they are what calm
// did in the old incident, under the ID it had there, and both timelines'
// move events link the two. A marker's new sequence number puts it after
// the events already there; its time says when it happened.
func (db *DB) moveMarkers(src, dst *bolt.Bucket, id, newID string) error {
	events := src.Bucket(bucketEvents)
	if events == nil {
		return nil
	}
	var keys [][]byte
	var markers []Event
	err := events.ForEach(func(k, v []byte) error {
		var ev Event
		if err := json.Unmarshal(v, &ev); err != nil {
			return fmt.Errorf("%w: event %d: %v", ErrDamaged, binary.BigEndian.Uint64(k), err)
		}
		if ev.Kind == EventMarker && ev.Item == id {
			keys, markers = append(keys, bytes.Clone(k)), append(markers, ev)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, ev := range markers {
		if err := events.Delete(keys[i]); err != nil {
			return err
		}
		ev.Item = newID
		if _, err := db.putEvent(dst, ev); err != nil {
			return err
		}
	}
	return nil
}

// sameCopies reports whether a capture's copies are where, and what, they
// were.
func sameCopies(a, b Capture) bool {
	if a.State != b.State || a.SHA256 != b.SHA256 || len(a.Copies) != len(b.Copies) {
		return false
	}
	for i := range a.Copies {
		if a.Copies[i].Kind != b.Copies[i].Kind || a.Copies[i].Location != b.Copies[i].Location {
			return false
		}
	}
	return true
}

// forgetOld removes a moved capture's old file copies, the records kept
// beside them, and its old S3 objects. What cannot be removed is left
// behind, said in the log: a stray copy, never a lost one.
func (db *DB) forgetOld(ctx context.Context, old, moved Capture) {
	for i, cp := range old.Copies {
		switch cp.Kind {
		case CopyEvidence, CopyMirror:
			if cp.Location == moved.Copies[i].Location {
				continue
			}
			dir := filepath.Dir(cp.Location)
			for _, p := range []string{cp.Location, metaPath(dir, old.ID)} {
				if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
					db.opts.Logf("moved %s/%s to %s/%s; its old file %s stays: %v", old.Incident, old.ID, moved.Incident, moved.ID, p, err)
				}
			}
			syncDir(dir)
		case CopyRemote:
			if cp.State == CopyPending {
				continue // never uploaded under its old name
			}
			if r, key := db.remoteFor(cp.Location); r != nil {
				if err := r.Remove(ctx, key); err != nil {
					db.opts.Logf("moved %s/%s to %s/%s; its old object stays: %v", old.Incident, old.ID, moved.Incident, moved.ID, err)
				}
			}
		}
	}
}

// moveBucket moves the sub-bucket name of from to to, renamed.
func moveBucket(from, to *bolt.Bucket, name, newName string) error {
	if from == nil {
		return nil
	}
	src := from.Bucket([]byte(name))
	if src == nil {
		return nil
	}
	dst, err := to.CreateBucket([]byte(newName))
	if err != nil {
		return err
	}
	if err := src.ForEach(func(k, v []byte) error { return dst.Put(k, v) }); err != nil {
		return err
	}
	dst.SetSequence(src.Sequence())
	return from.DeleteBucket([]byte(name))
}
