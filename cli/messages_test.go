package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"calm/model"
)

// oneLineSaying fails unless errs is one line holding each of want and
// none of the words an error kind once added to its message.
func oneLineSaying(t *testing.T, what, errs string, want ...string) {
	t.Helper()
	if strings.Count(errs, "\n") != 1 {
		t.Errorf("%s: not one line: %q", what, errs)
	}
	for _, w := range want {
		if !strings.Contains(errs, w) {
			t.Errorf("%s: %q lacks %q", what, errs, w)
		}
	}
	for _, kind := range []string{": not found", ": invalid request", ": ambiguous", ": conflict"} {
		if strings.Contains(errs, kind) {
			t.Errorf("%s: the error kind leaks into the message: %q", what, errs)
		}
	}
}

// TestErrorsSayWhatHappenedOnce: with no incident, 'calm tick' and 'calm
// note' write nothing and say so in one line (a note no longer opens an
// incident no one named, as the TUI asks for a title); errors read as
// sentences, not with ": not found" after them, while what calm does on
// such an error (status with no incident, a capture id's suggestion)
// still works.
func TestErrorsSayWhatHappenedOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	_, errs, code := w.run(nil, "tick")
	oneLineSaying(t, "tick with no incident", errs, "calm tick: no incident yet: nothing was ticked; start one with 'calm incident new TITLE'")
	if code != 1 || strings.Count(errs, "calm incident") != 1 {
		t.Errorf("tick with no incident: exit %d, %q", code, errs)
	}
	_, errs, code = w.run(nil, "note", "first thought")
	oneLineSaying(t, "note with no incident", errs, "calm note: no incident yet: the note was not written; start one with 'calm incident new TITLE'")
	if code != 1 {
		t.Errorf("note with no incident: exit %d", code)
	}
	if list := w.ok(nil, "incident", "list"); !strings.HasPrefix(list, "no incidents yet") {
		t.Fatalf("a note or tick with no incident opened one:\n%s", list)
	}
	if out := w.ok(nil, "status"); !strings.HasPrefix(out, "No incident yet.") {
		t.Fatalf("status with no incident: %q", out)
	}

	first := strings.Fields(w.ok(nil, "incident", "new", "first"))[0]
	second := strings.Fields(w.ok(nil, "incident", "new", "second"))[0]
	w.ok([]byte("a line with AKIAIOSFODNN7EXAMPLE in it\n"), "tee", "-q", "one secret")
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"status", "nosuch"}, []string{`calm status: no incident matches "nosuch" (see 'calm incident list')`}},
		{[]string{"incident", "use", first[:4]}, []string{`"` + first[:4] + `" matches 2 incidents (`, "type more of it"}},
		{[]string{"show", "c9"}, []string{"calm show: capture c9 not found in incident " + second}},
		{[]string{"show", "1"}, []string{"did you mean c1? ('calm show c1')"}},
		{[]string{"export", "--format", "cast"}, []string{"calm export: incident " + second + " has no recorded session (record one with 'calm shell' or 'calm split')"}},
		{[]string{"move", "c1", "nosuch"}, []string{`no incident matches "nosuch"`}},
		{[]string{"show", first + "/c1"}, []string{"capture c1 not found in incident " + first}},
	} {
		_, errs, code := w.run(nil, c.args...)
		oneLineSaying(t, "calm "+strings.Join(c.args, " "), errs, c.want...)
		if code != 1 {
			t.Errorf("calm %v: exit %d", c.args, code)
		}
	}
	if _, errs, _ := w.run(nil, "export", "--format", "cast"); strings.Count(errs, "export") != 1 {
		t.Errorf("export says export twice: %q", errs)
	}

	// Counted as English counts: one secret, one capture.
	dir := t.TempDir()
	_, errs, _ = w.run(nil, "export", "--format", "txt", "-o", filepath.Join(dir, "one.txt"))
	if !strings.Contains(errs, "redacted 1 secret from the export") {
		t.Errorf("txt export of one secret: %q", errs)
	}
	if md := w.ok(nil, "export", "--format", "md"); !strings.Contains(md, "exported as txt, 1 secret redacted") || strings.Contains(md, "1 secrets") {
		t.Errorf("the timeline's export event does not count one secret as one:\n%s", md)
	}

	// Every export written to a file says so, whatever its format.
	for _, format := range []string{"md", "txt", "json", "html", "bundle"} {
		path := filepath.Join(dir, "out."+format)
		_, errs, code := w.run(nil, "export", "--format", format, "-o", path)
		if _, err := os.Stat(path); code != 0 || err != nil || !strings.Contains(errs, "calm: wrote ") || !strings.Contains(errs, "out."+format) {
			t.Errorf("export --format %s -o FILE: exit %d, %v, stderr %q: want it to say it wrote the file", format, code, err, errs)
		}
	}
}

// TestSplitOutsideTmuxPointsAtWhatWorksThere: split works on the pane it
// runs in and has no -t; outside tmux it says what to run instead, not a
// flag it does not have.
func TestSplitOutsideTmuxPointsAtWhatWorksThere(t *testing.T) {
	t.Parallel()
	w := newWorld(t) // its environment has no TMUX
	_, errs, code := w.run(nil, "split")
	oneLineSaying(t, "split outside tmux", errs, "calm split: not inside tmux", "'calm shell'", "'calm snap -t PANE'")
	if code != 1 || strings.Contains(errs, "name a pane with -t") {
		t.Errorf("split outside tmux: exit %d, %q", code, errs)
	}
}

