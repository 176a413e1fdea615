package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"

	"calm/model"
	"calm/storage"
)

func TestExtractAndYankAMongoDocumentFromATranscript(t *testing.T) {
	db := openStore(t)
	saveCapture(t, db, "mongo find", mongoTranscript)
	h := start(t, db, 160, 40, Options{})
	h.waitFor("mongo find")
	h.press("1", tcell.KeyEnter)
	h.waitFor(`"_id" : ObjectId("5f1d7a3e9b1e8a3c4d2f0a11")`)
	h.press("/", "5f1d7a3e", tcell.KeyEnter)
	h.waitFor("line 3")
	h.press("x")
	h.waitFor("block: lines 2–16")
	h.press("y")
	h.waitFor("copied (test clipboard)")
	want := mongoTranscript[strings.Index(mongoTranscript, "{\n\t\"_id\"") : strings.Index(mongoTranscript, "\n}\n")+2]
	if got := h.clip.last(); got != want {
		t.Fatalf("yanked\n%s\nwant\n%s", got, want)
	}
}

func TestSaveSelectionMakesAVerifiedCapture(t *testing.T) {
	db := openStore(t)
	saveCapture(t, db, "mongo find", mongoTranscript)
	h := start(t, db, 160, 40, Options{})
	h.waitFor("mongo find")
	h.press("1", tcell.KeyEnter)
	h.waitFor("rs0:PRIMARY> db.users.find")
	// Select lines 17 and 18 (the replaceOne and its result) and save them.
	h.press("G", "k", "k", "v", "j", "s")
	screen := h.waitFor("saved c2")
	if !strings.Contains(screen, "2 copies verified") {
		t.Fatalf("status does not give the copies:\n%s", row(screen, "saved c2"))
	}
	caps, err := db.Captures("")
	if err != nil || len(caps) != 2 {
		t.Fatalf("captures %v, %v", caps, err)
	}
	var b strings.Builder
	db.WriteContent(context.Background(), caps[1].Incident+"/"+caps[1].ID, 0, &b)
	want := "rs0:PRIMARY> db.users.replaceOne({email: \"ada@example.com\"}, {email: \"ada@example.com\"})\n{ \"acknowledged\" : true, \"matchedCount\" : 1, \"modifiedCount\" : 1 }\n"
	if b.String() != want {
		t.Fatalf("saved %q, want %q", b.String(), want)
	}
	if caps[1].Source != "selection" || caps[1].VerifiedCopies() != 2 {
		t.Fatalf("saved capture %+v", caps[1])
	}
	// The new capture appears in the list without a refresh key, under the
	// cursor: the copies pane tells its copies while the viewer keeps c1.
	h.waitFor("selection of c1")
	h.waitUntil("the copies pane tells c2's copies", func() bool {
		return strings.HasPrefix(h.ui.copies.GetText(true), "c2 selection of c1") && h.ui.viewer.Doc().Item == caps[0].Incident+"/c1"
	})
}

// TestSavedSelectionIsTheCapturedBytes: lines selected in a tee'd capture
// are saved as it holds them, not as a terminal shows them: the rows a
// carriage return wrote over, trailing blanks, a CRLF.
func TestSavedSelectionIsTheCapturedBytes(t *testing.T) {
	db := openStore(t)
	raw := "head\nid,name\r1,alice\r2,bob\r\nname,comment  \nbob,\"trailing \"   \nlast"
	saveCapture(t, db, "cr csv", raw)
	h := start(t, db, 160, 40, Options{})
	h.waitFor("cr csv")
	h.press("1", tcell.KeyEnter)
	h.waitFor("2,bobce")
	h.press("j", "v", "j", "j", "s")
	screen := h.waitFor("saved c2")
	if !strings.Contains(screen, "captured bytes of lines 2–4") {
		t.Fatalf("the status does not say the captured bytes were saved:\n%s", row(screen, "saved c2"))
	}
	var b strings.Builder
	db.WriteContent(context.Background(), "c2", 0, &b)
	if want := "id,name\r1,alice\r2,bob\r\nname,comment  \nbob,\"trailing \"   \n"; b.String() != want {
		t.Fatalf("saved %q, want %q", b.String(), want)
	}
}

// TestSavedSelectionOfACaptureEndingInBlankLines: the viewer leaves out the
// blank lines a capture ends with, and a selection of the lines it shows is
// still saved as the captured bytes.
func TestSavedSelectionOfACaptureEndingInBlankLines(t *testing.T) {
	db := openStore(t)
	saveCapture(t, db, "blank tail", "alpha\nbeta\t \ngamma\n\n  \n\x1b[0m\n")
	h := start(t, db, 160, 40, Options{})
	h.waitFor("blank tail")
	h.press("1", tcell.KeyEnter)
	h.waitFor("gamma")
	h.press("j", "v", "j", "s")
	screen := h.waitFor("saved c2")
	if !strings.Contains(screen, "captured bytes of lines 2–3") {
		t.Fatalf("the status does not say the captured bytes were saved:\n%s", row(screen, "saved c2"))
	}
	var b strings.Builder
	db.WriteContent(context.Background(), "c2", 0, &b)
	if want := "beta\t \ngamma\n"; b.String() != want {
		t.Fatalf("saved %q, want %q", b.String(), want)
	}
}

func TestDiffShowsBeforeAndAfterLineByLine(t *testing.T) {
	db := openStore(t)
	saveCapture(t, db, "before", "{\n  \"email\": \"ada@example.com\",\n  \"name\": \"Ada\",\n  \"roles\": [\"admin\"]\n}\n")
	saveCapture(t, db, "after", "{\n  \"email\": \"ada@example.com\"\n}\n")
	h := start(t, db, 160, 40, Options{})
	h.waitFor("after")
	h.press("1", tcell.KeyHome, tcell.KeyEnter)
	h.waitFor(`"roles": ["admin"]`)
	h.press("D")
	h.waitFor("c1 marked as before")
	h.press("1", tcell.KeyDown, tcell.KeyEnter)
	h.waitGone(`"roles"`)
	h.press("D")
	screen := h.waitFor("diff c1 → c2")
	for _, want := range []string{`-   "email": "ada@example.com",`, `-   "name": "Ada",`, `-   "roles": ["admin"]`, `+   "email": "ada@example.com"`, "3 lines removed, 1 added"} {
		if !strings.Contains(screen, want) {
			t.Fatalf("diff screen lacks %q:\n%s", want, screen)
		}
	}
}

