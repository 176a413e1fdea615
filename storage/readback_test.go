package storage

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestCopyReadBackCatchesOtherBytes: a copy whose file holds other bytes
// than were written to it (the disk, or someone, changed them) is not
// verified on the store's SHA-256: it is hashed whole and named a mismatch.
// The same copy read back intact is verified.
func TestCopyReadBackCatchesOtherBytes(t *testing.T) {
	for _, tamper := range []bool{false, true} {
		dir := t.TempDir()
		tmp, err := createTemp(dir, "c1")
		if err != nil {
			t.Fatal(err)
		}
		d := &destination{kind: CopyEvidence, path: filepath.Join(dir, "c1"), tmp: tmp}
		first, second := []byte("first chunk of the capture\n"), []byte("second chunk\n")
		d.Write(first)
		if err := d.readBack(first); err != nil {
			t.Fatal(err)
		}
		d.Write(second)
		if tamper {
			tmp.WriteAt([]byte("S"), int64(len(first)))
		}
		if err := d.readBack(second); err != nil {
			t.Fatal(err)
		}
		mine, _ := tmp.Stat()
		if err := commitFile(tmp, d.path); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(append(first, second...))
		want := hex.EncodeToString(sum[:])
		got := d.checkCommitted(mine, want, time.Now)
		switch {
		case tamper && got.State != CopyMismatch:
			t.Fatalf("a copy changed under its writer is %s: want a mismatch", got.State)
		case !tamper && (got.State != CopyVerified || got.SHA256 != want):
			t.Fatalf("an intact copy is %s (sha256 %s): want verified with %s", got.State, got.SHA256, want)
		}
		os.Remove(d.path)
	}
}
