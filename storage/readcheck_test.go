package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// damageChunk changes one byte of chunk n of a capture in the bbolt file,
// keeping it readable and its CRC as it was: damage that only a check
// finds, as bit rot would leave it.
func damageChunk(t *testing.T, path, incident, capture string, n uint64) {
	t.Helper()
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = b.Update(func(tx *bolt.Tx) error {
		cb := tx.Bucket(bucketIncidents).Bucket([]byte(incident)).Bucket(bucketChunks).Bucket([]byte(capture))
		v := cb.Get(u64(n))
		if v == nil {
			return fmt.Errorf("no chunk %d of %s", n, capture)
		}
		_, _, sum, checked, err := chunkBody(v)
		if err != nil {
			return err
		}
		data, err := decodeChunk(n, new([]byte), v)
		if err != nil {
			return err
		}
		data = append([]byte(nil), data...)
		data[len(data)/2] ^= 0x20
		out := []byte{chunkRaw}
		if checked {
			out = binary.LittleEndian.AppendUint32([]byte{chunkRawCRC}, sum)
		}
		return cb.Put(u64(n), append(out, data...))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// originalDocument is 150,000 numbered lines: several chunks.
func originalDocument() []byte {
	var data bytes.Buffer
	for i := range 150_000 {
		fmt.Fprintf(&data, "line %06d of the original document\n", i)
	}
	return data.Bytes()
}

// searchOutputOnly makes a test's searches read captures' output, not the
// search lines derived from it: a test of what a search does with damaged
// output.
func searchOutputOnly(t *testing.T) {
	ignoreLinesForTest = true
	t.Cleanup(func() { ignoreLinesForTest = false })
}

func searchAll(db *DB, q SearchQuery) ([]Match, error) {
	var got []Match
	err := db.Search(context.Background(), q, func(m Match) error {
		got = append(got, m)
		return nil
	})
	return got, err
}

// TestDamagedStoreCopyIsReadAndSearchedFromAVerifiedCopy damages one chunk
// of a capture in a real bbolt file: WriteContent and Search give the
// bytes and the lines of the evidence copy, then (with that gone) of the
// mirror copy, and name the copy they used; with no sound copy left they
// fail with one line and hand out no line found in the damaged chunks.
func TestDamagedStoreCopyIsReadAndSearchedFromAVerifiedCopy(t *testing.T) {
	searchOutputOnly(t)
	dir, mirror := t.TempDir(), t.TempDir()
	path := filepath.Join(dir, "calm.db")
	db, err := Open(Options{Path: path, Mirrors: []string{mirror}})
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.NewBuffer(originalDocument())
	c := save(t, db, "original", data.Bytes())
	queries := map[string]SearchQuery{
		"one line":        {Pattern: "line 100000 of", Literal: true},
		"every line":      {Pattern: "original"},
		"the first dozen": {Pattern: "original", Limit: 12}, // more hits than are held back
	}
	before := map[string][]Match{}
	for name, q := range queries {
		if before[name], err = searchAll(db, q); err != nil || len(before[name]) == 0 {
			t.Fatalf("search %s before the damage: %d matches, %v", name, len(before[name]), err)
		}
	}
	db.Close()
	damageChunk(t, path, c.Incident, c.ID, 2)

	var notices []string
	db, err = Open(Options{Path: path, Mirrors: []string{mirror}, Notice: func(n string) { notices = append(notices, n) }})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ref := c.Incident + "/" + c.ID
	evidence, mirrored := c.Copies[1].Location, c.Copies[2].Location
	for _, step := range []struct{ copy, kind string }{{evidence, "evidence"}, {mirrored, "mirror"}} {
		readChecks.Clear() // the agent's short memory of a check
		notices = nil
		if got := content(t, db, ref); !bytes.Equal(got, data.Bytes()) {
			t.Fatalf("%s copy: WriteContent gave %d bytes, not the original's %d", step.kind, len(got), data.Len())
		}
		for name, q := range queries {
			got, err := searchAll(db, q)
			if err != nil || fmt.Sprint(got) != fmt.Sprint(before[name]) {
				t.Fatalf("%s copy: search %s gave %d matches (%v), want the %d found before the damage", step.kind, name, len(got), err, len(before[name]))
			}
		}
		// The first dozen lines are in chunk 0: that search never reads
		// the damaged chunk, and trusts the ones it read by their CRCs.
		if len(notices) != len(queries) {
			t.Fatalf("%s copy: %d notices for %d reads of the damaged chunk: %q", step.kind, len(notices), len(queries), notices)
		}
		for _, n := range notices {
			if !strings.Contains(n, "does not match its SHA-256") || !strings.Contains(n, step.kind+" copy "+step.copy) {
				t.Fatalf("the notice does not name the %s copy it used: %q", step.kind, n)
			}
		}
		os.Remove(step.copy)
	}

	readChecks.Clear()
	notices = nil
	var buf bytes.Buffer
	err = db.WriteContent(context.Background(), ref, 0, &buf)
	if !errors.Is(err, ErrDamaged) || buf.Len() != 0 || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "no file copy matches") {
		t.Fatalf("with no sound copy: %d bytes, %v", buf.Len(), err)
	}
	for name, q := range queries {
		if q.Limit > 0 {
			continue // never reaches the damaged chunk
		}
		// Lines of the chunks before the damaged one, each checked by its
		// CRC, may have gone out; none from it or after it.
		got, err := searchAll(db, q)
		if !errors.Is(err, ErrDamaged) || strings.Contains(err.Error(), "\n") || len(got) >= len(before[name]) || fmt.Sprint(got) != fmt.Sprint(before[name][:len(got)]) {
			t.Fatalf("search %s with no sound copy: %d of %d matches handed out, %v", name, len(got), len(before[name]), err)
		}
		for _, m := range got {
			if m.Line > 2*ChunkSize/int64(len("line 000000 of the original document\n")) {
				t.Fatalf("search %s with no sound copy handed out line %d, beyond the chunks before the damaged one", name, m.Line)
			}
		}
	}
	if len(notices) != 0 {
		t.Fatalf("notices with no copy used: %q", notices)
	}
}

// A file copy is hashed again as it is read: one that changed after its
// check gives an error, not its bytes as if they were the capture's.
func TestCopyChangedAfterItsCheckIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c1.txt")
	os.WriteFile(path, []byte("the original\n"), 0o600)
	var buf bytes.Buffer
	if err := writeCopy(path, 4, sum([]byte("the original\n")), &buf); err != nil || buf.String() != "original\n" {
		t.Fatalf("a sound copy from offset 4: %q, %v", buf.String(), err)
	}
	os.WriteFile(path, []byte("the tampered\n"), 0o600)
	if err := writeCopy(path, 0, sum([]byte("the original\n")), &buf); !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), path) {
		t.Fatalf("a changed copy: %v", err)
	}
	err := searchFile(context.Background(), path, sum([]byte("the original\n")), mustPlan(t, "tampered"), func(int64, []byte) error { return nil }, new([]byte))
	if !errors.Is(err, ErrDamaged) {
		t.Fatalf("search of a changed copy: %v", err)
	}
}

func mustPlan(t *testing.T, pattern string) *plan {
	t.Helper()
	p, err := planQuery(SearchQuery{Pattern: pattern})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// One capture with no sound copy left does not hide the lines of the
// others: they are searched, and the search ends in the damaged one's error.
func TestDamagedCaptureDoesNotHideTheOthers(t *testing.T) {
	searchOutputOnly(t)
	path := filepath.Join(t.TempDir(), "calm.db")
	db, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.NewBuffer(originalDocument())
	bad := save(t, db, "damaged", data.Bytes())
	save(t, db, "sound", data.Bytes())
	db.Close()
	damageChunk(t, path, bad.Incident, bad.ID, 0)
	for _, cp := range bad.Copies[1:] {
		os.Remove(cp.Location)
	}
	db, err = Open(Options{Path: path, Notice: func(string) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	readChecks.Clear()
	got, err := searchAll(db, SearchQuery{Pattern: "line 000042 of", Literal: true})
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), bad.ID) {
		t.Fatalf("search: %v", err)
	}
	if len(got) != 1 || got[0].Item == bad.ID {
		t.Fatalf("the sound capture's line was not found, or the damaged one's was: %+v", got)
	}
}
