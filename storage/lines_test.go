package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"calm/model"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// A search lines chunk that fails its CRC is never searched as sound: the
// search goes on in the capture's output from where the lines stopped, with
// the same results, and the lines are derived again.
func TestDamagedSearchLinesFallBackToTheOutput(t *testing.T) {
	path := filepath.Join(t.TempDir(), "calm.db")
	db, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	c := waitLines(t, db, save(t, db, "corpus", grepCorpus()))
	queries := []SearchQuery{
		{Pattern: "connection reset", Literal: true},
		{Pattern: "worker-15: CONNECTION", IgnoreCase: true},
		{Pattern: `took=\d{3}ms`},
	}
	want := make([]string, len(queries))
	for i, q := range queries {
		got, err := searchAll(db, q)
		if err != nil || len(got) == 0 {
			t.Fatalf("search %q before the damage: %d matches, %v", q.Pattern, len(got), err)
		}
		want[i] = fmt.Sprint(got)
	}
	db.Close()
	damageChunk(t, path, c.Incident, linesBucket(c.ID), 2)

	log := &agentLog{}
	db, err = Open(Options{Path: path, Logf: log.logf})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := searchAll(db, queries[0])
	if err != nil || fmt.Sprint(got) != want[0] {
		t.Fatalf("search with damaged lines: %d matches, %v; want the %d found before", len(got), err, strings.Count(want[0], "{"))
	}
	said := log.said()
	if !strings.Contains(said, "search lines of "+c.Incident+"/"+c.ID) {
		t.Fatalf("the agent's log does not name the damaged search lines: %q", said)
	}
	again := waitLines(t, db, c)
	if again.Lines.SHA256 != c.Lines.SHA256 {
		t.Fatalf("derived again, the lines hash to %s, not %s", again.Lines.SHA256, c.Lines.SHA256)
	}
	for i, q := range queries {
		got, err := searchAll(db, q)
		if err != nil || fmt.Sprint(got) != want[i] {
			t.Fatalf("search %q once the lines are derived again: %d matches, %v", q.Pattern, len(got), err)
		}
	}
}

// A capture moved to another incident takes its search lines along, and a
// search there finds the same lines.
func TestMovedCaptureKeepsItsSearchLines(t *testing.T) {
	db := openTestDB(t)
	c := waitLines(t, db, save(t, db, "corpus", grepCorpus()))
	q := SearchQuery{Pattern: "worker-15: connection", Literal: true}
	before, err := searchAll(db, q)
	if err != nil || len(before) == 0 {
		t.Fatalf("search before the move: %d matches, %v", len(before), err)
	}
	moved := moveToNewIncident(t, db, c)
	if moved.Lines == nil || *moved.Lines != *c.Lines {
		t.Fatalf("moved, its search lines are %+v, not %+v", moved.Lines, c.Lines)
	}
	for _, where := range []struct{ incident, bucket string }{{moved.Incident, linesBucket(moved.ID)}, {c.Incident, linesBucket(c.ID)}} {
		var first []byte
		_ = db.view(func(tx *bolt.Tx) error {
			v, err := storedChunk(tx, where.incident, where.bucket, 0)
			first = v
			return err
		})
		if found, want := first != nil, where.incident == moved.Incident; found != want {
			t.Fatalf("after the move, %s/%s holds search lines: %v, want %v", where.incident, where.bucket, found, want)
		}
	}
	after, err := searchAll(db, SearchQuery{Pattern: q.Pattern, Literal: true, Incident: moved.Incident})
	if err != nil || len(after) != len(before) {
		t.Fatalf("search after the move: %d matches, %v; want %d", len(after), err, len(before))
	}
	for i := range after {
		if after[i].Line != before[i].Line || after[i].Text != before[i].Text || after[i].Item != moved.ID {
			t.Fatalf("match %d after the move: %+v, before it %+v", i, after[i], before[i])
		}
	}
	if pending := db.LinesPending(); pending != 0 {
		t.Fatalf("%d captures wait for their search lines after the move", pending)
	}
}

// LinesPending counts the sealed captures still waiting for their search
// lines (calm agent status says so), and a kick derives them.
func TestLinesPendingUntilDerived(t *testing.T) {
	db := openTestDB(t)
	c := waitLines(t, db, save(t, db, "corpus", originalDocument()))
	if n := db.LinesPending(); n != 0 {
		t.Fatalf("%d captures pending once derived", n)
	}
	unsetLines(t, db, c) // pending again, and nothing has woken the deriver
	if n := db.LinesPending(); n != 1 {
		t.Fatalf("%d captures pending without their lines, want 1", n)
	}
	db.kickLines()
	if again := waitLines(t, db, c); *again.Lines != *c.Lines {
		t.Fatalf("derived again: %+v, before %+v", again.Lines, c.Lines)
	}
	if n := db.LinesPending(); n != 0 {
		t.Fatalf("%d captures pending once derived again", n)
	}
}

