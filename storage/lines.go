package storage

import (
	"bytes"
	"calm/model"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"

	"calm/sanitize"
)

// A capture's search lines are its output as search matches it: each line
// sanitised (escape sequences out, a \r rewrite settled) exactly as a search
// of the output itself would sanitise it, one line for one, so line numbers
// stay the output's. They are derived once, at idle priority, after the
// capture is sealed; a search then reads plain text, where a literal is
// found by bytes.Index alone, instead of working out at every search which
// lines need sanitising. Until they are there, or when their chunks fail
// their CRC, search reads the output itself, with the same results.

// linesBucket names the chunks of a capture's search lines, beside its own.
func linesBucket(capture string) string { return capture + ".lines" }

// linesSource is what a capture's search lines are derived from: its
// output, or a session's text (what search matches in a session), with the
// SHA-256 that must hold; false while there is none yet.
func linesSource(c Capture) (bucket, sha string, ok bool) {
	switch {
	case c.State != CaptureSealed:
		return "", "", false
	case c.Recording == nil:
		return c.ID, c.SHA256, true
	case c.Text != nil:
		return textBucketOf(c), c.Text.SHA256, true
	}
	return "", "", false
}

// linesDamaged reports whether c's search lines could not be derived from
// its store copy, which did not hash to its seal: none are tried again
// until a repair.
func (db *DB) linesDamaged(c Capture) bool {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.noLines[c.Incident+"/"+c.ID]
}

// linesAfterRepair lets every capture's search lines be tried again.
func (db *DB) linesAfterRepair() {
	db.mu.Lock()
	clear(db.noLines)
	db.mu.Unlock()
	db.kickLines()
}

// linesPending reports whether c's search lines are still to be derived.
func linesPending(c Capture) bool {
	_, _, ok := linesSource(c)
	return ok && c.Lines == nil
}

// hasLines reports whether c's search lines are there to be searched.
func hasLines(c Capture) bool {
	_, _, ok := linesSource(c)
	return ok && c.Lines != nil
}

// maxTextLine caps a search line read back: sanitising a line of at most
// MaxLine bytes can make it longer (U+FFFD, three bytes, for each invalid
// byte), never more than three times.
const maxTextLine = 3 * MaxLine

// appendLineText appends the text search matches for one line of output
// (without its '\n').
func appendLineText(dst, line []byte) []byte {
	if len(line) > MaxLine {
		line = line[:MaxLine]
	}
	if clean(line) {
		return append(dst, line...)
	}
	return sanitize.AppendSearchText(dst, line)
}

// linesLoop derives the search lines of every sealed capture that lacks
// them, when the store opens and after each seal, as idle work.
func (db *DB) linesLoop() {
	defer close(db.linesDone)
	<-db.checked
	if db.Damaged() != nil {
		return
	}
	idleThread()
	for {
		db.deriveMissingLines()
		select {
		case <-db.stop:
			return
		case <-db.linesKick:
		}
	}
}

// kickLines wakes linesLoop.
func (db *DB) kickLines() {
	if db.linesKick == nil {
		return
	}
	select {
	case db.linesKick <- struct{}{}:
	default:
	}
}

// LinesPending counts the captures still to be prepared for search: sealed
// ones whose search lines are to be derived, and recorded sessions the agent
// is storing from their journals (their text comes at seal). Searches read
// their output meanwhile, and may find what a session's text will not show
// (a terminal's view, where a string never ended hides what follows it).
func (db *DB) LinesPending() int {
	n := 0
	incidents, _ := db.Incidents()
	for _, inc := range incidents {
		caps, _ := db.Captures(inc.ID)
		for _, c := range caps {
			storing := c.Recording != nil && c.State != CaptureSealed && c.Recording.JournalSize > 0
			if linesPending(c) && !db.linesDamaged(c) || storing {
				n++
			}
		}
	}
	return n
}

// linesReserve is the free space deriving search lines leaves on the
// store's disk (a tenth of a small disk): derived data must never take the
// room that captures, which are acknowledged, need.
const linesReserve = 256 << 20

// roomForLines reports whether the store's disk has room for search lines
// of a capture of size bytes (at most about its size) beyond the reserve.
func (db *DB) roomForLines(size int64) bool {
	var st unix.Statfs_t
	if unix.Statfs(filepath.Dir(db.opts.Path), &st) != nil {
		return true // the writes say what is wrong
	}
	reserve := min(linesReserve, int64(st.Blocks)*st.Bsize/10)
	return int64(st.Bavail)*st.Bsize-reserve >= size
}

