package ui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"
)

// TestExtractAgainGoesOneLevelIn: on the "theme" line of the prefs
// sub-document, x marks the whole document, x again the prefs block, and
// once past the innermost x starts from the outermost again.
func TestExtractAgainGoesOneLevelIn(t *testing.T) {
	db := openStore(t)
	saveCapture(t, db, "mongo find", mongoTranscript)
	h := start(t, db, 160, 40, Options{})
	h.waitFor("rs0:PRIMARY> db.users.find")
	h.press("2")
	h.in(func() { h.ui.viewer.MoveTo(12) }) // "theme" : "dark"
	h.press("x")
	h.waitFor("block: lines 2–16")
	h.press("x")
	h.waitFor("block: lines 12–15")
	h.press("y")
	h.waitFor("yanked block, lines 12–15")
	if got := h.clip.last(); got != "{\n\t\t\"theme\" : \"dark\",\n\t\t\"note\" : \"it's \\\"fine\\\"\"\n\t}" {
		t.Fatalf("the inner block yanked %q", got)
	}
	h.press("x")
	h.waitFor("block: lines 2–16")
	h.press("x")
	h.waitFor("block: lines 12–15")
	// Once the cursor moves, x starts again from the outermost block there.
	h.press("j", "x")
	h.waitFor("block: lines 2–16, 302B, level 1")
}

// TestExtractLevelsOnOneLine: brackets nested on a single line go one level
// in at each press, and the cursor line stays where it was.
func TestExtractLevelsOnOneLine(t *testing.T) {
	db := openStore(t)
	saveCapture(t, db, "one line", `{"a": {"b": [1, {"c": 2}]}}`+"\n")
	h := start(t, db, 160, 40, Options{})
	h.waitFor(`{"a": {"b"`)
	h.press("2")
	for _, want := range []string{`{"a": {"b": [1, {"c": 2}]}}`, `{"b": [1, {"c": 2}]}`, `[1, {"c": 2}]`, `{"c": 2}`, `{"a": {"b": [1, {"c": 2}]}}`} {
		h.press("x", "y")
		h.waitFor("yanked block")
		if got := h.clip.last(); got != want {
			t.Fatalf("x yanked %q, want %q", got, want)
		}
	}
}

// TestSelectionYanksTheLinesItReports: v then j shows the lines selected,
// and y yanks exactly those, as many as it says.
func TestSelectionYanksTheLinesItReports(t *testing.T) {
	db := openStore(t)
	saveCapture(t, db, "mongo find", mongoTranscript)
	h := start(t, db, 160, 40, Options{})
	h.waitFor("rs0:PRIMARY> db.users.find")
	h.press("2", "G", "k", "k", "v")
	h.waitFor("selected lines 17  ")
	h.press("j")
	h.waitFor("selected lines 17–18")
	h.press("y")
	h.waitFor("yanked lines 17–18")
	lines := strings.Split(mongoTranscript, "\n")
	if want := lines[16] + "\n" + lines[17] + "\n"; h.clip.last() != want {
		t.Fatalf("yanked %q, want %q", h.clip.last(), want)
	}
	// v again cancels: y then takes the cursor's line, and says so.
	h.press("v")
	h.waitFor("selection cancelled")
	h.press("y")
	h.waitFor("yanked line 18 ")
	if h.clip.last() != lines[17]+"\n" {
		t.Fatalf("yanked %q", h.clip.last())
	}
}

// TestFirstScreenSaysWhatToDoNext: an incident with nothing captured shows
// the commands that capture, not "(empty)".
func TestFirstScreenSaysWhatToDoNext(t *testing.T) {
	db := openStore(t)
	if _, err := db.NewIncident("orders overwritten"); err != nil {
		t.Fatal(err)
	}
	h := start(t, db, 90, 30, Options{})
	screen := h.waitFor("Nothing captured in this incident yet")
	for _, want := range []string{"calm snap", "calm split", `cmd | calm tee "title"`} {
		if !strings.Contains(screen, want) {
			t.Fatalf("the first screen does not name %q:\n%s", want, screen)
		}
	}
	if strings.Contains(screen, "(empty)") {
		t.Fatalf("the first screen says (empty):\n%s", screen)
	}
	// Once something is captured, the guide gives way to it.
	saveCapture(t, db, "mongo find", mongoTranscript)
	h.waitFor("rs0:PRIMARY> db.users.find")
	h.waitGone("Nothing captured")
}

