package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"strings"

	bolt "go.etcd.io/bbolt"

	"calm/model"
	"calm/terminal"
)

// textBucket names the chunks of a session's derived text, beside its own,
// by the reading it was derived with: a text derived again goes beside the
// old one, which readers go on using until the record names the new one.
func textBucket(session string, reading int) string {
	if reading == 0 {
		return session + ".text"
	}
	return fmt.Sprintf("%s.text%d", session, reading)
}

// textBucketOf is the bucket of c's derived text.
func textBucketOf(c Capture) string {
	if c.Text == nil {
		return textBucket(c.ID, model.TextReading)
	}
	return textBucket(c.ID, c.Text.Reading)
}

// deriveText runs a sealed session through the emulator (terminal.DeriveText)
// and stores the result as chunks beside the session's, then records it on
// the session. It streams: memory stays flat however long the session.
func (db *DB) deriveText(incident, session string) error {
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(db.eachChunk(incident, session, func(_ uint64, data []byte) error {
			_, err := pw.Write(data)
			return err
		}))
	}()
	tw := &textWriter{db: db, incident: incident, bucket: textBucket(session, model.TextReading), hash: sha256.New()}
	err := terminal.DeriveText(pr, tw)
	pr.CloseWithError(err) // stops the reader if DeriveText gave up early
	if err == nil {
		err = tw.flush()
	}
	if err != nil {
		return fmt.Errorf("derive the text of %s/%s: %w", incident, session, err)
	}
	derivedAgain := false
	_, err = db.changeCapture(incident, session, func(b *bolt.Bucket, c *Capture) (bool, error) {
		if c.Text != nil && c.Text.Reading != model.TextReading {
			// Derived with an older reading: that text, and the search
			// lines read from it, go.
			if err := deleteChunkBucket(b, textBucketOf(*c)); err != nil {
				return false, err
			}
			if c.Lines != nil {
				if err := deleteChunkBucket(b, linesBucket(c.ID)); err != nil {
					return false, err
				}
				c.Lines = nil
				derivedAgain = true
			}
		}
		c.Text = &DerivedText{Size: tw.size, SHA256: hex.EncodeToString(tw.hash.Sum(nil)), Reading: model.TextReading}
		return true, nil
	})
	if err == nil && derivedAgain {
		db.kickLines()
	}
	return err
}

// textWriter stores what it is given in ChunkSize chunks, committed a
// batch (Options.BatchBytes) at a time as the store's other chunks are, not
// one transaction and fsync per chunk. The text is derived again whole if an
// agent dies midway.
type textWriter struct {
	db       *DB
	incident string
	bucket   string
	buf      []byte
	pending  [][]byte // encoded chunks not yet committed, numbered from n
	waiting  int      // their bytes
	n        uint64   // the number of pending[0]
	size     int64
	hash     hash.Hash
	encode   func(n uint64, data []byte) []byte // encodeChunk when nil
}

func (w *textWriter) encoded(n uint64, data []byte) []byte {
	if w.encode != nil {
		return w.encode(n, data)
	}
	return encodeChunk(n, data)
}

func (w *textWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for len(w.buf) >= ChunkSize {
		if err := w.put(w.buf[:ChunkSize]); err != nil {
			return 0, err
		}
		w.buf = w.buf[:copy(w.buf, w.buf[ChunkSize:])]
	}
	return len(p), nil
}

func (w *textWriter) flush() error {
	if len(w.buf) > 0 {
		w.hash.Write(w.buf)
		w.size += int64(len(w.buf))
		w.pending = append(w.pending, w.encoded(w.n+uint64(len(w.pending)), w.buf))
		w.buf = w.buf[:0]
	}
	return w.commit()
}

func (w *textWriter) put(p []byte) error {
	w.hash.Write(p)
	w.size += int64(len(p))
	data := w.encoded(w.n+uint64(len(w.pending)), p)
	w.pending = append(w.pending, data)
	if w.waiting += len(data); w.waiting >= w.db.opts.BatchBytes {
		return w.commit()
	}
	return nil
}

func (w *textWriter) commit() error {
	if len(w.pending) == 0 {
		return nil
	}
	err := w.db.update(func(tx *bolt.Tx) error {
		b, err := incidentBucket(tx, w.incident)
		if err != nil {
			return err
		}
		chunks, err := b.CreateBucketIfNotExists(bucketChunks)
		if err != nil {
			return err
		}
		if w.n == 0 {
			// A text begun by an agent that died is replaced whole.
			if chunks.Bucket([]byte(w.bucket)) != nil {
				if err := chunks.DeleteBucket([]byte(w.bucket)); err != nil {
					return err
				}
			}
		}
		cb, err := chunks.CreateBucketIfNotExists([]byte(w.bucket))
		if err != nil {
			return err
		}
		cb.FillPercent = 1.0
		for i, data := range w.pending {
			if err := cb.Put(u64(w.n+uint64(i)), data); err != nil {
				return err
			}
		}
		return nil
	})
	w.n += uint64(len(w.pending))
	w.pending, w.waiting = w.pending[:0], 0
	return err
}

// WriteText writes a session's derived text (what a person saw), or for a
// session without one (sealed by an older calm, or still recording), its
// output as recorded.
func (db *DB) WriteText(ctx context.Context, ref string, w io.Writer) error {
	c, err := db.Capture(ref)
	if err != nil {
		return err
	}
	if c.Text == nil || !db.textSound(c) { // readcheck.go
		if c.Recording == nil {
			return db.WriteContent(ctx, ref, 0, w)
		}
		if c.Text != nil {
			db.notice(textDamaged(c, "showing"))
		}
		// Derived from the (checked) recording as at seal: while it is
		// still recording, the lines shown are those search numbers.
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(db.WriteContent(ctx, ref, 0, pw)) }()
		defer pr.Close()
		return terminal.DeriveText(pr, w)
	}
	w = untilDone{ctx, w}
	return db.eachChunk(c.Incident, textBucketOf(c), func(_ uint64, data []byte) error {
		_, err := w.Write(data)
		return err
	})
}

// itemOfBucket is the item whose chunks, derived text or search lines a
// chunk bucket holds.
func itemOfBucket(bucket string) string {
	item, _, _ := strings.Cut(bucket, ".")
	return item
}
