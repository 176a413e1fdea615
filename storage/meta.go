package storage

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// metaSuffix names a capture's record kept beside its file copies
// (c3.meta.json next to c3.txt): what the bytes alone do not say (its
// title, source, times, why it was interrupted, what its source warned
// of), so that a store lost whole comes back from its evidence folder with
// them (calm doctor --salvage).
const metaSuffix = ".meta.json"

func metaPath(dir, capture string) string { return filepath.Join(dir, capture+metaSuffix) }

// captureMeta is the part of a capture's record kept beside its copies:
// nothing that belongs to one store (its store and evidence copies,
// chunks, writer, derived text, journal path). Its mirror copies are kept,
// by place only, so that a salvage can check them again and count them.
func captureMeta(c Capture) Capture {
	m := Capture{Incident: c.Incident, ID: c.ID, Title: c.Title, Source: c.Source, Session: c.Session,
		Created: c.Created, State: c.State, Size: c.Size, SHA256: c.SHA256, Sealed: c.Sealed,
		Interrupted: c.Interrupted, Warning: c.Warning}
	for _, cp := range c.Copies {
		if cp.Kind == CopyMirror {
			m.Copies = append(m.Copies, Copy{Kind: cp.Kind, Location: cp.Location})
		}
	}
	if c.Recording != nil {
		r := *c.Recording
		r.Journal, r.Recorder = "", 0
		m.Recording = &r
	}
	return m
}

// writeMeta writes a sealed capture's record beside its copy in dir: a
// private temp file, fsynced and renamed. The folder is fsynced by the
// SHA256SUMS written next (syncDir: here), one fsync for both renames. A
// failure costs only what a salvage from evidence alone could restore.
func writeMeta(dir string, c Capture, syncDir bool) error {
	data, err := json.MarshalIndent(captureMeta(c), "", "  ")
	if err != nil {
		return err
	}
	f, err := createTemp(dir, c.ID+metaSuffix)
	if err != nil {
		return err
	}
	if !syncDir {
		if _, err = f.Write(append(data, '\n')); err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(f.Name(), metaPath(dir, c.ID))
		}
		if err != nil {
			os.Remove(f.Name())
		}
		return err
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	return commitFile(f, metaPath(dir, c.ID))
}

// keepMeta writes the record of a capture sealed before calm kept one,
// into each copy folder that has its copy and no record yet; mend: and
// where the record there is not this capture's (damaged, edited).
func (db *DB) keepMeta(c Capture, mend bool) {
	for _, dir := range metaDirs(c) {
		_, err := os.Lstat(metaPath(dir, c.ID))
		if os.IsNotExist(err) || mend && !metaMatches(dir, c) {
			if err := writeMeta(dir, c, true); err != nil {
				db.opts.Logf("the record of %s/%s beside its copy in %s: %v", c.Incident, c.ID, dir, err)
			}
		}
	}
}

// metaDirs are the folders that hold a verified file copy of a sealed
// capture, and so its record.
func metaDirs(c Capture) []string {
	if c.State != CaptureSealed {
		return nil
	}
	var dirs []string
	for _, cp := range c.Copies {
		if cp.State == CopyVerified && (cp.Kind == CopyEvidence || cp.Kind == CopyMirror) && !strings.Contains(cp.Location, "://") {
			dirs = append(dirs, filepath.Dir(cp.Location))
		}
	}
	return dirs
}

// metaMatches reports whether the record in dir is c's: its bytes, and
// what a salvage takes from it that a person sees first.
func metaMatches(dir string, c Capture) bool {
	m, ok := readMetaFor(dir, c.ID, c.SHA256)
	return ok && m.Title == c.Title && m.Source == c.Source && m.Created.Equal(c.Created)
}

// checkMeta adds to rep each record beside c's copies that is missing or
// is not c's: a salvage would take the capture without its title, source
// and times, or with another's. verify --repair writes it (keepMeta).
func checkMeta(c Capture, rep *VerifyReport) {
	for _, dir := range metaDirs(c) {
		path := metaPath(dir, c.ID)
		state, why := CopyMismatch, "not the record of this capture (damaged or edited): a salvage would lose its title, source and times"
		if _, err := os.Lstat(path); os.IsNotExist(err) {
			state, why = CopyMissing, "there is none (deleted?): a salvage would lose the capture's title, source and times"
		} else if metaMatches(dir, c) {
			continue
		}
		rep.Records = append(rep.Records, Problem{Incident: c.Incident, Capture: c.ID, Copy: Copy{Kind: CopyEvidence, Location: path, State: state, Error: why}})
	}
}

// readMetaFor reads the record kept beside a capture's copy in dir, if it
// is the record of these bytes: its ID and SHA-256 must be the copy's.
func readMetaFor(dir, capture, sha256 string) (Capture, bool) {
	f, err := os.OpenFile(metaPath(dir, capture), os.O_RDONLY|noFollow, 0)
	if err != nil {
		return Capture{}, false
	}
	defer f.Close()
	var m Capture
	if json.NewDecoder(io.LimitReader(f, 1<<20)).Decode(&m) != nil || m.ID != capture || m.SHA256 != sha256 {
		return Capture{}, false
	}
	return m, true
}