func (db *DB) deriveMissingLines() {
	incidents, err := db.Incidents()
	if err != nil {
		return
	}
	for _, inc := range incidents {
		caps, _ := db.Captures(inc.ID)
		for _, c := range caps {
			if c.Lines != nil && c.Lines.Reading < model.LinesReading {
				// Derived with an older reading: searched as stored until
				// derived again (its output is read meanwhile).
				db.forgetLines(c.Incident, c.ID)
				c.Lines = nil
			}
			if !linesPending(c) {
				continue
			}
			if !db.roomForLines(c.Size) {
				// Tried again after the next seal; searches read the output.
				if !db.linesNoRoom[c.Incident+"/"+c.ID] {
					db.linesNoRoom[c.Incident+"/"+c.ID] = true
					db.opts.Logf("search lines of %s/%s: not derived, the store's disk is nearly full (searches read its output)", c.Incident, c.ID)
				}
				continue
			}
			if db.linesDamaged(c) {
				continue // until a repair: derived again it would fail again
			}
			if err := db.deriveLines(c); err != nil {
				if errors.Is(err, errStopped) {
					return
				}
				if errors.Is(err, ErrDamaged) {
					db.mu.Lock()
					db.noLines[c.Incident+"/"+c.ID] = true
					db.mu.Unlock()
				}
				db.opts.Logf("%v", err) // search reads the output itself
			}
		}
	}
}

// deriveLines stores c's search lines and records them on c, unless c has
// changed meanwhile (moved away, sealed again by a repair of another size).
func (db *DB) deriveLines(c Capture) error {
	from, want, ok := linesSource(c)
	if !ok {
		return nil
	}
	bucket := linesBucket(c.ID)
	tw := &textWriter{db: db, incident: c.Incident, bucket: bucket, hash: sha256.New(), encode: encodeTextChunk}
	var partial, out []byte
	// The output is hashed as it is read: lines derived from bytes other
	// than the sealed ones would be searched as if they were sound.
	sum := sha256.New()
	err := db.eachChunk(c.Incident, from, func(_ uint64, data []byte) error {
		select {
		case <-db.stop:
			return errStopped
		default:
		}
		sum.Write(data)
		out = out[:0]
		for len(data) > 0 {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				partial = appendCapped(partial, data)
				break
			}
			line := data[:i]
			if len(partial) > 0 {
				partial = appendCapped(partial, line)
				line = partial
			}
			out = append(appendLineText(out, line), '\n')
			partial, data = partial[:0], data[i+1:]
		}
		_, err := tw.Write(out)
		return err
	})
	if err == nil && len(partial) > 0 {
		_, err = tw.Write(appendLineText(out[:0], partial))
	}
	if got := hex.EncodeToString(sum.Sum(nil)); err == nil && got != want {
		err = fmt.Errorf("%w: the store's copy of %s hashes to sha256 %s, not the %s it was sealed with: 'calm verify' checks every copy", ErrDamaged, from, got, want)
	}
	if err == nil {
		err = tw.flush()
	}
	recorded := false
	if err == nil {
		_, err = db.changeCapture(c.Incident, c.ID, func(_ *bolt.Bucket, cur *Capture) (bool, error) {
			if _, now, ok := linesSource(*cur); !ok || now != want || cur.SHA256 != c.SHA256 || cur.Lines != nil {
				return false, nil
			}
			cur.Lines = &DerivedText{Size: tw.size, SHA256: hex.EncodeToString(tw.hash.Sum(nil)), Reading: model.LinesReading}
			recorded = true
			return true, nil
		})
	}
	if !recorded && !errors.Is(err, errStopped) {
		db.dropLines(c.Incident, bucket) // half written, or for a capture gone
	}
	if err != nil && !errors.Is(err, errStopped) {
		return fmt.Errorf("derive the search lines of %s/%s: %w", c.Incident, c.ID, err)
	}
	return err
}

// appendCapped appends to a line, keeping its first MaxLine bytes.
func appendCapped(line, more []byte) []byte {
	if room := MaxLine - len(line); room > 0 {
		line = append(line, more[:min(room, len(more))]...)
	}
	return line
}

func (db *DB) dropLines(incident, bucket string) {
	_ = db.update(func(tx *bolt.Tx) error {
		b, err := incidentBucket(tx, incident)
		if err != nil {
			return nil
		}
		return deleteChunkBucket(b, bucket)
	})
}

// forgetLines drops a capture's search lines that failed their check, for
// linesLoop to derive them again.
func (db *DB) forgetLines(incident, capture string) {
	_, err := db.changeCapture(incident, capture, func(b *bolt.Bucket, c *Capture) (bool, error) {
		if c.Lines == nil {
			return false, nil
		}
		c.Lines = nil
		return true, deleteChunkBucket(b, linesBucket(capture))
	})
	if err == nil {
		db.kickLines()
	}
}

// deleteChunkBucket deletes a bucket of chunks (search lines, a derived text)
// from an incident's bucket.
func deleteChunkBucket(b *bolt.Bucket, name string) error {
	if chunks := b.Bucket(bucketChunks); chunks != nil && chunks.Bucket([]byte(name)) != nil {
		return chunks.DeleteBucket([]byte(name))
	}
	return nil
}
