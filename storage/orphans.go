package storage

import (
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

// writerGone reports whether a capture's writer ran on this machine and has
// ended. Writers elsewhere cannot be seen, so they never count as gone.
func writerGone(w *Writer) bool {
	if host, _ := os.Hostname(); w == nil || w.Host != host || w.PID <= 0 {
		return false
	}
	start, alive := model.ProcessStart(w.PID)
	return !alive || (w.Start != 0 && start != w.Start)
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
			case writerGone(c.Writer):
				db.sealOrphan(c, fmt.Sprintf("its writer, process %d, ended without sealing it", c.Writer.PID))
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
	if c.Writer != nil && c.Source == "tee" {
		spool = SpoolPath(db.opts.Path, c.Writer)
		if took, err := db.adoptSpool(c, spool); err != nil {
			db.opts.Logf("take %s/%s's bytes from its spool: %v", c.Incident, c.ID, err)
			spool = "" // kept for a person to look at
		} else if took > 0 {
			why += fmt.Sprintf("; %d bytes it had read were taken from its spool", took)
		}
	}
	if _, err := db.SealInterrupted(c.Incident, c.ID, why); err != nil {
		db.opts.Logf("seal %s/%s as interrupted: %v", c.Incident, c.ID, err)
		return
	}
	if spool != "" {
		os.Remove(spool)
	}
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
