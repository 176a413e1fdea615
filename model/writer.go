package model

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// ChunkSize is how much a CaptureWriter sends at a time.
const ChunkSize = 1 << 20

// WindowChunks bounds how many unacknowledged chunks a writer keeps to resend:
// memory stays flat however large the capture.
const WindowChunks = 16

// SpooledWindowChunks is WindowChunks for a writer whose chunks lie in its
// spool (UseSpool): keeping one costs no memory, and a window that outlasts
// a commit keeps the store busy while it commits.
const SpooledWindowChunks = 64

// RetryFor is how long a writer keeps trying a store that fails before it
// gives up on the capture.
var RetryFor = 30 * time.Second

// CaptureWriter streams a capture to a Store in numbered chunks. It keeps every
// chunk until the store acknowledges it, and sends again whatever an agent
// lost when it died, so nothing acknowledged is lost and nothing is counted
// twice. It needs only the Store interface: a viewer saving a selection
// writes through it without building the store.
type CaptureWriter struct {
	store   Store
	Capture Capture
	// RetryFor is how long to keep trying a failing store; a recorder sets
	// it long, since its journal holds everything meanwhile.
	RetryFor time.Duration

	buf       []byte
	next      uint64      // number of the next chunk to send
	window    []sentChunk // unacknowledged chunks, window[0] is chunk base
	base      uint64
	committed uint64
	hash      hash.Hash
	size      int64
	err       error
	spare     [][]byte
	// spooled: the capture's bytes are in its writer's spool, which the
	// store reads itself (UseSpool); sent is how much of it chunks cover.
	spooled bool
	sent    int64
}

// sentChunk is a chunk kept until the store acknowledges it: its bytes, or
// where they lie in the spool.
type sentChunk struct {
	data []byte
	off  int64
	size int
}

// NewCaptureWriter creates the capture and returns a writer for its bytes.
func NewCaptureWriter(s Store, incident string, nc NewCapture) (*CaptureWriter, error) {
	if nc.Writer == nil {
		nc.Writer = ThisWriter() // the store seals it if this process dies first
	}
	if nc.Request == "" {
		nc.Request = NewRequestID()
	}
	var c Capture
	err := retry(func() (err error) {
		c, err = s.CreateCapture(incident, nc)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create capture: %w", err)
	}
	return AttachCaptureWriter(s, c), nil
}

// AttachCaptureWriter returns a writer for a capture already created.
func AttachCaptureWriter(s Store, c Capture) *CaptureWriter {
	return &CaptureWriter{store: s, Capture: c, RetryFor: RetryFor, buf: make([]byte, 0, ChunkSize), hash: sha256.New()}
}

// NewRequestID returns a fresh ID for a creating request.
func NewRequestID() string {
	var id [16]byte
	_, _ = rand.Read(id[:])
	return hex.EncodeToString(id[:])
}

// retry runs f until it succeeds, fails with an error retrying cannot help, or
// RetryFor has passed.
func retry(f func() error) error { return RetryWithin(RetryFor, f) }

// RetryWithin is retry for d: a reader that must outlive an agent's restart
// uses it too.
func RetryWithin(d time.Duration, f func() error) error {
	deadline := time.Now().Add(d)
	wait := 50 * time.Millisecond
	for {
		err := f()
		if err == nil || errors.Is(err, ErrInvalid) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrAmbiguous) || errors.Is(err, ErrDamaged) || errors.Is(err, ErrNoSpace) || errors.Is(err, ErrNoAgent) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(wait)
		wait = min(wait*2, time.Second)
	}
}

// Write hashes p and sends it in chunks. After an error the writer refuses
// further writes; the error says why.
func (w *CaptureWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n := len(p)
	w.hash.Write(p)
	w.size += int64(n)
	for len(p) > 0 {
		k := copy(w.buf[len(w.buf):cap(w.buf)], p)
		w.buf = w.buf[:len(w.buf)+k]
		p = p[k:]
		if len(w.buf) == cap(w.buf) {
			if err := w.flushChunk(); err != nil {
				w.err = err
				return n - len(p), err
			}
		}
	}
	return n, nil
}

