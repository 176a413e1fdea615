package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"calm/model"
)

// TestStoreLostWholeIsSalvagedWithItsRecords deletes the bbolt file of a
// store with a titled capture, one whose source warned of a hole and one
// interrupted: salvaged from the evidence folder alone, each comes back
// with its title, source, times, warning, interrupted reason, bytes and
// every copy (the mirror's checked again), from the records kept beside
// the copies (0600, in both copy folders); the incident keeps its title
// and stays closed, from the timeline copy (its events' times, which are
// the record's within moments).
func TestStoreLostWholeIsSalvagedWithItsRecords(t *testing.T) {
	dir, mirror := t.TempDir(), t.TempDir()
	path := filepath.Join(dir, "calm.db")
	db, err := Open(Options{Path: path, Mirrors: []string{mirror}})
	if err != nil {
		t.Fatal(err)
	}
	save(t, db, "config before the update", bytes.Repeat([]byte("port = 5432\n"), 100_000))
	w, err := model.NewCaptureWriter(db, "", NewCapture{Title: "pane %3", Source: "snap", Warning: "pane %3's history is full: lines before the first were dropped"})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("what tmux still had\n"))
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	inc, _ := db.Incident("")
	c, err := db.CreateCapture(inc.ID, NewCapture{Title: "the flood", Source: "tee"})
	if err != nil {
		t.Fatal(err)
	}
	part := []byte("the first megabyte of the flood\n")
	db.PutChunk(inc.ID, c.ID, 0, part)
	db.WaitCommitted(inc.ID, c.ID, 1)
	if _, err := db.SealCapture(inc.ID, c.ID, Seal{Chunks: 1, Size: int64(len(part)), SHA256: sum(part), Interrupted: "interrupted by a signal"}); err != nil {
		t.Fatal(err)
	}
	before, err := db.Captures(inc.ID)
	if err != nil || len(before) != 3 {
		t.Fatalf("captures %v, %v", before, err)
	}
	contents := map[string][]byte{}
	for _, c := range before {
		contents[c.ID] = content(t, db, inc.ID+"/"+c.ID)
		for _, root := range []string{filepath.Join(dir, "evidence"), mirror} {
			fi, err := os.Stat(metaPath(filepath.Join(root, inc.ID), c.ID))
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("the record of %s beside its copy in %s: %v %v", c.ID, root, fi, err)
			}
		}
	}
	closed, err := db.CloseIncident(inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	os.Remove(path)

	to := filepath.Join(dir, "salvaged", "calm.db")
	rep, err := Salvage(path, to, filepath.Join(dir, "evidence"), nil)
	if err != nil || rep.Captures != 3 {
		t.Fatalf("salvage of a deleted store: %+v, %v", rep, err)
	}
	s, err := Open(Options{Path: to, Mirrors: []string{mirror}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, want := range before {
		got, err := s.Capture(inc.ID + "/" + want.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Title != want.Title || got.Source != want.Source || !got.Created.Equal(want.Created) || !got.Sealed.Equal(want.Sealed) ||
			got.Warning != want.Warning || got.Interrupted != want.Interrupted || got.SHA256 != want.SHA256 || got.Size != want.Size {
			g, _ := json.Marshal(captureMeta(got))
			w, _ := json.Marshal(captureMeta(want))
			t.Errorf("%s after salvage:\n%s\nwant\n%s", want.ID, g, w)
		}
		if got.VerifiedCopies() != 3 || got.Devices() != want.Devices() {
			t.Errorf("%s after salvage has %d of 3 copies verified, on %d devices (%d before): %+v", want.ID, got.VerifiedCopies(), got.Devices(), want.Devices(), got.Copies)
		}
		if b := content(t, s, inc.ID+"/"+want.ID); !bytes.Equal(b, contents[want.ID]) {
			t.Errorf("%s after salvage: %d bytes, want %d", want.ID, len(b), len(contents[want.ID]))
		}
	}
	if got, err := s.Incident(inc.ID); err != nil || got.Title != closed.Title || got.Opened.Sub(closed.Opened).Abs() > time.Second || got.Closed.Sub(closed.Closed).Abs() > time.Second {
		t.Errorf("the incident after salvage: %+v (%v), want %+v", got, err, closed)
	}
	if v, err := s.Verify(context.Background(), ""); err != nil || len(v.Problems) != 0 || v.Copies != 9 {
		t.Fatalf("verify after salvage: %+v, %v", v, err)
	}
}
