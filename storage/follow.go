package storage

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"calm/model"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// A recorded session reaches the store from its journal, not over the
// socket: the recorder only writes the journal (and the terminal), and the
// store follows the file at idle priority. On a busy machine the shell's
// output therefore never waits for compression, hashing or commits, and a
// dead agent costs the recorder nothing: the next one resumes from what is
// committed.

// orphanAfter is how long a follower waits for word from a recorder it
// cannot see before it stops.
const orphanAfter = 10 * time.Second

// followPoll is how often a follower looks for new bytes in a journal.
const followPoll = 100 * time.Millisecond

// Under a flood of output (a 200 MB cat) the store waits while the journal
// grows faster than floodRate, so that the terminal keeps the machine, but
// never falls more than floodLag behind: the live view stays useful.
const (
	floodRate = 8 << 20 // bytes a second
	floodLag  = 512 << 20
)

// follower takes one session's bytes from its journal into the store.
type follower struct {
	incident, capture, path string
	recorder                int          // the recording process, 0 if unknown
	beat                    atomic.Int64 // when the recorder last asked to be followed (unix ns)
	final                   chan int64   // the journal's size once the recorder has closed it
	done                    chan struct{}
}

// FollowJournal makes the store take the session's bytes from its journal,
// from where it has got to, until SealJournal. It returns at once; calling it
// again while following is harmless, which is how a recorder keeps a
// restarted agent following.
func (db *DB) FollowJournal(incident, session string) error {
	c, err := db.Capture(incident + "/" + session)
	if err != nil {
		return err
	}
	if c.Recording == nil || c.Recording.Journal == "" {
		return errorf(ErrInvalid, "%s/%s has no journal to follow", c.Incident, c.ID)
	}
	if c.State == CaptureSealed {
		return nil
	}
	db.follow(c)
	return nil
}

// SealJournal says the recorder has closed the journal (written and fsynced)
// at size bytes. The store takes the rest, checks its copies and seals the
// session in the background; the size is recorded first, so an agent that
// dies meanwhile finishes the work when it starts again.
func (db *DB) SealJournal(incident, session string, size int64, cut string) (Capture, error) {
	c, err := db.Capture(incident + "/" + session)
	if err != nil {
		return c, err
	}
	if c.Recording == nil || c.Recording.Journal == "" {
		return c, errorf(ErrInvalid, "%s/%s has no journal to seal", c.Incident, c.ID)
	}
	if c.State == CaptureSealed {
		return c, nil
	}
	if c.Recording.JournalSize != size {
		if c.Recording.JournalSize != 0 {
			return c, errorf(ErrConflict, "%s/%s was closed at %d bytes, not %d", c.Incident, c.ID, c.Recording.JournalSize, size)
		}
		ended, err := db.changeCapture(c.Incident, c.ID, func(_ *bolt.Bucket, cur *Capture) (bool, error) {
			cur.Recording.JournalSize = size
			cur.Recording.Cut = cut
			return true, nil
		})
		if err != nil {
			return c, fmt.Errorf("record the end of %s/%s: %w", c.Incident, c.ID, err)
		}
		c = ended
	}
	f := db.follow(c)
	select {
	case f.final <- size:
	default: // already told
	}
	return c, nil
}