// Search lines are derived only from output that hashes to its seal: from
// other bytes (a store copy rewritten, CRCs and all) none are recorded.
func TestSearchLinesComeOnlyFromTheSealedBytes(t *testing.T) {
	db := openTestDB(t)
	c := waitLines(t, db, save(t, db, "corpus", originalDocument()))
	other := c
	other.SHA256 = strings.Repeat("0", 64)
	err := db.deriveLines(other)
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "sealed with") {
		t.Fatalf("lines derived from bytes that do not hash to the seal: %v", err)
	}
	if got, _ := db.Capture(c.Incident + "/" + c.ID); got.Lines == nil || *got.Lines != *c.Lines {
		t.Fatalf("the failed derivation changed the record's lines: %+v", got.Lines)
	}
}

// A session's search lines are derived from its text (what a person saw),
// and every class of query finds there exactly what a search of the text
// itself finds: the same lines, numbers and text.
func TestSessionSearchLinesFindWhatItsTextHolds(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: runs without -short")
	}
	db := openTestDB(t)
	c, f := newJournalSession(t, db, os.Getpid())
	var journal bytes.Buffer
	journal.WriteString(`{"version": 2, "width": 120, "height": 40}` + "\n")
	// The corpus's lines but the longest (a terminal holds those too, but
	// they would leave few lines), with \r\n as a terminal gets them.
	var corpus []byte
	for line := range bytes.Lines(grepCorpus()) {
		if len(line) < 4096 && len(corpus) < 2<<20 {
			corpus = append(corpus, bytes.TrimSuffix(line, []byte("\n"))...)
			corpus = append(corpus, "\r\n"...)
		}
	}
	for i := 0; i < len(corpus); i += 4096 {
		data, _ := json.Marshal(string(corpus[i:min(i+4096, len(corpus))]))
		fmt.Fprintf(&journal, "[%.3f, \"o\", %s]\n", float64(i)/1e6, data)
	}
	f.Write(journal.Bytes())
	if _, err := db.SealJournal(c.Incident, c.ID, int64(journal.Len()), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := WaitSealed(db, c.Incident+"/"+c.ID, sealWait); err != nil {
		t.Fatal(err)
	}
	c = waitLines(t, db, c)
	if c.Text == nil {
		t.Fatal("a session with search lines but no text")
	}
	defer func() { ignoreLinesForTest = false }()
	found := 0
	for _, tc := range grepCases {
		var got [2][]string
		for i, ignore := range []bool{true, false} {
			ignoreLinesForTest = ignore
			err := db.Search(context.Background(), tc.q, func(m Match) error {
				got[i] = append(got[i], fmt.Sprintf("%s:%d:%s", m.Item, m.Line, m.Text))
				return nil
			})
			if err != nil {
				t.Fatalf("%q: %v", tc.q.Pattern, err)
			}
		}
		if d := firstDifference(got[1], got[0]); d != "" {
			t.Errorf("%q: the session's search lines and its text differ (%d and %d lines): %s", tc.q.Pattern, len(got[1]), len(got[0]), d)
		}
		found += len(got[1])
	}
	if found < 10000 {
		t.Fatalf("the queries found %d lines in all: the corpus did not reach the session's text", found)
	}
}

// A capture moved while its search lines were still to be derived (or being
// derived under its old name) gets them under its new one.
func TestCaptureMovedBeforeItsLinesGetsThem(t *testing.T) {
	db := openTestDB(t)
	c := waitLines(t, db, save(t, db, "corpus", originalDocument()))
	unsetLines(t, db, c) // pending again, and nothing has woken the deriver
	moved := moveToNewIncident(t, db, c)
	if got := waitLines(t, db, moved); *got.Lines != *c.Lines {
		t.Fatalf("moved, its lines are %+v, not %+v", got.Lines, c.Lines)
	}
}

