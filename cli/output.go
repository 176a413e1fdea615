package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"calm/sanitize"
)

// printable makes a stored text (a title, a note, a command line) safe to
// print on a terminal: no escape sequences or controls, one line. An OSC 52
// in a title must not write the clipboard of whoever runs calm status.
func printable(s string) string {
	if sanitize.Clean([]byte(s)) && !strings.Contains(s, "\n") {
		return s
	}
	return strings.Join(strings.Fields(string(sanitize.Text([]byte(s)))), " ")
}

// outputFile is an export being written: a private temp file in the
// target's folder, renamed over the target when complete. Nothing is ever
// written through a symlink planted at the target, into a file another
// user made there, or half-written under the target's name.
type outputFile struct {
	*os.File
	target    string
	overwrite bool
}

// createOutput refuses a target that is a symlink, not a regular file, or
// another user's file, in one line, and opens the temp file (0600). An
// existing file of one's own is replaced only when overwrite is set: it
// may be a postmortem filled in since the last export.
func createOutput(target string, overwrite bool) (*outputFile, error) {
	if err := checkOutput(target, overwrite); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".calm-*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", target, err)
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("create %s: %w", target, err)
	}
	return &outputFile{File: f, target: target, overwrite: overwrite}, nil
}

// checkOutput says in one line why target may not be written, if it may not.
func checkOutput(target string, overwrite bool) error {
	fi, err := os.Lstat(target)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check %s: %w", target, err)
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		return fmt.Errorf("%s is a symbolic link: calm does not write through one; remove it or choose another file", target)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file: choose another file", target)
	case st != nil && int(st.Uid) != os.Getuid():
		return fmt.Errorf("%s belongs to another user (uid %d): calm does not write into it; remove it or choose another file", target, st.Uid)
	case !overwrite:
		return fmt.Errorf("%s exists: --force overwrites it, or pick another name", target)
	}
	return nil
}

// commit makes the written file durable under the target's name. A symlink
// planted at the target meanwhile is replaced, not followed.
func (o *outputFile) commit() error {
	err := o.Sync()
	if cerr := o.Close(); err == nil {
		err = cerr
	}
	if err == nil && !o.overwrite {
		// Made while the export ran: not replaced either. A file another
		// user makes there is refused as at the start.
		if err = checkOutput(o.target, false); err != nil {
			os.Remove(o.Name())
			return err
		}
	}
	if err == nil {
		err = os.Rename(o.Name(), o.target)
	}
	if err != nil {
		os.Remove(o.Name())
		return fmt.Errorf("write %s: %w", o.target, err)
	}
	if d, err := os.Open(filepath.Dir(o.target)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// abort removes the temp file; the target is as it was.
func (o *outputFile) abort() {
	o.Close()
	os.Remove(o.Name())
}
