package ui

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"

	"calm/checklist"
	"calm/model"
)

// fakeClock is a time the test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestOverwriteChecklistFromFirstStepToLast(t *testing.T) {
	db := openStore(t)
	if _, err := db.NewIncident("users overwritten"); err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{t: time.Now()}
	h := start(t, db, 160, 45, Options{Now: clk.now, Who: "ada@db1"})
	tickReady := func() { clk.advance(readFirst); h.press(" ") }
	h.waitFor("STEP 1 · STOP AND BREATHE")
	h.press("3", " ")
	h.waitFor("take a breath: 5s more")
	// The pane and the status line count the same seconds (3.3 s left: 4).
	clk.advance(1700 * time.Millisecond)
	h.press(" ")
	h.waitFor("take a breath: 4s more")
	h.waitFor("take a breath… 4s")
	clk.advance(6 * time.Second)
	h.waitFor("ready: space ticks it")
	h.waitGone("take a breath: 4s more") // the status line's count goes with the pause
	h.press(" ")
	h.waitFor("STEP 2 · SAVE THE SCROLLBACK")
	h.press(" ")
	h.waitFor("waiting for a capture")
	saveCapture(t, db, "mongo find", mongoTranscript)
	h.waitFor("STEP 2 · SAVE THE SCROLLBACK")
	h.waitFor("ready: space ticks it")
	tickReady()
	h.waitFor("STEP 3 · CHECK THE COPIES")
	// A space pressed again at once (a key held, a tired hand) does not
	// tick the step just shown: it has to be on screen a second first.
	h.press(" ")
	h.waitFor("STEP 3 is new on screen: read it, then space ticks it")
	h.waitFor("STEP 3 · CHECK THE COPIES")
	tickReady()
	h.waitFor("STEP 4 · SAY WHAT CHANGED")
	h.press(" ")
	h.waitFor("waiting for a note")
	h.press("n")
	h.waitFor("note:")
	h.press("replaceOne without $set replaced user ada", tcell.KeyEnter)
	h.waitFor("ready: space ticks it")
	tickReady()
	for i, next := range []string{"DECIDE", "BUILD", "REHEARSE", "APPLY", "VERIFY", "TELL", "WRITE"} {
		h.waitFor(fmt.Sprintf("STEP %d · %s", i+5, next))
		switch next {
		case "REHEARSE":
			// The note above came before the fix was built: no rehearsal.
			h.waitFor("waiting for a note")
			h.press("n", "rehearsed on staging, the document is back", tcell.KeyEnter)
		case "VERIFY":
			h.waitFor("waiting for a capture")
			saveCapture(t, db, "mongo find after", mongoTranscript)
		case "TELL":
			// No message composed: space asks, Enter keeps waiting, and
			// "Tick anyway" ticks it, saying so.
			h.press(" ")
			h.waitFor("space again: tick anyway")
			h.press(" ")
			h.waitFor("Tick it anyway?")
			h.press(tcell.KeyEnter)
			h.waitGone("Tick it anyway?")
			h.waitFor("STEP 10 · TELL")
			h.press(" ", " ")
			h.waitFor("Tick it anyway?")
			h.press(tcell.KeyTab, tcell.KeyEnter)
			continue
		}
		h.waitFor("ready: space ticks it")
		tickReady()
	}
	h.waitFor("EVERY STEP IS DONE")
	h.press("u")
	h.waitFor("STEP 11 · WRITE THE SUMMARY")
	events, _ := db.Events("")
	ticks, unticks, anyway := 0, 0, ""
	for _, ev := range events {
		if ev.Kind == model.EventStep {
			if strings.HasPrefix(ev.Text, checklist.Ticked+" \"") && strings.HasSuffix(ev.Text, "by ada@db1") {
				ticks++
			}
			if strings.HasPrefix(ev.Text, checklist.TickedAnyway) {
				anyway = ev.Text
			}
			if strings.HasPrefix(ev.Text, checklist.Unticked) {
				unticks++
			}
		}
	}
	if ticks != 10 || unticks != 1 || !strings.HasPrefix(anyway, `ticked anyway "Tell the team" by ada@db1; it was waiting for the team message`) {
		t.Fatalf("%d ticks, %d unticks and %q recorded, want 10, 1 and Tell the team ticked anyway", ticks, unticks, anyway)
	}
	// The timeline pane shows them with their times.
	screen := h.waitFor("unticked \"Write the summary\"")
	if !strings.Contains(screen, "step") {
		t.Fatal("timeline lacks the steps")
	}
}