// A search of a capture still being written finds what is stored of it so
// far, and says so.
func TestSearchOfACaptureStillWrittenSaysSo(t *testing.T) {
	db := openTestDB(t)
	w, err := model.NewCaptureWriter(db, "", NewCapture{Title: "live", Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	data := originalDocument()[:3<<20]
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for n := uint64(0); n < 3; time.Sleep(10 * time.Millisecond) {
		if n, err = db.WaitCommitted(w.Capture.Incident, w.Capture.ID, 3); err != nil || time.Now().After(deadline) {
			t.Fatalf("the store has committed %d of 3 chunks: %v", n, err)
		}
	}
	var notices []string
	var found int
	err = db.Search(context.Background(), SearchQuery{Pattern: "original", Literal: true, Notice: func(n string) { notices = append(notices, n) }}, func(Match) error {
		found++
		return nil
	})
	if err != nil || found == 0 {
		t.Fatalf("search of a capture being written: %d lines, %v", found, err)
	}
	if len(notices) != 1 || !strings.Contains(notices[0], "still being written") {
		t.Fatalf("the search said %q", notices)
	}
}

// Search lines never take the room captures need: on a disk nearly full
// they wait, the agent's log says why, and they come once there is room.
func TestSearchLinesWaitForRoomOnTheDisk(t *testing.T) {
	disk := smallDisk(t, "64m")
	log := &agentLog{}
	db, err := Open(Options{Path: filepath.Join(disk, "calm.db"), Logf: log.logf})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := waitLines(t, db, save(t, db, "document", originalDocument()))

	// Leave 8 MiB: less than the capture's size and the reserve (a tenth
	// of the disk) together.
	var st unix.Statfs_t
	if err := unix.Statfs(disk, &st); err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(disk, "filler")
	if err := os.WriteFile(filler, make([]byte, int64(st.Bavail)*st.Bsize-8<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	unsetLines(t, db, c) // pending again, and nothing has woken the deriver
	db.kickLines()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		said := log.said()
		if strings.Contains(said, "nearly full") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent never said why the lines wait: %q", said)
		}
	}
	if n := db.LinesPending(); n != 1 {
		t.Fatalf("%d captures pending on a nearly full disk, want 1", n)
	}
	os.Remove(filler)
	db.kickLines()
	if got := waitLines(t, db, c); *got.Lines != *c.Lines {
		t.Fatalf("once there was room the lines are %+v, not %+v", got.Lines, c.Lines)
	}
}

// agentLog keeps what a store's background work logs, for a test to read.
type agentLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *agentLog) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *agentLog) said() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// A capture whose store copy does not hash to its seal gets no search lines,
// is not tried again at every seal, and is not counted as waiting for them;
// after a repair it is tried again.
func TestDamagedCaptureIsNotDerivedAgainUntilARepair(t *testing.T) {
	path := filepath.Join(t.TempDir(), "calm.db")
	log := &agentLog{}
	db, err := Open(Options{Path: path, Logf: log.logf})
	if err != nil {
		t.Fatal(err)
	}
	c := waitLines(t, db, save(t, db, "document", originalDocument()))
	db.Close()
	damageChunk(t, path, c.Incident, c.ID, 1)
	db, err = Open(Options{Path: path, Logf: log.logf, Notice: func(string) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	unsetLines(t, db, c) // pending again, and nothing has woken the deriver
	db.kickLines()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(log.said(), "derive the search lines of "+c.Incident+"/"+c.ID); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the agent never said the lines could not be derived: %q", log.said())
		}
	}
	if n := db.LinesPending(); n != 0 {
		t.Fatalf("a capture that cannot get its lines counts as waiting: %d", n)
	}
	save(t, db, "another", []byte("one more line\n")) // a seal: the deriver looks again
	if tries := strings.Count(log.said(), "derive the search lines of "+c.Incident+"/"+c.ID); tries != 1 {
		t.Fatalf("the damaged capture was tried %d times", tries)
	}
	if _, err := db.Verify(context.Background(), ""); err != nil { // as 'calm verify --repair' does
		t.Fatal(err)
	}
	if _, err := db.RepairCopies(""); err != nil {
		t.Fatal(err)
	}
	if got := waitLines(t, db, c); *got.Lines != *c.Lines {
		t.Fatalf("after the repair, its lines are %+v, not %+v", got.Lines, c.Lines)
	}
}