func TestNarrowPaneCollapsesIntoTabs(t *testing.T) {
	db := openStore(t)
	saveCapture(t, db, "mongo find", mongoTranscript)
	h := start(t, db, 60, 24, Options{})
	screen := h.waitFor("1 list")
	if !strings.Contains(screen, "2 viewer") || !strings.Contains(screen, "3 checklist & copies") {
		t.Fatalf("no tabs in a 60-column pane:\n%s", screen)
	}
	for i, l := range strings.Split(strings.TrimRight(screen, "\n"), "\n") {
		if w := len([]rune(l)); w != 60 {
			t.Fatalf("line %d is %d columns wide", i, w)
		}
	}
	h.press("1")
	h.waitFor("mongo find")
	h.press(tcell.KeyEnter)
	screen = h.waitFor("db.users.find")
	if strings.Contains(screen, "sessions & captures") {
		t.Fatalf("the list and the viewer share a 60-column pane:\n%s", screen)
	}
	h.press("3")
	h.waitFor("required copies verified")
	// Widening the pane brings every pane back at once.
	h.screen.SetSize(160, 40)
	h.ui.App().QueueUpdateDraw(func() {})
	screen = h.waitFor("sessions & captures")
	if !strings.Contains(screen, "copies") || !strings.Contains(screen, "db.users.find") {
		t.Fatalf("wide layout incomplete:\n%s", screen)
	}
}

func TestHostileOutputIsShownAsTextOnly(t *testing.T) {
	db := openStore(t)
	hostile := "before\x1b]52;c;cm0gLXJmIC8K\x07 \x1b]0;pwned title\x07\x1b[6n\x1b[?1000h\x1b[?2004h\x1bP+q544e\x1b\\\x9b6n\u009d0;x\u009c\x1b[31mred\x1b[0m after\n"
	saveCapture(t, db, "hostile", hostile)
	h := start(t, db, 160, 40, Options{})
	h.waitFor("hostile")
	h.press("1", tcell.KeyEnter)
	screen := h.waitFor("before")
	line := row(screen, "before")
	if !strings.Contains(line, "before \uFFFD6nred after") {
		t.Fatalf("hostile line shown as %q", line)
	}
	for _, bad := range []string{"pwned", "cm0g", "544e", "\x1b", "\x07"} {
		if strings.Contains(screen, bad) {
			t.Fatalf("screen shows %q from a hostile sequence:\n%s", bad, screen)
		}
	}
	// The colour is kept as a style, not as bytes.
	if fg, _, _ := h.cellAt(screen, "red after").Decompose(); fg != tcell.PaletteColor(1) {
		t.Fatalf("the red text lost its colour: %v", fg)
	}
}

func TestEditorDraftIsSavedAsACapture(t *testing.T) {
	db := openStore(t)
	saveCapture(t, db, "mongo find", mongoTranscript)
	editor := filepath.Join(t.TempDir(), "edit.sh")
	// The "person" turns the extracted document into a restore command.
	os.WriteFile(editor, []byte("#!/bin/sh\n{ printf 'db.users.replaceOne({_id: ObjectId(\"5f1d7a3e9b1e8a3c4d2f0a11\")}, '; cat \"$1\"; printf ')\\n'; } > \"$1.new\" && mv \"$1.new\" \"$1\"\n"), 0o700)
	h := start(t, db, 160, 40, Options{Editor: editor})
	h.waitFor("mongo find")
	h.press("1", tcell.KeyEnter)
	h.waitFor("db.users.find")
	h.press("j", "j", "x")
	h.waitFor("block: lines 2–16")
	h.press("e")
	h.waitFor("saved c2")
	h.waitFor("draft from c1")
	caps, _ := db.Captures("")
	var b strings.Builder
	db.WriteContent(context.Background(), caps[1].Incident+"/"+caps[1].ID, 0, &b)
	doc := mongoTranscript[strings.Index(mongoTranscript, "{\n\t\"_id\"") : strings.Index(mongoTranscript, "\n}\n")+2]
	if want := "db.users.replaceOne({_id: ObjectId(\"5f1d7a3e9b1e8a3c4d2f0a11\")}, " + doc + ")\n"; b.String() != want {
		t.Fatalf("draft %q, want %q", b.String(), want)
	}
	if caps[1].Source != "draft" {
		t.Fatalf("draft source %q", caps[1].Source)
	}
}

func TestIncidentSearchOpensTheMatchingItemAtItsLine(t *testing.T) {
	db := openStore(t)
	saveCapture(t, db, "noise", strings.Repeat("nothing here\n", 50))
	var long strings.Builder
	for i := range 500 {
		fmt.Fprintf(&long, "line %d\n", i)
	}
	long.WriteString("the needle is ObjectId(\"abc\")\n")
	saveCapture(t, db, "haystack", long.String())
	saveCapture(t, db, "newest", "opened first\n")
	h := start(t, db, 160, 40, Options{})
	h.waitFor("opened first")
	h.waitFor("haystack")
	h.press(tcell.KeyCtrlF)
	h.waitFor("search incident:")
	h.press("needle", tcell.KeyEnter)
	h.waitFor("1 match")
	h.press(tcell.KeyEnter)
	screen := h.waitFor("the needle is")
	if !strings.Contains(row(screen, "the needle is"), "501") {
		t.Fatalf("match not at its line number 501:\n%s", row(screen, "the needle is"))
	}
}

