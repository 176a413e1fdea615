package ui

import (
	"strings"
	"testing"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"calm/checklist"
	"calm/model"
)

// TestEmptyStoreGuideNamesKeysThatWork: the guide said "press n here", but
// n in the viewer, which has the keys on the first screen, is "next match".
// The keys it names now open the note prompt from there.
func TestEmptyStoreGuideNamesKeysThatWork(t *testing.T) {
	db := openStore(t)
	h := start(t, db, 160, 40, Options{})
	screen := h.waitFor("No incident yet")
	if !strings.Contains(screen, "press 3 then n to write a first note") {
		t.Fatalf("the guide does not name the keys that write a note:\n%s", screen)
	}
	h.waitUntil("the viewer has the keys on the first screen", func() bool { return h.ui.app.GetFocus() == h.ui.viewer })
	h.press("3", "n")
	h.waitFor("no incident yet; its title:")
}

// TestVerifyWithNothingToVerifySaysSo: V on an incident with no capture
// said "verified 0 copies of 0 captures: all match".
func TestVerifyWithNothingToVerifySaysSo(t *testing.T) {
	db := openStore(t)
	h := start(t, db, 160, 40, Options{})
	h.waitFor("No incident yet")
	h.press("V")
	screen := h.waitFor("nothing to verify yet: no incident")
	if strings.Contains(screen, "all match") {
		t.Fatalf("V with no incident says all match:\n%s", screen)
	}
	if _, err := db.NewIncident("users overwritten"); err != nil {
		t.Fatal(err)
	}
	h.waitFor("Nothing captured in this incident yet")
	h.press("V")
	screen = h.waitFor("nothing to verify yet: no capture")
	if strings.Contains(screen, "all match") {
		t.Fatalf("V with no capture says all match:\n%s", screen)
	}
}

// waitingStep opens the UI on an incident whose current step, "Save the
// scrollback", waits for a capture.
func waitingStep(t *testing.T) *harness {
	t.Helper()
	db := openStore(t)
	inc, err := db.NewIncident("users overwritten")
	if err != nil {
		t.Fatal(err)
	}
	tickSteps(t, db, inc.ID, 1, false)
	h := start(t, db, 160, 45, Options{Who: "ada@db1"})
	h.waitFor("STEP 2 · SAVE THE SCROLLBACK")
	return h
}

// anywayTicks counts the steps ticked anyway on the timeline.
func anywayTicks(t *testing.T, db model.Store) int {
	t.Helper()
	events, err := db.Events("")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range events {
		if ev.Kind == model.EventStep && strings.HasPrefix(ev.Text, checklist.TickedAnyway) {
			n++
		}
	}
	return n
}

// TestTickAnywayHintNamesTheKeyPressed: T in the viewer said "space again:
// tick anyway", but space there pages down. The hint names the key that
// works where the person is.
func TestTickAnywayHintNamesTheKeyPressed(t *testing.T) {
	h := waitingStep(t)
	h.waitUntil("the viewer has the keys", func() bool { return h.ui.app.GetFocus() == h.ui.viewer })
	h.press("T")
	screen := h.waitFor("waiting for a capture")
	if !strings.Contains(screen, "(T again: tick anyway)") {
		t.Fatalf("T in the viewer does not say T again:\n%s", row(screen, "tick anyway"))
	}
	h.press("T")
	h.waitFor("Tick it anyway?")
	h.press(tcell.KeyEscape)
	h.waitGone("Tick it anyway?")
	h.press("3", " ")
	h.waitFor("(space again: tick anyway)")
	h.press(" ")
	h.waitFor("Tick it anyway?")
}

// TestTickAnywayDialogMovesWithJK: j and k move between Wait and Tick
// anyway, as they move in every other dialog.
func TestTickAnywayDialogMovesWithJK(t *testing.T) {
	h := waitingStep(t)
	h.press("T", "T")
	h.waitFor("Tick it anyway?")
	h.press("j", "k", tcell.KeyEnter) // back on Wait
	h.waitGone("Tick it anyway?")
	if n := anywayTicks(t, h.db); n != 0 {
		t.Fatalf("j k enter ticked anyway %d times: k did not go back to Wait", n)
	}
	h.press("T", "T")
	h.waitFor("Tick it anyway?")
	h.press("j", tcell.KeyEnter)
	h.waitFor(`ticked anyway "Save the scrollback"`)
	if n := anywayTicks(t, h.db); n != 1 {
		t.Fatalf("j enter ticked anyway %d times, want 1", n)
	}
}

