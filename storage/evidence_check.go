package storage

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"sort"
	"strings"
	"time"

	"calm/model"
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
// incidents its evidence folder still holds (worked out once, at open), and
// recordings in the journal folder it never took.
func (db *DB) Warning() string {
	select {
	case <-db.checked:
	default:
		return "" // not before the check at open: no request waits for it
	}
	db.warnOnce.Do(func() { db.warning = db.lostWarning() })
	// Strays are looked for again every few seconds: one brought in stops
	// being named.
	db.mu.Lock()
	stray, fresh := db.strayWarned, time.Since(db.strayWarnedAt) < strayRecheck
	db.mu.Unlock()
	if !fresh {
		stray = db.strayWarning()
		db.mu.Lock()
		db.strayWarned, db.strayWarnedAt = stray, time.Now()
		db.mu.Unlock()
	}
	said := db.warning
	if stray != "" {
		said = join(said, stray)
	}
	if err := db.Damaged(); err != nil {
		// What reads still show (status listing copies verified) must not
		// look whole when the store found damage and refuses writes.
		said = join(err.Error(), said)
	}
	return said
}

// join is two warnings, either of which may be "".
func join(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; and " + b
}

func (db *DB) lostWarning() string {
	lost := db.LostIncidents()
	if len(lost) == 0 {
		return ""
	}
	// cli's verify reads "still holds (" as this warning: keep the words.
	return fmt.Sprintf("the store %s does not have %s that %s still holds (%s): it was deleted, emptied or replaced; rebuild it with 'calm doctor --salvage NEW.db'",
		db.opts.Path, model.Plural(len(lost), "incident"), db.opts.EvidenceDir, firstFew(lost))
}

// firstFew names the first three of a list, and how many more there are.
func firstFew(list []string) string {
	shown := strings.Join(list[:min(len(list), 3)], ", ")
	if len(list) > 3 {
		shown += fmt.Sprintf(" and %d more", len(list)-3)
	}
	return shown
}

// storeLacks names every event an incident's timeline copy holds and the
// store's timeline does not: the store lost them (rolled back, replaced),
// and a salvage puts them back. The other way round, a copy that lacks
// events, is the copy's fault: Verify reports it and RepairCopies mends it.
func (db *DB) storeLacks() []string {
	var problems []string
	incidents, err := db.Incidents()
	if err != nil {
		return []string{err.Error()}
	}
	for _, inc := range incidents {
		d, err := db.diffTimeline(inc.ID)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: its timeline cannot be read: %v", inc.ID, err))
			continue
		}
		for _, ev := range d.storeLacks {
			problems = append(problems, fmt.Sprintf("%s: event %d (%s %s, %s) is in %s but not in the store (rolled back?)",
				inc.ID, ev.Seq, ev.Time.UTC().Format("15:04:05"), ev.Kind, oneLine(truncate(ev.Text, 60)), timelineFile))
		}
	}
	return problems
}

// timelineDiff is how an incident's timeline copy and the store's timeline
// differ.
type timelineDiff struct {
	path       string
	copyErr    error   // the copy could not be read (os.IsNotExist: there is none)
	copied     []Event // the copy's events, in its order
	stored     []Event
	copyLacks  []Event // in the store, and not the same in the copy
	storeLacks []Event // in the copy, and not the same in the store
	altered    []Event // the copy's line for an event the store holds, changed
}

// eventKey is an event whatever its number: a store rolled back numbers its
// next event as the one it lost, and a salvage puts the lost one back under
// a new number. Its time, to the nanosecond, tells two events apart.
type eventKey struct {
	nanos      int64
	kind, text string
}

func keyOf(ev Event) eventKey { return eventKey{ev.Time.UnixNano(), ev.Kind, ev.Text} }

// alteredCopy: a copy's line has the number and the time of the store's
// event, and says something else: the line was changed (edited by hand, or
// damaged), as no other event has that time.
func alteredCopy(stored, copied Event) bool {
	return stored.Seq == copied.Seq && stored.Time.Equal(copied.Time) && keyOf(stored) != keyOf(copied)
}

func (db *DB) diffTimeline(incident string) (timelineDiff, error) {
	d := timelineDiff{path: filepath.Join(db.opts.EvidenceDir, incident, timelineFile)}
	stored, err := db.Events(incident)
	if err != nil {
		return d, err
	}
	d.stored = stored
	d.copied, d.copyErr = readTimelineCopy(d.path)
	// A line may be there twice: appended once more just after a rewrite.
	inCopy := map[eventKey]bool{}
	for _, ev := range d.copied {
		inCopy[keyOf(ev)] = true
	}
	inStore := map[eventKey]bool{}
	bySeq := map[uint64]Event{}
	for _, ev := range stored {
		inStore[keyOf(ev)], bySeq[ev.Seq] = true, ev
		if !inCopy[keyOf(ev)] {
			d.copyLacks = append(d.copyLacks, ev)
		}
	}
	movedOut := movedOutMarkers(d.copied)
	seen := map[eventKey]bool{}
	for _, ev := range d.copied {
		k := keyOf(ev)
		if inStore[k] || seen[k] {
			continue
		}
		seen[k] = true
		if ev.Kind == EventMarker && ev.Seq < movedOut[ev.Item] {
			continue // it went with its session to another incident
		}
		if got, ok := bySeq[ev.Seq]; ok && alteredCopy(got, ev) {
			d.altered = append(d.altered, ev)
			continue
		}
		d.storeLacks = append(d.storeLacks, ev)
	}
	return d, nil
}

