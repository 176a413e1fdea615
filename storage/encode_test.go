package storage

import (
	"bytes"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// TestCloseCommitsChunksBeingEncoded: chunks the agent has answered for are
// encoded beside their requests; a store closed meanwhile waits for them,
// commits them, and gives every request's buffer back.
func TestCloseCommitsChunksBeingEncoded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "calm.db")
	db, err := Open(Options{Path: path, StrictMode: true})
	if err != nil {
		t.Fatal(err)
	}
	inc, err := db.NewIncident("encoding")
	if err != nil {
		t.Fatal(err)
	}
	c, err := db.CreateCapture(inc.ID, NewCapture{Title: "t", Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("a line of shell output\n"), 40000)
	const chunks = 6
	var released atomic.Int32
	for n := range uint64(chunks) {
		db.PutChunkAnswered(c.Incident, c.ID, n, data, func(uint64, bool, error) {}, func() { released.Add(1) })
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if got := released.Load(); got != chunks {
		t.Fatalf("%d of %d request buffers given back after Close", got, chunks)
	}
	db, err = Open(Options{Path: path, StrictMode: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.mu.Lock()
	p, _, err := db.loadProgress(c.Incident, c.ID)
	db.mu.Unlock()
	if err != nil || p.next != chunks {
		t.Fatalf("%d chunks committed after Close (%v): want %d", p.next, err, chunks)
	}
}

// TestWaiterGetsTheChunkEncodedAfterItBegan: a writer that waits for its
// last chunk while that chunk is still being encoded has it committed as
// soon as it is queued, not at the next commit tick.
func TestWaiterGetsTheChunkEncodedAfterItBegan(t *testing.T) {
	// No tick in the test's time: only a waiter's kick commits.
	db, err := Open(Options{Path: filepath.Join(t.TempDir(), "calm.db"), StrictMode: true, Commit: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := newCapture(t, db, NewCapture{Title: "t", Source: "test"})
	if _, fresh, err := db.acceptChunk(c.Incident, c.ID, 0, 6, false); !fresh || err != nil {
		t.Fatalf("chunk 0 not accepted: %v", err)
	}
	committed := make(chan uint64)
	go func() {
		n, _ := db.WaitCommitted(c.Incident, c.ID, 1)
		committed <- n
	}()
	for waiting := 0; waiting == 0; time.Sleep(time.Millisecond) {
		db.mu.Lock()
		waiting = db.waiters
		db.mu.Unlock()
	}
	db.queueChunk(c.Incident, c.ID, 0, []byte("last\n\n")) // its encoding done
	if n := <-committed; n != 1 {
		t.Fatalf("the waiter saw %d chunks committed, want 1", n)
	}
}
