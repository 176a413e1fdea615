package storage

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// timelineLines is an incident's timeline copy, line by line.
func timelineLines(t *testing.T, db *DB, incident string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(db.opts.EvidenceDir, incident, timelineFile))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

func writeTimelineLines(t *testing.T, db *DB, incident string, lines []string) {
	t.Helper()
	path := filepath.Join(db.opts.EvidenceDir, incident, timelineFile)
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestTimelineCopyLackingAnEventIsRepaired: a timeline copy that lost a line
// is the copy's fault, not the store's. Verify names it, Check does not
// call the store short, and RepairCopies writes the copy again from the
// store, keeping a line only the copy has (what a salvage would need),
// after which verify passes.
func TestTimelineCopyLackingAnEventIsRepaired(t *testing.T) {
	db := openTestDB(t)
	inc, err := db.NewIncident("timeline copy")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"first note", "second note"} {
		if _, err := db.AddNote(inc.ID, n); err != nil {
			t.Fatal(err)
		}
	}
	lines := timelineLines(t, db, inc.ID)
	if len(lines) != 3 {
		t.Fatalf("timeline copy %q, want open and two notes", lines)
	}
	onlyInCopy, _ := json.Marshal(Event{Seq: 99, Kind: EventNote, Text: "a note the store lost"})
	writeTimelineLines(t, db, inc.ID, []string{lines[0], lines[2], string(onlyInCopy)})

	rep, err := db.Verify(context.Background(), inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Timelines) != 1 || rep.Timelines[0].Copy.State != CopyMismatch || !strings.Contains(rep.Timelines[0].Copy.Error, "it lacks event 2 (") {
		t.Fatalf("verify of a timeline copy lacking event 2: %+v", rep.Timelines)
	}
	check, err := db.Check()
	if err != nil {
		t.Fatal(err)
	}
	if len(check.Evidence) != 1 || !strings.Contains(check.Evidence[0], "event 99") {
		t.Fatalf("check: %q; want only event 99 named as lacking from the store", check.Evidence)
	}

	done, err := db.RepairCopies(inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != 1 || done[0].Capture != timelineFile || done[0].Copy.State != CopyVerified {
		t.Fatalf("repair: %+v, want the timeline copy written again and verified", done)
	}
	path := filepath.Join(db.opts.EvidenceDir, inc.ID, timelineFile)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the timeline copy written again: %v, %v; want mode 0600", fi, err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp-*")); len(leftovers) > 0 {
		t.Fatalf("temp files left: %v", leftovers)
	}
	copied, err := readTimelineCopy(path)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for _, ev := range copied {
		seqs = append(seqs, ev.Seq)
	}
	stored, _ := db.Events(inc.ID)
	if len(copied) != len(stored)+1 || copied[1].Text != "first note" || seqs[len(seqs)-1] != 99 {
		t.Fatalf("the timeline copy written again holds events %v (%d in the store); want every one of the store's in order, then 99", seqs, len(stored))
	}
	if rep, err := db.Verify(context.Background(), inc.ID); err != nil || len(rep.Timelines) != 0 {
		t.Fatalf("verify after the repair: %+v, %v", rep.Timelines, err)
	}
	if check, _ := db.Check(); len(check.Evidence) != 1 {
		t.Fatalf("check after the repair: %q; event 99 is still the store's to lack", check.Evidence)
	}
}

// TestMissingTimelineCopyIsWrittenAgain: a timeline copy deleted is
// reported as missing and written again whole.
func TestMissingTimelineCopyIsWrittenAgain(t *testing.T) {
	db := openTestDB(t)
	inc, err := db.NewIncident("timeline copy gone")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.AddNote(inc.ID, "a note"); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(db.opts.EvidenceDir, inc.ID, timelineFile))
	rep, err := db.Verify(context.Background(), inc.ID)
	if err != nil || len(rep.Timelines) != 1 || rep.Timelines[0].Copy.State != CopyMissing {
		t.Fatalf("verify of a missing timeline copy: %+v, %v", rep.Timelines, err)
	}
	if _, err := db.RepairCopies(inc.ID); err != nil {
		t.Fatal(err)
	}
	if lines := timelineLines(t, db, inc.ID); len(lines) != 2 || !strings.Contains(lines[1], "a note") {
		t.Fatalf("the timeline copy written again: %q", lines)
	}
}

// TestAStepIsTickedOnce: two ticks asked at once (a shell and the TUI, or
// two shells) each read the same step as current; the store takes the
// first and refuses the second, so the timeline holds one tick.
func TestAStepIsTickedOnce(t *testing.T) {
	db := openTestDB(t)
	inc, err := db.NewIncident("ticks")
	if err != nil {
		t.Fatal(err)
	}
	tick := func() error {
		_, err := db.AddEvent(inc.ID, EventStep, "save", `ticked "Save the scrollback" by a@b`)
		return err
	}
	if err := tick(); err != nil {
		t.Fatal(err)
	}
	if err := tick(); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "ticked already") {
		t.Fatalf("a second tick of a done step: %v", err)
	}
	if _, err := db.AddEvent(inc.ID, EventStep, "save", `unticked "Save the scrollback" by a@b`); err != nil {
		t.Fatal(err)
	}
	if err := tick(); err != nil {
		t.Fatalf("a tick after an untick: %v", err)
	}
	events, _ := db.Events(inc.ID)
	ticks := 0
	for _, ev := range events {
		if ev.Kind == EventStep && strings.HasPrefix(ev.Text, "ticked ") {
			ticks++
		}
	}
	if ticks != 2 {
		t.Fatalf("the timeline holds %d ticks, want 2", ticks)
	}
	// Unticks are taken once too: u pressed twice, or a shell and the TUI.
	untick := func() error {
		_, err := db.AddEvent(inc.ID, EventStep, "save", `unticked "Save the scrollback" by a@b`)
		return err
	}
	if err := untick(); err != nil {
		t.Fatal(err)
	}
	if err := untick(); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "nothing was unticked") {
		t.Fatalf("a second untick of a step not ticked: %v", err)
	}
	if _, err := db.AddEvent(inc.ID, EventStep, "verify", `unticked "Verify the data" by a@b`); !errors.Is(err, ErrConflict) {
		t.Fatalf("an untick of a step never ticked: %v", err)
	}
}
