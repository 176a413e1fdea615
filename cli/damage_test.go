package cli

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// damagedWorld stores a few captures, then stops the agent so the test can
// damage the file.
func damagedWorld(t *testing.T) (*world, map[string][]byte) {
	w := newWorld(t)
	w.ok(nil, "incident", "new", "before the damage")
	big := make([]byte, 3<<20+5)
	rand.Read(big)
	want := map[string][]byte{
		"c1": []byte("{ \"_id\": ObjectId(\"65f1\"), \"name\": \"original\" }\n"),
		"c2": big,
		"c3": bytes.Repeat([]byte("log line for the record\n"), 100_000),
	}
	for _, id := range []string{"c1", "c2", "c3"} {
		w.ok(want[id], "tee", "-q", id)
	}
	w.ok(nil, "note", "a note to keep")
	w.stopAgent()
	return w, want
}

// garbagePage overwrites the root page of capture id's chunks with garbage.
func garbagePage(t *testing.T, path, id string) {
	page, _, size := chunkPages(t, path, id)
	f, _ := os.OpenFile(path, os.O_WRONLY, 0)
	f.WriteAt(bytes.Repeat([]byte{0xAB}, int(size)), page*size)
	f.Close()
}

// chunkPages finds the pages of capture id's chunks: the root page of its
// bucket, how many pages its leaves use (a leaf's overflow pages follow
// it), and the page size.
func chunkPages(t *testing.T, path, id string) (root, pages, size int64) {
	t.Helper()
	b, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	b.View(func(tx *bolt.Tx) error {
		incs := tx.Bucket([]byte("incidents"))
		incs.ForEach(func(k, _ []byte) error {
			if ch := incs.Bucket(k).Bucket([]byte("chunks")); ch != nil {
				if cb := ch.Bucket([]byte(id)); cb != nil {
					root = int64(cb.Root())
					st := cb.Stats()
					pages = int64(st.LeafPageN + st.LeafOverflowN)
				}
			}
			return nil
		})
		size = int64(tx.DB().Info().PageSize)
		return nil
	})
	b.Close()
	if root == 0 {
		t.Fatalf("no root page for %s", id)
	}
	return root, pages, size
}

func TestDamagedStoreIsDiagnosedRefusesWritesAndIsSalvaged(t *testing.T) {
	t.Parallel() // long and mostly waiting; isolated (own store, socket, tmux server)
	slow(t)
	for _, damage := range []string{"truncated", "garbage page"} {
		t.Run(damage, func(t *testing.T) {
			t.Parallel() // each its own world
			w, want := damagedWorld(t)
			path := w.storePath()
			if damage == "truncated" {
				// Cut into the pages in use, not just the file's preallocated
				// tail: a third off, and at least half of c2's chunks (the top
				// third can be free pages, depending on how the agent's
				// batches fell).
				b, _ := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
				var used int64
				b.View(func(tx *bolt.Tx) error { used = tx.Size(); return nil })
				b.Close()
				root, pages, size := chunkPages(t, path, "c2")
				os.Truncate(path, min(used*2/3, (root+pages/2)*size))
			} else {
				garbagePage(t, path, "c2") // 3 MiB of random bytes: a bucket of its own
			}
			out, errs, code := w.run(nil, "doctor")
			if code != 1 || !strings.Contains(out, "FAIL") || !strings.Contains(out+errs, "--salvage") {
				t.Fatalf("doctor on a %s store: exit %d\n%s%s", damage, code, out, errs)
			}
			if damage == "truncated" && !strings.Contains(out, "truncated:") {
				t.Fatalf("doctor does not say the store is truncated:\n%s", out)
			}
			// A write is refused in one line; tee still passes its input on,
			// and keeps it in a file, saying where in a second line.
			stdout, errs, code := w.run([]byte("new output\n"), "tee", "after")
			if code == 0 || stdout != "new output\n" || strings.Count(strings.TrimSpace(errs), "\n") != 1 || !strings.Contains(errs, "doctor") || !strings.Contains(errs, "kept in") {
				t.Fatalf("tee into a %s store: exit %d, stdout %q, stderr %q", damage, code, stdout, errs)
			}
			w.stopAgent()
			salvaged := filepath.Join(filepath.Dir(w.home), "salvaged", "calm.db")
			out, errs, code = w.run(nil, "doctor", "--salvage", salvaged)
			if !strings.Contains(out, "salvaged 1 incident, 3 captures") {
				t.Fatalf("salvage: exit %d\n%s%s", code, out, errs)
			}
			// Every capture comes back whole: from the store where it can be
			// read, from its verified evidence copy where it cannot.
			for id, data := range want {
				got := w.withStore(salvaged).ok(nil, "show", "--raw", id)
				if !bytes.Equal([]byte(got), data) {
					t.Fatalf("%s after salvage: %d bytes, want %d", id, len(got), len(data))
				}
			}
			if !strings.Contains(out, "restored ") {
				t.Fatalf("salvage restored nothing from the evidence copies:\n%s", out)
			}
			s := w.withStore(salvaged)
			if v, errs, code := s.run(nil, "verify"); code != 0 || !strings.Contains(v, "ok:") {
				t.Fatalf("verify after salvage: %d %s %s", code, v, errs)
			}
			if txt := s.ok(nil, "export", "--format", "txt"); !strings.Contains(txt, "a note to keep") {
				t.Fatal("the timeline was not salvaged")
			}
			s.ok([]byte("life goes on\n"), "tee", "-q", "after salvage")
			s.stopAgent()
		})
	}
}
