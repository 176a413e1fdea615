// Package capture turns the outside world into bytes for the store: the PTY
// recorder and its asciicast journal, tmux scrollback and live pane output,
// and destructive-command markers.
package capture

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"

	"golang.org/x/sys/unix"

	"calm/storage"
	"calm/terminal"
)

// Journal is a recorder's own asciicast v2 file: an independent copy of the
// session that asciinema can replay, written in the same pass as the output
// reaches the terminal. The store's copy of the session is this file's bytes.
//
// The recorder's read loop, once the output is on the terminal, encodes it
// as an event where it is still in the CPU's cache; a writer goroutine takes
// the encoded events whole and writes them. The two meet about twice per
// journalBatch bytes, not once per read, the writer has little to do with
// the recorder's one P (it only makes system calls, and waits for the disk
// without the P: see ring), and the terminal waits for the disk only if
// journalInbox bytes are waiting.
type Journal struct {
	mu      sync.Mutex // guards the fields up to done
	cond    *sync.Cond // the writer took the encoded events
	start   time.Time
	lastAt  float64
	carry   []byte // the start of a rune cut at the end of the last output
	encoded []byte // events encoded, not taken by the writer yet, in encodedIn
	// encodedIn is block-aligned memory; encoded starts in it where its
	// first byte will be in a block of the file.
	encodedIn []byte
	total     int64 // the journal's length once everything encoded is written
	closed    bool
	arrived   chan struct{} // the first event since the writer last took them
	full      chan struct{} // a batch is waiting, or the journal is closing
	done      chan struct{} // the writer has written everything

	// The writer's own, read by others only after done.
	f         *os.File
	direct    *os.File               // f again, opened O_DIRECT; nil where the file system refuses it
	ring      *ring                  // makes the direct writes; nil where io_uring is not to be had
	size      int64                  // bytes written so far
	pending   []byte                 // events taken, not written yet, in pendingIn
	pendingIn []byte                 // block-aligned memory, as encodedIn
	flushing  int64                  // where the last range sent to the disk ends
	dropped   int64                  // the journal's pages before this offset left the cache
	werr      error                  // the first write error
	failed    atomic.Bool            // werr is set (for other goroutines)
	path      string                 // where the journal is, put back there if deleted
	checked   time.Time              // when the writer last looked that it still is
	notice    atomic.Pointer[string] // what the recorder should say (the journal put back)

	// The output shown on the terminal, kept until the journal holds it;
	// nil where the recorder has no terminal or no room for it.
	shown      *shownRing
	shownErr   error
	rawEncoded int64        // bytes of output in the events encoded; under mu
	rawTaken   int64        // ... in the events the writer took; the writer's
	rawWritten atomic.Int64 // ... in the events written (set under mu, for Shown's wait)
}

// Events wait at most journalDelay, or until journalBatch bytes are
// waiting, and then go out together. journalInbox bounds how far the
// terminal may run ahead of the disk.
const (
	journalDelay = 5 * time.Millisecond
	journalBatch = 128 << 10
	journalInbox = 8 << 20
	// journalWindow is how much of the journal is written back at a time.
	journalWindow = 4 << 20
)

// The journal's whole blocks go to the disk directly (O_DIRECT), not
// through the page cache: copying a flood into the cache, writing it back
// and dropping it again costs the recorder CPU taken from the shell's own
// output. A direct
// write covers whole blocks at a block's offset, from memory aligned to a
// block; the bytes before the next block boundary and after the last whole
// block go through the cache, so that every write still ends at the end of
// an event, as before. The direct writes go through an io_uring where the
// kernel allows one (see ring), else through pwrite(2).
const blockSize = 4096

// writeDirectly is false only in tests of the journal written wholly
// through the cache, as on file systems without direct I/O; writeThroughRing
// is false only in tests of direct writes made with pwrite(2), as where
// io_uring is turned off.
var writeDirectly, writeThroughRing = true, true

