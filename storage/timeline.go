package storage

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// timelineFile is an incident's timeline copy in its evidence folder: one
// event per line, as JSON, appended once the event's transaction has
// committed. Captures have their verified copies; this is the timeline's, so
// that a store damaged where its incidents are listed still gives back the
// notes, ticks and markers of the night (calm doctor --salvage).
const timelineFile = "timeline.jsonl"

// currentFile names the current incident, in the evidence folder, so that a
// salvage from the evidence alone (the store lost) restores which one it was.
const currentFile = "current"

// setCurrent makes id the current incident, and has currentFile say so if
// the transaction commits.
func (db *DB) setCurrent(tx *bolt.Tx, id string) error {
	if err := tx.Bucket(bucketMeta).Put(keyCurrent, []byte(id)); err != nil {
		return err
	}
	tx.OnCommit(func() { db.keepCurrent(id) })
	return nil
}

// keepCurrent writes currentFile. A failure is logged: the store has it.
func (db *DB) keepCurrent(id string) {
	err := mkdirPrivate(db.opts.EvidenceDir)
	var f *os.File
	if err == nil {
		f, err = createTemp(db.opts.EvidenceDir, currentFile)
	}
	if err == nil {
		if _, err = f.WriteString(id + "\n"); err != nil {
			f.Close()
			os.Remove(f.Name())
		} else {
			err = commitFile(f, filepath.Join(db.opts.EvidenceDir, currentFile))
		}
	}
	if err != nil {
		db.opts.Logf("the evidence folder's note of the current incident (%s): %v; the store has it", id, err)
	}
}

// restoredCurrent is the incident a salvage makes current when the store's
// pointer is lost: the one currentFile names, if it came back; else the
// newest open incident; else the newest.
func restoredCurrent(incs *bolt.Bucket, evidenceDir string) []byte {
	if data, err := os.ReadFile(filepath.Join(evidenceDir, currentFile)); err == nil {
		if id := bytes.TrimSpace(data); len(id) > 0 && incs.Bucket(id) != nil {
			return id
		}
	}
	var newest []byte
	var opened time.Time
	c := incs.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v != nil {
			continue
		}
		var inc Incident
		if json.Unmarshal(incs.Bucket(k).Get(keyRecord), &inc) == nil && inc.IsOpen() && !inc.Opened.Before(opened) {
			newest, opened = bytes.Clone(k), inc.Opened
		}
	}
	if newest == nil {
		if last, _ := c.Last(); last != nil {
			newest = bytes.Clone(last)
		}
	}
	return newest
}

// putEvent numbers ev, stores it on the incident b's timeline, and has it
// appended to the timeline copy if the transaction commits.
func (db *DB) putEvent(b *bolt.Bucket, ev Event) (Event, error) {
	events, err := b.CreateBucketIfNotExists(bucketEvents)
	if err != nil {
		return Event{}, err
	}
	ev.Seq, _ = events.NextSequence()
	if err := putJSON(events, u64(ev.Seq), ev); err != nil {
		return Event{}, err
	}
	var inc Incident
	if err := json.Unmarshal(b.Get(keyRecord), &inc); err == nil && inc.ID != "" {
		b.Tx().OnCommit(func() { db.appendTimeline(inc.ID, ev) })
	}
	return ev, nil
}

