package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMirrorAddedToARunningSetupIsRepaired: captures saved before
// `calm --mirror DIR agent restart` have no mirror copy; verify says so as
// "missing" (and the mirror's SHA256SUMS apart, not as a copy), and
// `verify --repair` writes them, after which verify passes.
func TestMirrorAddedToARunningSetupIsRepaired(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok([]byte("first\n"), "tee", "one")
	w.ok([]byte("second\n"), "tee", "two")
	id := strings.Fields(w.ok(nil, "incident", "list"))[1] // after the current mark
	mirror := filepath.Join(t.TempDir(), "mirror")
	if out := w.ok(nil, "--mirror", mirror, "agent", "restart"); !strings.Contains(out, "from --mirror last as long as this agent") {
		t.Fatalf("agent restart with --mirror does not say how long it lasts:\n%s", out)
	}

	out, errs, code := w.run(nil, "verify")
	if code != 1 || strings.Contains(out, "mismatch") || strings.Count(out, "mirror copy") != 2 ||
		!strings.Contains(out, "missing (never written") || !strings.Contains(out, id+"/SHA256SUMS in the mirror folder") {
		t.Fatalf("verify with a mirror added later: exit %d:\n%s%s", code, out, errs)
	}
	out, errs, code = w.run(nil, "verify", "--repair")
	if code != 0 || strings.Contains(out, "FAIL") || !strings.Contains(out, "ok: 6 copies of 2 captures") {
		t.Fatalf("verify --repair: exit %d:\n%s%s", code, out, errs)
	}
	for _, name := range []string{"c1.txt", "c2.txt", "SHA256SUMS"} {
		if _, err := os.Stat(filepath.Join(mirror, id, name)); err != nil {
			t.Errorf("the mirror after the repair: %v", err)
		}
	}
	if out, errs, code := w.run(nil, "verify"); code != 0 || strings.Contains(out, "note: mirror") {
		t.Fatalf("verify after the repair: exit %d:\n%s%s", code, out, errs)
	}
	// The agent leaves (idle), the next starts without the flag: what it
	// stores has no copy there, and verify says so.
	w.stopAgent()
	w.ok([]byte("third\n"), "tee", "three")
	if out, errs, _ := w.run(nil, "verify"); !strings.Contains(out, "note: mirror "+mirror+" holds copies of 2 captures, but the agent does not copy to it now") || !strings.Contains(out, id+"/c3 has none there") {
		t.Fatalf("verify after the mirror was forgotten:\n%s%s", out, errs)
	}
}

// TestSalvagedReopenedIncidentStaysOpenAndCurrent: an incident closed and
// reopened, with the store file moved away, comes back from the evidence
// open and current; reopening an open incident says it is open already.
func TestSalvagedReopenedIncidentStaysOpenAndCurrent(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	id := strings.Fields(w.ok(nil, "incident", "new", "orders"))[0]
	w.ok([]byte("the error\n"), "tee", "log")
	w.ok(nil, "incident", "close")
	other := strings.Fields(w.ok(nil, "incident", "new", "later one"))[0]
	if got := w.ok(nil, "incident", "reopen", id); !strings.Contains(got, "(reopened, now current)") {
		t.Fatalf("incident reopen: %q", got)
	}
	if got := w.ok(nil, "incident", "reopen", id); !strings.Contains(got, "(open already, now current)") || strings.Count(got, "\n") != 1 {
		t.Fatalf("incident reopen of an open incident: %q", got)
	}
	w.stopAgent()
	if err := os.Rename(w.storePath(), w.storePath()+".moved"); err != nil {
		t.Fatal(err)
	}
	salvaged := filepath.Join(filepath.Dir(w.home), "salvaged", "calm.db")
	// Exit 1: the store file itself is reported lost.
	if out, errs, _ := w.run(nil, "doctor", "--salvage", salvaged); !strings.Contains(out, "salvaged 2 incidents, 1 capture") {
		t.Fatalf("salvage:\n%s%s", out, errs)
	}
	s := w.withStore(salvaged)
	list := s.ok(nil, "incident", "list")
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		if (strings.HasPrefix(line, id) || strings.HasPrefix(line, other)) && strings.Contains(line, "closed") {
			t.Errorf("an open incident came back closed: %q", line)
		}
	}
	if got := s.ok(nil, "status"); !strings.Contains(got, id) || !strings.Contains(got, "open since") {
		t.Errorf("status after the salvage: want %s current and open:\n%s", id, got)
	}
}

// TestDamagedStoreCopyIsRepairedFromAVerifiedCopy: a read that finds the
// store's copy damaged makes status stop counting it verified; verify
// points at --repair, which writes the store's chunks again from a verified
// file copy, and verify then passes and show reads the store again.
func TestDamagedStoreCopyIsRepairedFromAVerifiedCopy(t *testing.T) {
	t.Parallel()
	slow(t)
	w := newWorld(t)
	original := strings.Repeat("{ \"_id\": 7, \"total\": 12 }\n", 2000)
	w.ok([]byte(original), "tee", "-q", "before")
	w.stopAgent()
	flipStored(t, w.storePath(), "c1")

	if out, errs, code := w.run(nil, "show", "c1"); code != 0 || out != original || !strings.Contains(errs, "does not match its SHA-256") {
		t.Fatalf("show of a damaged store copy: exit %d, %d bytes: %s", code, len(out), errs)
	}
	if got := w.ok(nil, "status"); !strings.Contains(got, "1/2 copies verified") {
		t.Fatalf("status after a read found the store damaged:\n%s", got)
	}
	out, errs, code := w.run(nil, "verify")
	if code != 1 || !strings.Contains(out, "store copy") || !strings.Contains(errs, "--repair' writes the store's damaged copy again from a verified file copy") {
		t.Fatalf("verify of a damaged store copy: exit %d:\n%s%s", code, out, errs)
	}
	out, errs, code = w.run(nil, "verify", "--repair")
	if code != 0 || !strings.Contains(out, "store copy") || !strings.Contains(out, ": verified") || !strings.Contains(out, "ok: 2 copies of 1 capture") {
		t.Fatalf("verify --repair: exit %d:\n%s%s", code, out, errs)
	}
	w.stopAgent() // forget the checks it made
	if out, errs, code := w.run(nil, "show", "c1"); code != 0 || out != original || errs != "" {
		t.Fatalf("show after the repair: exit %d, %d bytes, %q", code, len(out), errs)
	}
	w.checkStore()
}
