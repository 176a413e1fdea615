package capture

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// newTestRing is a ring, or the reason this machine has none: only a kernel
// that says io_uring is off (or refuses it outright) may skip the ring's tests.
func newTestRing(t *testing.T) *ring {
	t.Helper()
	r, err := newRing()
	if err == nil {
		t.Cleanup(r.close)
		return r
	}
	off, _ := os.ReadFile("/proc/sys/kernel/io_uring_disabled")
	if strings.TrimSpace(string(off)) != "0" || errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EPERM) {
		t.Skipf("no io_uring here (%v, io_uring_disabled=%q): the journal writes with pwrite(2)", err, strings.TrimSpace(string(off)))
	}
	t.Fatalf("io_uring is on, but: %v", err)
	return nil
}

func TestRingStructuresAreTheKernels(t *testing.T) {
	// linux/io_uring.h: 120, 64 and 16 bytes.
	if p, e, c := unsafe.Sizeof(uringParams{}), unsafe.Sizeof(uringSQE{}), unsafe.Sizeof(uringCQE{}); p != 120 || e != 64 || c != 16 {
		t.Fatalf("params %d, sqe %d, cqe %d bytes", p, e, c)
	}
}

// The ring writes what pwrite(2) would, where pwrite would, many times over
// (the rings wrap around), and gives back the kernel's errors as pwrite does.
func TestRingWritesAsPwriteDoes(t *testing.T) {
	r := newTestRing(t)
	path := filepath.Join(t.TempDir(), "f")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var want []byte
	for i := range 100 {
		p := bytes.Repeat([]byte{byte('a' + i%26)}, 1+i*97)
		n, err := r.pwrite(int(f.Fd()), p, int64(len(want)))
		if err != nil || n != len(p) {
			t.Fatalf("write %d: %d of %d bytes, %v", i, n, len(p), err)
		}
		want = append(want, p...)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, want) {
		t.Fatalf("the file holds %d bytes unlike the %d written", len(got), len(want))
	}
	ro, _ := os.Open(path)
	defer ro.Close()
	if _, err := r.pwrite(int(ro.Fd()), want[:10], 0); !errors.Is(err, syscall.EBADF) {
		t.Fatalf("a write to a read-only file: %v, want EBADF", err)
	}
	// Still usable after errors.
	if n, err := r.pwrite(int(f.Fd()), []byte("z"), 0); n != 1 || err != nil {
		t.Fatalf("after the errors: %d, %v", n, err)
	}
}

// A direct write from memory that is not aligned is turned down with
// EINVAL, as pwrite(2) turns it down: the journal then goes on through the
// cache.
func TestRingTurnsDownMisalignedDirectWrites(t *testing.T) {
	r := newTestRing(t)
	path := filepath.Join(t.TempDir(), "f")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|unix.O_DIRECT, 0o600)
	if err != nil {
		t.Skipf("no direct I/O in %s: %v", path, err)
	}
	defer f.Close()
	block := alignedBytes(2 * blockSize)
	if n, err := r.pwrite(int(f.Fd()), block[:blockSize], 0); n != blockSize || err != nil {
		t.Fatalf("an aligned block: %d, %v", n, err)
	}
	_, ringErr := r.pwrite(int(f.Fd()), block[1:blockSize+1], blockSize)
	_, pwriteErr := unix.Pwrite(int(f.Fd()), block[1:blockSize+1], blockSize)
	if !errors.Is(ringErr, syscall.EINVAL) || !errors.Is(pwriteErr, syscall.EINVAL) {
		t.Fatalf("misaligned: ring %v, pwrite %v; want EINVAL from both", ringErr, pwriteErr)
	}
}