// TestNothingImportantIsCutAt90Columns: a long incident title, the status
// bar with a long message, timeline events and the checklist's header all
// read whole at 90 columns (wrapped where they do not fit).
func TestNothingImportantIsCutAt90Columns(t *testing.T) {
	db := openStore(t)
	title := "orders collection overwritten in production by the nightly migration script"
	if _, err := db.NewIncident(title); err != nil {
		t.Fatal(err)
	}
	saveCapture(t, db, "mongo find of the users collection before anyone restores it", mongoTranscript)
	db.AddNote("", "restored from c1 after checking the count against the nightly backup of the orders collection")
	h := start(t, db, 90, 40, Options{})
	h.waitFor("rs0:PRIMARY> db.users.find")
	// The status bar keeps its keys; a long message takes a second row.
	screen := h.text()
	if bar := row(screen, "? keys"); !strings.Contains(bar, "q quit") || !strings.Contains(bar, "/ find") {
		t.Fatalf("the status bar lost its keys at 90 columns:\n%q", bar)
	}
	h.press("2", "j", "x")
	screen = h.waitFor("block: lines 2–16, 302B, level 1  (y yank, s save, e edit, x one level in)")
	if !strings.Contains(row(screen, "? keys"), "q quit") {
		t.Fatalf("a long message pushed the keys off:\n%s", screen)
	}
	// The list pane: the incident's title and the timeline's note whole.
	h.press("1")
	screen = h.waitFor(" timeline (UTC) ")
	flat := strings.Join(strings.Fields(strings.NewReplacer("│", " ", "║", " ").Replace(screen)), " ")
	for _, want := range []string{title, "restored from c1 after checking the count against the nightly backup of the orders collection",
		"mongo find of the users collection before anyone restores it"} {
		if !strings.Contains(flat, want) {
			t.Fatalf("%q is cut at 90 columns:\n%s", want, screen)
		}
	}
	// The checklist's header and its current step.
	h.press("3")
	screen = h.waitFor("STEP 1")
	flat = strings.Join(strings.Fields(strings.NewReplacer("│", " ", "║", " ").Replace(screen)), " ")
	for _, want := range []string{"Data overwritten in production 0 of 11 done", "STEP 1 · STOP AND BREATHE"} {
		if !strings.Contains(flat, want) {
			t.Fatalf("%q is cut at 90 columns:\n%s", want, screen)
		}
	}
}

// TestFailedEditorKeepsTheFileAndSaysWhere: an editor that exits non-zero
// (vim's :cq, a crash) leaves what was typed in its file, private, and the
// status line names the file.
func TestFailedEditorKeepsTheFileAndSaysWhere(t *testing.T) {
	db := openStore(t)
	saveCapture(t, db, "mongo find", mongoTranscript)
	editor := filepath.Join(t.TempDir(), "edit.sh")
	os.WriteFile(editor, []byte("#!/bin/sh\necho 'db.users.updateOne(restore)' >> \"$1\"\nexit 3\n"), 0o700)
	h := start(t, db, 200, 40, Options{Editor: editor})
	h.waitFor("rs0:PRIMARY> db.users.find")
	h.press("e")
	screen := h.waitFor("your text is kept in ")
	line := row(screen, "your text is kept in ")
	path := strings.TrimSpace(line[strings.Index(line, "your text is kept in ")+len("your text is kept in "):])
	path = strings.Fields(path)[0]
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(path)) })
	if !strings.Contains(line, "exit status 3") {
		t.Fatalf("the status does not say the editor failed: %q", line)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the kept file %q: %v", path, err)
	}
	if !strings.Contains(string(data), "db.users.updateOne(restore)") || !strings.Contains(string(data), "rs0:PRIMARY>") {
		t.Fatalf("the kept file holds %q", data)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("the kept file is %v, want 0600", fi.Mode().Perm())
	}
	if caps, _ := db.Captures(""); len(caps) != 1 {
		t.Fatalf("a failed editor saved a capture: %d captures", len(caps))
	}
}

