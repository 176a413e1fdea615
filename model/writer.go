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
	next      uint64   // number of the next chunk to send
	window    [][]byte // unacknowledged chunks, window[0] is chunk base
	base      uint64
	committed uint64
	// committedBytes is how many bytes from the start the store holds.
	committedBytes int64
	hash           hash.Hash
	size           int64
	err            error
	spare          [][]byte
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
func retry(f func() error) error { return retryFor(RetryFor, f) }

func retryFor(d time.Duration, f func() error) error {
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

func (w *CaptureWriter) flushChunk() error {
	if len(w.buf) == 0 {
		return nil
	}
	chunk := w.buf
	if len(w.spare) > 0 {
		w.buf, w.spare = w.spare[len(w.spare)-1][:0], w.spare[:len(w.spare)-1]
	} else {
		w.buf = make([]byte, 0, ChunkSize)
	}
	w.window = append(w.window, chunk)
	n := w.next
	w.next++
	if err := w.send(n, chunk); err != nil {
		return err
	}
	for len(w.window) >= WindowChunks {
		if err := w.waitFor(w.base + 1); err != nil {
			return err
		}
	}
	return nil
}

func (w *CaptureWriter) send(n uint64, chunk []byte) error {
	var lost bool
	err := retryFor(w.RetryFor, func() error {
		c, err := w.store.PutChunk(w.Capture.Incident, w.Capture.ID, n, chunk)
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
		w.committedBytes += int64(len(w.window[0]))
		w.spare = append(w.spare, w.window[0])
		w.window[0] = nil
		w.window = w.window[1:]
		w.base++
	}
}

// resend sends every chunk not yet acknowledged again.
func (w *CaptureWriter) resend() error {
	for n := w.base; n < w.base+uint64(len(w.window)); n++ {
		chunk := w.window[n-w.base]
		err := retryFor(w.RetryFor, func() error {
			c, err := w.store.PutChunk(w.Capture.Incident, w.Capture.ID, n, chunk)
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
		err := retryFor(w.RetryFor, func() (err error) {
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

// Committed is how many bytes from the start the store has acknowledged as
// committed: what it keeps whatever happens to this writer.
func (w *CaptureWriter) Committed() int64 { return w.committedBytes }

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
	seal := Seal{Chunks: w.next, Size: w.size, SHA256: hex.EncodeToString(w.hash.Sum(nil)), Interrupted: interrupted}
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
