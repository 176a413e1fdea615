package storage

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"calm/terminal"

	bolt "go.etcd.io/bbolt"
)

// errHeldFull: a capture has more hits than are held back while its chunks
// are hashed; it is checked whole first, then searched again.
var errHeldFull = errors.New("too many hits to hold back")

// heldMax bounds the text of the hits held back for one capture: a search
// that matches a sixth of the lines of 50 MB of logs still goes in one pass.
const heldMax = 16 << 20

// heldHits keeps a sealed capture's hits back until its chunks have hashed
// to the SHA-256 it was sealed with, so that lines found in a damaged store
// copy are never handed out: the search goes to a verified copy instead.
type heldHits struct {
	room  int // how many hits the search may still return (0: any)
	lines []int64
	ends  []int
	text  []byte
}

func (h *heldHits) add(line int64, text []byte) error {
	h.lines = append(h.lines, line)
	h.text = append(h.text, text...)
	h.ends = append(h.ends, len(h.text))
	if len(h.text) > heldMax || (h.room > 0 && len(h.lines) >= h.room) {
		return errHeldFull
	}
	return nil
}

func (h *heldHits) flush(hit func(int64, []byte) error) error {
	start := 0
	for i, line := range h.lines {
		if err := hit(line, h.text[start:h.ends[i]]); err != nil {
			return err
		}
		start = h.ends[i]
	}
	return nil
}

// searchCapture searches one capture (a session: its derived text, or its
// output as recorded) in the store's copy when that hashes as sealed, and
// otherwise in a verified file copy, said through notice; with none, it is
// an error in one line.
func (db *DB) searchCapture(ctx context.Context, inc string, c Capture, p *plan, room int, hit func(int64, []byte) error, notice func(string), clean *[]byte) error {
	if c.Recording != nil && c.Text == nil {
		return db.searchOutput(ctx, inc, c, p, hit, notice, clean)
	}
	whole := hit // for another view of a session (its output), searched whole
	if hasLines(c) && !ignoreLinesForTest {
		var last int64
		err := db.searchChunks(ctx, inc, linesBucket(c.ID), chunkTrust{checked: true, size: c.Lines.Size, text: true, room: room}, p, func(line int64, text []byte) error {
			last = line
			return hit(line, text)
		})
		if !errors.Is(err, ErrDamaged) {
			return err
		}
		// Derived data: what they were derived from (the output, a
		// session's text) gives the rest, and they are derived again.
		db.opts.Logf("search lines of %s/%s: %v", inc, c.ID, err)
		db.forgetLines(inc, c.ID)
		room = 0 // hits up to last are dropped: a chunk's first few may not count
		handOut := hit
		hit = func(line int64, text []byte) error {
			if line <= last {
				return nil
			}
			return handOut(line, text)
		}
	}
	bucket, want, size := c.ID, "", c.Size
	if c.State == CaptureSealed {
		want = c.SHA256
	}
	if c.Recording != nil {
		bucket, want, size = textBucketOf(c), c.Text.SHA256, c.Text.Size
	}
	if want == "" { // still arriving: nothing to check against yet
		notice(fmt.Sprintf("%s/%s is still being written: searched what is stored of it so far, up to its last whole line", inc, c.ID))
		return db.searchChunks(ctx, inc, bucket, chunkTrust{growing: true}, p, hit)
	}
	var err error
	if db.chunksChecked(inc, bucket) {
		// Each chunk vouches for itself, so its lines go out as they are
		// found; after a damaged one, a verified copy gives the rest.
		var last int64
		handOut := hit
		err = db.searchChunks(ctx, inc, bucket, chunkTrust{checked: true, size: size, room: room}, p, func(line int64, text []byte) error {
			last = line
			return handOut(line, text)
		})
		if !errors.Is(err, ErrDamaged) {
			return err
		}
		if c.Recording == nil {
			// A session's output (searched below) numbers its lines its own
			// way: it is searched whole, as another view, not resumed.
			hit = func(line int64, text []byte) error {
				if line <= last {
					return nil
				}
				return handOut(line, text)
			}
		}
	} else {
		// Chunks from before CRCs: hits wait until the whole capture has
		// hashed to its SHA-256.
		held := &heldHits{room: room}
		err = db.searchChunks(ctx, inc, bucket, chunkTrust{sha256: want}, p, held.add)
		if err == nil {
			return held.flush(hit)
		}
		if !errors.Is(err, errHeldFull) && !errors.Is(err, ErrDamaged) {
			return err
		}
	}
	// Damaged, or too many hits to hold: check the capture whole, then
	// search the copy the check chose, handing hits out as they come.
	if c.Recording != nil {
		if errors.Is(err, errHeldFull) && db.textSound(c) {
			return db.searchChunks(ctx, inc, bucket, chunkTrust{sha256: want}, p, hit)
		}
		notice(textDamaged(c, "searching"))
		return db.searchOutput(ctx, inc, c, p, whole, notice, clean)
	}
	path, note, err := db.checkRead(c)
	if err != nil {
		return err
	}
	if path == "" {
		return db.searchChunks(ctx, inc, bucket, chunkTrust{sha256: want}, p, hit)
	}
	notice(note)
	return searchFile(ctx, path, want, p, hit, clean)
}

