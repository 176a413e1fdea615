package storage

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMoveThatCannotMakeACopyLeavesTheCaptureWhole: a move whose mirror
// copy cannot be made under the new incident (a file planted where its
// folder goes) fails in one line that says what to do, undoes the copy it
// had already made, leaves the capture whole where it was, and gives back
// the ID it took. Once the folder can be made, the capture moves under that
// same ID; a damaged old copy is written again from the store on the way.
func TestMoveThatCannotMakeACopyLeavesTheCaptureWhole(t *testing.T) {
	mirror := t.TempDir()
	db := openTestDB(t, mirror)
	from, err := db.NewIncident("the wrong one")
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("rows that belong elsewhere\n")
	c := save(t, db, "misplaced", data)
	to, err := db.NewIncident("the right one")
	if err != nil {
		t.Fatal(err)
	}
	var evidence string
	for _, cp := range c.Copies {
		if cp.Kind == CopyEvidence {
			evidence = filepath.Dir(filepath.Dir(cp.Location))
		}
	}
	roots := []string{evidence, mirror}
	if err := os.WriteFile(filepath.Join(mirror, to.ID), []byte("not a folder"), 0o600); err != nil {
		t.Fatal(err)
	}

	_, err = db.MoveCapture(from.ID+"/c1", to.ID)
	if err == nil || !strings.Contains(err.Error(), from.ID+"/c1 stays where it was, whole: its mirror copy cannot go to "+filepath.Join(mirror, to.ID)) ||
		!strings.HasSuffix(err.Error(), "then move again") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("a move that cannot make its mirror copy: %v", err)
	}
	if got := content(t, db, from.ID+"/c1"); !bytes.Equal(got, data) {
		t.Fatalf("after the failed move the capture holds %q", got)
	}
	for _, root := range roots {
		if got, err := os.ReadFile(filepath.Join(root, from.ID, "c1.txt")); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("the failed move took the copy under %s: %v", root, err)
		}
	}
	if _, err := os.Stat(filepath.Join(evidence, to.ID, "c1.txt")); err == nil {
		t.Fatal("the failed move left the evidence copy it had made under the new incident")
	}
	if rep, err := db.Verify(context.Background(), from.ID); err != nil || len(rep.Problems) > 0 || len(rep.Manifests) > 0 || rep.Captures != 1 {
		t.Fatalf("verify after the failed move: %+v %v", rep, err)
	}

	os.Remove(filepath.Join(mirror, to.ID))
	flip(t, filepath.Join(mirror, from.ID, "c1.txt"))
	moved, err := db.MoveCapture(from.ID+"/c1", to.ID)
	if err != nil {
		t.Fatal(err)
	}
	if moved.Incident != to.ID || moved.ID != "c1" {
		t.Fatalf("moved to %s/%s, want %s/c1: the failed move's ID is free again", moved.Incident, moved.ID, to.ID)
	}
	for _, root := range roots {
		if got, err := os.ReadFile(filepath.Join(root, to.ID, "c1.txt")); err != nil || !bytes.Equal(got, data) {
			t.Errorf("under %s the moved copy holds %q (%v)", root, got, err)
		}
		for _, name := range []string{"c1.txt", "c1.meta.json"} {
			if _, err := os.Stat(filepath.Join(root, from.ID, name)); err == nil {
				t.Errorf("%s still holds %s/%s", root, from.ID, name)
			}
		}
		if _, err := os.Stat(filepath.Join(root, to.ID, "c1.meta.json")); err != nil {
			t.Errorf("no record beside the moved copy under %s: %v", root, err)
		}
	}
	if rep, err := db.Verify(context.Background(), ""); err != nil || len(rep.Problems) > 0 || len(rep.Manifests) > 0 || rep.Copies != 3 {
		t.Fatalf("verify after the move: %+v %v", rep, err)
	}
}