// WaitSealed waits up to d for a capture to be sealed and returns it as it
// is then. An agent that stops answering meanwhile is started again and
// asked again, as a writer would.
func WaitSealed(s Store, ref string, d time.Duration) (Capture, error) {
	deadline := time.Now().Add(d)
	for {
		var c Capture
		err := model.RetryWithin(model.RetryFor, func() (err error) {
			c, err = s.Capture(ref)
			return err
		})
		if err != nil || c.State == CaptureSealed || time.Now().After(deadline) {
			return c, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// resumeFollowers goes on with every session not sealed yet: its recorder
// may be recording still, may have closed the journal before an agent could
// seal it, or may be gone. A killed agent leaves nothing half done.
func (db *DB) resumeFollowers() {
	<-db.checked
	if db.Damaged() != nil {
		return
	}
	incidents, err := db.Incidents()
	if err != nil {
		return
	}
	for _, inc := range incidents {
		caps, err := db.Captures(inc.ID)
		if err != nil {
			continue
		}
		for _, c := range caps {
			if c.State != CaptureSealed && c.Recording != nil && c.Recording.Journal != "" {
				db.follow(c)
			}
		}
	}
	idleThread()
	db.deriveMissingTexts(incidents)
}

// deriveMissingTexts derives the text of every sealed session without one
// (sealed by an older calm, or by an agent that died before it derived it),
// or with one of an older reading, whose readers use the old one meanwhile.
func (db *DB) deriveMissingTexts(incidents []Incident) {
	for _, inc := range incidents {
		caps, _ := db.Captures(inc.ID)
		for _, c := range caps {
			select {
			case <-db.stop:
				return
			default:
			}
			if c.State == CaptureSealed && c.Recording != nil && (c.Text == nil || c.Text.Reading < model.TextReading) {
				if err := db.deriveText(c.Incident, c.ID); err != nil {
					db.opts.Logf("%v", err)
				}
			}
		}
	}
	db.kickLines() // the texts just derived get their search lines
}

// localRecorder is the recorder's process ID if it ran on this machine.
func (db *DB) localRecorder(r *Recording) int {
	if host, _ := os.Hostname(); r.Host != host {
		return 0
	}
	return r.Recorder
}

// recorderAlive says whether a session's recorder still runs, as far as
// this machine can tell: one killed a moment ago, before its follower has
// noticed, is not recording.
func (db *DB) recorderAlive(r *Recording) bool {
	pid := db.localRecorder(r)
	return pid == 0 || unix.Kill(pid, 0) != unix.ESRCH
}

// follow starts a follower for the session unless one runs.
func (db *DB) follow(c Capture) *follower {
	key := progressKey(c.Incident, c.ID)
	db.mu.Lock()
	defer db.mu.Unlock()
	if f := db.followers[key]; f != nil {
		f.beat.Store(time.Now().UnixNano())
		return f
	}
	f := &follower{incident: c.Incident, capture: c.ID, path: c.Recording.Journal, recorder: db.localRecorder(c.Recording), final: make(chan int64, 1), done: make(chan struct{})}
	if c.Recording.JournalSize > 0 {
		f.final <- c.Recording.JournalSize
	}
	select {
	case <-db.stop:
		close(f.done) // closing: the next agent resumes it
		return f
	default:
	}
	f.beat.Store(time.Now().UnixNano())
	db.followers[key] = f
	go db.runFollower(f)
	return f
}

// following reports whether a follower feeds this capture (it also keeps the
// capture's file copies, on its own idle thread).
func (db *DB) following(key string) bool {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.followers[key] != nil
}

// Following is how many sessions the store is taking from journals.
func (db *DB) Following() int {
	db.mu.Lock()
	defer db.mu.Unlock()
	return len(db.followers)
}

// idleThread puts the calling goroutine on its own OS thread at the lowest
// CPU priority. The thread is never handed back (the goroutine never unlocks
// it), so it ends with the goroutine instead of carrying the priority into
// other work.
func idleThread() {
	runtime.LockOSThread()
	attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_IDLE}
	if unix.SchedSetAttr(0, &attr, 0) != nil {
		_ = unix.Setpriority(unix.PRIO_PROCESS, 0, 19)
	}
}

func (db *DB) runFollower(f *follower) {
	defer close(f.done)
	err := db.followJournal(f)
	if err != nil && !errors.Is(err, errStopped) {
		db.opts.Logf("session %s/%s: %v", f.incident, f.capture, err)
	}
	db.mu.Lock()
	delete(db.followers, progressKey(f.incident, f.capture))
	db.mu.Unlock()
}

var errStopped = errors.New("the store is closing")

// onIdleThread runs work on a goroutine of its own at idle priority and
// waits for it: the caller's thread keeps its priority.
func onIdleThread(work func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		idleThread()
		work()
	}()
	<-done
}

// journalTail is how far a follower has taken a journal into the store.
type journalTail struct {
	in      *os.File
	sum     hash.Hash
	cp      *copier
	buf     []byte
	chunks  uint64
	offset  int64
	dropped int64
}

func (db *DB) followJournal(f *follower) error {
	final := int64(-1)
	select {
	case final = <-f.final:
	default:
	}
	var t *journalTail
	var err error
	if final < 0 {
		// While the session records, the store takes its journal at idle
		// priority, so that the terminal keeps the machine. Once the
		// recorder has closed it nothing competes any more, and the rest
		// is done at the agent's priority: on a machine kept busy (the
		// incident itself, often) an idle thread could wait for minutes.
		onIdleThread(func() { t, final, err = db.tailJournal(f) })
	} else {
		t, err = db.openJournal(f)
	}
	if t != nil {
		defer t.in.Close()
	}
	if err != nil {
		return err
	}
	if err := db.takeJournal(t, f.incident, f.capture, final); err != nil {
		return err
	}
	if t.offset != final {
		return fmt.Errorf("the journal %s holds %d bytes, the recorder closed it at %d", f.path, t.offset, final)
	}
	db.commitPending()
	db.copyFollowed(t.cp)
	// The text first, so that a sealed session always has it.
	if err := db.deriveText(f.incident, f.capture); err != nil {
		db.opts.Logf("%v", err) // search and view fall back to the stream
	}
	seal := Seal{Chunks: t.chunks, Size: t.offset, SHA256: fmt.Sprintf("%x", t.sum.Sum(nil))}
	if c, err := db.Capture(f.incident + "/" + f.capture); err == nil && c.Recording != nil {
		seal.Interrupted = c.Recording.Cut
	}
	_, err = db.SealCapture(f.incident, f.capture, seal)
	return err
}

// openJournal opens a session's journal where the store has got to.
func (db *DB) openJournal(f *follower) (*journalTail, error) {
	// Resume after what is committed: the copier reads it back (as it
	// would anyway, to hash the store's copy), and the journal's bytes up
	// to there are hashed again, as if sent by a client.
	db.commitPending()
	cp := db.copierFor(f.incident, f.capture)
	cp.mu.Lock()
	err := db.catchUp(cp)
	chunks, offset := cp.next, cp.size
	cp.mu.Unlock()
	if err != nil {
		return nil, err
	}
	in, err := os.Open(f.path)
	if os.IsNotExist(err) {
		// An agent that died between moving the journal into the evidence
		// folder and recording it left it there.
		in, err = os.Open(copyPath(db.opts.EvidenceDir, f.incident, f.capture))
	}
	if err != nil {
		return nil, fmt.Errorf("open its journal: %w", err)
	}
	t := &journalTail{in: in, sum: sha256.New(), cp: cp, buf: make([]byte, ChunkSize), chunks: chunks, offset: offset}
	if n, err := io.CopyN(t.sum, in, offset); err != nil {
		return t, fmt.Errorf("the journal %s holds %d bytes, fewer than the store's %d: %w", f.path, n, offset, err)
	}
	return t, nil
}

// takeJournal stores the journal's bytes from where t has got to up to
// upTo.
func (db *DB) takeJournal(t *journalTail, incident, capture string, upTo int64) error {
	for t.offset < upTo {
		n, err := t.in.ReadAt(t.buf[:min(int64(len(t.buf)), upTo-t.offset)], t.offset)
		if n == 0 && err != nil {
			return fmt.Errorf("read its journal: %w", err)
		}
		t.sum.Write(t.buf[:n])
		DropBehind(t.in, &t.dropped, t.offset+int64(n)) // stored: read again only to check the copy
		if _, err := db.PutChunk(incident, capture, t.chunks, t.buf[:n]); err != nil {
			return err
		}
		t.chunks++
		t.offset += int64(n)
		db.copyFollowed(t.cp)
		select {
		case <-db.stop:
			return errStopped
		default:
		}
	}
	return nil
}

// tailJournal follows a journal while its session records, and returns
// once its recorder has closed it (or been found dead) with the size it
// closed it at.
func (db *DB) tailJournal(f *follower) (*journalTail, int64, error) {
	t, err := db.openJournal(f)
	if err != nil {
		return t, 0, err
	}
	tick := time.NewTicker(followPoll)
	defer tick.Stop()
	lastSize := t.offset
	lastLook := time.Now()
	for {
		select {
		case final := <-f.final:
			return t, final, nil
		default:
		}
		size, err := fileSize(t.in)
		if err != nil {
			return t, 0, err
		}
		now := time.Now()
		rate := float64(size-lastSize) / max(now.Sub(lastLook).Seconds(), 1e-3)
		lastSize, lastLook = size, now
		if rate <= floodRate || size-t.offset >= floodLag {
			if err := db.takeJournal(t, f.incident, f.capture, size); err != nil {
				return t, 0, err
			}
		}
		if t.offset == size && f.recorder == 0 && time.Since(time.Unix(0, f.beat.Load())) > orphanAfter {
			// Nobody says this session is alive and nothing can tell if
			// its recorder is (another machine's, an older calm's): stop
			// looking until a recorder asks again.
			return t, 0, fmt.Errorf("no word from its recorder for %s: left open", orphanAfter)
		}
		select {
		case final := <-f.final: // the recorder closed the journal before it went
			return t, final, nil
		default:
		}
		if t.offset == size && f.recorder != 0 && unix.Kill(f.recorder, 0) == unix.ESRCH {
			// The recorder died without closing the journal. Its last
			// write was whole (one write call), so what the file holds,
			// read once more, is the session.
			if size, err = fileSize(t.in); err != nil {
				return t, 0, err
			}
			if size == t.offset {
				// What its terminal showed last may have been on its way
				// to the journal.
				if n, err := RecoverShown(f.path); err != nil {
					db.opts.Logf("session %s/%s: %v", f.incident, f.capture, err)
				} else if n > 0 {
					db.opts.Logf("session %s/%s: its recorder (pid %d) is gone; added the %d bytes of output its terminal showed last to its journal", f.incident, f.capture, f.recorder, n)
					continue
				}
				db.opts.Logf("session %s/%s: its recorder (pid %d) is gone; sealing the %d bytes of its journal", f.incident, f.capture, f.recorder, size)
				cut := fmt.Sprintf("its recorder, process %d, was killed; the session holds what its terminal had shown", f.recorder)
				if _, err := db.SealJournal(f.incident, f.capture, size, cut); err != nil {
					return t, 0, err
				}
				continue
			}
		}
		select {
		case <-db.stop:
			return t, 0, errStopped
		case final := <-f.final:
			return t, final, nil
		case <-tick.C:
		}
	}
}

// copyFollowed catches the session's copier up on the follower's own thread,
// so reading the store back is idle work too.
func (db *DB) copyFollowed(cp *copier) {
	cp.mu.Lock()
	_ = db.catchUp(cp) // a failure here shows again, and counts, at seal
	cp.mu.Unlock()
}

func fileSize(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("read its journal: %w", err)
	}
	return st.Size(), nil
}