// movedOutMarkers maps each item moved out of an incident to its move
// event's number: a move takes the item's markers before it along
// (MoveCapture), so the store no longer has them and the copy still does.
func movedOutMarkers(events []Event) map[string]uint64 {
	movedOut := map[string]uint64{}
	for _, ev := range events {
		if ev.Kind == EventMove && !strings.HasPrefix(ev.Text, "moved in from ") {
			movedOut[ev.Item] = ev.Seq
		}
	}
	return movedOut
}

// checkTimeline reports an incident's timeline copy that lacks events the
// store holds, or cannot be read.
func (db *DB) checkTimeline(incident string, rep *VerifyReport) error {
	d, err := db.diffTimeline(incident)
	if err != nil {
		return err
	}
	if p, bad := timelineProblem(incident, d); bad {
		rep.Timelines = append(rep.Timelines, p)
	}
	return nil
}

// timelineProblem is what is wrong with the timeline copy d looked at.
func timelineProblem(incident string, d timelineDiff) (Problem, bool) {
	p := Problem{Incident: incident, Capture: timelineFile, Copy: Copy{Kind: CopyEvidence, Location: d.path, Device: deviceOf(d.path)}}
	switch {
	case os.IsNotExist(d.copyErr) && len(d.stored) > 0:
		p.Copy.State, p.Copy.Error = CopyMissing, fmt.Sprintf("there is none; the store holds %d events", len(d.stored))
	case d.copyErr != nil:
		p.Copy.State, p.Copy.Error = CopyFailed, "cannot be read: "+copyError(d.copyErr)
	case len(d.altered) > 0:
		var named []string
		for _, ev := range d.altered[:min(len(d.altered), 5)] {
			named = append(named, fmt.Sprintf("%d (%s %s)", ev.Seq, ev.Time.UTC().Format("15:04:05"), ev.Kind))
		}
		more := ""
		if len(d.altered) > 5 {
			more = fmt.Sprintf(" and %d more", len(d.altered)-5)
		}
		line, event, differs := "line", "event", "differs"
		if len(d.altered) > 1 {
			line, event, differs = "lines", "events", "differ"
		}
		p.Copy.State, p.Copy.Error = CopyMismatch, fmt.Sprintf("its %s for %s %s%s %s from the store's: changed since it was written (edited?)",
			line, event, strings.Join(named, ", "), more, differs)
	case len(d.copyLacks) > 0:
		var named []string
		for _, ev := range d.copyLacks[:min(len(d.copyLacks), 5)] {
			named = append(named, fmt.Sprintf("%d (%s %s)", ev.Seq, ev.Time.UTC().Format("15:04:05"), ev.Kind))
		}
		more := ""
		if len(d.copyLacks) > 5 {
			more = fmt.Sprintf(" and %d more", len(d.copyLacks)-5)
		}
		word := "event"
		if len(d.copyLacks) > 1 {
			word = "events"
		}
		p.Copy.State, p.Copy.Error = CopyMismatch, fmt.Sprintf("it lacks %s %s%s, which the store holds", word, strings.Join(named, ", "), more)
	default:
		return p, false
	}
	return p, true
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

// FileGone says how the store's path no longer leads to the file this DB
// has open, or "" while it does. Whatever is written meanwhile goes into
// the open file, which nothing can reach once this process exits.
func (db *DB) FileGone() string {
	st, err := os.Stat(db.opts.Path)
	switch {
	case err == nil && sameFile(st, db.opened):
		return ""
	case os.IsNotExist(err):
		return "deleted while open"
	case err != nil:
		return fmt.Sprintf("unreadable while open (%v)", err)
	default:
		return "replaced by another file while open"
	}
}

// RescueFailed is why the last attempt to write the open file back to its
// path failed, or "".
func (db *DB) RescueFailed() string {
	if err := db.rescueErr.Load(); err != nil {
		return (*err).Error()
	}
	return ""
}

// RescueIfGone checks that the store's file is still the one this DB has
// open. If it was deleted or replaced while open (every write since would die
// with this process), it writes a consistent copy of what is open, in its
// place when the path is free, beside it otherwise, and returns where; the
// caller should then stop so that the next agent opens that copy. From then
// on every write is refused (ErrStoreMoved), so that none is acknowledged
// that the copy lacks; when the copy fails, writes go on into the open file,
// the only place that holds them, and the next call tries again.
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
	refused := fmt.Errorf("%w: what it holds is being written to %s; send again", ErrStoreMoved, target)
	db.moved.Store(&refused)
	if err := db.writeBack(target); err != nil {
		db.moved.Store(nil)
		err = fmt.Errorf("the store %s was deleted or replaced while open, and writing it back to %s failed: %w", db.opts.Path, target, err)
		db.rescueErr.Store(&err)
		return "", err
	}
	db.rescueErr.Store(nil)
	return target, nil
}

// writeBack writes a consistent copy of the open file to target: a temp
// file beside it, fsynced, linked into place (never over a file put there
// meanwhile), its folder fsynced. The folder is made again if it is gone.
func (db *DB) writeBack(target string) error {
	dir := filepath.Dir(target)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := createTemp(dir, filepath.Base(target))
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	err = safely(func() error {
		// A writable transaction, rolled back, writes nothing: it waits for
		// the writes under way and holds later ones, which then find
		// db.moved, while the file is copied.
		tx, err := db.bolt.Begin(true)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		_, err = tx.WriteTo(f)
		return err
	})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Link(f.Name(), target); errors.Is(err, fs.ErrExist) {
		return err
	} else if err != nil {
		// A file system without hard links: the path was free a moment ago.
		if err := os.Rename(f.Name(), target); err != nil {
			return err
		}
	}
	return syncDir(dir)
}

func sameFile(st os.FileInfo, opened os.FileInfo) bool {
	return opened == nil || os.SameFile(st, opened)
}
