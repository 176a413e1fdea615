package cli

import (
	"encoding/binary"
	"os"
	"strings"
	"testing"
	"time"
)

// TestDeletedStoreIsNotAFreshStart: a store deleted while no agent runs is
// not silently replaced by an empty one: every command says so in one line,
// and doctor names what the evidence holds and exits 1.
func TestDeletedStoreIsNotAFreshStart(t *testing.T) {
	t.Parallel()
	slow(t)
	w := newWorld(t)
	w.ok(nil, "incident", "new", "before the loss")
	w.ok([]byte("the only copy\n"), "tee", "orig")
	w.stopAgent()
	if err := os.Remove(w.storePath()); err != nil {
		t.Fatal(err)
	}
	_, errs, _ := w.run(nil, "status")
	if !strings.Contains(errs, "WARNING") || !strings.Contains(errs, "calm doctor --salvage") {
		t.Fatalf("status on a lost store says nothing of it: %q", errs)
	}
	out, _, code := w.run(nil, "doctor")
	if code != 1 || !strings.Contains(out, "which the store does not have") {
		t.Fatalf("doctor on a lost store: exit %d:\n%s", code, out)
	}
	// An empty file in its place is the same loss.
	w.stopAgent()
	os.Remove(w.storePath())
	os.WriteFile(w.storePath(), nil, 0o600)
	if _, errs, _ := w.run([]byte("x\n"), "tee", "after"); !strings.Contains(errs, "WARNING") {
		t.Fatalf("tee on an emptied store says nothing of it: %q", errs)
	}
}

// TestStoreDeletedUnderARunningAgentIsKept: deleting calm.db while the
// agent has it open would lose everything at the agent's exit; the agent
// notices, writes what it holds back in place, and the next command sees
// every capture.
func TestStoreDeletedUnderARunningAgentIsKept(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok(nil, "incident", "new", "deleted under the agent")
	w.ok([]byte("kept\n"), "tee", "kept")
	if err := os.Remove(w.storePath()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(w.storePath()); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := w.ok(nil, "show", "c1"); got != "kept\n" {
		t.Fatalf("after the store was deleted under the agent, c1 is %q", got)
	}
}

// TestRolledBackTransactionIsNamedByDoctor damages the newer of bbolt's two
// meta pages: bbolt silently falls back to the older one, losing the last
// transaction (a note). The timeline copy still has it; doctor names it.
func TestRolledBackTransactionIsNamedByDoctor(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok(nil, "incident", "new", "rollback")
	w.ok(nil, "note", "first note")
	w.ok(nil, "note", "the note that will be rolled back")
	w.stopAgent()
	f, err := os.OpenFile(w.storePath(), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	var meta [2][80]byte
	pageSize := int64(os.Getpagesize())
	for i := range meta {
		f.ReadAt(meta[i][:], int64(i)*pageSize)
	}
	// Page header (16) then magic, version, page size, flags, root (16),
	// freelist, pgid, txid.
	txid := func(m [80]byte) uint64 { return binary.LittleEndian.Uint64(m[64:72]) }
	newer := 0
	if txid(meta[1]) > txid(meta[0]) {
		newer = 1
	}
	f.WriteAt([]byte{0xde, 0xad}, int64(newer)*pageSize+16) // its magic
	f.Close()
	out, _, code := w.run(nil, "doctor")
	if code != 1 || !strings.Contains(out, "not in the store (rolled back?)") {
		t.Fatalf("doctor after a rolled-back transaction: exit %d:\n%s", code, out)
	}
}
