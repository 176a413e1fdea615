package storage

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"calm/model"
)

// deadWriter runs a process to its end and returns it as a writer.
func deadWriter(t *testing.T) *Writer {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	start, ok := model.ProcessStart(cmd.Process.Pid)
	if !ok {
		t.Fatal("cannot read the start of a running process")
	}
	cmd.Process.Kill()
	cmd.Wait()
	host, _ := os.Hostname()
	return &Writer{Host: host, PID: cmd.Process.Pid, Start: start}
}

// TestSweepRemovesOnlySpoolsNoCaptureTakes: a spool whose tee died before
// its capture existed is removed; one of a living tee, one whose capture
// exists (kept when taking it failed), and another store's, stay.
func TestSweepRemovesOnlySpoolsNoCaptureTakes(t *testing.T) {
	db := openTestDB(t)
	inc, err := db.NewIncident("spools")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(filepath.Dir(db.Path()), "journal"), 0o700); err != nil {
		t.Fatal(err)
	}
	spoolOf := func(w *Writer) string {
		p := SpoolPath(db.Path(), w)
		if err := os.WriteFile(p, []byte("read by a tee\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	noCapture := spoolOf(deadWriter(t))
	living := spoolOf(model.ThisWriter())
	captured := deadWriter(t)
	c, err := db.CreateCapture(inc.ID, NewCapture{Title: "t", Source: "tee", Writer: captured})
	if err != nil {
		t.Fatal(err)
	}
	// Sealed first, so the orphan watcher leaves it (and its spool) alone.
	if _, err := db.SealInterrupted(c.Incident, c.ID, "taking its spool failed"); err != nil {
		t.Fatal(err)
	}
	withCapture := spoolOf(captured)
	// Another store in the same folder: its spools are its own agent's.
	otherStore := SpoolPath(filepath.Join(filepath.Dir(db.Path()), "other.db"), deadWriter(t))
	if err := os.WriteFile(otherStore, []byte("read by another store's tee\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	db.sweepSpools()
	if _, err := os.Stat(noCapture); !os.IsNotExist(err) {
		t.Errorf("the spool of a tee gone before its capture existed is still there (%v)", err)
	}
	for _, p := range []string{living, withCapture, otherStore} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("spool %s was removed: %v", p, err)
		}
	}
}

// TestSpoolTakenWithoutTheDeadWritersLateChunks: while the store takes a
// dead tee's spool, a request the tee sent before it died and the agent
// reads only now is refused (its chunk boundaries are not the store's), and
// the sealed capture holds the spool, every byte once.
func TestSpoolTakenWithoutTheDeadWritersLateChunks(t *testing.T) {
	db := openTestDB(t)
	inc, err := db.NewIncident("late chunks")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(filepath.Dir(db.Path()), "journal"), 0o700); err != nil {
		t.Fatal(err)
	}
	w := model.ThisWriter() // alive: the orphan watcher leaves the capture to this test
	c, err := db.CreateCapture(inc.ID, NewCapture{Title: "t", Source: "tee", Writer: w})
	if err != nil {
		t.Fatal(err)
	}
	input := bytes.Repeat([]byte("a line the tee read and passed on\n"), 80_000) // 2.6 MiB
	if _, err := db.PutChunk(c.Incident, c.ID, 0, input[:64<<10]); err != nil {
		t.Fatal(err)
	}
	if n, err := db.WaitCommitted(c.Incident, c.ID, 1); err != nil || n != 1 {
		t.Fatalf("the first chunk: %d committed, %v", n, err)
	}
	if err := os.WriteFile(SpoolPath(db.Path(), w), input, 0o600); err != nil {
		t.Fatal(err)
	}

	key := progressKey(c.Incident, c.ID)
	db.mu.Lock()
	db.adopting[key] = true // as sealOrphan marks it before it takes the spool
	db.mu.Unlock()
	if _, err := db.PutChunk(c.Incident, c.ID, 1, input[64<<10:256<<10]); !errors.Is(err, ErrConflict) {
		t.Fatalf("a late chunk of the dead writer's while its spool is taken: %v, want a conflict", err)
	}
	db.mu.Lock()
	delete(db.adopting, key)
	db.mu.Unlock()

	db.sealOrphan(c, "its writer ended without sealing it")
	var got bytes.Buffer
	if err := db.WriteContent(context.Background(), c.Incident+"/"+c.ID, 0, &got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), input) {
		t.Fatalf("the capture holds %d bytes, the spool %d", got.Len(), len(input))
	}
	if sealed, _ := db.Capture(c.Incident + "/" + c.ID); sealed.State != CaptureSealed || !sealed.Partial() {
		t.Fatalf("the capture is %s (%q), want sealed as interrupted", sealed.State, sealed.Interrupted)
	}
}