// CreateJournal starts a journal file (0600, in a 0700 folder).
func CreateJournal(path string, h terminal.Header, start time.Time) (*Journal, error) {
	return createJournal(path, h, start, false)
}

func createJournal(path string, h terminal.Header, start time.Time, keepShown bool) (*Journal, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create journal folder: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create journal: %w", err)
	}
	h.Version = 2
	h.Timestamp = start.Unix()
	line, _ := json.Marshal(h)
	j := &Journal{f: f, path: path, start: start, arrived: make(chan struct{}, 1), full: make(chan struct{}, 1), done: make(chan struct{})}
	j.cond = sync.NewCond(&j.mu)
	if writeDirectly {
		j.direct, _ = os.OpenFile(path, os.O_WRONLY|unix.O_DIRECT, 0)
	}
	if j.direct != nil && writeThroughRing {
		j.ring, _ = newRing() // else pwrite(2)
	}
	j.encodedIn, j.pendingIn = alignedBytes(journalBatch), alignedBytes(journalBatch)
	j.encoded = j.encodedIn[:0]
	j.reserve(len(line) + 1)
	j.encoded = append(j.encoded, line...)
	j.encoded = append(j.encoded, '\n')
	j.total = int64(len(j.encoded))
	j.takeEncoded()
	if err := j.flush(); err != nil {
		j.closeFiles()
		return nil, err
	}
	if keepShown {
		j.shown, j.shownErr = openShown(path, j.size)
	}
	go j.writer()
	return j, nil
}

func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// writer writes the encoded events, a batch at a time, until closed.
func (j *Journal) writer() {
	// Where the writer waits for the disk in pwrite(2), and gives the kernel
	// the write's work there, the terminal comes first: on a busy machine
	// this thread yields to the program and the terminal (the encoded events
	// wait meanwhile). Nice, not SCHED_IDLE: journalInbox bytes waiting stop
	// the shell, so the writer must never starve. The thread ends with the
	// goroutine, priority and all. With the ring the writer only hands over
	// and parks: a thread of its own made the recorder slower (a switch of
	// threads at each wake-up, and the P sometimes held by a thread at nice
	// 19).
	if j.ring == nil {
		runtime.LockOSThread()
		lowerPriority()
	}
	defer close(j.done)
	timer := time.NewTimer(journalDelay)
	for {
		<-j.arrived
		timer.Reset(journalDelay)
		select {
		case <-j.full:
		case <-timer.C:
		}
		j.mu.Lock()
		j.takeEncoded()
		closed := j.closed
		j.cond.Broadcast()
		j.mu.Unlock()
		if j.flush() == nil && j.shown != nil {
			j.shown.journaled(j.rawTaken, j.size)
			j.mu.Lock()
			j.rawWritten.Store(j.rawTaken)
			j.cond.Broadcast()
			j.mu.Unlock()
		} else if j.shown != nil {
			j.mu.Lock()
			j.cond.Broadcast() // Shown waits no more
			j.mu.Unlock()
		}
		if now := time.Now(); closed || now.Sub(j.checked) >= journalCheckEvery {
			j.checked = now
			j.restoreIfRemoved()
		}
		if closed {
			return
		}
	}
}

// journalCheckEvery is how often a recording journal is looked for at its
// path: someone freeing disk space may remove the store's folder.
const journalCheckEvery = time.Second

