package storage

import (
	"os"
	"path/filepath"
	"strings"
	"time"
)

// A store's files are written under a temp name and renamed once whole
// (createTemp, commitFile); an upload stages a file of its own. An agent
// killed meanwhile leaves these behind: each a part of a capture, from
// production, that nothing reads again.

// leftoverTemp reports whether a file name is one of those.
func leftoverTemp(name string) bool {
	return strings.HasPrefix(name, ".upload-") || strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp-")
}

// mirrorSweepAge is how old a temp file in a mirror must be to be swept: a
// mirror folder may be shared with another store, whose agent may be
// writing its own.
const mirrorSweepAge = time.Hour

// sweepTemps removes the temp files writers before this one left: in the
// evidence folder, this store's own, every one from before the open; in
// each mirror folder, in the folders of this store's incidents only, those
// older than mirrorSweepAge.
func (db *DB) sweepTemps(opened time.Time) {
	swept := sweepFolder(db.opts.EvidenceDir, opened, nil)
	if len(db.opts.Mirrors) > 0 {
		incidents, err := db.Incidents()
		if err == nil {
			own := map[string]bool{}
			for _, inc := range incidents {
				own[inc.ID] = true
			}
			for _, m := range db.opts.Mirrors {
				swept += sweepFolder(m, opened.Add(-mirrorSweepAge), own)
			}
		}
	}
	if swept > 0 {
		db.opts.Logf("removed %d temp files a calm stopped mid-write left in the evidence and mirror folders", swept)
	}
}

// sweepFolder removes leftover temp files modified before cutoff in root and
// in its folders (those named in only, when only is not nil), and returns
// how many it removed.
func sweepFolder(root string, cutoff time.Time, only map[string]bool) int {
	removed := 0
	sweep := func(dir string) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return
		}
		for _, e := range entries {
			if !e.Type().IsRegular() || !leftoverTemp(e.Name()) {
				continue
			}
			if info, err := e.Info(); err == nil && info.ModTime().Before(cutoff) && os.Remove(filepath.Join(dir, e.Name())) == nil {
				removed++
			}
		}
	}
	if only == nil {
		sweep(root)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return removed
	}
	for _, e := range entries {
		if e.IsDir() && (only == nil || only[e.Name()]) {
			sweep(filepath.Join(root, e.Name()))
		}
	}
	return removed
}