// ignoreLinesForTest makes search read a capture's output, not its lines.
var ignoreLinesForTest bool

// chunksChecked reports whether a capture's first chunk carries a CRC, as
// every chunk written since CRCs were added does.
func (db *DB) chunksChecked(incident, capture string) bool {
	checked := false
	_ = db.view(func(tx *bolt.Tx) error {
		v, err := storedChunk(tx, incident, capture, 0)
		checked = err == nil && checkedChunk(v)
		return nil
	})
	return checked
}

// searchOutput searches a capture's bytes as WriteContent reads them (a
// session's: the output in its asciicast stream), line by line.
func (db *DB) searchOutput(ctx context.Context, inc string, c Capture, p *plan, hit func(int64, []byte) error, notice func(string), clean *[]byte) error {
	sc := lineSearch(p, hit, clean)
	var feed io.Writer = writerFunc(func(p []byte) (int, error) {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		return len(p), sc.write(p)
	})
	c.Incident = inc
	if c.Recording != nil {
		// A session still recording (or not derived yet) is read as its
		// text will be derived at seal, through the emulator: the lines
		// and their numbers found now are those found later (read line
		// by line, a Ctrl-L joined the prompts before and after it).
		pr, pw := io.Pipe()
		derived := make(chan error, 1)
		go func() {
			err := terminal.DeriveText(pr, feed)
			pr.CloseWithError(cmp.Or(err, io.ErrClosedPipe)) // the reading stops with it
			derived <- err
		}()
		rerr := db.readContent(ctx, c, 0, pw, notice)
		pw.CloseWithError(rerr)
		if err := <-derived; err != nil {
			return err
		}
		if rerr != nil {
			return rerr
		}
		return sc.flush()
	}
	err := db.readContent(ctx, c, 0, feed, notice)
	if err == nil {
		err = sc.flush()
	}
	return err
}

func lineSearch(p *plan, hit func(int64, []byte) error, clean *[]byte) *lineScanner {
	return &lineScanner{emit: func(line int64, text []byte) error {
		text, ok := matchLine(text, clean, p)
		if !ok {
			return nil
		}
		return hit(line, text)
	}}
}

// searchFile searches a file copy that was checked a moment ago, hashing it
// again as it is read: a copy that changed since ends in an error.
func searchFile(ctx context.Context, path, want string, p *plan, hit func(int64, []byte) error, clean *[]byte) error {
	f, err := os.OpenFile(path, os.O_RDONLY|noFollow, 0)
	if err != nil {
		return fmt.Errorf("search the copy %s: %w", path, err)
	}
	defer f.Close()
	sc := lineSearch(p, hit, clean)
	h := sha256.New()
	buf := make([]byte, ChunkSize)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := f.Read(buf)
		h.Write(buf[:n])
		if werr := sc.write(buf[:n]); werr != nil {
			return werr
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("search the copy %s: %w", path, err)
		}
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("%w: the copy %s changed while it was searched (sha256 %s, not %s): run 'calm verify' to see every copy", ErrDamaged, path, got, want)
	}
	return sc.flush()
}