func TestLiveCaptureFollowsItsTail(t *testing.T) {
	db := openStore(t)
	w, err := model.NewCaptureWriter(db, "", model.NewCapture{Title: "live", Source: "tee"})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("first line\n"))
	w.Flush()
	h := start(t, db, 160, 40, Options{})
	h.waitFor("live")
	h.press("1", tcell.KeyEnter)
	h.waitFor("first line")
	for i := range 100 {
		fmt.Fprintf(w, "more %d\n", i)
	}
	w.Flush()
	screen := h.waitFor("more 99")
	if strings.Contains(screen, "first line") {
		t.Fatal("the view did not follow the tail past a screenful")
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	h.waitFor("✓2")
}

func TestQuitAsksAndHelpListsKeys(t *testing.T) {
	db := openStore(t)
	h := start(t, db, 160, 40, Options{})
	h.waitFor("? keys")
	h.press("?")
	h.waitFor("extract the {...} or [...] block")
	h.press(tcell.KeyEscape)
	h.waitGone("extract the {...}")
	h.press("q")
	h.waitFor("Quit calm?")
	h.press("n")
	h.waitGone("Quit calm?")
	h.press("q", "y")
	select {
	case err := <-h.done:
		if err != nil {
			t.Fatal(err)
		}
		h.done <- nil // for the cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("q y did not quit")
	}
}

func TestReverifyShowsADamagedCopy(t *testing.T) {
	db := openStore(t)
	c := saveCapture(t, db, "mongo find", mongoTranscript)
	h := start(t, db, 160, 40, Options{})
	h.waitFor("2 of 2 required copies verified")
	var evidence string
	for _, cp := range c.Copies {
		if cp.Kind == model.CopyEvidence {
			evidence = cp.Location
		}
	}
	os.WriteFile(evidence, []byte("tampered"), 0o600)
	h.press("V")
	screen := h.waitFor("verify FAILED")
	if !strings.Contains(screen, "mismatch") || !strings.Contains(screen, "✗1") {
		t.Fatalf("the damaged copy is not shown:\n%s", screen)
	}
}

func TestReviewIsReadOnly(t *testing.T) {
	db := openStore(t)
	saveCapture(t, db, "mongo find", mongoTranscript)
	h := start(t, db, 160, 40, Options{ReadOnly: true})
	h.waitFor("review (read-only)")
	h.press("1", tcell.KeyEnter)
	h.waitFor("db.users.find")
	h.press("v", "s")
	h.waitFor("review is read-only")
	if caps, _ := db.Captures(""); len(caps) != 1 {
		t.Fatalf("review saved a capture: %d captures", len(caps))
	}
	// Nothing to lose in review: q quits at once, and what is typed next
	// goes to the shell rather than to a dialog.
	h.press("q")
	select {
	case err := <-h.done:
		if err != nil {
			t.Fatal(err)
		}
		h.done <- nil
	case <-time.After(10 * time.Second):
		t.Fatalf("q did not quit the review:\n%s", h.text())
	}
}

// saveSession stores an asciicast stream as a recorded session.
func saveSession(t *testing.T, s model.Store, start time.Time, events [][3]any) model.Capture {
	t.Helper()
	w, err := model.NewCaptureWriter(s, "", model.NewCapture{Title: "bash", Source: model.SourceSession,
		Recording: &model.Recording{Command: "bash", Cols: 80, Rows: 24}})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(w, `{"version": 2, "width": 80, "height": 24, "timestamp": %d}`+"\n", start.Unix())
	for _, ev := range events {
		line, _ := json.Marshal(ev)
		w.Write(append(line, '\n'))
	}
	c, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSessionShowsTimesAndJumpsToMarkersAndTimes(t *testing.T) {
	db := openStore(t)
	began := time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC)
	var events [][3]any
	for i := range 200 {
		events = append(events, [3]any{float64(i), "o", fmt.Sprintf("output %d\r\n", i)})
	}
	events = append(events, [3]any{200.5, "o", "$ mongo --eval 'db.users.replaceOne({}, {})'\r\n"})
	events = append(events, [3]any{201.0, "o", "progress 10%\rprogress 100%\r\n"})
	c := saveSession(t, db, began, events)
	if _, err := db.AddMarker("", c.ID, "replaceOne (Mongo)", 200.4); err != nil {
		t.Fatal(err)
	}
	h := start(t, db, 160, 40, Options{})
	h.waitFor("bash")
	h.press("1", tcell.KeyEnter)
	screen := h.waitFor("output 0")
	if !strings.Contains(row(screen, "output 0"), "14:00:00") {
		t.Fatalf("no time in the gutter: %q", row(screen, "output 0"))
	}
	h.press("m")
	screen = h.waitFor("marker replaceOne (Mongo)")
	if !strings.Contains(row(screen, "db.users.replaceOne"), "14:03:20") {
		t.Fatalf("marker did not jump to the command:\n%s", screen)
	}
	if strings.Contains(screen, "progress 10%") || !strings.Contains(screen, "progress 100%") {
		t.Fatal("the progress bar is not shown as a person saw it")
	}
	// A mistyped time comes back to be mended, and says nothing once it is.
	h.press("t", "25:99", tcell.KeyEnter)
	if r := row(h.waitFor("not a time;"), "not a time;"); !strings.Contains(r, "25:99") {
		t.Fatalf("the rejected time is not kept in the prompt: %q", r)
	}
	h.press(tcell.KeyCtrlU, "14:01:40", tcell.KeyEnter)
	screen = h.waitFor("output 100")
	if !strings.Contains(row(screen, "output 100"), "14:01:40") {
		t.Fatalf("time jump: %q", row(screen, "output 100"))
	}
	if screen = h.waitFor("at 14:01:40 UTC"); strings.Contains(screen, "not a time") {
		t.Fatalf("the rejected time is still told after the jump:\n%s", screen)
	}
	// A rejected time left with Esc does not come back in the next t, nor
	// in the quit dialog's list of kept drafts.
	h.press("t", "25:99", tcell.KeyEnter)
	h.waitFor("not a time;")
	h.press(tcell.KeyEscape)
	h.waitGone("not a time;")
	h.press("t")
	if r := row(h.waitFor("time (HH:MM"), "time (HH:MM"); strings.Contains(r, "25:99") {
		t.Fatalf("the rejected time came back: %q", r)
	}
	h.press("09:00", tcell.KeyEnter)
	h.waitFor("09:00:00 is before the session began: at its start; the session runs 14:00:00–14:03:21 UTC")
	h.press("t", "+0:99", tcell.KeyEnter)
	h.waitFor("not a time;")
	h.press(tcell.KeyEscape)
	h.waitGone("not a time;")
	h.in(func() {
		if kept := h.ui.draftsKept(); kept != "" {
			t.Errorf("the quit dialog would list %q", kept)
		}
	})
}