// unsetLines takes a capture's search lines away, as if never derived,
// without waking the deriver.
func unsetLines(t *testing.T, db *DB, c Capture) {
	t.Helper()
	_, err := db.changeCapture(c.Incident, c.ID, func(b *bolt.Bucket, cur *Capture) (bool, error) {
		cur.Lines = nil
		return true, deleteChunkBucket(b, linesBucket(c.ID))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// moveToNewIncident moves c into a new incident and returns it moved.
func moveToNewIncident(t *testing.T, db *DB, c Capture) Capture {
	t.Helper()
	other, err := db.NewIncident("other")
	if err != nil {
		t.Fatal(err)
	}
	moved, err := db.MoveCapture(c.Incident+"/"+c.ID, other.ID)
	if err != nil {
		t.Fatal(err)
	}
	return moved
}

// TestLinesOfAnOlderReadingAreDerivedAgain: a line written over itself is
// searched as a terminal shows it ("ERROR disk quota exceeded\rOK" holds
// quota), and search lines a calm before derived with the older reading
// (only what followed the \r) are derived again when the store opens.
func TestLinesOfAnOlderReadingAreDerivedAgain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "calm.db")
	db, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	c := waitLines(t, db, save(t, db, "overwritten", []byte("ERROR disk quota exceeded\rOK\nsecond line\n")))
	if c.Lines.Reading != model.LinesReading {
		t.Fatalf("lines derived with reading %d, want %d", c.Lines.Reading, model.LinesReading)
	}
	quota := func(db *DB) []Match {
		got, err := searchAll(db, SearchQuery{Pattern: "quota", Literal: true})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := quota(db); len(got) != 1 || got[0].Text != "ERROR disk quota exceeded\u240dOK" || got[0].Line != 1 {
		t.Fatalf("search quota: %+v", got)
	}
	// The lines as the older reading derived them.
	tw := &textWriter{db: db, incident: c.Incident, bucket: linesBucket(c.ID), hash: sha256.New(), encode: encodeTextChunk}
	if err := db.update(func(tx *bolt.Tx) error {
		b, err := incidentBucket(tx, c.Incident)
		if err != nil {
			return err
		}
		return deleteChunkBucket(b, linesBucket(c.ID))
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte("OK\nsecond line\n")); err != nil {
		t.Fatal(err)
	}
	if err := tw.flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.changeCapture(c.Incident, c.ID, func(_ *bolt.Bucket, cur *Capture) (bool, error) {
		cur.Lines = &DerivedText{Size: tw.size, SHA256: hex.EncodeToString(tw.hash.Sum(nil))}
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := quota(db); len(got) != 0 {
		t.Fatalf("the older lines were not what was searched: %+v", got)
	}
	db.Close()

	db, err = Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		got, err := db.Capture(c.Incident + "/" + c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Lines != nil && got.Lines.Reading == model.LinesReading {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the older lines were not derived again a minute after the open: %+v", got.Lines)
		}
	}
	if got := quota(db); len(got) != 1 || got[0].Text != "ERROR disk quota exceeded\u240dOK" {
		t.Fatalf("search quota after the lines were derived again: %+v", got)
	}
}

// The last line of a capture still being written is not a line yet:
// "DELETE FROM orders" of "DELETE FROM orders WHERE id=5" matched
// 'orders$' while tee waited for the rest (fresh-eyes finding).
func TestSearchOfACaptureStillWrittenLeavesItsUnendedLineOut(t *testing.T) {
	db := openTestDB(t)
	w, err := model.NewCaptureWriter(db, "", NewCapture{Title: "live", Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("first line\nDELETE FROM orders")); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for n := uint64(0); n < 1; time.Sleep(10 * time.Millisecond) {
		if n, err = db.WaitCommitted(w.Capture.Incident, w.Capture.ID, 1); err != nil || time.Now().After(deadline) {
			t.Fatalf("the store has committed %d of 1 chunk: %v", n, err)
		}
	}
	lines := func(pattern string) []string {
		t.Helper()
		var got []string
		if err := db.Search(context.Background(), SearchQuery{Pattern: pattern, Notice: func(string) {}}, func(m Match) error {
			got = append(got, fmt.Sprintf("%d:%s", m.Line, m.Text))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := lines("orders$"); len(got) != 0 {
		t.Fatalf("'orders$' in a line not ended yet: %q", got)
	}
	if got := lines("DELETE"); len(got) != 0 {
		t.Fatalf("a line not ended yet was searched: %q", got)
	}
	if got := lines("first"); len(got) != 1 || got[0] != "1:first line" {
		t.Fatalf("the whole line before it: %q", got)
	}
	if _, err := w.Write([]byte(" WHERE id=5\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := lines("orders"); len(got) != 1 || got[0] != "2:DELETE FROM orders WHERE id=5" {
		t.Fatalf("the line once ended: %q", got)
	}
}