// TestMoveTakesTheItemsMarkersAlong: the markers that point into a moved
// item go with it in the move's transaction, renamed to its new ID, with
// their time and place in the session; the old incident keeps no marker
// for an item it no longer has, and keeps its other item's markers and
// what calm did there (the capture and verify events).
func TestMoveTakesTheItemsMarkersAlong(t *testing.T) {
	db := openTestDB(t)
	to, err := db.NewIncident("the right one")
	if err != nil {
		t.Fatal(err)
	}
	save(t, db, "already there", []byte("x\n")) // so the moved item is c2 there
	from, err := db.NewIncident("the wrong one")
	if err != nil {
		t.Fatal(err)
	}
	save(t, db, "misplaced", []byte("rm -rf /srv/data\n"))
	save(t, db, "stays", []byte("DROP TABLE t;\n"))
	m1, err := db.AddMarker(from.ID, "c1", "rm -rf: rm -rf /srv/data", 1.5)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.AddMarker(from.ID, "c2", "DROP (SQL): DROP TABLE t;", 0.5); err != nil {
		t.Fatal(err)
	}
	m2, err := db.AddMarker(from.ID, "c1", "rm -rf: rm -rf /srv/more", 2.5)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Verify(context.Background(), from.ID); err != nil {
		t.Fatal(err)
	}

	moved, err := db.MoveCapture(from.ID+"/c1", to.ID)
	if err != nil {
		t.Fatal(err)
	}
	if moved.ID != "c2" {
		t.Fatalf("moved as %s, want c2", moved.ID)
	}
	markers := func(incident string) (out []Event, kinds map[string]int) {
		events, err := db.Events(incident)
		if err != nil {
			t.Fatal(err)
		}
		kinds = map[string]int{}
		for _, ev := range events {
			kinds[ev.Kind+" "+ev.Item]++
			if ev.Kind == EventMarker {
				out = append(out, ev)
			}
		}
		return out, kinds
	}
	got, kinds := markers(to.ID)
	if len(got) != 2 || kinds[EventMove+" c2"] != 1 {
		t.Fatalf("the new incident's markers: %+v", got)
	}
	for i, want := range []Event{m1, m2} {
		if g := got[i]; g.Item != "c2" || g.Text != want.Text || g.At != want.At || !g.Time.Equal(want.Time) {
			t.Errorf("moved marker %+v, want %+v as c2", g, want)
		}
	}
	left, kinds := markers(from.ID)
	if len(left) != 1 || left[0].Item != "c2" || kinds[EventCapture+" c1"] != 1 || kinds[EventVerify+" c1"] != 1 || kinds[EventMove+" c1"] != 1 {
		t.Fatalf("the old incident keeps markers %+v and events %v", left, kinds)
	}
	// The new incident's timeline copy has them too, for a salvage.
	copyFile, err := os.ReadFile(filepath.Join(db.opts.EvidenceDir, to.ID, timelineFile))
	if err != nil || strings.Count(string(copyFile), `"kind":"marker","item":"c2"`) != 2 {
		t.Fatalf("the new incident's timeline copy: %v\n%s", err, copyFile)
	}
}

// TestSalvageLeavesMovedMarkersMoved: the old incident's timeline copy
// still lists the markers a move took along; a salvage must not put them
// back where the item no longer is.
func TestSalvageLeavesMovedMarkersMoved(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "calm.db")
	db, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	to, _ := db.NewIncident("the right one")
	from, _ := db.NewIncident("the wrong one")
	save(t, db, "misplaced", []byte("rm -rf /srv/data\n"))
	if _, err := db.AddMarker(from.ID, "c1", "rm -rf: rm -rf /srv/data", 1.5); err != nil {
		t.Fatal(err)
	}
	if _, err := db.MoveCapture(from.ID+"/c1", to.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	salvaged := filepath.Join(dir, "salvaged", "calm.db")
	if _, err := Salvage(path, salvaged, filepath.Join(dir, "evidence"), nil); err != nil {
		t.Fatal(err)
	}
	s, err := Open(Options{Path: salvaged, EvidenceDir: filepath.Join(dir, "evidence")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for id, want := range map[string]int{from.ID: 0, to.ID: 1} {
		events, err := s.Events(id)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, ev := range events {
			if ev.Kind == EventMarker {
				n++
			}
		}
		if n != want {
			t.Errorf("incident %s has %d markers after salvage, want %d: %+v", id, n, want, events)
		}
	}
}

// TestAMarkerIsWhenItsLineWasEntered: markers were stamped when the
// recorder told the store, about a second after the line they mark.
func TestAMarkerIsWhenItsLineWasEntered(t *testing.T) {
	db := openTestDB(t)
	start := time.Date(2026, 11, 30, 17, 22, 26, 107_000_000, time.UTC)
	s, err := db.CreateCapture("", NewCapture{Title: "session", Source: SourceSession, Recording: &Recording{Command: "sh", Cols: 80, Rows: 24, Start: start}})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := db.AddMarker(s.Incident, s.ID, "rm -rf: rm -rf /tmp/junk", 8.33)
	if err != nil {
		t.Fatal(err)
	}
	if want := start.Add(8330 * time.Millisecond); !ev.Time.Equal(want) {
		t.Fatalf("the marker is at %s, its line was entered at %s", ev.Time, want)
	}
}
