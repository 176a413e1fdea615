package capture

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"calm/storage"
	"calm/terminal"
)

// shownRing is the journal's shown file (see storage.ShownPath): the latest
// raw output, copied in before the terminal gets it, in pages the kernel
// keeps if the recorder is killed. The read loop writes the output and its
// total; the journal's writer writes the extents.
type shownRing struct {
	f     *os.File
	mem   []byte // the whole file, mapped shared
	ring  []byte // mem after the header
	total int64  // output shown; the read loop's
	slot  uint64 // the current extent slot; the writer's
}

// shownCapacity bounds how far the terminal may run ahead of the journal's
// file: as far as the journal's own inbox lets it. Beyond, the read loop
// waits rather than overwrite output the journal does not hold yet.
const shownCapacity = journalInbox

// openShown makes the shown file of the journal at path, which holds held
// bytes of output at size bytes. Its space is allocated first: a page of a
// shared mapping that the disk has no room for kills the process that
// writes it (SIGBUS).
func openShown(path string, size int64) (*shownRing, error) {
	name := storage.ShownPath(path)
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*shownRing, error) {
		f.Close()
		os.Remove(name)
		return nil, err
	}
	length := storage.ShownHeader + shownCapacity
	if err := unix.Fallocate(int(f.Fd()), 0, 0, int64(length)); err != nil {
		return fail(fmt.Errorf("allocate %s: %w", name, err))
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, length, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fail(fmt.Errorf("map %s: %w", name, err))
	}
	s := &shownRing{f: f, mem: mem, ring: mem[storage.ShownHeader:]}
	copy(mem, storage.ShownMagic)
	s.journaled(0, size)
	return s, nil
}

func (s *shownRing) word(at int) *uint64 {
	return (*uint64)(unsafe.Pointer(&s.mem[at]))
}

// show copies p in, then counts it: a kill in between leaves p uncounted,
// and the terminal has not shown it yet.
func (s *shownRing) show(p []byte, at float64) {
	from := int(s.total % int64(len(s.ring)))
	n := copy(s.ring[from:], p)
	copy(s.ring, p[n:])
	s.total += int64(len(p))
	binary.LittleEndian.PutUint64(s.mem[storage.ShownTimeAt:], math.Float64bits(at))
	atomic.StoreUint64(s.word(storage.ShownTotalAt), uint64(s.total))
}

// journaled records that the journal's first size bytes hold the first held
// bytes of output, in the slot not current, and then makes it current.
func (s *shownRing) journaled(held, size int64) {
	next := s.slot ^ 1
	at := storage.ShownSlotsAt + 16*int(next)
	binary.LittleEndian.PutUint64(s.mem[at:], uint64(held))
	binary.LittleEndian.PutUint64(s.mem[at+8:], uint64(size))
	atomic.StoreUint64(s.word(storage.ShownSlotAt), next)
	s.slot = next
}

// close removes the shown file: the journal it was closed with holds all
// the output.
func (s *shownRing) close() {
	unix.Munmap(s.mem)
	os.Remove(s.f.Name())
	s.f.Close()
}

// CreateShownJournal is CreateJournal for a recorder whose output reaches a
// terminal: the journal also keeps a copy of the output shown (see Shown),
// which the store's agent adds to the journal if the recorder is killed.
// Where that copy cannot be made, the journal is made all the same and
// ShownErr says why.
func CreateShownJournal(path string, h terminal.Header, start time.Time) (*Journal, error) {
	return createJournal(path, h, start, true)
}

// ShownErr says why a journal made by CreateShownJournal keeps no copy of
// the output shown.
func (j *Journal) ShownErr() error { return j.shownErr }

// Shown keeps p, output about to be shown on the terminal, so that a
// recorder killed once the terminal has it loses none of it. It waits while
// the journal is a whole ring behind.
func (j *Journal) Shown(p []byte, now time.Time) {
	s := j.shown
	if s == nil {
		return
	}
	if s.total+int64(len(p))-j.rawWritten.Load() > int64(len(s.ring)) {
		j.mu.Lock()
		for s.total+int64(len(p))-j.rawWritten.Load() > int64(len(s.ring)) && !j.closed && !j.failed.Load() {
			j.cond.Wait()
		}
		j.mu.Unlock()
	}
	// Not rounded or kept monotonic as the journal's stamps are: the agent
	// takes the later of this and the journal's last event.
	s.show(p, now.Sub(j.start).Seconds())
}
