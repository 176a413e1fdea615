package cli

import (
	"strings"
	"testing"
	"time"
)

// TestClosedCurrentIncidentIsNotSilentlyReplaced: after 'incident close',
// the next capture does not open "incident at ..." unannounced: piped, it
// goes into the closed incident and says so in one line; at a terminal,
// calm asks. 'incident reopen' opens it again.
func TestClosedCurrentIncidentIsNotSilentlyReplaced(t *testing.T) {
	w := newWorld(t)
	id := strings.Fields(w.ok(nil, "incident", "new", "orders"))[0]
	w.ok(nil, "incident", "close")
	out, errs, code := w.run([]byte("after close\n"), "tee", "late")
	if code != 0 || out != "after close\n" || !strings.Contains(errs, "is closed: saving into it") || !strings.Contains(errs, "saved "+id+"/c1") {
		t.Fatalf("tee into a closed current incident: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if _, errs, _ := w.run(nil, "note", "found the cause"); !strings.Contains(errs, "is closed") {
		t.Fatalf("note into a closed current incident: %q", errs)
	}
	if list := w.ok(nil, "incident", "list"); strings.Count(list, "\n") != 1 {
		t.Fatalf("a capture after close opened another incident:\n%s", list)
	}
	if got := w.ok(nil, "status"); !strings.Contains(got, "closed") || !strings.Contains(got, "late") {
		t.Fatalf("status: %q", got)
	}
	if got := w.ok(nil, "incident", "reopen", id[:len(id)-1]); !strings.Contains(got, "reopened") {
		t.Fatalf("incident reopen: %q", got)
	}
	if got := w.ok(nil, "status"); !strings.Contains(got, "open since") {
		t.Fatalf("status after reopen: %q", got)
	}
	if got := w.ok(nil, "export", id, "--format", "txt"); !strings.Contains(got, "reopened") {
		t.Fatalf("the timeline does not say it was reopened:\n%s", got)
	}

	// At a terminal: calm asks, and "n" opens a new incident for the session.
	w.ok(nil, "incident", "close")
	tm := newTmux(t)
	tm.start(w.envPrefix() + calmBin + " shell -- sh -c 'echo recorded-$((6*7))'; sleep 60")
	tm.waitFor("start a new incident [n]", 10*time.Second)
	tm.typeText("n")
	tm.press("Enter")
	tm.waitFor("recorded-42", 10*time.Second)
	tm.waitFor("recording stopped", 10*time.Second)
	list := w.ok(nil, "incident", "list")
	current := ""
	for _, l := range strings.Split(list, "\n") {
		if strings.HasPrefix(l, "* ") {
			current = l
		}
	}
	if strings.Count(list, "\n") != 2 || current == "" || strings.Contains(current, id) {
		t.Fatalf("answering n did not open a new current incident:\n%s", list)
	}
	if got := w.ok(nil, "status"); !strings.Contains(got, "s1") {
		t.Fatalf("the session is not in the new incident: %q", got)
	}
}
