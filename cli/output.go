package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"calm/sanitize"
	"calm/scratch"
)

// printable makes a stored text (a title, a note, a command line) safe to
// print on a terminal: no escape sequences or controls, one line. An OSC 52
// in a title must not write the clipboard of whoever runs calm status.
func printable(s string) string {
	if sanitize.Clean([]byte(s)) && !strings.Contains(s, "\n") {
		return s
	}
	return sanitize.Line(s) // "done\rnothing ran" shows both
}

// outputFile is an export being written: a private temp file in the
// target's folder, renamed over the target when complete. Nothing is ever
// written through a symlink planted at the target, into a file another
// user made there, or half-written under the target's name; a signal
// removes the temp file.
type outputFile struct {
	*os.File
	temp      *scratch.Path
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
	f, temp, err := scratch.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".calm-*")
	if err != nil {
		dir := filepath.Dir(target)
		var why string
		switch st, serr := os.Stat(dir); {
		case serr != nil:
			return nil, fmt.Errorf("create %s: its folder %s does not exist: make it first, or choose another file", target, dir)
		case !st.IsDir():
			return nil, fmt.Errorf("create %s: %s is not a folder: choose another file", target, dir)
		case errors.Is(err, fs.ErrPermission):
			why = "permission denied"
		case errors.Is(err, fs.ErrNotExist):
			why = "it takes no new files"
		default:
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err // the temp file's name says nothing to the person
			}
			why = err.Error()
		}
		return nil, fmt.Errorf("create %s: calm cannot write in %s (%s): choose another folder", target, dir, why)
	}
	return &outputFile{File: f, temp: temp, target: target, overwrite: overwrite}, nil
}

// existsAdvice is what to do about a target that exists.
const existsAdvice = "--force overwrites it, or pick another name"

// checkOutput says in one line why target may not be written, if it may not.
func checkOutput(target string, overwrite bool) error {
	fi, err := os.Lstat(target)
	if os.IsNotExist(err) {
		return nil
	}
	if errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("create %s: %s is not a folder: choose another file", target, filepath.Dir(target))
	}
	if err != nil {
		return fmt.Errorf("check %s: %w", target, err)
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		return fmt.Errorf("%s is a symbolic link: calm does not write through one; remove it or choose another file", target)
	case fi.IsDir():
		return fmt.Errorf("%s is a folder: name a file in it, e.g. %s", target, filepath.Join(target, "calm-export"))
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file: choose another file", target)
	case st != nil && int(st.Uid) != os.Getuid():
		return fmt.Errorf("%s belongs to another user (uid %d): calm does not write into it; remove it or choose another file", target, st.Uid)
	case !overwrite:
		return fmt.Errorf("%s exists: %s", target, existsAdvice)
	}
	return nil
}

// calmsOwn says why target is one of the files calm keeps (the store, its
// evidence copies, journals, spools, drafts, pulled bundles, a mirror's
// copies), if it is: an export written over one would destroy what it
// exports. Paths are compared with symlinks resolved.
func calmsOwn(target, store string, mirrors []string) error {
	resolve := func(p string) string {
		abs, err := filepath.Abs(p)
		if err != nil {
			return p
		}
		if r, err := filepath.EvalSymlinks(abs); err == nil {
			return r
		}
		// Not there yet: its folder may be.
		if r, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
			return filepath.Join(r, filepath.Base(abs))
		}
		return abs
	}
	within := func(p, dir string) bool {
		rel, err := filepath.Rel(dir, p)
		return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
	}
	t, storeDir := resolve(target), resolve(filepath.Dir(store))
	refuse := func(what string) error {
		return fmt.Errorf("%s is %s: an export there would destroy what it exports; choose a file outside %s", target, what, storeDir)
	}
	if base := filepath.Base(t); filepath.Dir(t) == storeDir && (strings.HasPrefix(base, filepath.Base(store)) || base == "drafts.json" || base == "agent.log") {
		return refuse("one of calm's own files, beside its store")
	}
	for _, dir := range []string{"evidence", "journal", "pulled"} {
		if within(t, filepath.Join(storeDir, dir)) {
			return refuse("in calm's " + dir + " folder")
		}
	}
	for _, m := range mirrors {
		if m := resolve(m); within(t, m) {
			return fmt.Errorf("%s is in the mirror folder %s, which holds calm's copies: choose a file outside it", target, m)
		}
	}
	return nil
}

// commit makes the written file durable under the target's name. A symlink
// planted at the target meanwhile is replaced, not followed. Without
// overwrite, a file that appeared at the target meanwhile (another export
// to the same name) is kept, and this one is not written.
func (o *outputFile) commit() error {
	err := o.Sync()
	if cerr := o.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		o.temp.Remove()
		return fmt.Errorf("write %s: %w", o.target, err)
	}
	if o.overwrite {
		err = os.Rename(o.Name(), o.target)
	} else {
		err = renameNoReplace(o.Name(), o.target)
	}
	if errors.Is(err, fs.ErrExist) {
		o.temp.Remove()
		// A symlink or another user's file is refused as at the start.
		if cerr := checkOutput(o.target, true); cerr != nil {
			return cerr
		}
		return fmt.Errorf("%s appeared while this export ran (another export to the same file?): that file is kept and this export wrote nothing; %s", o.target, existsAdvice)
	}
	if err != nil {
		o.temp.Remove()
		return fmt.Errorf("write %s: %w", o.target, err)
	}
	o.temp.Keep()
	if d, err := os.Open(filepath.Dir(o.target)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// renameNoReplace renames from to to unless to exists, in one step: of two
// exports to the same new name, one wins and the other learns it lost
// (fs.ErrExist). A file system without RENAME_NOREPLACE takes a hard link,
// which is as atomic; one with neither is checked, then renamed.
func renameNoReplace(from, to string) error {
	err := unix.Renameat2(unix.AT_FDCWD, from, unix.AT_FDCWD, to, unix.RENAME_NOREPLACE)
	if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EOPNOTSUPP) {
		return err
	}
	err = os.Link(from, to)
	if err == nil {
		return os.Remove(from)
	}
	if errors.Is(err, fs.ErrExist) {
		return err
	}
	if _, serr := os.Lstat(to); serr == nil {
		return fs.ErrExist
	}
	return os.Rename(from, to)
}

// abort removes the temp file; the target is as it was. After commit it
// has nothing left to do.
func (o *outputFile) abort() {
	o.Close()
	o.temp.Remove()
}
