package storage

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// The evidence folder is an independent record of every incident: its
// captures' copies and its timeline copy. A store that lacks what the
// evidence holds was lost, replaced or rolled back (bbolt falls back to its
// other meta page when one is damaged, silently dropping the last
// transaction); calm says so rather than carrying on as if nothing happened.

// evidenceIncidents lists the incident folders in the evidence folder: those
// that hold a timeline copy or a SHA256SUMS.
func (db *DB) evidenceIncidents() []string {
	entries, err := os.ReadDir(db.opts.EvidenceDir)
	if err != nil {
		return nil
	}
	var ids []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(db.opts.EvidenceDir, e.Name())
		for _, f := range []string{timelineFile, "SHA256SUMS"} {
			if _, err := os.Lstat(filepath.Join(dir, f)); err == nil {
				ids = append(ids, e.Name())
				break
			}
		}
	}
	sort.Strings(ids)
	return ids
}

// LostIncidents names the incidents the evidence folder holds and the store
// does not: the store was deleted, emptied or replaced.
func (db *DB) LostIncidents() []string {
	known := map[string]bool{}
	if list, err := db.Incidents(); err == nil {
		for _, inc := range list {
			known[inc.ID] = true
		}
	}
	var lost []string
	for _, id := range db.evidenceIncidents() {
		if !known[id] {
			lost = append(lost, id)
		}
	}
	return lost
}

// Warning is what every command should say, or "": today, a store that lost
// incidents its evidence folder still holds. It is worked out once, at open.
func (db *DB) Warning() string {
	select {
	case <-db.checked:
	default:
		return "" // not before the check at open: no request waits for it
	}
	db.warnOnce.Do(func() { db.warning = db.lostWarning() })
	return db.warning
}

func (db *DB) lostWarning() string {
	lost := db.LostIncidents()
	if len(lost) == 0 {
		return ""
	}
	shown := strings.Join(lost[:min(len(lost), 3)], ", ")
	if len(lost) > 3 {
		shown += fmt.Sprintf(" and %d more", len(lost)-3)
	}
	return fmt.Sprintf("the store %s does not have %d incidents that %s still holds (%s): it was deleted, emptied or replaced; rebuild it with 'calm doctor --salvage NEW.db'",
		db.opts.Path, len(lost), db.opts.EvidenceDir, shown)
}

// compareTimelines names every event that the store's timeline of an
// incident and its timeline copy do not both have.
func (db *DB) compareTimelines() []string {
	var problems []string
	incidents, err := db.Incidents()
	if err != nil {
		return []string{err.Error()}
	}
	for _, inc := range incidents {
		copied, err := readTimelineCopy(filepath.Join(db.opts.EvidenceDir, inc.ID, timelineFile))
		if err != nil {
			if !os.IsNotExist(err) {
				problems = append(problems, fmt.Sprintf("%s: its timeline copy cannot be read: %v", inc.ID, err))
			}
			continue
		}
		stored, err := db.Events(inc.ID)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: its timeline cannot be read: %v", inc.ID, err))
			continue
		}
		inStore := map[uint64]Event{}
		for _, ev := range stored {
			inStore[ev.Seq] = ev
		}
		for _, ev := range copied {
			if got, ok := inStore[ev.Seq]; !ok || got.Kind != ev.Kind || got.Text != ev.Text {
				problems = append(problems, fmt.Sprintf("%s: event %d (%s %s, %s) is in %s but not in the store (rolled back?)",
					inc.ID, ev.Seq, ev.Time.UTC().Format("15:04:05"), ev.Kind, oneLine(truncate(ev.Text, 60)), timelineFile))
			}
			delete(inStore, ev.Seq)
		}
		for _, ev := range stored {
			if _, ok := inStore[ev.Seq]; ok {
				problems = append(problems, fmt.Sprintf("%s: event %d (%s %s) is in the store but not in its %s",
					inc.ID, ev.Seq, ev.Time.UTC().Format("15:04:05"), ev.Kind, timelineFile))
			}
		}
	}
	return problems
}

func readTimelineCopy(path string) ([]Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var events []Event
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var ev Event
		if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.Seq == 0 {
			continue // a line cut short by a crash
		}
		events = append(events, ev)
	}
	return events, sc.Err()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// RescueIfGone checks that the store's file is still the one this DB has
// open. If it was deleted or replaced while open (every write since would die
// with this process), it writes a consistent copy of what is open, in its
// place when the path is free, beside it otherwise, and returns where; the
// caller should then stop so that the next agent opens that copy.
func (db *DB) RescueIfGone() (string, error) {
	st, err := os.Stat(db.opts.Path)
	if err == nil && sameFile(st, db.opened) {
		return "", nil
	}
	target := db.opts.Path
	if err == nil || !os.IsNotExist(err) {
		target = fmt.Sprintf("%s.rescued-%s", db.opts.Path, db.opts.Now().UTC().Format("20060102T150405Z"))
	}
	db.commitPending()
	err = safely(func() error {
		return db.bolt.View(func(tx *bolt.Tx) error { return tx.CopyFile(target, 0o600) })
	})
	if err != nil {
		return "", fmt.Errorf("the store %s was deleted or replaced while open, and copying it out to %s failed: %w", db.opts.Path, target, err)
	}
	return target, syncDir(filepath.Dir(target))
}

func sameFile(st os.FileInfo, opened os.FileInfo) bool {
	return opened == nil || os.SameFile(st, opened)
}