// restoreIfRemoved puts the journal back at its path when it was deleted
// (rm -rf of the store's folder while recording): the recorder still holds
// it open, whole, but the store finds it by its name, and everything
// recorded would go with the last descriptor. It is copied from the open
// file to its name again, made durable, and written from there on.
func (j *Journal) restoreIfRemoved() {
	var st unix.Stat_t
	if j.werr != nil || unix.Fstat(int(j.f.Fd()), &st) != nil || st.Nlink > 0 {
		return
	}
	fail := func(err error) {
		msg := fmt.Sprintf("calm: the journal %s was deleted and could not be put back (%v): this recording is only in calm's memory until it ends", j.path, err)
		j.notice.Store(&msg)
	}
	src, err := os.Open(fmt.Sprintf("/proc/self/fd/%d", j.f.Fd()))
	if err != nil {
		fail(err)
		return
	}
	defer src.Close()
	if err := os.MkdirAll(filepath.Dir(j.path), 0o700); err != nil {
		fail(err)
		return
	}
	temp := j.path + ".restoring"
	os.Remove(temp)
	f, err := os.OpenFile(temp, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		fail(err)
		return
	}
	n, err := io.Copy(f, src)
	if err == nil {
		err = f.Sync()
	}
	f.Close()
	if err == nil {
		err = os.Rename(temp, j.path)
	}
	var again *os.File
	if err == nil {
		again, err = os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND|unix.O_NOFOLLOW, 0)
	}
	if err != nil {
		os.Remove(temp)
		fail(err)
		return
	}
	if dir, err := os.Open(filepath.Dir(j.path)); err == nil {
		dir.Sync()
		dir.Close()
	}
	j.closeDirect()
	j.f.Close()
	j.f, j.dropped, j.flushing = again, 0, j.size
	if writeDirectly {
		j.direct, _ = os.OpenFile(j.path, os.O_WRONLY|unix.O_DIRECT, 0)
	}
	if j.direct != nil && writeThroughRing {
		j.ring, _ = newRing()
	}
	msg := fmt.Sprintf("calm: the journal %s was deleted; put back from the recorder's open file (%d bytes), nothing lost; recording goes on", j.path, n)
	j.notice.Store(&msg)
}

// Notice is what the recorder should tell the person about the journal
// since it last asked, if anything.
func (j *Journal) Notice() string {
	if msg := j.notice.Swap(nil); msg != nil {
		return *msg
	}
	return ""
}

// takeEncoded hands the encoded events to the writer, and the writer's
// written memory back for the next events; j.mu is held.
func (j *Journal) takeEncoded() {
	j.pending, j.encodedIn, j.pendingIn = j.encoded, j.pendingIn, j.encodedIn
	j.rawTaken = j.rawEncoded
	at := int(j.total % blockSize)
	j.encoded = j.encodedIn[at:at]
}

// writerSlice is the journal writer's time slice. Linux (EEVDF) lets a
// running task use up its slice (milliseconds by default) before a task
// woken meanwhile may preempt it, nice or not: the program and the
// terminal's kernel work would wait that long behind the writer. Since
// Linux 6.12 a thread may ask for a shorter slice; older kernels ignore it.
const writerSlice = 100 * time.Microsecond

// lowerPriority puts the calling thread at nice 19 with a short slice.
func lowerPriority() {
	attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_NORMAL, Nice: 19, Runtime: uint64(writerSlice)}
	if unix.SchedSetAttr(0, &attr, 0) != nil {
		_ = unix.Setpriority(unix.PRIO_PROCESS, 0, 19)
	}
}

// take encodes one event. A multi-byte character split between two reads
// waits for its end, so the JSON string holds whole characters; bytes that
// are not UTF-8 at all become U+FFFD, as asciicast requires text. j.mu is
// held.
func (j *Journal) take(at float64, kind byte, p []byte) {
	if kind != 'o' {
		j.encode(at, kind, p)
		return
	}
	if len(j.carry) > 0 {
		p = append(j.carry, p...)
		j.carry = nil
	}
	if cut := incompleteTail(p); cut > 0 {
		j.carry = append([]byte(nil), p[len(p)-cut:]...)
		p = p[:len(p)-cut]
	}
	if len(p) > 0 {
		j.encode(at, kind, p)
		j.rawEncoded += int64(len(p))
	}
}

