package storage

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	if rep, err := db.Verify(from.ID); err != nil || len(rep.Problems) > 0 || len(rep.Manifests) > 0 || rep.Captures != 1 {
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
	if rep, err := db.Verify(""); err != nil || len(rep.Problems) > 0 || len(rep.Manifests) > 0 || rep.Copies != 3 {
		t.Fatalf("verify after the move: %+v %v", rep, err)
	}
}