// The status line says which requirement a capture falls short of, in
// figures that read the right way round.
func TestStatusSaysWhichRequirementACaptureMisses(t *testing.T) {
	verified := func(device string) model.Copy {
		return model.Copy{Kind: model.CopyEvidence, State: model.CopyVerified, Device: device}
	}
	c := model.Capture{ID: "c1", Incident: "i", State: model.CaptureSealed, SHA256: strings.Repeat("a", 64),
		Copies: []model.Copy{verified("dev:1"), verified("dev:1"), {Kind: model.CopyRemote, State: model.CopyPending}}}
	var b strings.Builder
	printCaptures(&b, []model.Capture{c}, 3, 2)
	if want := "(WARNING: 2 verified of the 3 copies required, on 1 of the 2 devices required: 'calm verify' names what failed)"; !strings.Contains(b.String(), want) {
		t.Fatalf("status line %q lacks %q", b.String(), want)
	}
	b.Reset()
	printCaptures(&b, []model.Capture{c}, 2, 2)
	if want := "(WARNING: on 1 of the 2 devices required:"; !strings.Contains(b.String(), want) || strings.Contains(b.String(), "copies required") {
		t.Fatalf("status line %q: want only the devices short", b.String())
	}
}

// TestShowToAPipeSaysWhatItTookOut: a CRLF file through a pipe loses its
// CRs (terminal controls), and that is all it says; invalid UTF-8 is named
// only when there was some.
func TestShowToAPipeSaysWhatItTookOut(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok([]byte("one\r\ntwo \uFFFD\r\n"), "tee", "-q", "crlf")
	w.ok([]byte("bad \xff byte\n"), "tee", "-q", "latin-1")
	for _, c := range []struct{ id, says, not string }{
		{"c1", "took terminal controls out of", "UTF-8"},
		{"c2", "took terminal controls and invalid UTF-8 out of", ""},
	} {
		out, errs, code := w.run(nil, "show", c.id)
		if code != 0 || !strings.Contains(errs, c.says) || (c.not != "" && strings.Contains(errs, c.not)) {
			t.Errorf("show %s to a pipe: exit %d, stdout %q, stderr %q; want it to say %q", c.id, code, out, errs, c.says)
		}
	}
}

// TestSearchOfAMistypedCaptureSuggestsASearch: C1 where c1 was meant is
// answered with the search to run, not a show.
func TestSearchOfAMistypedCaptureSuggestsASearch(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok([]byte("foo\n"), "tee", "-q", "t")
	_, errs, code := w.run(nil, "search", "foo", "C1")
	if code != 2 || !strings.Contains(errs, "did you mean c1? (calm search PATTERN c1)") || strings.Contains(errs, "calm show") {
		t.Fatalf("calm search foo C1: exit %d, said %q", code, errs)
	}
}

// TestNotesThatShowNothingAreRefused: a note of escape sequences only
// ($'\e]0;title\a') or of zero-width spaces was "noted" and showed as a
// blank line everywhere; a tee titled $'\e[31m' had a title of nothing.
func TestNotesThatShowNothingAreRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok(nil, "incident", "new", "blank notes")
	for _, note := range []string{"\x1b]0;only a title\a", "\u200b\u200b", "\x1b[31m\x1b[0m"} {
		_, errs, code := w.run(nil, "note", note)
		oneLineSaying(t, fmt.Sprintf("note %q", note), errs, "would show as nothing", "not written")
		if code != 2 {
			t.Errorf("note %q: exit %d, want 2", note, code)
		}
	}
	_, errs, code := w.run([]byte("  \n"), "note", "-")
	oneLineSaying(t, "note - with nothing on stdin", errs, "nothing came on stdin", "not written")
	if code == 0 {
		t.Errorf("note - with nothing on stdin: exit 0")
	}
	if tl := w.ok(nil, "timeline"); strings.Contains(tl, " note ") {
		t.Fatalf("a blank note was written:\n%s", tl)
	}
	w.ok(nil, "note", "a real \x1b[31mnote\x1b[0m")
	if tl := w.ok(nil, "timeline"); !strings.Contains(tl, "a real note") {
		t.Fatalf("the note with words in it:\n%s", tl)
	}
	w.ok([]byte("hi\n"), "tee", "-q", "\x1b[31m")
	if st := w.ok(nil, "status"); !strings.Contains(st, "tee at ") {
		t.Fatalf("a tee titled with an escape alone has no default title:\n%s", st)
	}
}

// TestFlagValuesSayWhatIsWanted: 'calm search -m abc' said strconv's
// "strconv.ParseInt: parsing "abc": invalid syntax".
func TestFlagValuesSayWhatIsWanted(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"search", "-m", "abc", "x"}, `calm: -m/--max-count "abc": a whole number is wanted (see 'calm search --help')`},
		{[]string{"search", "-A", "99999999999999999999", "x"}, `-A/--after-context "99999999999999999999": a smaller number is wanted`},
		{[]string{"search", "-n=maybe", "x"}, `-n/--line-number "maybe": true or false is wanted`},
	} {
		_, errs, code := w.run(nil, c.args...)
		oneLineSaying(t, strings.Join(c.args, " "), errs, c.want)
		if code != 2 || strings.Contains(errs, "strconv") {
			t.Errorf("%q: exit %d, %q", c.args, code, errs)
		}
	}
}
