package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportWritesNoFileItShouldNot plants a symlink at the export path
// (pointing at a private file) and a file another user made there: export
// refuses both in one line and changes neither; a fresh path or one's own
// file gets a complete 0600 file.
func TestExportWritesNoFileItShouldNot(t *testing.T) {
	w := newWorld(t)
	w.ok([]byte("mongodb://app:Sup3rS3cret@db/orders\n"), "tee", "-q", "before")
	dir := t.TempDir()
	os.Chmod(dir, 0o1777) // a shared folder, like /tmp
	victim := filepath.Join(t.TempDir(), "shadow")
	os.WriteFile(victim, []byte("precious\n"), 0o600)
	link := filepath.Join(dir, "export.txt")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	_, errs, code := w.run(nil, "export", "--format", "txt", "-o", link)
	if code == 0 || !strings.Contains(errs, "symbolic link") || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Fatalf("export through a symlink: exit %d, %q", code, errs)
	}
	if data, _ := os.ReadFile(victim); string(data) != "precious\n" {
		t.Fatalf("the symlink's target was written: %q", data)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the planted symlink was touched: %v", err)
	}

	if os.Getuid() == 0 {
		theirs := filepath.Join(dir, "theirs.txt")
		os.WriteFile(theirs, []byte("mine\n"), 0o666)
		os.Chmod(theirs, 0o666)
		if err := os.Chown(theirs, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		_, errs, code = w.run(nil, "export", "--format", "txt", "-o", theirs)
		if code == 0 || !strings.Contains(errs, "belongs to another user") || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Fatalf("export into another user's file: exit %d, %q", code, errs)
		}
		if data, _ := os.ReadFile(theirs); string(data) != "mine\n" {
			t.Fatalf("another user's file was written: %q", data)
		}
	} else {
		t.Log("not root: the other user's file is not tried (CI runs as root)")
	}

	fresh := filepath.Join(dir, "fresh.txt")
	own := filepath.Join(dir, "own.txt")
	os.WriteFile(own, []byte("old\n"), 0o644)
	for _, p := range []string{fresh, own} {
		w.ok(nil, "export", "--format", "txt", "-o", p)
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode() != 0o600 {
			t.Fatalf("%s: %v, mode %v", p, err, fi.Mode())
		}
		data, _ := os.ReadFile(p)
		if !strings.Contains(string(data), "app:[REDACTED url password]@db") || strings.Contains(string(data), "Sup3rS3cret") {
			t.Fatalf("%s holds %q", p, data)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*calm-*")); len(left) > 0 {
		t.Fatalf("temp files left: %v", left)
	}
}

// TestTitlesReachNoTerminalRaw gives an incident and a capture titles
// holding OSC 52 (clipboard) and OSC 2 (window title): status and incident
// list show the words, never the sequences.
func TestTitlesReachNoTerminalRaw(t *testing.T) {
	w := newWorld(t)
	hostile := "db down\x1b]52;c;cm0gLXJmIH4K\x07 now\x1b]2;pwned\x1b\\ \x9b6n"
	w.ok(nil, "incident", "new", hostile)
	w.ok([]byte("x\n"), "tee", "-q", hostile)
	id := strings.Fields(strings.TrimPrefix(firstLine(w.ok(nil, "incident", "list")), "*"))[0]
	for _, args := range [][]string{{"status"}, {"incident", "list"}, {"incident", "use", id}} {
		out, errs, _ := w.run(nil, args...)
		for _, bad := range []string{"\x1b", "\x07", "\x9b", "\u009b", "pwned\x1b"} {
			if strings.Contains(out+errs, bad) {
				t.Fatalf("calm %v prints %q: %q", args, bad, out+errs)
			}
		}
		if !strings.Contains(out, "db down") || !strings.Contains(out, "now") {
			t.Fatalf("calm %v lost the title's words: %q", args, out)
		}
	}
}