func (j *Journal) encode(at float64, kind byte, data []byte) {
	j.reserve(terminal.MaxEventsLen(len(data)))
	was := len(j.encoded)
	if kind == 'o' {
		// Output that is not UTF-8 gets a "b" event with its bytes.
		j.encoded = terminal.AppendOutput(j.encoded, at, data)
	} else {
		j.encoded = terminal.AppendEvent(j.encoded, at, kind, data)
	}
	j.total += int64(len(j.encoded) - was)
}

// reserve makes room for n more encoded bytes without moving them out of
// block-aligned memory; j.mu is held.
func (j *Journal) reserve(n int) {
	if len(j.encoded)+n <= cap(j.encoded) {
		return
	}
	at := int((j.total - int64(len(j.encoded))) % blockSize)
	grown := alignedBytes(at + max(2*cap(j.encoded), len(j.encoded)+n, journalBatch))
	j.encoded = append(grown[at:at], j.encoded...)
	j.encodedIn = grown
}

// alignedBytes returns n bytes that start at a block boundary in memory.
func alignedBytes(n int) []byte {
	b := make([]byte, n+blockSize)
	skip := -int(uintptr(unsafe.Pointer(&b[0]))) & (blockSize - 1)
	return b[skip : skip+n : skip+n]
}

// flush writes the pending events: whole blocks directly, the bytes around
// them through the cache.
func (j *Journal) flush() error {
	p := j.pending
	if j.werr == nil && j.direct != nil {
		head := min(len(p), int(-j.size&(blockSize-1))) // up to the next block boundary
		if whole := (len(p) - head) &^ (blockSize - 1); whole > 0 {
			if j.writeCached(p[:head]) == nil && j.writeDirect(p[head:head+whole]) == nil {
				p = p[head+whole:]
			} else {
				p = p[head:] // written through the cache below, if at all
			}
		}
	}
	if len(p) > 0 && j.werr == nil {
		j.writeCached(p)
	}
	j.pending = nil
	j.recycle()
	return j.werr
}

func (j *Journal) writeCached(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	n, err := j.f.Write(p)
	j.size += int64(n)
	if err != nil {
		j.werr = fmt.Errorf("write journal %s: %w", j.f.Name(), err)
		j.failed.Store(true)
	}
	return j.werr
}

// writeDirect writes whole blocks at the journal's end, past the cache. A
// file system that turns the write down (EINVAL: other alignment rules, or
// no direct I/O at all) gets the rest of the journal through the cache; an
// error from the disk itself is the journal's error.
func (j *Journal) writeDirect(p []byte) error {
	n, err := j.pwriteDirect(p)
	if n > 0 {
		j.size += int64(n)
	}
	switch {
	case err == unix.EINVAL && n <= 0:
		j.closeDirect()
		return err
	case err != nil:
		j.werr = fmt.Errorf("write journal %s: %w", j.f.Name(), err)
		j.failed.Store(true)
		return j.werr
	case n < len(p):
		j.werr = fmt.Errorf("write journal %s: %w", j.f.Name(), io.ErrShortWrite)
		j.failed.Store(true)
		return j.werr
	}
	return nil
}

// pwriteDirect writes p at the journal's end through the direct descriptor,
// with the ring where there is one.
func (j *Journal) pwriteDirect(p []byte) (int, error) {
	fd := int(j.direct.Fd())
	if j.ring != nil {
		n, err := j.ring.pwrite(fd, p, j.size)
		if !errors.Is(err, errNotSubmitted) {
			return n, err
		}
		j.ring.close()
		j.ring = nil
	}
	return unix.Pwrite(fd, p, j.size)
}

// closeDirect ends the direct writes, and the ring that made them.
func (j *Journal) closeDirect() {
	if j.ring != nil {
		j.ring.close()
		j.ring = nil
	}
	if j.direct != nil {
		j.direct.Close()
		j.direct = nil
	}
}

func (j *Journal) closeFiles() {
	j.closeDirect()
	j.f.Close()
	if j.shown != nil {
		j.shown.close()
	}
}

