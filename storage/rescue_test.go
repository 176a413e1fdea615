package storage

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// noteTexts is the text of every note of an incident's timeline.
func noteTexts(t *testing.T, db *DB, incident string) []string {
	t.Helper()
	events, err := db.Events(incident)
	if err != nil {
		t.Fatal(err)
	}
	var notes []string
	for _, ev := range events {
		if ev.Kind == EventNote {
			notes = append(notes, ev.Text)
		}
	}
	return notes
}

// TestStoreDeletedWhileOpenIsWrittenBackWhole: calm.db deleted under the
// store that has it open. Check says so; a capture taken meanwhile has its
// store copy on the open file's device (not on none, counted as one more);
// the write-back holds every write made until then, and from then on a
// write is refused, never acknowledged into a file nothing can reach.
func TestStoreDeletedWhileOpenIsWrittenBackWhole(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "calm.db")
	db, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	before := save(t, db, "before", []byte("saved before the delete\n"))
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	rep, err := db.Check()
	if err != nil || rep.Gone != "deleted while open" {
		t.Fatalf("check of a deleted store: gone %q, %v", rep.Gone, err)
	}
	during := save(t, db, "during", []byte("saved while the file was gone\n"))
	if _, err := db.AddNote(before.Incident, "written while the file was gone"); err != nil {
		t.Fatal(err)
	}
	if during.Copies[0].Kind != CopyStore || during.Copies[0].Device == "" || during.Copies[0].Device != during.Copies[1].Device || during.Devices() != 1 {
		t.Fatalf("a capture taken while the store's file was gone: copies %+v, on %d devices; want its store copy on the evidence copy's device", during.Copies, during.Devices())
	}
	vrep, err := db.Verify(t.Context(), "")
	if err != nil || vrep.Devices != 1 {
		t.Fatalf("verify while the store's file is gone: %d devices (%v), want 1", vrep.Devices, err)
	}

	target, err := db.RescueIfGone()
	if err != nil || target != path {
		t.Fatalf("write-back: %q, %v; want %s", target, err, path)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the file written back: %v, %v; want mode 0600", fi, err)
	}
	if _, err := db.AddNote(before.Incident, "after the write-back"); !errors.Is(err, ErrStoreMoved) {
		t.Fatalf("a note after the write-back: %v, want it refused (ErrStoreMoved), not kept where nothing reads it", err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".calm.db.tmp-*")); len(leftovers) > 0 {
		t.Fatalf("temp files left: %v", leftovers)
	}
	db.Close()

	back, err := Open(Options{Path: path, StrictMode: true})
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	for _, c := range []struct {
		Capture
		want string
	}{{before, "saved before the delete\n"}, {during, "saved while the file was gone\n"}} {
		if got := content(t, back, c.Incident+"/"+c.ID); string(got) != c.want {
			t.Errorf("%s after the write-back: %q, want %q", c.ID, got, c.want)
		}
	}
	if notes := noteTexts(t, back, before.Incident); !slices.Equal(notes, []string{"written while the file was gone"}) {
		t.Errorf("notes after the write-back: %q", notes)
	}
	if rep, err := back.Check(); err != nil || len(rep.Problems) > 0 || rep.Gone != "" {
		t.Errorf("check of the file written back: %+v, %v", rep, err)
	}
}

// TestStoreReplacedWhileOpenIsWrittenBeside: another file put in its place
// is kept; what the open one holds goes beside it.
func TestStoreReplacedWhileOpenIsWrittenBeside(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "calm.db")
	db, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := save(t, db, "kept", []byte("the open store's capture\n"))
	other := []byte("someone else's file")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, other, 0o600); err != nil {
		t.Fatal(err)
	}
	if rep, _ := db.Check(); rep.Gone != "replaced by another file while open" {
		t.Fatalf("check of a replaced store: gone %q", rep.Gone)
	}
	target, err := db.RescueIfGone()
	if err != nil || !strings.HasPrefix(target, path+".rescued-") {
		t.Fatalf("write-back of a replaced store: %q, %v", target, err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, other) {
		t.Fatalf("the file put in the store's place was overwritten")
	}
	db.Close()
	rescued, err := Open(Options{Path: target, EvidenceDir: filepath.Join(dir, "evidence")})
	if err != nil {
		t.Fatal(err)
	}
	defer rescued.Close()
	if got := content(t, rescued, c.Incident+"/"+c.ID); string(got) != "the open store's capture\n" {
		t.Fatalf("the rescued store's capture: %q", got)
	}
}

// TestFailedWriteBackKeepsTakingWrites: when the file cannot be written
// back (here a symlink to nowhere holds its name), the open file is the
// only copy: writes go on into it, Check says why the write-back failed,
// and the next attempt that can write keeps them all.
func TestFailedWriteBackKeepsTakingWrites(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "calm.db")
	db, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	inc, err := db.NewIncident("write-back fails")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "nowhere", "calm.db"), path); err != nil {
		t.Fatal(err)
	}
	if target, err := db.RescueIfGone(); err == nil {
		t.Fatalf("write-back onto a name taken: wrote %s", target)
	}
	rep, _ := db.Check()
	if rep.Gone != "deleted while open" || !strings.Contains(rep.RescueFailed, "writing it back to "+path+" failed") {
		t.Fatalf("check after a failed write-back: gone %q, rescue failed %q", rep.Gone, rep.RescueFailed)
	}
	if _, err := db.AddNote(inc.ID, "after the failed write-back"); err != nil {
		t.Fatalf("a note after a failed write-back: %v, want it kept in the open file", err)
	}
	os.Remove(path)
	if target, err := db.RescueIfGone(); err != nil || target != path {
		t.Fatalf("write-back once the name is free: %q, %v", target, err)
	}
	if rep, _ := db.Check(); rep.RescueFailed != "" {
		t.Fatalf("check after the write-back: rescue failed %q", rep.RescueFailed)
	}
	db.Close()
	back, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	if notes := noteTexts(t, back, inc.ID); !slices.Equal(notes, []string{"after the failed write-back"}) {
		t.Fatalf("notes in the file written back: %q", notes)
	}
}