// TestCopiesPaneNamesAnInterruptedCaptureAndItsDevices: a capture cut short
// says so in red, with why; a pane's warning is shown; and copies on one disk
// are counted as one device, with the way out in one line.
func TestCopiesPaneNamesAnInterruptedCaptureAndItsDevices(t *testing.T) {
	db := openStore(t)
	w, err := model.NewCaptureWriter(db, "", model.NewCapture{Title: "dump", Source: "tee", Warning: "pane %1's history is full"})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("first half of the dump\n"))
	if _, err := w.CloseInterrupted("SIGINT (Ctrl-C)"); err != nil {
		t.Fatal(err)
	}
	h := start(t, db, 160, 40, Options{})
	screen := h.waitFor("INTERRUPTED")
	for _, want := range []string{"SIGINT (Ctrl-C): partial", "WARNING: pane %1's history is full", "on 1 device (1 required)", "add a mirror"} {
		if !strings.Contains(screen, want) {
			t.Fatalf("the copies pane lacks %q:\n%s", want, screen)
		}
	}
	if !strings.Contains(screen, "⚠2") {
		t.Fatalf("the list does not mark the interrupted capture:\n%s", screen)
	}
	if !strings.Contains(screen, "c1  dump  (INTERRUPTED: partial)") {
		t.Fatalf("the viewer's title does not say the capture is partial:\n%s", screen)
	}
}

// TestLiveSessionLinesCarryTheirOwnTimes: the lines still on a recording
// session's screen (calm split's live view) each show when they began, not
// the time of the last line that scrolled off, and a jump to a time (t)
// finds the live line that began then.
func TestLiveSessionLinesCarryTheirOwnTimes(t *testing.T) {
	db := openStore(t)
	w, err := model.NewCaptureWriter(db, "", model.NewCapture{Title: "live output of pane %1", Source: model.SourceSession,
		Recording: &model.Recording{Command: "tmux pipe-pane", Cols: 80, Rows: 24}})
	if err != nil {
		t.Fatal(err)
	}
	began := time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC)
	fmt.Fprintf(w, `{"version": 2, "width": 80, "height": 24, "timestamp": %d}`+"\n", began.Unix())
	for i, at := range []float64{0, 65, 130} {
		line, _ := json.Marshal([3]any{at, "o", fmt.Sprintf("live line %d\r\n", i)})
		w.Write(append(line, '\n'))
	}
	w.Flush()
	h := start(t, db, 160, 40, Options{})
	h.waitFor("live output")
	h.press("1", tcell.KeyEnter)
	screen := h.waitFor("live line 2")
	for line, want := range map[string]string{"live line 0": "14:00:00", "live line 1": "14:01:05", "live line 2": "14:02:10"} {
		if !strings.Contains(row(screen, line), want) {
			t.Errorf("%s shows %q, want its own time %s", line, row(screen, line), want)
		}
	}
	h.press("t", "14:01:05", tcell.KeyEnter)
	var at string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && at != "live line 1"; time.Sleep(20 * time.Millisecond) {
		line := make(chan string, 1)
		h.in(func() { d := h.ui.viewer.Doc(); line <- d.Plain(h.ui.viewer.Cursor()) })
		at = <-line
	}
	if at != "live line 1" {
		t.Errorf("t 14:01:05 went to %q, want the live line that began then", at)
	}
	w.Close()
}

// TestNamedItemIsShownFirst: the pane calm split opens names the session it
// started, which is shown even when a newer capture arrived meanwhile.
func TestNamedItemIsShownFirst(t *testing.T) {
	db := openStore(t)
	saveCapture(t, db, "the session split started", "live text\n")
	saveCapture(t, db, "a tee that came after", "newer text\n")
	h := start(t, db, 160, 40, Options{Item: "c1"})
	screen := h.waitFor("live text")
	if strings.Contains(screen, "newer text") {
		t.Fatalf("the newest item is shown, not the one named:\n%s", screen)
	}
}

// TestCopiesPaneFollowsTheSelection: the copies pane describes the item
// selected (and, after enter, the one in the viewer) at every keystroke,
// never the one before; a damaged copy shows on its own item only.
func TestCopiesPaneFollowsTheSelection(t *testing.T) {
	db := openStore(t)
	saveCapture(t, db, "first", "one\n")
	second := saveCapture(t, db, "second", "two\n")
	saveCapture(t, db, "third", "three\n")
	for _, cp := range second.Copies {
		if cp.Kind == model.CopyEvidence {
			os.WriteFile(cp.Location, []byte("tampered"), 0o600)
		}
	}
	h := start(t, db, 160, 40, Options{})
	h.waitFor("2 of 2 required copies verified")
	h.press("V")
	h.waitFor("verify FAILED")
	copiesPane := func() string {
		var s string
		h.in(func() { s = h.ui.copies.GetText(true) })
		return s
	}
	h.press("1", "g")
	for i, want := range []struct{ id, count string }{{"c1", "2 of 2"}, {"c2", "1 of 2"}, {"c3", "2 of 2"}} {
		if i > 0 {
			h.press("j")
		}
		pane := copiesPane()
		if !strings.HasPrefix(pane, want.id+" ") || !strings.Contains(pane, want.count+" required copies verified") {
			t.Fatalf("with %s selected the copies pane shows:\n%s", want.id, pane)
		}
	}
	h.press(tcell.KeyEnter)
	h.waitFor("three")
	if pane := copiesPane(); !strings.HasPrefix(pane, "c3 third") {
		t.Fatalf("c3 is in the viewer, the copies pane shows:\n%s", pane)
	}
}