// recycle keeps a flood's journal from filling the page cache: every
// journalWindow bytes it starts their writeback, and what went to the disk
// a window before leaves the cache (storage.DropBehind), so the next writes
// reuse those pages. The agent, which follows the journal closely unless
// a flood holds it back, then reads them from the disk.
func (j *Journal) recycle() {
	if j.size-j.flushing < journalWindow {
		return
	}
	_ = unix.SyncFileRange(int(j.f.Fd()), j.flushing, j.size-j.flushing, unix.SYNC_FILE_RANGE_WRITE)
	j.flushing = j.size
	storage.DropBehind(j.f, &j.dropped, j.flushing)
}

// Failed reports whether a write of the journal failed: what followed is not
// in it.
func (j *Journal) Failed() bool { return j.failed.Load() }

// Err is the journal's first write error, once Failed.
func (j *Journal) Err() error {
	if !j.failed.Load() {
		return nil
	}
	return j.werr
}

// Path is the journal's file.
func (j *Journal) Path() string { return j.f.Name() }

// Size is how many bytes the journal holds once closed.
func (j *Journal) Size() int64 {
	<-j.done
	return j.size
}

// At is the time of the last event, in seconds since the start.
func (j *Journal) At() float64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.lastAt
}

// elapsed stamps an event; j.mu is held.
func (j *Journal) elapsed(now time.Time) float64 {
	at := now.Sub(j.start).Seconds()
	// Rounded to microseconds like asciinema, and never going backwards.
	at, _ = strconv.ParseFloat(strconv.FormatFloat(at, 'f', 6, 64), 64)
	if at < j.lastAt {
		at = j.lastAt
	}
	j.lastAt = at
	return at
}

// send encodes an event for the writer. It blocks only while the disk is
// journalInbox bytes behind.
func (j *Journal) send(kind byte, data []byte, now time.Time) error {
	j.mu.Lock()
	for len(j.encoded) >= journalInbox && !j.closed {
		j.cond.Wait()
	}
	if j.closed {
		j.mu.Unlock()
		return errJournalClosed
	}
	first := len(j.encoded) == 0
	j.take(j.elapsed(now), kind, data)
	full := len(j.encoded) >= journalBatch
	j.mu.Unlock()
	if first {
		notify(j.arrived)
	}
	if full {
		notify(j.full)
	}
	return nil
}

var errJournalClosed = fmt.Errorf("the journal is closed")

// Output records terminal output.
func (j *Journal) Output(p []byte, now time.Time) error { return j.send('o', p, now) }

// Input records typed input.
func (j *Journal) Input(p []byte, now time.Time) error { return j.send('i', p, now) }

// Resize records a new terminal size.
func (j *Journal) Resize(cols, rows int, now time.Time) error {
	return j.send('r', fmt.Appendf(nil, "%dx%d", cols, rows), now)
}

// Marker records an asciicast marker.
func (j *Journal) Marker(label string, now time.Time) error { return j.send('m', []byte(label), now) }

// Close writes out every event (and a character still waiting
// for its end), fsyncs the file and closes it.
func (j *Journal) Close() error {
	j.mu.Lock()
	if len(j.carry) > 0 && !j.closed {
		j.encode(j.lastAt, 'o', j.carry)
		j.rawEncoded += int64(len(j.carry))
	}
	j.closed = true
	j.cond.Broadcast()
	j.mu.Unlock()
	notify(j.arrived)
	notify(j.full)
	<-j.done
	defer j.closeFiles()
	if j.werr != nil {
		return j.werr
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("fsync journal %s: %w", j.f.Name(), err)
	}
	return nil
}

// incompleteTail is how many bytes at the end of p begin a UTF-8 character
// that is not complete yet.
func incompleteTail(p []byte) int {
	for i := 1; i <= min(utf8.UTFMax-1, len(p)); i++ {
		b := p[len(p)-i]
		if utf8.RuneStart(b) {
			if b >= 0xC0 && !utf8.FullRune(p[len(p)-i:]) {
				return i
			}
			return 0
		}
	}
	return 0
}
