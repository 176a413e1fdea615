package storage

import (
	"bytes"
	"path/filepath"
	"sync/atomic"
	"testing"
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
