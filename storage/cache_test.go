package storage

import (
	"bytes"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// A big capture's evidence copy does not stay in the page cache once it is
// sealed: fresh memory is dear on a VM, and a copy is not read again soon.
// It is still whole on the disk.
func TestASealedCopyLeavesThePageCache(t *testing.T) {
	db := openTestDB(t)
	var fs unix.Statfs_t
	if err := unix.Statfs(db.opts.EvidenceDir, &fs); err == nil && fs.Type == unix.TMPFS_MAGIC {
		t.Skip("the evidence folder is on tmpfs, whose pages are the file: nothing can leave the cache")
	}
	data := bytes.Repeat([]byte("a line of captured output, 48 bytes long......\n"), 700_000) // 32 MiB
	c := save(t, db, "big", data)
	var copy Copy
	for _, cp := range c.Copies {
		if cp.Kind == CopyEvidence {
			copy = cp
		}
	}
	if copy.State != CopyVerified {
		t.Fatalf("evidence copy %+v, want it verified", copy)
	}
	share, err := CachedShare(copy.Location)
	if err != nil {
		t.Fatal(err)
	}
	if share > 0.1 {
		t.Errorf("%.0f%% of the sealed copy is still in the page cache, want it dropped", share*100)
	}
	got, err := os.ReadFile(copy.Location)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("the copy holds %d bytes, not the %d captured", len(got), len(data))
	}
}