// TestNoteDraftSurvivesEscAndQuitDialog: a note half typed is kept across
// esc and the quit dialog, and written once enter is pressed.
func TestNoteDraftSurvivesEscAndQuitDialog(t *testing.T) {
	db := openStore(t)
	if _, err := db.NewIncident("users overwritten"); err != nil {
		t.Fatal(err)
	}
	h := start(t, db, 160, 40, Options{})
	h.waitFor("STEP 1")
	h.press("3", "n", "restored from c1")
	h.waitFor("note: restored from c1")
	h.press(tcell.KeyEscape)
	h.waitGone("note: restored")
	h.press("n")
	h.waitFor("note: restored from c1")
	h.press(tcell.KeyCtrlC)
	h.waitFor("Quit calm?")
	h.press("n")
	h.waitGone("Quit calm?")
	h.press(", count checked", tcell.KeyEnter)
	h.waitFor("noted")
	evs, _ := db.Events("")
	found := false
	for _, ev := range evs {
		found = found || ev.Text == "restored from c1, count checked"
	}
	if !found {
		t.Fatalf("the note is not on the timeline: %+v", evs)
	}
	// Written, the draft is gone: the next note starts empty.
	h.press("n")
	h.waitFor("note: ")
	if strings.Contains(row(h.text(), "note: "), "restored") {
		t.Fatal("a written note came back as a draft")
	}
}

// TestNoteDraftIsKeptAcrossQuitting: a note typed and not sent is in the
// drafts file (0600) as it is typed, the quit dialog says it is kept, and
// the next calm brings it back into the note prompt; sent, it is gone.
func TestNoteDraftIsKeptAcrossQuitting(t *testing.T) {
	db := openStore(t)
	if _, err := db.NewIncident("users overwritten"); err != nil {
		t.Fatal(err)
	}
	drafts := filepath.Join(t.TempDir(), "drafts.json")
	h := start(t, db, 160, 40, Options{DraftsFile: drafts})
	h.waitFor("STEP 1")
	h.press("3", "n", "restored from c1")
	h.waitFor("note: restored from c1")
	// Kept before any quitting: a dropped ssh session loses nothing.
	if data, err := os.ReadFile(drafts); err != nil || !strings.Contains(string(data), "restored from c1") {
		t.Fatalf("the draft is not in the file as it is typed: %q, %v", data, err)
	}
	h.press(tcell.KeyCtrlC)
	h.waitFor("Your unsent note is kept")
	// Two drafts are named as two, in English.
	h.in(func() {
		h.ui.drafts["find: "] = "ObjectId"
		if got := h.ui.draftsKept(); got != "Your unsent find and note are kept: each comes back in its prompt next time." {
			t.Errorf("two drafts: %q", got)
		}
		delete(h.ui.drafts, "find: ")
	})
	h.press("y")
	select {
	case <-h.done:
		h.done <- nil // for the cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("quitting did not quit")
	}
	if fi, err := os.Stat(drafts); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the drafts file: %v, %v; want 0600", fi, err)
	}

	h = start(t, db, 160, 40, Options{DraftsFile: drafts})
	h.waitFor("STEP 1")
	h.press("3", "n")
	h.waitFor("note: restored from c1")
	h.press(", count checked", tcell.KeyEnter)
	h.waitFor("noted")
	if _, err := os.Stat(drafts); !os.IsNotExist(err) {
		t.Fatalf("a sent note is still kept as a draft: %v", err)
	}
	h.press("n")
	h.waitFor("note: ")
	if strings.Contains(row(h.text(), "note: "), "restored") {
		t.Fatal("a sent note came back as a draft")
	}
}

// TestQuitSaysWhenADraftCannotBeKept: where the drafts file cannot be
// written, the quit dialog says so, and Stay gives the prompt back whole.
func TestQuitSaysWhenADraftCannotBeKept(t *testing.T) {
	db := openStore(t)
	if _, err := db.NewIncident("users overwritten"); err != nil {
		t.Fatal(err)
	}
	h := start(t, db, 160, 40, Options{DraftsFile: filepath.Join(t.TempDir(), "gone", "drafts.json")})
	h.waitFor("STEP 1")
	h.press("3", "n", "restored from c1", tcell.KeyCtrlC)
	h.waitFor("could NOT be kept")
	h.press("n")
	h.waitGone("Quit calm?")
	h.waitFor("note: restored from c1")
}

