package storage

import (
	"bytes"
	"os"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// residentShare is the share of path's pages in the page cache.
func residentShare(t *testing.T, path string) float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	pages := make([]byte, (len(m)+os.Getpagesize()-1)/os.Getpagesize())
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&pages[0]))); errno != 0 {
		t.Fatalf("mincore %s: %v", path, errno)
	}
	in := 0
	for _, p := range pages {
		in += int(p & 1)
	}
	return float64(in) / float64(len(pages))
}

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
	if share := residentShare(t, copy.Location); share > 0.1 {
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