func TestTeamMessageIsEditedCopiedAndPosted(t *testing.T) {
	var mu sync.Mutex
	var posted []string
	fail := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var msg struct{ Text string }
		json.Unmarshal(body, &msg)
		mu.Lock()
		defer mu.Unlock()
		if fail {
			http.Error(w, "channel_not_found", http.StatusNotFound)
			return
		}
		posted = append(posted, msg.Text)
	}))
	defer srv.Close()
	db := openStore(t)
	saveCapture(t, db, "mongo find", mongoTranscript)
	db.AddNote("", "replaceOne replaced user ada; password=hunter2")
	editor := filepath.Join(t.TempDir(), "edit.sh")
	os.WriteFile(editor, []byte("#!/bin/sh\necho 'Restore is rehearsed; applying at 15:00.' >> \"$1\"\n"), 0o700)
	h := start(t, db, 160, 45, Options{Editor: editor, Webhook: srv.URL})
	h.waitFor("mongo find")
	h.press("c", "c")
	h.waitFor("posted to the webhook")
	mu.Lock()
	got := strings.Join(posted, "")
	mu.Unlock()
	for _, want := range []string{"What broke: ", "replaceOne replaced user ada; password=[REDACTED password]", "Evidence: c1 \"mongo find\"", "Restore is rehearsed; applying at 15:00."} {
		if !strings.Contains(got, want) {
			t.Fatalf("posted message lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "hunter2") {
		t.Fatal("the message leaked a secret")
	}
	if h.clip.last() != got {
		t.Fatal("the clipboard does not hold the posted message")
	}
	// A failed post says so and keeps the message.
	mu.Lock()
	fail = true
	mu.Unlock()
	h.press("c", "c")
	screen := h.waitFor("NOT posted")
	if !strings.Contains(screen, "404") {
		t.Fatalf("the failure does not say why:\n%s", row(screen, "NOT posted"))
	}
	// The timeline, which follows new events, shows "NOT posted" before
	// the message is kept: wait for what the status line says last.
	h.waitUntil("the status says the message was not posted", func() bool {
		return strings.Contains(h.ui.message, "team message: ") && strings.Contains(h.ui.message, "NOT posted")
	})
	if kept := capturesFrom(t, db, "message"); kept != 2 {
		t.Fatalf("%d messages kept as captures, want 2", kept)
	}
}

func TestReviewOpensOnTheTimelineAndReplaysASession(t *testing.T) {
	db := openStore(t)
	began := time.Now().Add(-time.Hour).Truncate(time.Second)
	var events [][3]any
	for i := range 40 {
		events = append(events, [3]any{float64(i) * 0.05, "o", "tick " + string(rune('A'+i%26)) + "\r\n"})
	}
	c := saveSession(t, db, began, events)
	db.AddMarker("", c.ID, "kubectl delete", 1.0)
	h := start(t, db, 160, 45, Options{ReadOnly: true})
	h.waitFor("review (read-only)")
	h.waitFor("kubectl delete")
	// The timeline has the focus: enter on the marker opens the session there.
	h.press(tcell.KeyEnd, tcell.KeyEnter)
	screen := h.waitFor("marker kubectl delete")
	if !strings.Contains(screen, "tick U") {
		t.Fatalf("the marker did not open its session at 1.0 s:\n%s", screen)
	}
	startReplay(h)
	h.waitFor("replaying at 1x")
	h.waitFor("replay reached the end")
	screen = h.text()
	if !strings.Contains(screen, "tick N") {
		t.Fatalf("after the replay the session is not whole:\n%s", screen)
	}
	h.press("3", " ")
	h.waitFor("review is read-only")
}

// tickSteps ticks the current step n times as 'calm tick' does, anyway or
// not: the state a person finds when opening the TUI.
func tickSteps(t *testing.T, db model.Store, incident string, n int, anyway bool) {
	t.Helper()
	for range n {
		// An hour on: the pauses are long over.
		if _, err := checklist.Tick(db, incident, checklist.Builtin(), checklist.TickRequest{Who: "ada@db1", Anyway: anyway, Now: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStepTickedAnywayIsNotShownAsDone: a step ticked while it still waited
// is marked in yellow with "ticked anyway" and what it waited for, not with
// the green ✓ of a real tick; the count says how many were.
func TestStepTickedAnywayIsNotShownAsDone(t *testing.T) {
	db := openStore(t)
	inc, err := db.NewIncident("users overwritten")
	if err != nil {
		t.Fatal(err)
	}
	tickSteps(t, db, inc.ID, 1, false) // Stop and breathe: nothing to wait for
	tickSteps(t, db, inc.ID, 1, true)  // Save the scrollback, with no capture
	h := start(t, db, 160, 60, Options{})
	screen := h.waitFor("ticked while waiting for a capture")
	if !strings.Contains(screen, "(1 ticked anyway)") {
		t.Fatalf("the count does not say a step was ticked anyway:\n%s", screen)
	}
	anyway, real := row(screen, "Save the scrollback"), row(screen, "Stop and breathe")
	if !strings.Contains(anyway, "! ") || strings.Contains(anyway, "✓") || !strings.Contains(anyway, "(anyway)") {
		t.Fatalf("the step ticked anyway reads %q", anyway)
	}
	if fg, _, _ := h.cellAt(screen, "! ").Decompose(); fg != tcell.ColorYellow {
		t.Fatalf("the ticked-anyway mark is %v, want yellow", fg)
	}
	if !strings.Contains(real, "✓ ") {
		t.Fatalf("the step really ticked reads %q", real)
	}
	// Where every step would not fit, the steps come before the detail.
	h.screen.SetSize(160, 40)
	h.in(func() {})
	screen = h.waitGone("ticked while waiting")
	if !strings.Contains(row(screen, "Save the scrollback"), "(anyway)") {
		t.Fatalf("short of room, the step lost its mark:\n%s", screen)
	}
}

// TestReviewChecklistShowsNoKeysThatWrite: in review nothing can be ticked,
// so the checklist pane offers no tick, untick, note or message key, and
// still says what the current step waits for.
func TestReviewChecklistShowsNoKeysThatWrite(t *testing.T) {
	db := openStore(t)
	inc, err := db.NewIncident("users overwritten")
	if err != nil {
		t.Fatal(err)
	}
	tickSteps(t, db, inc.ID, 1, false)
	h := start(t, db, 160, 45, Options{ReadOnly: true})
	screen := h.waitFor("STEP 2 · SAVE THE SCROLLBACK")
	for _, unwanted := range []string{"space", "untick", "n note", "L checklist", "tick it anyway"} {
		if strings.Contains(screen, unwanted) {
			t.Fatalf("review's checklist offers %q:\n%s", unwanted, screen)
		}
	}
	if !strings.Contains(screen, "waiting for a capture") || !strings.Contains(screen, "nothing can be ticked in review") {
		t.Fatalf("review's checklist does not say where the step stands:\n%s", screen)
	}
	tickSteps(t, db, inc.ID, 10, true)
	screen = h.waitFor("EVERY STEP IS DONE")
	if strings.Contains(screen, "composes") || strings.Contains(screen, "unticks") {
		t.Fatalf("review offers to compose or untick:\n%s", screen)
	}
}

// TestTeamMessageSaysWhichStepsWereTickedAnyway: the message composed with c
// does not list a skipped step as done like the others.
func TestTeamMessageSaysWhichStepsWereTickedAnyway(t *testing.T) {
	db := openStore(t)
	inc, err := db.NewIncident("users overwritten")
	if err != nil {
		t.Fatal(err)
	}
	tickSteps(t, db, inc.ID, 1, false)
	tickSteps(t, db, inc.ID, 1, true)
	h := start(t, db, 160, 45, Options{Editor: appendingEditor(t)})
	h.waitFor("STEP 3")
	h.press("c", "c")
	h.waitFor("team message: copied")
	msg := h.clip.last()
	if !strings.Contains(msg, "Save the scrollback (") || !strings.Contains(msg, ") ticked anyway (was waiting for a capture)") {
		t.Fatalf("the team message does not say the step was ticked anyway:\n%s", msg)
	}
	if strings.Count(msg, "ticked anyway") != 1 {
		t.Fatalf("only one step was ticked anyway:\n%s", msg)
	}
}

// On a narrow screen the checklist is a tab: a step's pause runs from when
// the step is first on screen, not from when calm started behind another tab.
func TestPauseRunsOnlyOnceTheStepIsOnScreen(t *testing.T) {
	db := openStore(t)
	if _, err := db.NewIncident("users overwritten"); err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{t: time.Now()}
	h := start(t, db, 80, 30, Options{Now: clk.now, Who: "ada@db1"})
	h.waitFor("2 viewer")
	clk.advance(time.Minute) // the step was never shown: its pause is all ahead
	h.press("T")
	h.waitFor("pause starts once it is on screen; 3 shows it")
	h.press("3")
	h.waitFor("STEP 1 · STOP AND BREATHE")
	h.press(" ")
	h.waitFor("take a breath: 5s more")
	clk.advance(6 * time.Second)
	h.waitFor("ready: space ticks it")
	h.press(" ")
	h.waitFor("STEP 2 · SAVE THE SCROLLBACK")
}

// TestChecklistCountIsNotBrokenAcrossLines: in the 40-column side pane the
// header wrapped as "0 of" on one line and "11 done" on the next.
func TestChecklistCountIsNotBrokenAcrossLines(t *testing.T) {
	db := openStore(t)
	if _, err := db.NewIncident("users overwritten"); err != nil {
		t.Fatal(err)
	}
	h := start(t, db, 160, 45, Options{})
	screen := h.waitFor("STEP 1")
	if r := row(screen, "of\u00a011"); !strings.Contains(r, "0\u00a0of\u00a011\u00a0done") {
		t.Fatalf("the checklist's count is broken across lines:\n%s", screen)
	}
}

// TestTickAnywayChecksAgainWhenConfirmed: the dialog was opened while the
// step waited for a capture, the capture came from another pane, and the
// confirmation recorded "ticked anyway ... it was waiting for a capture":
// the postmortem said evidence was missing that was there.
func TestTickAnywayChecksAgainWhenConfirmed(t *testing.T) {
	db := openStore(t)
	inc, err := db.NewIncident("users overwritten")
	if err != nil {
		t.Fatal(err)
	}
	tickSteps(t, db, inc.ID, 1, false) // Stop and breathe
	h := start(t, db, 160, 45, Options{Who: "ada@db1"})
	h.waitFor("STEP 2 · SAVE THE SCROLLBACK")
	h.press("3", " ", " ")
	h.waitFor("Tick it anyway?")
	saveCapture(t, db, "mongo find", mongoTranscript) // from another pane
	h.press(tcell.KeyTab, tcell.KeyEnter)
	h.waitFor("so it is a plain tick")
	events, _ := db.Events(inc.ID)
	for _, ev := range events {
		if ev.Kind == model.EventStep && strings.Contains(ev.Text, "anyway") {
			t.Fatalf("the timeline says %q", ev.Text)
		}
	}
	h.waitFor("STEP 3 · CHECK THE COPIES")
	// u pressed twice, both before the list is read again, takes back one
	// tick, and says the second did nothing (once the step has been on
	// screen long enough for u to work at all).
	time.Sleep(readFirst)
	h.in(func() { h.ui.untick(); h.ui.untick() })
	h.waitFor("unticked")
	time.Sleep(300 * time.Millisecond) // the second asks the store too
	unticks := 0
	events, _ = db.Events(inc.ID)
	for _, ev := range events {
		if ev.Kind == model.EventStep && strings.HasPrefix(ev.Text, "unticked ") {
			unticks++
		}
	}
	if unticks != 1 {
		t.Fatalf("u u recorded %d unticks", unticks)
	}
}

// TestAnotherIncidentsStepHasItsOwnPause: the pause was kept by checklist
// and step, so "Stop and breathe" of a second incident, picked in the TUI,
// counted from when the first incident's showed, and could be ticked at once.
func TestAnotherIncidentsStepHasItsOwnPause(t *testing.T) {
	db := openStore(t)
	first, err := db.NewIncident("users overwritten")
	if err != nil {
		t.Fatal(err)
	}
	second, err := db.NewIncident("orders overwritten")
	if err != nil {
		t.Fatal(err)
	}
	db.UseIncident(first.ID)
	clk := &fakeClock{t: time.Now()}
	h := start(t, db, 160, 45, Options{Now: clk.now, Who: "ada@db1"})
	h.waitFor("STEP 1 · STOP AND BREATHE")
	clk.advance(time.Minute)
	h.in(func() {
		for i, inc := range h.ui.all {
			if inc.ID == second.ID {
				h.ui.switchIncident(i)
			}
		}
	})
	h.waitUntil("the second incident's events are read", func() bool {
		h.ui.mu.Lock()
		defer h.ui.mu.Unlock()
		return h.ui.incident.ID == second.ID && len(h.ui.events) > 0 && h.ui.events[0].Text == "opened: orders overwritten"
	})
	h.waitFor("STEP 1 · STOP AND BREATHE")
	h.press("3", " ")
	h.waitFor("take a breath: 5s more")
	if events, _ := db.Events(first.ID); len(events) != 1 {
		t.Fatalf("the first incident's step was ticked: %v", events)
	}
}

// TestNoteInAClosedIncidentSaysSo: a TUI left open on an incident someone
// closed took a note with a bare "noted".
func TestNoteInAClosedIncidentSaysSo(t *testing.T) {
	db := openStore(t)
	inc, err := db.NewIncident("users overwritten")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CloseIncident(inc.ID); err != nil {
		t.Fatal(err)
	}
	h := start(t, db, 160, 40, Options{})
	h.waitFor("STEP 1")
	h.press("3", "n", "restored from c1", tcell.KeyEnter)
	h.waitFor("noted in " + inc.ID + ", which is CLOSED")
}

// TestATickFromAShellShowsOnTheStatusLine: after 'calm tick' in another
// pane, the status line still said what this pane last did ("unticked
// ..."), beside a checklist that had moved on.
func TestATickFromAShellShowsOnTheStatusLine(t *testing.T) {
	db := openStore(t)
	inc, err := db.NewIncident("users overwritten")
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{t: time.Now()}
	h := start(t, db, 160, 45, Options{Now: clk.now, Who: "ada@db1"})
	h.waitFor("STEP 1 · STOP AND BREATHE")
	h.press("3")
	clk.advance(time.Minute)
	h.waitFor("ready: space ticks it")
	h.press(" ")
	h.waitFor(`ticked "Stop and breathe" at`) // this pane's own words
	h.waitFor("STEP 2 · SAVE THE SCROLLBACK")
	clk.advance(readFirst)
	h.press("u")
	h.waitFor(`unticked "Stop and breathe" at`)
	// From a shell, as 'calm tick' does.
	if _, err := checklist.Tick(db, inc.ID, checklist.Builtin(), checklist.TickRequest{Who: "bob@laptop", Now: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	h.waitFor(`ticked "Stop and breathe" by bob@laptop`)
	h.waitFor("STEP 2 · SAVE THE SCROLLBACK")
}

// TestUntickThenTickAtOnceTicksNothingOutOfOrder: u then space at once
// unticked step 3 and ticked step 4 from this pane's state of a moment
// before; and u held down took back one tick after another. Each key now
// does one thing, in order, as the store has it.
func TestUntickThenTickAtOnceTicksNothingOutOfOrder(t *testing.T) {
	db := openStore(t)
	inc, err := db.NewIncident("users overwritten")
	if err != nil {
		t.Fatal(err)
	}
	saveCapture(t, db, "mongo find", mongoTranscript)
	tickSteps(t, db, inc.ID, 3, false) // breathe, save, copies
	h := start(t, db, 160, 45, Options{Who: "ada@db1"})
	h.waitFor("STEP 4 · SAY WHAT CHANGED")
	db.AddNote(inc.ID, "replaceOne replaced user 1") // step 4 is ready
	h.waitFor("ready: space ticks it")
	time.Sleep(readFirst)
	h.in(func() { h.ui.untick(); h.ui.tick(" ") }) // u then space, before the list is read again
	h.waitFor("NOT ticked")
	h.waitFor("STEP 3 · CHECK THE COPIES")
	// u held down: the step it brings back is new on screen, and the next
	// u waits for it to be read.
	h.press("3")
	for range 5 {
		h.press("u")
	}
	h.waitFor("is new on screen: u in a moment takes back")
	time.Sleep(300 * time.Millisecond)
	if n := stepEvents(t, db, inc.ID, "ticked \"Say what changed\""); n != 0 {
		t.Fatal("step 4 was ticked out of order")
	}
	if ticks, unticks := stepEvents(t, db, inc.ID, "ticked "), stepEvents(t, db, inc.ID, "unticked "); ticks != 3 || unticks != 1 {
		t.Fatalf("%d ticks and %d unticks recorded, want the 3 ticks and one untick", ticks, unticks)
	}
}

// TestSmallPaneShowsTheStepsStateFirst: in the rows calm split leaves in
// 80x24, the checklist showed only the step's title and the start of its
// guidance: not whether it was ready, nor its keys, though space ticked.
func TestSmallPaneShowsTheStepsStateFirst(t *testing.T) {
	db := openStore(t)
	if _, err := db.NewIncident("users overwritten"); err != nil {
		t.Fatal(err)
	}
	h := start(t, db, 64, 12, Options{})
	h.press("3")
	h.waitFor("STEP 1 · STOP AND BREATHE")
	h.waitFor("take a breath…")
	h.waitFor("space tick · u untick")
}

// TestHeldSpaceTicksOneStep: space held (or pressed every 0.2 s) ticked a
// step a second, each new one after its second on screen; and after u, the
// steps brought back were re-ticked at once. A space too soon now starts
// the step's second again: only a space after a rest ticks.
func TestHeldSpaceTicksOneStep(t *testing.T) {
	db := openStore(t)
	inc, err := db.NewIncident("users overwritten")
	if err != nil {
		t.Fatal(err)
	}
	saveCapture(t, db, "mongo find", mongoTranscript)
	db.AddNote(inc.ID, "replaceOne replaced user 1") // "Say what changed" is ready too
	tickSteps(t, db, inc.ID, 2, false)               // breathe, save
	clk := &fakeClock{t: time.Now().Add(time.Hour)}
	h := start(t, db, 160, 45, Options{Now: clk.now, Who: "ada@db1"})
	h.press("3")
	h.waitFor("STEP 3 · CHECK THE COPIES")
	clk.advance(readFirst)
	held := func() {
		for range 8 {
			h.press(" ")
			clk.advance(200 * time.Millisecond)
		}
	}
	held()
	h.waitFor("STEP 4 · SAY WHAT CHANGED")
	time.Sleep(200 * time.Millisecond)
	if n := stepEvents(t, db, inc.ID, "ticked "); n != 3 {
		t.Fatalf("space held ticked %d steps in all, want 3 (two before, one held)", n)
	}
	// After a rest, one space ticks the next.
	clk.advance(readFirst)
	h.press(" ")
	h.waitFor("STEP 5 · DECIDE ON A FALLBACK")
}

// stepEvents counts the incident's step events whose text begins with
// prefix ("ticked ", "unticked ").
func stepEvents(t *testing.T, db model.Store, incident, prefix string) int {
	t.Helper()
	events, err := db.Events(incident)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range events {
		if ev.Kind == model.EventStep && strings.HasPrefix(ev.Text, prefix) {
			n++
		}
	}
	return n
}
