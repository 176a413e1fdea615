package storage

import (
	"errors"
	"fmt"
	"os"
	"time"

	"calm/model"
)

// Every capture ends sealed. A writer that seals nothing (killed, a second
// Ctrl-C, a crash) leaves its capture open; the store watches each open
// capture's writer process and, once it is gone, seals what was committed as
// interrupted, with copies, as if the writer had asked.

// orphanPoll is how often the store looks for writers that are gone.
const orphanPoll = time.Second

// roomRetry is how often an orphan waiting for room on the disk tries again:
// each try reads and encodes what its spool holds until a commit fails.
const roomRetry = 15 * time.Second

// WithWaiting is c with what its seal waits for, if anything
// (Capture.Waiting), and whether its writer still writes it
// (Capture.Streaming).
func (db *DB) WithWaiting(c Capture) Capture {
	db.mu.Lock()
	c.Waiting = db.waitingRoom[progressKey(c.Incident, c.ID)].note
	db.mu.Unlock()
	c.Streaming = c.State != CaptureSealed && c.Waiting == "" && c.Recording == nil && writerLocal(c.Writer) && !writerGone(c.Writer)
	if c.Streaming && c.Source == "tee" {
		if st, err := os.Stat(SpoolPath(db.opts.Path, c.Writer)); err == nil {
			c.SoFar = st.Size()
		}
	}
	return c
}

// WithFilesLooked is c with each file copy recorded verified that is gone
// now shown missing: a person glancing at the copies must not read a
// deleted file as safe until the next verify. The record is not changed;
// verify and repair do that.
func WithFilesLooked(c Capture) Capture {
	var looked []Copy
	for i, cp := range c.Copies {
		if cp.State != CopyVerified || cp.Kind != CopyEvidence && cp.Kind != CopyMirror {
			continue
		}
		if _, err := os.Lstat(cp.Location); !errors.Is(err, os.ErrNotExist) {
			continue
		}
		if looked == nil {
			looked = append([]Copy(nil), c.Copies...)
		}
		looked[i].State, looked[i].Error = CopyMissing, "the file is gone since it was verified: 'calm verify --repair' writes it again"
	}
	if looked != nil {
		c.Copies = looked
	}
	return c
}

// roomWait is an orphan waiting for room on the disk: when it tries again,
// and what its seal waits for, in words (Capture.Waiting).
type roomWait struct {
	next time.Time
	note string
}

// roomToTry says whether c, if it waits for room on the disk, may try again.
func (db *DB) roomToTry(c Capture) bool {
	db.mu.Lock()
	defer db.mu.Unlock()
	w, waiting := db.waitingRoom[progressKey(c.Incident, c.ID)]
	return !waiting || time.Now().After(w.next)
}

// writerGone reports whether a capture's writer ran on this machine and has
// ended. Writers elsewhere cannot be seen, so they never count as gone.
func writerGone(w *Writer) bool {
	if !writerLocal(w) {
		return false
	}
	start, alive := model.ProcessStart(w.PID)
	return !alive || (w.Start != 0 && start != w.Start)
}

// writerLocal reports whether a capture's writer runs on this machine, where
// whether it still runs can be seen.
func writerLocal(w *Writer) bool {
	host, _ := os.Hostname()
	return w != nil && w.Host == host && w.PID > 0
}

