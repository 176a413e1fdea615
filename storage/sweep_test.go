package storage

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOpenSweepsTempFilesAKilledWriterLeft: a store opened for writing
// removes the temp files an agent killed mid-write left (each part of a
// capture): every one in its own evidence folder, and in a mirror folder,
// which another store may share, only those over an hour old in its own
// incidents' folders. Finished copies stay.
func TestOpenSweepsTempFilesAKilledWriterLeft(t *testing.T) {
	dir := t.TempDir()
	path, evidence, mirror := filepath.Join(dir, "calm.db"), filepath.Join(dir, "evidence"), filepath.Join(dir, "mirror")
	db, err := Open(Options{Path: path, Mirrors: []string{mirror}})
	if err != nil {
		t.Fatal(err)
	}
	c := save(t, db, "the document", []byte("the document as it was\n"))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-2 * time.Hour)
	file := func(p string, at time.Time) string {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("part of a capture"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
		return p
	}
	gone := []string{
		file(filepath.Join(evidence, c.Incident, ".c9.txt.tmp-123"), time.Now().Add(-time.Minute)),
		file(filepath.Join(evidence, ".upload-456"), past),
		file(filepath.Join(mirror, c.Incident, ".c9.txt.tmp-789"), past),
	}
	kept := []string{
		copyPath(evidence, c.Incident, c.ID),
		copyPath(mirror, c.Incident, c.ID),
		file(filepath.Join(mirror, c.Incident, ".c8.txt.tmp-1"), time.Now().Add(-10*time.Minute)), // maybe still written
		file(filepath.Join(mirror, "20990101-other", ".c1.txt.tmp-2"), past),                      // another store's
		file(filepath.Join(evidence, c.Incident, "notes.tmp-3"), past),                            // no temp name of calm's
	}
	said := make(chan string, 1)
	db, err = Open(Options{Path: path, Mirrors: []string{mirror}, Logf: func(format string, args ...any) {
		if strings.Contains(format, "temp files") {
			said <- fmt.Sprintf(format, args...)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	select {
	case line := <-said:
		if !strings.HasPrefix(line, fmt.Sprintf("removed %d temp files", len(gone))) {
			t.Errorf("the store's log says %q", line)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no sweep was logged 10 s after the open")
	}
	for _, p := range gone {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is still there: %v", p, err)
		}
	}
	for _, p := range kept {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
}