// TestTimelineFollowsNewEvents: with its selection on the newest event, the
// timeline keeps it there as events arrive; moved back, it stays put.
func TestTimelineFollowsNewEvents(t *testing.T) {
	db := openStore(t)
	if _, err := db.NewIncident("users overwritten"); err != nil {
		t.Fatal(err)
	}
	db.AddNote("", "first note")
	h := start(t, db, 160, 45, Options{})
	h.waitFor("first note")
	last := func() bool { return h.ui.timeline.GetCurrentItem() == h.ui.timeline.GetItemCount()-1 }
	h.waitUntil("the timeline opens on its newest event", last)
	for _, note := range []string{"second note", "third note"} {
		db.AddNote("", note)
		h.waitFor(note)
		h.waitUntil("the timeline follows "+note, last)
	}
	h.in(func() { h.ui.focus(h.ui.timeline, "items") })
	h.press("k")
	var at int
	h.in(func() { at = h.ui.timeline.GetCurrentItem() })
	db.AddNote("", "fourth note")
	h.waitFor("fourth note")
	h.in(func() {
		if got := h.ui.timeline.GetCurrentItem(); got != at {
			t.Errorf("a new event moved the selection from %d to %d", at, got)
		}
	})
}

// TestDiffWithNothingOpenMarksNothing: D with no item in the viewer said
// "marked as before".
func TestDiffWithNothingOpenMarksNothing(t *testing.T) {
	db := openStore(t)
	if _, err := db.NewIncident("users overwritten"); err != nil {
		t.Fatal(err)
	}
	h := start(t, db, 160, 45, Options{})
	h.waitFor("Nothing captured in this incident yet")
	h.press("D")
	screen := h.waitFor("nothing to mark")
	if strings.Contains(screen, "marked as before") {
		t.Fatalf("D with nothing open marked something:\n%s", screen)
	}
	var base *Doc
	h.in(func() { base = h.ui.diffBase })
	if base != nil {
		t.Fatal("D with nothing open set a diff base")
	}
}

// TestFindNextSaysWhereItWent: after / the status gave the first match's
// line, and n and N left it there while the cursor moved.
func TestFindNextSaysWhereItWent(t *testing.T) {
	db := openStore(t)
	saveCapture(t, db, "app log", "ERROR one\nok\nERROR two\nok\nERROR three\n")
	h := start(t, db, 160, 45, Options{})
	h.waitFor("ERROR three")
	h.press("/", "ERROR", tcell.KeyEnter)
	h.waitFor(`"ERROR": line 1 `) // the search starts at the cursor's line
	for _, step := range []struct {
		key, want string
	}{{"n", `"ERROR": line 3 `}, {"n", `"ERROR": line 5 `}, {"n", `"ERROR": line 1, wrapped past the end `}, {"N", `"ERROR": line 5, wrapped past the start `}, {"N", `"ERROR": line 3 `}} {
		h.press(step.key)
		h.waitFor(step.want)
	}
}

// TestFindNextOnTheOnlyMatchSaysSo: with one line matching, n and N stay on
// it, and the status says it is the only one, not that it wrapped.
func TestFindNextOnTheOnlyMatchSaysSo(t *testing.T) {
	db := openStore(t)
	saveCapture(t, db, "app log", "ok\nERROR once, ERROR twice on one line\nok\nok\n")
	h := start(t, db, 160, 45, Options{})
	h.waitFor("ERROR once")
	h.press("/", "ERROR", tcell.KeyEnter)
	h.waitFor(`"ERROR": line 2 `)
	for _, key := range []string{"n", "N", "n"} {
		h.press(key)
		screen := h.waitFor(`"ERROR": line 2, the only line that matches `)
		if strings.Contains(screen, "wrapped") {
			t.Fatalf("%s on the only match said it wrapped:\n%s", key, screen)
		}
	}
}

// TestALongMessageWrapsInANarrowPane: in the 64 columns calm split gives
// the TUI, a message's end (often what to do next: "your text is kept in
// /tmp/...") was cut to "…".
func TestALongMessageWrapsInANarrowPane(t *testing.T) {
	s := newStatusBar()
	s.incident, s.title, s.hints = "20261203-abcd", "orders overwritten", hints(false)
	s.message = tview.Escape("the editor failed (exit status 1), nothing saved; your text is kept in /tmp/calm-edit-123456/message.txt (0600)")
	rows := s.layout(64)
	joined := strings.Join(rows[1:], " ")
	if len(rows) < 3 || !strings.Contains(joined, "/tmp/calm-edit-123456/message.txt (0600)") {
		t.Fatalf("the message is not whole below the bar: %q", rows)
	}
	for _, r := range rows {
		if tview.TaggedStringWidth(r) > 64 && r != rows[0] {
			t.Fatalf("a message row is wider than the pane: %q", r)
		}
	}
}