// watchOrphans seals, for as long as the store is open, every open capture
// whose writer is gone; at start, it also seals captures an older calm left
// open with no writer recorded.
func (db *DB) watchOrphans() {
	defer close(db.orphansDone)
	select {
	case <-db.checked:
	case <-db.stop:
		return
	}
	if db.Damaged() != nil {
		return
	}
	if err := db.forgetOldRequests(time.Now()); err != nil {
		db.opts.Logf("forget old request IDs: %v", err)
	}
	if caps, err := db.openCaptures(); err == nil {
		for _, c := range caps {
			if c.Writer == nil && c.Created.Before(db.openedAt) {
				db.sealOrphan(c, "left open by an earlier calm")
			}
		}
	}
	db.sweepSpools()
	tick := time.NewTicker(orphanPoll)
	defer tick.Stop()
	lastRepair, lastSweep := time.Now(), time.Now()
	for {
		select {
		case <-db.stop:
			return
		case <-tick.C:
		}
		if time.Since(lastSweep) >= spoolSweepEvery {
			lastSweep = time.Now()
			db.sweepSpools()
		}
		if time.Since(lastRepair) >= repairEvery {
			lastRepair = time.Now()
			db.repairQuietly()
		}
		caps, err := db.openItems()
		if err != nil {
			continue
		}
		for _, c := range caps {
			select {
			case <-db.stop:
				return
			default:
			}
			switch {
			case c.Recording != nil:
				// A recorder killed before it asked the store to follow its
				// journal: the follower sees it gone and seals the journal.
				if pid := db.localRecorder(c.Recording); pid > 0 && !db.following(progressKey(c.Incident, c.ID)) {
					if _, alive := model.ProcessStart(pid); !alive {
						db.follow(c)
					}
				}
			case writerGone(c.Writer) && db.roomToTry(c):
				why := fmt.Sprintf("its writer, process %d, ended without sealing it", c.Writer.PID)
				db.mu.Lock()
				if err := db.stoppedBy[progressKey(c.Incident, c.ID)]; err != nil {
					why = fmt.Sprintf("storing it failed (%v), and its writer, process %d, ended", err, c.Writer.PID)
				}
				db.mu.Unlock()
				db.sealOrphan(c, why)
			}
		}
	}
}

func (db *DB) sealOrphan(c Capture, why string) {
	// From here to the seal, the dead writer's requests still on their way
	// are refused: the store alone decides what the capture holds.
	key := progressKey(c.Incident, c.ID)
	db.mu.Lock()
	db.adopting[key] = true
	db.mu.Unlock()
	defer func() {
		db.mu.Lock()
		delete(db.adopting, key)
		db.mu.Unlock()
	}()
	spool := ""
	whole := int64(-1)
	if c.Writer != nil && c.Source == "tee" {
		spool = SpoolPath(db.opts.Path, c.Writer)
		if said := spoolWhy(spool); said != "" {
			why = said
		}
		whole = spoolWhole(spool)
		took, err := db.adoptSpool(c, spool)
		if errors.Is(err, ErrNoSpace) {
			// What tee read is on this disk already, in the spool: the
			// capture waits, open, until there is room to store it.
			db.mu.Lock()
			_, said := db.waitingRoom[key]
			db.waitingRoom[key] = roomWait{
				next: time.Now().Add(roomRetry),
				note: fmt.Sprintf("its tee is gone and the store's disk is full: the rest of what it read waits in %s, stored once there is room", spool),
			}
			db.mu.Unlock()
			if !said {
				db.opts.Logf("%s/%s waits for room on the disk to store the rest of what its tee read, kept in %s: %v", c.Incident, c.ID, spool, err)
			}
			return
		}
		if err != nil {
			db.opts.Logf("take %s/%s's bytes from its spool: %v", c.Incident, c.ID, err)
			spool = "" // kept for a person to look at
		} else if took > 0 {
			why += fmt.Sprintf("; %d bytes it had read were taken from its spool", took)
		}
	}
	if _, err := db.sealTaken(c.Incident, c.ID, why, whole); err != nil {
		db.opts.Logf("seal %s/%s as interrupted: %v", c.Incident, c.ID, err)
		return
	}
	if spool != "" {
		os.Remove(spool)
	}
	if c.Writer != nil && c.Source == "tee" {
		p := SpoolPath(db.opts.Path, c.Writer)
		os.Remove(SpoolWhyPath(p))
		os.Remove(SpoolIntentPath(p))
		os.Remove(SpoolWholePath(p))
	}
	db.mu.Lock()
	delete(db.waitingRoom, key)
	delete(db.stoppedBy, key)
	db.mu.Unlock()
}

// openCaptures lists the captures (not sessions, which their journals seal)
// that are not sealed.
func (db *DB) openCaptures() ([]Capture, error) {
	items, err := db.openItems()
	var caps []Capture
	for _, c := range items {
		if c.Recording == nil {
			caps = append(caps, c)
		}
	}
	return caps, err
}

// openItems lists the captures and sessions not sealed yet.
func (db *DB) openItems() ([]Capture, error) {
	incidents, err := db.Incidents()
	if err != nil {
		return nil, err
	}
	var open []Capture
	for _, inc := range incidents {
		caps, err := db.Captures(inc.ID)
		if err != nil {
			return nil, err
		}
		for _, c := range caps {
			if c.State != CaptureSealed {
				open = append(open, c)
			}
		}
	}
	return open, nil
}
