package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestFailedCopyComesBackWhenSpaceReturns: a mirror on a full disk fails
// its copy, and gives the space of its temp file back at once; once room is
// made, `calm verify --repair` writes it again from the store's copy and it
// verifies.
func TestFailedCopyComesBackWhenSpaceReturns(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root (CI runs as root)")
	}
	disk := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", disk).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", disk).Run() })
	filler := filepath.Join(disk, "filler")
	os.WriteFile(filler, make([]byte, 3<<20), 0o600)
	mirror := filepath.Join(disk, "mirror")
	w := newWorld(t)
	input := shellText(2<<20, 9)
	if _, errs, code := w.run(input, "--mirror", mirror, "tee", "big"); code != 0 {
		t.Fatalf("tee: exit %d: %s", code, errs)
	}
	temps, _ := filepath.Glob(filepath.Join(mirror, "*", ".*.tmp-*"))
	if len(temps) != 0 {
		t.Fatalf("the failed copy kept its temp file: %v", temps)
	}
	out, _, code := w.run(nil, "--mirror", mirror, "verify")
	if code != 1 || !strings.Contains(out, "mirror") {
		t.Fatalf("verify with the mirror copy failed: exit %d:\n%s", code, out)
	}
	os.Remove(filler)
	out, errs, code := w.run(nil, "--mirror", mirror, "verify", "--repair")
	if code != 0 || !strings.Contains(out, "repair ") || !strings.Contains(out, "mirror copy") || !strings.Contains(out, ": verified") {
		t.Fatalf("verify --repair after room was made: exit %d:\n%s%s", code, out, errs)
	}
	got, err := os.ReadFile(filepath.Join(mirror, strings.Fields(w.ok(nil, "incident", "list"))[1], "c1.txt"))
	if err != nil || string(got) != string(input) {
		t.Fatalf("the repaired mirror copy holds %d of %d bytes (%v)", len(got), len(input), err)
	}
}