// appendTimeline adds ev to the incident's timeline copy. A failure is
// logged, not returned: the event is committed to the store already.
func (db *DB) appendTimeline(incident string, ev Event) {
	dir := filepath.Join(db.opts.EvidenceDir, incident)
	line, _ := json.Marshal(ev)
	db.timelineMu.Lock()
	defer db.timelineMu.Unlock()
	err := mkdirPrivate(dir)
	if err == nil {
		var f *os.File
		f, err = os.OpenFile(filepath.Join(dir, timelineFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE|noFollow, 0o600)
		if err == nil {
			_, err = f.Write(append(line, '\n'))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
	}
	if err != nil {
		db.opts.Logf("the timeline copy of %s lacks event %d (%v); the store has it", incident, ev.Seq, err)
	}
}

// repairTimeline writes an incident's timeline copy again when it lacks
// events the store holds, or is gone: the store's events and every line
// only the copy has (what a salvage needs), by number, into a temp file
// that replaces it. It reports what it did, and false when the copy
// lacked nothing.
func (db *DB) repairTimeline(incident string) (Repaired, bool) {
	db.timelineMu.Lock()
	defer db.timelineMu.Unlock()
	d, err := db.diffTimeline(incident) // evidence_check.go
	if err != nil {
		return Repaired{}, false
	}
	p, bad := timelineProblem(incident, d)
	if !bad {
		return Repaired{}, false
	}
	done := Repaired{Incident: incident, Capture: timelineFile, Copy: p.Copy}
	if d.copyErr != nil && !os.IsNotExist(d.copyErr) {
		// Unreadable is not empty: what it holds may be all that is left.
		done.Copy.Error = "not written again: it " + p.Copy.Error + "; move it aside and run 'calm verify --repair' again"
		return done, true
	}
	type line struct {
		ev    Event
		store bool
	}
	var lines []line
	for _, ev := range d.stored {
		lines = append(lines, line{ev, true})
	}
	// Events only the copy has stay (a salvage needs them); a line changed
	// since it was written gives way to the store's event.
	kept := map[eventKey]bool{}
	for _, ev := range d.stored {
		kept[keyOf(ev)] = true
	}
	for _, ev := range d.altered {
		kept[keyOf(ev)] = true
	}
	for _, ev := range d.copied {
		if !kept[keyOf(ev)] {
			kept[keyOf(ev)] = true
			lines = append(lines, line{ev, false})
		}
	}
	slices.SortStableFunc(lines, func(a, b line) int {
		if a.ev.Seq != b.ev.Seq {
			return cmp.Compare(a.ev.Seq, b.ev.Seq)
		}
		if a.store == b.store {
			return 0
		}
		if a.store {
			return -1
		}
		return 1
	})
	var buf bytes.Buffer
	for _, l := range lines {
		data, _ := json.Marshal(l.ev)
		buf.Write(append(data, '\n'))
	}
	failed := func(err error) (Repaired, bool) {
		done.Copy.State, done.Copy.Error = CopyFailed, "writing it again failed: "+copyError(err)
		return done, true
	}
	dir := filepath.Dir(d.path)
	if err := mkdirPrivate(dir); err != nil {
		return failed(err)
	}
	f, err := createTemp(dir, timelineFile)
	if err != nil {
		return failed(err)
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Close()
		os.Remove(f.Name())
		return failed(err)
	}
	if err := commitFile(f, d.path); err != nil {
		return failed(err)
	}
	after, err := db.diffTimeline(incident)
	if err != nil {
		return failed(err)
	}
	if p, bad := timelineProblem(incident, after); bad {
		done.Copy = p.Copy
		return done, true
	}
	done.Copy.State, done.Copy.Error, done.Copy.Verified = CopyVerified, "", db.opts.Now().UTC()
	return done, true
}

// restoreTimeline puts back the events of an incident's timeline copy that
// the salvaged incident b lacks. created: the incident itself came back
// from its evidence folder, and takes its title from its "opened" event.
func restoreTimeline(b *bolt.Bucket, dir string, created bool, rep *SalvageReport) error {
	data, err := os.ReadFile(filepath.Join(dir, timelineFile))
	if err != nil {
		if !os.IsNotExist(err) {
			rep.Lost = append(rep.Lost, fmt.Sprintf("the timeline copy in %s: %v", dir, err))
		}
		return nil
	}
	events, err := b.CreateBucketIfNotExists(bucketEvents)
	if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	// A move takes the item's markers along (MoveCapture): those before
	// its move out stay with it, not here.
	movedOut := map[string]uint64{}
	for _, line := range lines {
		var ev Event
		if json.Unmarshal([]byte(line), &ev) == nil && ev.Kind == EventMove && !strings.HasPrefix(ev.Text, "moved in from ") {
			movedOut[ev.Item] = ev.Seq
		}
	}
	have := map[eventKey]bool{}
	if err := events.ForEach(func(_, v []byte) error {
		var ev Event
		if json.Unmarshal(v, &ev) == nil {
			have[keyOf(ev)] = true
		}
		return nil
	}); err != nil {
		return err
	}
	for _, line := range lines {
		var ev Event
		if json.Unmarshal([]byte(line), &ev) != nil || ev.Seq == 0 {
			continue // a line cut short by a crash
		}
		if ev.Kind == EventMarker && ev.Seq < movedOut[ev.Item] {
			continue
		}
		if have[keyOf(ev)] {
			continue
		}
		if created && (ev.Kind == EventOpen || ev.Kind == EventClose || ev.Kind == EventReopen) {
			var inc Incident
			json.Unmarshal(b.Get(keyRecord), &inc)
			// The lines are in the order of the events: the last of
			// close and reopen says whether it is open.
			switch ev.Kind {
			case EventOpen:
				inc.Title, inc.Opened = strings.TrimPrefix(ev.Text, "opened: "), ev.Time
			case EventClose:
				inc.Closed = ev.Time
			default:
				inc.Closed = time.Time{}
			}
			rec, _ := json.Marshal(inc)
			b.Put(keyRecord, rec)
		}
		if v := events.Get(u64(ev.Seq)); v != nil {
			var there Event
			if json.Unmarshal(v, &there) != nil || alteredCopy(there, ev) {
				continue // the store's own event, changed in the copy
			}
			// The store was rolled back and gave the lost event's number
			// to the next: the lost one comes back under a new number.
			ev.Seq = events.Sequence() + 1
		}
		if err := putJSON(events, u64(ev.Seq), ev); err != nil {
			return err
		}
		events.SetSequence(max(events.Sequence(), ev.Seq))
		have[keyOf(ev)] = true
		rep.Events++
	}
	return nil
}