// ReadFrom writes what r yields until its end, read straight into the chunk
// being filled: one copy fewer than Write.
func (w *CaptureWriter) ReadFrom(r io.Reader) (int64, error) {
	var total int64
	for w.err == nil {
		n, err := r.Read(w.buf[len(w.buf):cap(w.buf)])
		if n > 0 {
			w.hash.Write(w.buf[len(w.buf) : len(w.buf)+n])
			w.size += int64(n)
			w.buf = w.buf[:len(w.buf)+n]
			total += int64(n)
			if len(w.buf) == cap(w.buf) {
				if ferr := w.flushChunk(); ferr != nil {
					w.err = ferr
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return total, err
		}
	}
	return total, w.err
}

// UseSpool has the store read the capture's bytes from the spool it finds
// by the capture's writer, which holds them from the first: the writer then
// sends only where each chunk lies (Spooled). It hashes nothing: the store
// compares what it stored with the spool, and hashes that. It reports false,
// changing nothing, for a store that cannot.
func (w *CaptureWriter) UseSpool() bool {
	s, ok := w.store.(SpoolingStore)
	if !ok || !s.ReadsSpools() || w.next > 0 {
		return false
	}
	w.spooled = true
	return true
}

// Spooled says the spool now holds end bytes: every whole chunk of them is
// sent, the rest at the next Flush or at the seal.
func (w *CaptureWriter) Spooled(end int64) error {
	if w.err != nil {
		return w.err
	}
	w.size = end
	for w.size-w.sent >= ChunkSize {
		if err := w.push(sentChunk{off: w.sent, size: ChunkSize}); err != nil {
			w.err = err
			return err
		}
	}
	return nil
}

func (w *CaptureWriter) flushChunk() error {
	if w.spooled {
		if w.size == w.sent {
			return nil
		}
		return w.push(sentChunk{off: w.sent, size: int(w.size - w.sent)})
	}
	if len(w.buf) == 0 {
		return nil
	}
	chunk := w.buf
	if len(w.spare) > 0 {
		w.buf, w.spare = w.spare[len(w.spare)-1][:0], w.spare[:len(w.spare)-1]
	} else {
		w.buf = make([]byte, 0, ChunkSize)
	}
	return w.push(sentChunk{data: chunk, size: len(chunk)})
}

// push sends the next chunk and keeps it until acknowledged, waiting while
// the window is full.
func (w *CaptureWriter) push(c sentChunk) error {
	w.window = append(w.window, c)
	n := w.next
	w.next++
	w.sent += int64(c.size)
	if err := w.send(n, c); err != nil {
		return err
	}
	window := WindowChunks
	if w.spooled {
		window = SpooledWindowChunks
	}
	for len(w.window) >= window {
		if err := w.waitFor(w.base + 1); err != nil {
			return err
		}
	}
	return nil
}

func (w *CaptureWriter) put(n uint64, chunk sentChunk) (uint64, error) {
	if w.spooled {
		return w.store.(SpoolingStore).PutSpooled(w.Capture.Incident, w.Capture.ID, n, chunk.off, chunk.size)
	}
	return w.store.PutChunk(w.Capture.Incident, w.Capture.ID, n, chunk.data)
}

func (w *CaptureWriter) send(n uint64, chunk sentChunk) error {
	var lost bool
	err := RetryWithin(w.RetryFor, func() error {
		c, err := w.put(n, chunk)
		if err != nil {
			lost = true // the agent may have died with uncommitted chunks
			return err
		}
		w.ack(c)
		return nil
	})
	if err != nil {
		return fmt.Errorf("store chunk %d of capture %s: %w", n, w.Capture.ID, err)
	}
	if lost {
		return w.resend()
	}
	return nil
}

// ack drops the chunks the store has committed.
func (w *CaptureWriter) ack(committed uint64) {
	if committed <= w.committed {
		return
	}
	w.committed = committed
	for w.base < committed && len(w.window) > 0 {
		if w.window[0].data != nil {
			w.spare = append(w.spare, w.window[0].data)
		}
		w.window[0] = sentChunk{}
		w.window = w.window[1:]
		w.base++
	}
}

// resend sends every chunk not yet acknowledged again.
func (w *CaptureWriter) resend() error {
	for n := w.base; n < w.base+uint64(len(w.window)); n++ {
		chunk := w.window[n-w.base]
		err := RetryWithin(w.RetryFor, func() error {
			c, err := w.put(n, chunk)
			if err == nil {
				w.ack(c)
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("store chunk %d of capture %s again: %w", n, w.Capture.ID, err)
		}
		if n < w.base { // the ack moved the window past n
			n = w.base - 1
		}
	}
	return nil
}

// waitFor waits until n chunks are committed, sending again what the store
// lost.
func (w *CaptureWriter) waitFor(n uint64) error {
	deadline := time.Now().Add(w.RetryFor)
	for w.committed < n {
		var c uint64
		err := RetryWithin(w.RetryFor, func() (err error) {
			c, err = w.store.WaitCommitted(w.Capture.Incident, w.Capture.ID, n)
			return err
		})
		if err != nil {
			return fmt.Errorf("wait for capture %s to commit: %w", w.Capture.ID, err)
		}
		before := w.committed
		w.ack(c)
		if w.committed < n {
			if w.committed == before && time.Now().After(deadline) {
				return fmt.Errorf("capture %s: the store stopped committing at chunk %d", w.Capture.ID, w.committed)
			}
			if err := w.resend(); err != nil {
				return err
			}
		}
	}
	return nil
}

// Flush sends what is buffered now, as a shorter chunk: a live session's
// output reaches the store within moments instead of once per MiB.
func (w *CaptureWriter) Flush() error {
	if w.err != nil {
		return w.err
	}
	if err := w.flushChunk(); err != nil {
		w.err = err
	}
	return w.err
}

// Err is the error that stopped the writer, if any.
func (w *CaptureWriter) Err() error { return w.err }

// Size is how many bytes were written.
func (w *CaptureWriter) Size() int64 { return w.size }

// Close sends what is left, waits for every chunk to commit, and seals the
// capture: the store checks the SHA-256 and verifies every copy.
func (w *CaptureWriter) Close() (Capture, error) { return w.seal("") }

// CloseInterrupted seals what was written so far as a partial capture, saying
// why (a signal): everything written is stored, hashed and copied.
func (w *CaptureWriter) CloseInterrupted(reason string) (Capture, error) { return w.seal(reason) }

func (w *CaptureWriter) seal(interrupted string) (Capture, error) {
	if w.err != nil {
		return w.Capture, w.err
	}
	if err := w.flushChunk(); err != nil {
		w.err = err
		return w.Capture, err
	}
	seal := Seal{Chunks: w.next, Size: w.size, Interrupted: interrupted}
	if !w.spooled {
		seal.SHA256 = hex.EncodeToString(w.hash.Sum(nil))
	}
	deadline := time.Now().Add(w.RetryFor)
	for {
		if err := w.waitFor(w.next); err != nil {
			w.err = err
			return w.Capture, err
		}
		c, err := w.store.SealCapture(w.Capture.Incident, w.Capture.ID, seal)
		if err == nil {
			w.Capture = c
			return c, nil
		}
		// An agent killed again and again mid-seal is retried as long as
		// anything else is: the seal is idempotent.
		if time.Now().After(deadline) || errors.Is(err, ErrInvalid) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrDamaged) || errors.Is(err, ErrNoSpace) {
			w.err = fmt.Errorf("seal capture %s: %w", w.Capture.ID, err)
			return w.Capture, w.err
		}
		// The agent may have died between commit and seal: its restart lost
		// nothing committed, so check again and retry.
		w.committed = 0
		if c, err := w.store.WaitCommitted(w.Capture.Incident, w.Capture.ID, w.next); err == nil {
			w.committed = c
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ThisWriter identifies the calling process as a capture's writer.
func ThisWriter() *Writer {
	host, _ := os.Hostname()
	start, _ := ProcessStart(os.Getpid())
	return &Writer{Host: host, PID: os.Getpid(), Start: start}
}

// ProcessStart reads a process's start time (clock ticks since boot), which
// tells a living process from a later one that reused its PID. A zombie
// counts as gone: it will write nothing more.
func ProcessStart(pid int) (uint64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return 0, false
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	return start, err == nil
}
