package storage

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// timelineFile is an incident's timeline copy in its evidence folder: one
// event per line, as JSON, appended once the event's transaction has
// committed. Captures have their verified copies; this is the timeline's, so
// that a store damaged where its incidents are listed still gives back the
// notes, ticks and markers of the night (calm doctor --salvage).
const timelineFile = "timeline.jsonl"

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
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var ev Event
		if json.Unmarshal([]byte(line), &ev) != nil || ev.Seq == 0 {
			continue // a line cut short by a crash
		}
		if created && (ev.Kind == EventOpen || ev.Kind == EventClose) {
			var inc Incident
			json.Unmarshal(b.Get(keyRecord), &inc)
			if ev.Kind == EventOpen {
				inc.Title, inc.Opened = strings.TrimPrefix(ev.Text, "opened: "), ev.Time
			} else {
				inc.Closed = ev.Time // a closed incident stays closed
			}
			rec, _ := json.Marshal(inc)
			b.Put(keyRecord, rec)
		}
		if events.Get(u64(ev.Seq)) != nil {
			continue
		}
		if err := putJSON(events, u64(ev.Seq), ev); err != nil {
			return err
		}
		events.SetSequence(max(events.Sequence(), ev.Seq))
		rep.Events++
	}
	return nil
}
