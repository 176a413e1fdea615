package ui

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gdamore/tcell/v2"

	"calm/checklist"
	"calm/model"
)

// useEditor makes $EDITOR a script with body, as a person's shell sets it.
func useEditor(t *testing.T, body string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "editor.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VISUAL", "")
	t.Setenv("EDITOR", path)
}

// quitsWithoutWriting is vi's :q!: the editor exits 0, the file is as calm
// wrote it.
const quitsWithoutWriting = "exit 0"

// capturesFrom counts the incident's captures of a source.
func capturesFrom(t *testing.T, db model.Store, source string) int {
	t.Helper()
	caps, err := db.Captures("")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range caps {
		if c.Source == source {
			n++
		}
	}
	return n
}

// TestUnchangedTeamMessageIsNotSent: c, then quitting the editor without
// writing, sent the drafted message, kept it and satisfied "Tell the team".
// An unchanged file is a cancel: nothing copied, posted, kept or recorded.
func TestUnchangedTeamMessageIsNotSent(t *testing.T) {
	var mu sync.Mutex
	var posted []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var msg struct{ Text string }
		json.Unmarshal(body, &msg)
		mu.Lock()
		posted = append(posted, msg.Text)
		mu.Unlock()
	}))
	defer srv.Close()
	db := openStore(t)
	saveCapture(t, db, "mongo find", mongoTranscript)
	useEditor(t, quitsWithoutWriting)
	h := start(t, db, 160, 45, Options{Webhook: srv.URL})
	h.waitFor("mongo find")
	h.press("c", "c")
	screen := h.waitFor("team message unchanged in the editor: cancelled")
	if !strings.Contains(screen, "nothing sent") {
		t.Fatalf("the status does not say nothing was sent:\n%s", row(screen, "cancelled"))
	}
	// The cancel is decided before anything is sent: no wait hides a send.
	mu.Lock()
	n := len(posted)
	mu.Unlock()
	if n != 0 || h.clip.last() != "" {
		t.Fatalf("a cancelled message was posted %d times, copied %q", n, h.clip.last())
	}
	if kept := capturesFrom(t, db, "message"); kept != 0 {
		t.Fatalf("a cancelled message was kept as %d captures", kept)
	}
	caps, _ := db.Captures("")
	events, _ := db.Events("")
	for _, ev := range events {
		if ev.Kind == model.EventMessage {
			t.Fatalf("a cancelled message is on the timeline: %q", ev.Text)
		}
	}
	if facts := checklist.FactsOf(caps, events); len(facts.Evidence["message"]) != 0 {
		t.Fatal("a cancelled message counts for Tell the team")
	}

	// Written as drafted (vi's :wq without a change), it goes.
	useEditor(t, `cat "$1" > "$1.new" && cat "$1.new" > "$1"`)
	h.press("c", "c")
	h.waitUntil("the message written as drafted is posted", func() bool { mu.Lock(); defer mu.Unlock(); return len(posted) == 1 })

	// Written, it goes.
	useEditor(t, `echo 'Restore is rehearsed.' >> "$1"`)
	h.press("c", "c")
	// The status already says "posted" from the message before: wait for
	// the post itself.
	h.waitUntil("the edited message is posted", func() bool { mu.Lock(); defer mu.Unlock(); return len(posted) == 2 })
	h.waitFor("posted to the webhook")
	mu.Lock()
	got := strings.Join(posted, "")
	mu.Unlock()
	if !strings.Contains(got, "Restore is rehearsed.") {
		t.Fatalf("the edited message was not posted: %q", got)
	}
	h.waitUntil("both messages are kept as captures", func() bool { return capturesFrom(t, db, "message") == 2 })
}

