package storage

import (
	"path/filepath"
	"testing"
	"time"
)

// TestRequestAnswersOutliveARestartAndExpire repeats a creating request
// under one ID, as a client does when the agent died after committing but
// before answering: the answer is committed with what the request created,
// so the repeat gets it even from a store opened again, until it is older
// than requestsKept. (Through the agent: agent's
// TestRepeatedCreatingRequestGetsTheFirstAnswer.)
func TestRequestAnswersOutliveARestartAndExpire(t *testing.T) {
	path := filepath.Join(t.TempDir(), "calm.db")
	db, err := Open(Options{Path: path, StrictMode: true})
	if err != nil {
		t.Fatal(err)
	}
	inc, err := db.NewIncident("once")
	if err != nil {
		t.Fatal(err)
	}
	n1, err1 := db.Request("req-note").AddNote(inc.ID, "only once")
	n2, err2 := db.Request("req-note").AddNote(inc.ID, "only once")
	if err1 != nil || err2 != nil || n1.Seq != n2.Seq {
		t.Fatalf("a repeated note request made a second note: %v %v, %v %v", n1.Seq, err1, n2.Seq, err2)
	}
	events := countEvents(t, db, inc.ID)
	db.Close()
	db2, err := Open(Options{Path: path, StrictMode: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		db2.Close()
		checkConsistent(t, path)
	}()
	if n3, err := db2.Request("req-note").AddNote(inc.ID, "only once"); err != nil || n3.Seq != n1.Seq {
		t.Fatalf("after a restart, the repeat got seq %d (%v), want the first answer's %d", n3.Seq, err, n1.Seq)
	}
	if got := countEvents(t, db2, inc.ID); got != events {
		t.Fatalf("after a restart, the repeated note was added again: %d events, was %d", got, events)
	}
	// Answers older than a day are forgotten.
	if err := db2.forgetOldRequests(time.Now().Add(2 * requestsKept)); err != nil {
		t.Fatal(err)
	}
	if _, err := db2.Request("req-note").AddNote(inc.ID, "only once"); err != nil {
		t.Fatal(err)
	}
	if got := countEvents(t, db2, inc.ID); got != events+1 {
		t.Fatalf("an expired request ID still suppressed its request: %d events", got)
	}
}

func countEvents(t *testing.T, db *DB, incident string) int {
	t.Helper()
	events, err := db.Events(incident)
	if err != nil {
		t.Fatal(err)
	}
	return len(events)
}
