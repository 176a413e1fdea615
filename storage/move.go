package storage

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	bolt "go.etcd.io/bbolt"
)

// MoveCapture moves a sealed capture or session into another incident,
// where it takes the next free ID: its record, its chunks, its derived
// text and its file copies go along, both incidents' SHA256SUMS are
// written again, and both timelines say so. A capture with an S3 copy is
// refused: the bucket's object would be left under the old name.
func (db *DB) MoveCapture(ref, toIncident string) (moved Capture, err error) {
	fromIncident, item := SplitRef(ref)
	db.sumsMu.Lock() // no seal rewrites either SHA256SUMS meanwhile
	defer db.sumsMu.Unlock()
	var renames [][2]string
	var from string
	err = db.update(func(tx *bolt.Tx) error {
		src, srcID, err := incidentIn(tx, fromIncident)
		if err != nil {
			return err
		}
		dst, dstID, err := incidentIn(tx, toIncident)
		if err != nil {
			return err
		}
		old, err := readCapture(src, item)
		if err != nil {
			return err
		}
		switch {
		case srcID == dstID:
			return fmt.Errorf("%s/%s is in %s already: %w", srcID, old.ID, dstID, ErrInvalid)
		case old.State != CaptureSealed:
			return fmt.Errorf("%s/%s is still being written: move it once it is sealed ('calm status'): %w", srcID, old.ID, ErrInvalid)
		case old.Recording != nil && old.Text == nil:
			return fmt.Errorf("%s/%s's text is still being derived: move it in a moment: %w", srcID, old.ID, ErrInvalid)
		}
		for _, cp := range old.Copies {
			if cp.Kind != CopyStore && cp.Kind != CopyEvidence && cp.Kind != CopyMirror {
				return fmt.Errorf("%s/%s has a %s copy (%s), which cannot be moved yet: export it to the other incident instead: %w", srcID, old.ID, cp.Kind, cp.Location, ErrInvalid)
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

		srcChunks := src.Bucket(bucketChunks)
		dstChunks, err := dst.CreateBucketIfNotExists(bucketChunks)
		if err != nil {
			return err
		}
		for _, names := range [][2]string{{old.ID, moved.ID}, {textBucket(old.ID), textBucket(moved.ID)}} {
			if err := moveBucket(srcChunks, dstChunks, names[0], names[1]); err != nil {
				return err
			}
		}
		for i, cp := range moved.Copies {
			if cp.Kind == CopyEvidence || cp.Kind == CopyMirror {
				root := filepath.Dir(filepath.Dir(cp.Location))
				moved.Copies[i].Location = copyPath(root, dstID, moved.ID)
				renames = append(renames, [2]string{cp.Location, moved.Copies[i].Location})
			}
		}
		if err := writeCapture(dst, moved); err != nil {
			return err
		}
		_, key, _ := itemKey(old.ID)
		if err := src.Bucket(bucket).Delete(u64(key)); err != nil {
			return err
		}
		if _, err := db.addEvent(src, EventMove, old.ID, fmt.Sprintf("moved %s to %s as %s", old.ID, dstID, moved.ID)); err != nil {
			return err
		}
		_, err = db.addEvent(dst, EventMove, moved.ID, fmt.Sprintf("moved in from %s/%s as %s: %s", srcID, old.ID, moved.ID, old.Title))
		from = srcID
		return err
	})
	if err != nil {
		return moved, err
	}
	// The record names the new places; a file that cannot be moved shows
	// as missing in verify, and 'verify --repair' writes it from the store.
	for _, r := range renames {
		if _, err := privateDir(filepath.Dir(filepath.Dir(r[1])), moved.Incident); err != nil {
			db.opts.Logf("move %s: %v", r[0], err)
			continue
		}
		if err := os.Rename(r[0], r[1]); err != nil {
			db.opts.Logf("move %s: %v", r[0], err)
			continue
		}
		syncDir(filepath.Dir(r[0]))
		syncDir(filepath.Dir(r[1]))
	}
	db.writeSums(from, Capture{})
	db.writeSums(moved.Incident, moved)
	return moved, nil
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