// TestMarkerJumpsToTheCommandTypedAfterItsPrompt: calm split marks a
// command when it is entered, seconds after its prompt began its line; m
// goes to that line, in order, one command after another.
func TestMarkerJumpsToTheCommandTypedAfterItsPrompt(t *testing.T) {
	db := openStore(t)
	began := time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC)
	events := [][3]any{{0.0, "o", "db1$ "}}
	var marks []float64
	for i, command := range []string{"rm -rf /tmp/x", `echo "DROP TABLE orders;"`, "echo 'db.orders.deleteMany({})'"} {
		typed, entered := float64(10*i+2), float64(10*i+8)
		events = append(events, [3]any{typed, "o", command}, [3]any{entered, "o", "\r\nsome output\r\ndb1$ "})
		marks = append(marks, entered)
	}
	c := saveSession(t, db, began, events)
	for i, text := range []string{"rm -rf: rm -rf /tmp/x", `DROP: echo "DROP TABLE orders;"`, "Mongo write: echo 'db.orders.deleteMany({})'"} {
		if _, err := db.AddMarker("", c.ID, text, marks[i]); err != nil {
			t.Fatal(err)
		}
	}
	h := start(t, db, 160, 40, Options{})
	h.waitFor("bash")
	h.press("1", tcell.KeyEnter)
	h.waitFor("db1$ rm -rf /tmp/x")
	for i, want := range []string{"db1$ rm -rf /tmp/x", `db1$ echo "DROP TABLE orders;"`, "db1$ echo 'db.orders.deleteMany({})'"} {
		h.press("m")
		h.waitFor("marker " + []string{"rm -rf", "DROP", "Mongo write"}[i])
		line := make(chan string, 1)
		h.in(func() { d := h.ui.viewer.Doc(); line <- d.Plain(h.ui.viewer.Cursor()) })
		if got := <-line; got != want {
			t.Fatalf("m %d went to %q, want %q", i+1, got, want)
		}
	}
}

// TestNoteDraftBelongsToItsIncident: a note typed for one incident and not
// sent does not come back in another incident's note prompt.
func TestNoteDraftBelongsToItsIncident(t *testing.T) {
	db := openStore(t)
	a, _ := db.NewIncident("users overwritten")
	b, _ := db.NewIncident("disk full on db2")
	drafts := filepath.Join(t.TempDir(), "drafts.json")
	h := start(t, db, 160, 40, Options{DraftsFile: drafts, Incident: a.ID})
	h.waitFor("STEP 1")
	h.press("3", "n", "restored from c1")
	h.waitFor("note: restored from c1")
	h.press(tcell.KeyEscape)
	h.waitGone("note: restored")

	h = start(t, db, 160, 40, Options{DraftsFile: drafts, Incident: b.ID})
	h.waitFor("STEP 1")
	h.press("3", "n")
	h.waitFor("note: ")
	if strings.Contains(row(h.text(), "note: "), "restored") {
		t.Fatal("incident A's note draft came back in incident B's prompt")
	}
	h.press(tcell.KeyEscape)

	h = start(t, db, 160, 40, Options{DraftsFile: drafts, Incident: a.ID})
	h.waitFor("STEP 1")
	h.press("3", "n")
	h.waitFor("note: restored from c1")
}

// TestTabInANoteIsASpace: a Tab typed into the note prompt was dropped, and
// the words on each side of it ran together (fresh-eyes finding).
func TestTabInANoteIsASpace(t *testing.T) {
	db := openStore(t)
	if _, err := db.NewIncident("users overwritten"); err != nil {
		t.Fatal(err)
	}
	h := start(t, db, 160, 40, Options{})
	h.waitFor("STEP 1")
	h.press("3", "n", "id", tcell.KeyTab, "name", tcell.KeyEnter)
	h.waitFor("noted")
	evs, _ := db.Events("")
	for _, ev := range evs {
		if ev.Kind == "note" {
			if ev.Text != "id name" {
				t.Fatalf("the note is %q, want %q", ev.Text, "id name")
			}
			return
		}
	}
	t.Fatalf("no note on the timeline: %+v", evs)
}
