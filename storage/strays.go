package storage

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"calm/model"
)

// A recording the store never took stays in the journal folder: a session
// whose recorder could not reach the store (it keeps its journal, and says
// so), or a tee's output kept in a file when no capture could be made. A
// salvage or a restore does not bring them in, so every command names them
// until a capture holds their bytes or a person moves them away.

// strayRecheck is how long what Warning says of them holds.
const strayRecheck = 2 * time.Second

// StrayRecordings lists the files in the journal folder that hold output
// no capture has: each as "PATH (SIZE)".
func (db *DB) StrayRecordings() []string {
	// A tee that could not keep its spool in the journal folder keeps it
	// beside the store.
	dir := filepath.Dir(db.opts.Path)
	candidates := append(JournalLeftovers(filepath.Join(dir, "journal")), JournalLeftovers(dir)...)
	if len(candidates) == 0 {
		return nil
	}
	// The latest capture of each SHA-256.
	journals, sums := map[string]bool{}, map[string]time.Time{}
	incidents, err := db.Incidents()
	if err != nil {
		return nil
	}
	for _, inc := range incidents {
		caps, err := db.Captures(inc.ID)
		if err != nil {
			return nil
		}
		for _, c := range caps {
			if c.Recording != nil && c.Recording.Journal != "" {
				journals[c.Recording.Journal] = true
			}
			if c.Created.After(sums[c.SHA256]) {
				sums[c.SHA256] = c.Created
			}
		}
	}
	var strays []string
	for _, path := range candidates {
		if journals[path] {
			continue // a session still recording, or waiting to be sealed
		}
		sum, size, err := db.straySum(path)
		if err != nil {
			continue
		}
		if latest, ok := sums[sum]; ok {
			// A tee's kept file is brought in by a capture made after it:
			// one made before, of the same bytes (count: 42, before the
			// fix and after), is another recording.
			info, err := os.Stat(path)
			if !strings.HasPrefix(filepath.Base(path), "tee-") || err != nil || latest.After(info.ModTime()) {
				continue // brought in since
			}
		}
		strays = append(strays, fmt.Sprintf("%s (%s)", path, model.Plural(int(size), "byte")))
	}
	return strays
}

// JournalLeftovers lists the recordings in a journal folder whose writer is
// gone: a tee's kept file, a session's journal. Those of sessions still
// being stored are among them; StrayRecordings leaves those out.
func JournalLeftovers(dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var found []string
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !(strings.HasSuffix(name, ".cast") || strings.HasPrefix(name, "tee-") && strings.HasSuffix(name, ".txt")) {
			continue
		}
		if info, err := e.Info(); err != nil || info.Size() == 0 {
			continue
		}
		if _, alive := model.ProcessStart(writerPID(name)); alive {
			continue // its recorder or tee still runs, and says what it does with it
		}
		found = append(found, filepath.Join(dir, name))
	}
	return found
}

// writerPID is the process that wrote a journal folder file, from its
// name (TIME-PID.cast, TIME-PID-import.cast, tee-TIME-PID.txt); 0 if none.
func writerPID(name string) int {
	fields := strings.Split(strings.TrimPrefix(name, "tee-"), "-")
	if len(fields) < 2 {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSuffix(fields[1], ".cast"), ".txt"))
	return pid
}

// straySum is a stray file's SHA-256 and size, read once for each size and
// time it is seen with: every command asks.
func (db *DB) straySum(path string) (string, int64, error) {
	info, err := os.Stat(path)
	if err != nil {
		return "", 0, err
	}
	db.mu.Lock()
	known, ok := db.straySums[path]
	db.mu.Unlock()
	if ok && known.size == info.Size() && known.modTime.Equal(info.ModTime()) {
		return known.sum, known.size, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	db.mu.Lock()
	if db.straySums == nil {
		db.straySums = map[string]straySum{}
	}
	db.straySums[path] = straySum{sum: sum, size: n, modTime: info.ModTime()}
	db.mu.Unlock()
	return sum, n, nil
}

type straySum struct {
	sum     string
	size    int64
	modTime time.Time
}

// strayWarning is what every command says of them.
func (db *DB) strayWarning() string {
	strays := db.StrayRecordings()
	if len(strays) == 0 {
		return ""
	}
	return fmt.Sprintf("%s the store never took: %s; bring each in ('calm import FILE.cast TITLE' for a session, 'calm tee TITLE < FILE > /dev/null' for a tee's file), then move it away",
		model.Plural(len(strays), "recording"), firstFew(strays))
}