// TestTheFirstFrameShowsTheIncident: the list was filled by the first poll,
// after the first frame, so a responder who typed at once (1, Home, Enter)
// had the keys go to an empty list and saw the newest item open instead.
func TestTheFirstFrameShowsTheIncident(t *testing.T) {
	db := openStore(t)
	saveCapture(t, db, "the original", "{ \"_id\" : 1 }\n")
	saveCapture(t, db, "the replacement", "{ \"_id\" : 2 }\n")
	screen := tcell.NewSimulationScreen("UTF-8")
	if err := screen.Init(); err != nil {
		t.Fatal(err)
	}
	u, err := New(Options{Store: db, Screen: screen, Poll: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	first := make(chan string, 1)
	u.App().SetAfterDrawFunc(func(s tcell.Screen) {
		s.Show() // GetContents reads what was shown
		cells, w, _ := screen.GetContents()
		var b strings.Builder
		for i, c := range cells {
			if len(c.Runes) > 0 {
				b.WriteRune(c.Runes[0])
			}
			if (i+1)%w == 0 {
				b.WriteByte('\n')
			}
		}
		select {
		case first <- b.String():
		default:
		}
	})
	done := make(chan error, 1)
	go func() { done <- u.Run() }()
	defer func() { u.Stop(); <-done }()
	var frame string
	select {
	case frame = <-first:
	case <-time.After(5 * time.Second):
		t.Fatal("no frame in 5 s")
	}
	// 80x25: the narrow layout, the viewer's tab in front. The item's
	// bytes load in the background; its title is there at once.
	if !strings.Contains(frame, "c2  the replacement") {
		t.Fatalf("the first frame does not show the newest item:\n%s", frame)
	}
	for _, k := range []tcell.Key{tcell.KeyHome, tcell.KeyEnter} {
		if k == tcell.KeyHome {
			screen.InjectKey(tcell.KeyRune, '1', tcell.ModNone)
		}
		screen.InjectKey(k, 0, tcell.ModNone)
	}
	h := &harness{t: t, ui: u, screen: screen}
	h.waitFor(`{ "_id" : 1 }`)
}

// TestAnEmptyStoreWaitsForAnIncident: opening the UI to look made an
// "incident at …" nobody asked for. Now it waits, says how to start one,
// and the first key that writes asks for the title.
func TestAnEmptyStoreWaitsForAnIncident(t *testing.T) {
	db := openStore(t)
	h := start(t, db, 160, 40, Options{})
	h.waitFor("No incident yet")
	h.press("3", "n")
	h.waitFor("no incident yet; its title:")
	if all, _ := db.Incidents(); len(all) != 0 {
		t.Fatalf("asking for a title made incidents: %+v", all)
	}
	h.press("orders overwritten", tcell.KeyEnter)
	h.waitFor("opened: orders") // on the timeline
	h.waitFor("note:")          // and what n does next
	h.press("restoring from c1", tcell.KeyEnter)
	h.waitUntil("the note on the timeline", func() bool {
		events, _ := db.Events("")
		return len(events) > 1
	})
	all, err := db.Incidents()
	if err != nil || len(all) != 1 || all[0].Title != "orders overwritten" {
		t.Fatalf("incidents %+v, %v", all, err)
	}
	events, err := db.Events(all[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	notes := 0
	for _, ev := range events {
		if ev.Kind == model.EventNote && ev.Text == "restoring from c1" {
			notes++
		}
	}
	if notes != 1 {
		t.Fatalf("the note is on the timeline %d times: %+v", notes, events)
	}
}

// TestAnIncidentStartedElsewhereShows: with the UI waiting on an empty
// store, an incident started in another pane and its capture appear.
func TestAnIncidentStartedElsewhereShows(t *testing.T) {
	db := openStore(t)
	h := start(t, db, 160, 40, Options{})
	h.waitFor("No incident yet")
	if _, err := db.NewIncident("payments down"); err != nil {
		t.Fatal(err)
	}
	h.waitFor("payments down")
	h.waitFor("Nothing captured in this incident yet")
	saveCapture(t, db, "mongo find", mongoTranscript)
	h.waitFor("ObjectId")
}

// TestVerifyNeverSaysAllMatchWhenItDoesNot: V said "all match" while a
// mirror's SHA256SUMS was gone or a capture was still unsealed, which the
// CLI's verify reports as failures.
func TestVerifyNeverSaysAllMatchWhenItDoesNot(t *testing.T) {
	mirror := t.TempDir()
	db, err := storage.Open(storage.Options{Path: filepath.Join(t.TempDir(), "calm.db"), Mirrors: []string{mirror}, StrictMode: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c := saveCapture(t, db, "mongo find", mongoTranscript)
	h := start(t, db, 160, 40, Options{})
	h.waitFor("mongo find")
	h.press("V")
	h.waitFor("all match")

	if err := os.Remove(filepath.Join(mirror, c.Incident, "SHA256SUMS")); err != nil {
		t.Fatal(err)
	}
	h.press("V")
	screen := h.waitFor("verify FAILED")
	if !strings.Contains(screen, "SHA256SUMS") || strings.Contains(screen, "all match") {
		t.Fatalf("a missing manifest is not named:\n%s", screen)
	}
	if _, err := db.RepairCopies(""); err != nil {
		t.Fatal(err)
	}

	if _, err := db.CreateCapture("", model.NewCapture{Title: "still arriving", Source: "tee"}); err != nil {
		t.Fatal(err)
	}
	h.press("V")
	screen = h.waitFor("not sealed")
	if !strings.Contains(screen, "not safe until sealed") {
		t.Fatalf("an unsealed capture is not called unsafe:\n%s", screen)
	}
}

// TestXAgainSaysWhenThereIsNoBlockInside: x again with no inner block went
// back to the outer one, saying the same as before, as if x did nothing.
func TestXAgainSaysWhenThereIsNoBlockInside(t *testing.T) {
	db := openStore(t)
	saveCapture(t, db, "mongo find", mongoTranscript)
	h := start(t, db, 160, 40, Options{})
	h.waitFor("mongo find")
	h.press("1", tcell.KeyEnter)
	h.waitFor(`"_id" : ObjectId("5f1d7a3e9b1e8a3c4d2f0a11")`)
	h.press("/", "5f1d7a3e", tcell.KeyEnter)
	h.waitFor("line 3")
	h.press("x")
	if screen := h.waitFor("block: lines 2–16"); strings.Contains(screen, "no block inside") {
		t.Fatalf("the first x says there is nothing inside:\n%s", row(screen, "block:"))
	}
	h.press("x")
	h.waitFor("no block inside that one: back to the outermost; block: lines 2–16")
}

// TestXOnOneLineShowsWholeCharacters: the status shows how a block on one
// line begins, cut at 40 bytes: the cut fell inside a character.
func TestXOnOneLineShowsWholeCharacters(t *testing.T) {
	db := openStore(t)
	saveCapture(t, db, "one line", "{\"name\": \"x"+strings.Repeat("Ō", 20)+"\"}\n")
	h := start(t, db, 160, 40, Options{})
	h.waitFor("one line")
	h.press("1", tcell.KeyEnter)
	h.waitFor("ŌŌŌ")
	h.press("x")
	screen := h.waitFor("block: line 1")
	if line := row(screen, "block: line 1"); !strings.Contains(line, `{"name": "x`+strings.Repeat("Ō", 14)+"…,") {
		t.Fatalf("the block's start is not whole characters:\n%s", line)
	}
}

// TestARecordingSessionReadsAsRecording: the list and the copies pane said
// "0B" and "UNSEALED" for a session being recorded, as if nothing were.
func TestARecordingSessionReadsAsRecording(t *testing.T) {
	db := openStore(t)
	if _, err := db.CreateCapture("", model.NewCapture{Title: "live output of pane %0", Source: model.SourceSession,
		Recording: &model.Recording{Command: "tmux pipe-pane", Cols: 80, Rows: 24}}); err != nil {
		t.Fatal(err)
	}
	h := start(t, db, 160, 40, Options{})
	screen := h.waitFor("live output of pane %0")
	if line := row(screen, "session recording"); line == "" || strings.Contains(screen, "session 0B") {
		t.Fatalf("the list does not show the session as recording:\n%s", screen)
	}
	if strings.Contains(screen, "UNSEALED") || !strings.Contains(screen, "still recording") {
		t.Fatalf("the copies pane does not say it is recording:\n%s", screen)
	}
}

// TestExtractTakesTheDocumentTheFindLandedOn: output of one line holding
// many documents (EJSON.stringify of a find) showed the match off screen,
// and x took the line's first document, saved as verified: the wrong data
// for a restore. The find now scrolls to the match, and x takes the block
// around it.
func TestExtractTakesTheDocumentTheFindLandedOn(t *testing.T) {
	var docs []string
	for i := range 40 {
		docs = append(docs, fmt.Sprintf(`{"_id":{"$oid":"65f1c0ffee00000000%06x"},"email":"user%d@example.com","plan":"pro"}`, i, i))
	}
	db := openStore(t)
	saveCapture(t, db, "one line", "["+strings.Join(docs, ",")+"]\n")
	h := start(t, db, 120, 30, Options{})
	h.waitFor("one line")
	h.press("1", tcell.KeyEnter)
	h.waitFor(`[{"_id"`)
	h.press("/", "user33@", tcell.KeyEnter)
	if screen := h.waitFor("line 1"); !strings.Contains(screen, "user33@example.com") {
		t.Fatalf("the find did not bring the match into view:\n%s", screen)
	}
	// One x: the document found, not the list around it (a tired x y).
	h.press("x")
	h.waitFor("level 1")
	h.press("y")
	h.waitFor("copied (test clipboard)")
	if got := h.clip.last(); got != docs[33] {
		t.Fatalf("x took\n%s\nwant the document the find landed on\n%s", got, docs[33])
	}
	// Nothing inside it holds the match: x again says so and keeps it.
	h.press("x")
	h.waitFor("no block inside that one")
}

// TestCombiningAccentsAreShown: "José Müller" written with combining
// accents (e + U+0301) showed in the viewer as "Jose Muller", where tmux,
// show and search keep them.
func TestCombiningAccentsAreShown(t *testing.T) {
	db := openStore(t)
	saveCapture(t, db, "names", "name: Jose\u0301 Mu\u0308ller\tplan: pro\n")
	h := start(t, db, 120, 30, Options{})
	h.waitFor("names")
	h.press("1", tcell.KeyEnter)
	h.waitFor("name: Jose\u0301 Mu\u0308ller")
}

// TestAPasteIsTextNotKeys: a bracketed paste goes into the open prompt as
// one line, and with no prompt open does nothing but say so. Before, each
// pasted character was a key: a pasted line break ran the prompt, and what
// followed it ran as commands (a t ticked a step, c composed a message).
func TestAPasteIsTextNotKeys(t *testing.T) {
	db := openStore(t)
	saveCapture(t, db, "orders", "line 5 of the orders\n")
	h := start(t, db, 160, 40, Options{})
	h.waitFor("line 5 of the orders")
	paste := func(text string) {
		h.screen.PostEvent(tcell.NewEventPaste(true))
		for _, r := range text {
			switch r {
			case '\n':
				h.screen.InjectKey(tcell.KeyEnter, 0, tcell.ModNone)
			case '\t':
				h.screen.InjectKey(tcell.KeyTab, 0, tcell.ModNone)
			default:
				h.screen.InjectKey(tcell.KeyRune, r, tcell.ModNone)
			}
		}
		h.screen.PostEvent(tcell.NewEventPaste(false))
		h.press() // after the paste: every event before it is handled
	}
	ticks := func() int {
		events, err := db.Events("")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, ev := range events {
			if ev.Kind == model.EventStep {
				n++
			}
		}
		return n
	}

	h.press("/")
	h.waitFor("find: ")
	paste("line 5\tof\nt q c\n")
	h.waitFor("find: line 5 of t q c")
	h.press(tcell.KeyCtrlU, "line 5", tcell.KeyEnter)
	h.waitFor(`"line 5": line 1`)

	// No prompt: the paste is dropped, with a word on why.
	paste("t\nq\n")
	h.waitFor("pasted text is not keys")
	if n := ticks(); n != 0 {
		t.Fatalf("a paste with no prompt open recorded %d steps", n)
	}
	h.waitFor("line 5 of the orders") // still running, not quit
}

// TestFindStartsAtTheCursorsLine: / finds the match on the cursor's own
// line first, the one the person is looking at, and n the ones after it.
// It used to skip that line for the next match below.
func TestFindStartsAtTheCursorsLine(t *testing.T) {
	db := openStore(t)
	saveCapture(t, db, "log", "start\nERROR one\nok\nERROR two\n")
	h := start(t, db, 160, 40, Options{})
	h.waitFor("ERROR two")
	h.press("g", "j") // the cursor on line 2, ERROR one
	h.press("/", "ERROR", tcell.KeyEnter)
	h.waitFor(`"ERROR": line 2`)
	h.press("n")
	h.waitFor(`"ERROR": line 4`)
	h.press("g", "/", tcell.KeyCtrlU, "start", tcell.KeyEnter)
	h.waitFor(`"start": line 1`)
}

// TestNotesAndTitlesShowAsText: a note or a capture title given on the
// command line with escape sequences in it ($'\e[31m') showed them in the
// timeline and the captures list as [31m; every other place showed the text.
func TestNotesAndTitlesShowAsText(t *testing.T) {
	db := openStore(t)
	saveCapture(t, db, "title \x1b[7mINV\x1b[0m x", "hi\n")
	if _, err := db.AddNote("", "esc test \x1b[31mRED\x1b[0m \x1b]0;pwned\a bidi \u202eevil\u202c end"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.AddNote("", "restore ran\rnothing ran"); err != nil {
		t.Fatal(err)
	}
	h := start(t, db, 160, 40, Options{})
	h.waitFor("title INV x")
	h.waitFor("restore ran\u240dnothing")    // what the carriage return wrote over shows too
	screen := h.waitFor("esc test RED bidi") // the title sequence between the spaces is gone
	for _, junk := range []string{"[7m", "[31m", "[0m", "]0;", "pwned", "\u202e"} {
		if strings.Contains(screen, junk) {
			t.Fatalf("the screen shows %q:\n%s", junk, screen)
		}
	}
}

// TestSwitchingIncidentsLeavesTheOtherIncidentsItem: after another
// incident was picked, the viewer still showed the first one's item, and s
// saved it into the new incident as an extract of a session it does not
// hold.
func TestSwitchingIncidentsLeavesTheOtherIncidentsItem(t *testing.T) {
	db := openStore(t)
	saveCapture(t, db, "first incident's capture", "only in the first incident\n")
	first, err := db.CurrentIncident()
	if err != nil {
		t.Fatal(err)
	}
	h := start(t, db, 160, 40, Options{})
	h.waitFor("only in the first incident")
	second, err := db.NewIncident("api latency spike")
	if err != nil {
		t.Fatal(err)
	}
	h.waitFor("api latency spike")
	h.in(func() {
		for i, inc := range h.ui.all {
			if inc.ID == second.ID {
				h.ui.switchIncident(i)
			}
		}
	})
	h.waitGone("only in the first incident")
	h.in(func() { h.ui.focusViewer() })
	h.press("g", "s")
	time.Sleep(300 * time.Millisecond) // a save runs in the background
	if caps, err := db.Captures(second.ID); err != nil || len(caps) != 0 {
		t.Fatalf("s after the switch saved into the second incident: %v, %v", caps, err)
	}
	if caps, _ := db.Captures(first.ID); len(caps) != 1 {
		t.Fatalf("the first incident holds %d captures", len(caps))
	}
}

// TestVerifyOfABundleSaysWhatItChecked: under review, V checks the bundle's
// files against its manifest; it used to say "verified 6 copies of 3
// captures", and a failure advised calm verify --repair, which has nothing
// to repair a pulled bundle with.
func TestVerifyOfABundleSaysWhatItChecked(t *testing.T) {
	ok := verifyMessage(model.VerifyReport{Captures: 3, Copies: 6, Bundle: "/tmp/inc.tar.gz"})
	if !strings.Contains(ok, "the bundle's 6 files match its SHA256SUMS") || strings.Contains(ok, "copies of") {
		t.Fatalf("bundle verified: %q", ok)
	}
	bad := verifyMessage(model.VerifyReport{Captures: 3, Copies: 6, Bundle: "/tmp/inc.tar.gz", Problems: []model.Problem{{Copy: model.Copy{Kind: "bundle", State: model.CopyMismatch, Error: "captures/c1.txt: differs"}}}})
	if !strings.Contains(bad, "verify FAILED: /tmp/inc.tar.gz: captures/c1.txt: differs; do not trust it") || strings.Contains(bad, "--repair") {
		t.Fatalf("bundle failed: %q", bad)
	}
}

// TestTimeJumpOnAnItemWithNoTimesSaysSoFirst: t on a tee'd capture asked
// for a time and only then said the item has none.
func TestTimeJumpOnAnItemWithNoTimesSaysSoFirst(t *testing.T) {
	db := openStore(t)
	saveCapture(t, db, "mongo find", mongoTranscript)
	h := start(t, db, 160, 40, Options{})
	h.press("1", tcell.KeyEnter)
	h.waitFor("db.users.find")
	h.press("t")
	if screen := h.waitFor("this item has no times"); strings.Contains(screen, "time (HH:MM") {
		t.Fatalf("t asked for a time on an item with none:\n%s", screen)
	}
}

// TestCopiesPaneStaysOnItsCaptureWhenOneArrives: a capture listed before
// the one under the list's cursor (c3 before s1) moved the cursor onto
// another's row, and the copies pane told another capture's copies.
func TestCopiesPaneStaysOnItsCaptureWhenOneArrives(t *testing.T) {
	db := openStore(t)
	saveCapture(t, db, "mongo find", mongoTranscript)
	saveSession(t, db, time.Now(), [][3]any{{0.5, "o", "$ echo hi\r\nhi\r\n"}})
	h := start(t, db, 160, 40, Options{})
	h.waitFor("bash")
	h.in(func() { h.ui.pointAt("s1") })
	h.waitUntil("the copies pane tells s1's", func() bool { return strings.HasPrefix(h.ui.copies.GetText(true), "s1 ") })
	saveCapture(t, db, "late", "arrived from another pane\n")
	h.waitFor("late")
	h.waitUntil("the copies pane still tells s1's, the cursor on it", func() bool {
		c, _ := h.ui.selected()
		return c.ID == "s1" && strings.HasPrefix(h.ui.copies.GetText(true), "s1 ")
	})
}

// TestEmojiSequencesTakeOneCellPair: an emoji joined by a zero-width joiner
// (👩‍💻) or given a skin tone (👋🏽) drew as two emoji with a gap, where a
// terminal draws one; the text after it moved right.
func TestEmojiSequencesTakeOneCellPair(t *testing.T) {
	db := openStore(t)
	saveCapture(t, db, "emoji", "dev: \U0001F469\u200d\U0001F4BB| wave: \U0001F44B\U0001F3FD| end\n")
	h := start(t, db, 120, 30, Options{})
	h.waitFor("emoji")
	h.press("1", tcell.KeyEnter)
	// Each emoji sequence is one wide cell and its continuation (which the
	// simulation screen leaves as it was), then the bar at once.
	one := regexp.MustCompile("dev: \U0001F469\u200d\U0001F4BB.\\| wave: \U0001F44B\U0001F3FD.\\| end")
	for deadline := time.Now().Add(5 * time.Second); !one.MatchString(h.text()); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the emoji sequences are not one cell pair each:\n%s", h.text())
		}
	}
	if got := displayWidth([]byte("\U0001F469\u200d\U0001F4BB|\U0001F44B\U0001F3FD|\U0001F1EF\U0001F1F5|")); got != 9 {
		t.Fatalf("the three sequences (a flag the third) and three bars take %d columns, want 9", got)
	}
}

// TestALineCutAtTheEdgeSaysSo: a long document line in a narrow pane ended
// at the border with no sign that it went on.
func TestALineCutAtTheEdgeSaysSo(t *testing.T) {
	db := openStore(t)
	cjk := strings.Repeat("東京都渋谷区", 20)
	saveCapture(t, db, "wide", "short\n{\"customer\": \"ACME GmbH\", \"total\": 1299.90, \"items\": [\"a\", \"b\", \"c\"], \"note\": \"END-OF-LINE\"}\n"+cjk+"\nx"+cjk+"\n")
	h := start(t, db, 140, 30, Options{})
	h.waitFor("wide")
	h.press("1", tcell.KeyEnter)
	screen := h.waitFor(`{"customer": "ACME GmbH"`)
	if !strings.Contains(screen, "›") || strings.Contains(screen, "END-OF-LINE") {
		t.Fatalf("the cut line does not end in ›:\n%s", screen)
	}
	// Wide characters, whichever column the last one ends in (an even and
	// an odd start): each cut line ends in ›.
	for _, prefix := range []string{"3 東", "4 x東"} {
		if r := row(screen, prefix); !strings.Contains(r, "›") {
			t.Fatalf("the wide line %q is cut with no sign: %q", prefix, r)
		}
	}
	// Scrolled right, its start is marked cut instead, and the end shows.
	for range 5 {
		h.press("l")
	}
	screen = h.waitFor("END-OF-LINE")
	if !strings.Contains(screen, "‹") {
		t.Fatalf("the line scrolled right does not start with ‹:\n%s", screen)
	}
}

// TestAFailedExtractLeavesNoBlockMarked: after x found a document on one
// line and then none on another, y yanked and s saved the first document,
// while the status line had just said there was no block (fresh-eyes
// finding). y now takes the cursor's line, and s saves nothing.
func TestAFailedExtractLeavesNoBlockMarked(t *testing.T) {
	db := openStore(t)
	saveCapture(t, db, "docs", "{ _id: 7, name: \"O'Brien\" }\nsome prose\nno document here\n")
	h := start(t, db, 160, 40, Options{})
	h.waitFor("docs")
	h.press("1", tcell.KeyEnter)
	h.waitFor("no document here")
	h.press("g", "x")
	h.waitFor("block: line 1")
	h.press("j", "j", "x")
	h.waitFor("no balanced")
	h.press("y")
	h.waitFor("yanked line 3")
	if got := h.clip.last(); got != "no document here\n" && got != "no document here" {
		t.Fatalf("y after a failed x yanked %q, want the cursor's line", got)
	}
	h.press("s")
	h.waitFor("nothing marked to save")
}
