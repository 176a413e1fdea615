package storage

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMirrorAddedLaterGetsEveryCaptureOnRepair opens a real store without a
// mirror, saves two captures, and opens it again with one (as
// `calm --mirror DIR agent restart` does): verify names both mirror copies
// missing (not a mismatch) and the mirror's SHA256SUMS apart from the
// copies; the repair writes the copies, their records and SHA256SUMS from
// a verified copy, and verify then passes.
func TestMirrorAddedLaterGetsEveryCaptureOnRepair(t *testing.T) {
	dir, mirror := t.TempDir(), t.TempDir()
	path := filepath.Join(dir, "calm.db")
	db, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	one := save(t, db, "before the mirror", bytes.Repeat([]byte("one\n"), 400_000))
	two := save(t, db, "also before", []byte("two\n"))
	db.Close()

	db, err = Open(Options{Path: path, Mirrors: []string{mirror}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rep, err := db.Verify(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Copies != 6 || len(rep.Problems) != 2 || len(rep.Manifests) != 1 {
		t.Fatalf("verify with a new mirror: %d copies, problems %+v, manifests %+v", rep.Copies, rep.Problems, rep.Manifests)
	}
	for _, p := range rep.Problems {
		if p.Copy.Kind != CopyMirror || p.Copy.State != CopyMissing || !strings.Contains(p.Copy.Error, "mirror was added") {
			t.Errorf("problem %+v: want a missing mirror copy, never written", p)
		}
	}
	if m := rep.Manifests[0]; m.Copy.State != CopyMissing || m.Copy.Location != filepath.Join(mirror, one.Incident, "SHA256SUMS") {
		t.Errorf("manifest problem %+v: want the mirror's SHA256SUMS, missing", m)
	}
	if c, _ := db.Capture(one.Incident + "/" + one.ID); c.VerifiedCopies() != 2 || len(c.Copies) != 3 {
		t.Errorf("the record after verify: %s, want 2 of 3 copies", c.CopiesSummary())
	}

	done, err := db.RepairCopies("")
	if err != nil || len(done) != 2 {
		t.Fatalf("repair: %+v, %v", done, err)
	}
	for _, r := range done {
		if r.Copy.State != CopyVerified {
			t.Errorf("repaired %+v", r)
		}
	}
	rep, err = db.Verify(context.Background(), "")
	if err != nil || rep.Copies != 6 || len(rep.Problems) != 0 || len(rep.Manifests) != 0 {
		t.Fatalf("verify after the repair: %+v, %v", rep, err)
	}
	sums, err := os.ReadFile(filepath.Join(mirror, one.Incident, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []Capture{one, two} {
		if line := fmt.Sprintf("%s  %s\n", c.SHA256, FileName(c.ID)); !bytes.Contains(sums, []byte(line)) {
			t.Errorf("the mirror's SHA256SUMS lacks %q:\n%s", line, sums)
		}
		if _, ok := readMetaFor(filepath.Join(mirror, c.Incident), c.ID, c.SHA256); !ok {
			t.Errorf("no record of %s beside its mirror copy", c.ID)
		}
	}
}

// TestDamagedStoreCopyIsWrittenAgainFromAFileCopy damages a chunk in a real
// bbolt file: a read marks the store's copy damaged in the capture's record
// (status no longer counts it), verify names it, and the repair writes the
// store's chunks again from the verified evidence copy, after which the
// store reads back whole and verify passes.
func TestDamagedStoreCopyIsWrittenAgainFromAFileCopy(t *testing.T) {
	dir, mirror := t.TempDir(), t.TempDir()
	path := filepath.Join(dir, "calm.db")
	db, err := Open(Options{Path: path, Mirrors: []string{mirror}})
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.NewBuffer(originalDocument())
	c := save(t, db, "original", data.Bytes())
	db.Close()
	damageChunk(t, path, c.Incident, c.ID, 2)

	db, err = Open(Options{Path: path, Mirrors: []string{mirror}, Notice: func(string) {}})
	if err != nil {
		t.Fatal(err)
	}
	ref := c.Incident + "/" + c.ID
	readChecks.Clear()
	if got := content(t, db, ref); !bytes.Equal(got, data.Bytes()) {
		t.Fatalf("read from the evidence copy: %d bytes, want %d", len(got), data.Len())
	}
	if got, _ := db.Capture(ref); got.VerifiedCopies() != 2 || got.Copies[0].State != CopyMismatch {
		t.Fatalf("after a read found the store damaged, the record says %s: %+v", got.CopiesSummary(), got.Copies[0])
	}
	rep, err := db.Verify(context.Background(), "")
	if err != nil || len(rep.Problems) != 1 || rep.Problems[0].Copy.Kind != CopyStore {
		t.Fatalf("verify: %+v, %v", rep.Problems, err)
	}
	done, err := db.RepairCopies("")
	if err != nil || len(done) != 1 || done[0].Copy.Kind != CopyStore || done[0].Copy.State != CopyVerified {
		t.Fatalf("repair: %+v, %v", done, err)
	}
	if got, size, err := db.hashStored(c.Incident, c.ID); err != nil || got != c.SHA256 || size != int64(data.Len()) {
		t.Fatalf("the store's copy after the repair: %s %d %v", got, size, err)
	}
	if rep, err := db.Verify(context.Background(), ""); err != nil || len(rep.Problems) != 0 || len(rep.Manifests) != 0 || rep.Copies != 3 {
		t.Fatalf("verify after the repair: %+v, %v", rep, err)
	}
	readChecks.Clear()
	if got := content(t, db, ref); !bytes.Equal(got, data.Bytes()) {
		t.Fatalf("read after the repair: %d bytes, want %d", len(got), data.Len())
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, path)
}

// TestSalvageFromEvidenceKeepsAReopenedIncidentOpenAndCurrent loses the
// whole store file: the incident closed and then reopened comes back open,
// and current; one closed, reopened and closed again comes back closed at
// its last close.
func TestSalvageFromEvidenceKeepsAReopenedIncidentOpenAndCurrent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "calm.db")
	db, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	reopened, _ := db.NewIncident("reopened")
	save(t, db, "in reopened", []byte("a\n"))
	twice, _ := db.NewIncident("closed twice")
	save(t, db, "in twice", []byte("b\n"))
	db.CloseIncident(reopened.ID)
	db.CloseIncident(twice.ID)
	db.ReopenIncident(twice.ID)
	last, _ := db.CloseIncident(twice.ID)
	later, _ := db.NewIncident("newer, no captures")
	if _, err := db.AddNote(later.ID, "only a note"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ReopenIncident(reopened.ID); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := os.Rename(path, filepath.Join(dir, "moved.db")); err != nil {
		t.Fatal(err)
	}

	to := filepath.Join(t.TempDir(), "calm.db")
	rep, err := Salvage(path, to, filepath.Join(dir, "evidence"), nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(Options{Path: to})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := s.Incident(reopened.ID); err != nil || !got.IsOpen() {
		t.Errorf("the reopened incident came back closed (%v, %v); lost: %v", got.Closed, err, rep.Lost)
	}
	if got, err := s.Incident(twice.ID); err != nil || got.IsOpen() || got.Closed.Sub(last.Closed).Abs().Seconds() > 1 {
		t.Errorf("closed twice: came back closed at %v, want %v (%v)", got.Closed, last.Closed, err)
	}
	if got, err := s.Incident(later.ID); err != nil || !got.IsOpen() || got.Title != "newer, no captures" {
		t.Errorf("the incident with only a note: %+v, %v", got, err)
	}
	if cur, err := s.Incident(""); err != nil || cur.ID != reopened.ID {
		t.Errorf("current after the salvage: %s, want the reopened %s (%v)", cur.ID, reopened.ID, err)
	}
}