// TestUnchangedDraftIsNotSaved: e, then quitting the editor without
// writing, saved the block as a draft capture all the same.
func TestUnchangedDraftIsNotSaved(t *testing.T) {
	db := openStore(t)
	saveCapture(t, db, "mongo find", mongoTranscript)
	useEditor(t, quitsWithoutWriting)
	h := start(t, db, 160, 40, Options{})
	h.waitFor("db.users.find")
	h.press("j", "j", "x")
	h.waitFor("block: lines 2–16")
	h.press("e")
	screen := h.waitFor("draft unchanged in the editor: cancelled")
	if !strings.Contains(screen, "nothing saved") {
		t.Fatalf("the status does not say nothing was saved:\n%s", row(screen, "cancelled"))
	}
	if caps, _ := db.Captures(""); len(caps) != 1 {
		t.Fatalf("an unchanged draft made captures: %d, want 1", len(caps))
	}

	useEditor(t, `echo 'db.users.replaceOne(restore)' >> "$1"`)
	h.press("e")
	h.waitFor("saved c2")
	if n := capturesFrom(t, db, "draft"); n != 1 {
		t.Fatalf("%d drafts saved, want 1", n)
	}
}

// TestSaveWithAnItemOpenAndNothingMarkedSaysHow: s with a capture open
// said "open an item", which was open.
func TestSaveWithAnItemOpenAndNothingMarkedSaysHow(t *testing.T) {
	db := openStore(t)
	saveCapture(t, db, "open one", "line one\nline two\n")
	h := start(t, db, 160, 40, Options{})
	h.waitFor("open one")
	h.press("1", tcell.KeyEnter)
	h.waitFor("line two")
	h.press("s")
	h.waitFor("nothing marked to save: v selects lines")
	if caps, _ := db.Captures(""); len(caps) != 1 {
		t.Fatalf("%d captures, want the one opened", len(caps))
	}
}

// TestSaveWithNothingToSaveMakesNothing: s with nothing open made a 0-byte
// capture ("saved c1 (0B)"), which then ticked "Save the scrollback"; on a
// store with no incident it first started one for it.
func TestSaveWithNothingToSaveMakesNothing(t *testing.T) {
	const nothing = "nothing to save: open an item, v to select lines or x a block"
	db := openStore(t)
	h := start(t, db, 160, 40, Options{})
	h.waitFor("No incident yet")
	h.press("s")
	screen := h.waitFor(nothing)
	if strings.Contains(screen, "its title:") {
		t.Fatalf("s with nothing to save asks for an incident:\n%s", screen)
	}
	if all, _ := db.Incidents(); len(all) != 0 {
		t.Fatalf("s with nothing to save started %d incidents", len(all))
	}

	if _, err := db.NewIncident("users overwritten"); err != nil {
		t.Fatal(err)
	}
	h.waitFor("Nothing captured in this incident yet")
	h.in(func() { h.ui.setStatus("") })
	h.waitGone(nothing)
	h.press("v", "s")
	h.waitFor(nothing)
	if caps, _ := db.Captures(""); len(caps) != 0 {
		t.Fatalf("s with nothing open saved %d captures", len(caps))
	}

	// An item with no text: nothing either.
	saveCapture(t, db, "empty output", "")
	h.waitFor("empty output")
	h.in(func() { h.ui.setStatus("") })
	h.waitGone(nothing)
	h.press("1", tcell.KeyEnter, "v", "s")
	h.waitFor(nothingMarked)
	if caps, _ := db.Captures(""); len(caps) != 1 {
		t.Fatalf("s on an empty item saved a capture: %d captures", len(caps))
	}

	// An item open, its block cleared with esc: the cursor's line is not
	// a selection, and a stray s saved it.
	saveCapture(t, db, "mongo find", mongoTranscript)
	h.waitFor("mongo find")
	h.press("1", tcell.KeyEnd, tcell.KeyEnter)
	h.waitFor("db.users.find")
	h.press("g", "j", "x")
	h.waitFor("block: lines")
	h.in(func() { h.ui.setStatus("") })
	h.press(tcell.KeyEscape, "s")
	h.waitFor(nothingMarked)
	if caps, _ := db.Captures(""); len(caps) != 2 {
		t.Fatalf("s with nothing marked saved the cursor's line: %d captures", len(caps))
	}
}
