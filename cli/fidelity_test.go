package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startPane opens a cols x rows tmux session whose terminal is term,
// running command.
func (tm *tmux) startPane(term string, cols, rows int, command string) {
	conf := filepath.Join(tm.t.TempDir(), "tmux.conf")
	os.WriteFile(conf, []byte("set -g history-limit 300000\nset -g remain-on-exit on\nset -g default-terminal "+term+"\n"), 0o600)
	tm.run("-f", conf, "new-session", "-d", "-s", "t", "-x", fmt.Sprint(cols), "-y", fmt.Sprint(rows), "sh", "-c", "sleep 0.3; "+command)
}

// A document read and then cleared away with `clear` under tmux's own
// TERM (ESC[H ESC[J ESC[3J) is still in calm show and calm search.
func TestSearchFindsWhatWasShownBeforeAClear(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tm := newTmux(t)
	script := writeTemp(t, []byte("for i in 1 2 3; do echo \"runbook step $i: DOC-BEFORE-CLEAR\"; done; clear; echo after clear\n"))
	tm.startPane("tmux-256color", 80, 24, w.envPrefix()+calmBin+" shell --wait -- sh "+script+"; echo CALM-EXITED-$?")
	tm.waitFor("CALM-EXITED-0", 30*time.Second)

	found := w.ok(nil, "search", "-F", "DOC-BEFORE-CLEAR")
	if n := strings.Count(found, "DOC-BEFORE-CLEAR"); n != 3 {
		t.Fatalf("search found %d of 3 lines printed before clear: %q", n, found)
	}
	shown := w.ok(nil, "show", "--sanitize", "s1")
	if !strings.Contains(shown, "runbook step 3: DOC-BEFORE-CLEAR\nafter clear\n") {
		t.Fatalf("show s1 lost what was shown before clear: %q", shown)
	}
}

// dpkg's progress bar (a scroll region one row short of the screen, the
// bar drawn on the last row between a saved and restored cursor) leaves
// the package lines as the terminal showed them: compared with tmux's own
// history of the same pane.
func TestAptOutputReadsAsInTheTerminal(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tm := newTmux(t)
	out := writeTemp(t, []byte(aptLike(80, 24)))
	tm.startPane("tmux-256color", 80, 24, w.envPrefix()+calmBin+" shell --wait -- cat "+out+"; echo; echo CALM-EXITED-$?")
	tm.waitFor("CALM-EXITED-0", 30*time.Second)

	var pane []string
	for _, l := range trimLines(tm.screen()) {
		if strings.HasPrefix(l, "calm: ") || strings.HasPrefix(l, "CALM-EXITED") || strings.HasPrefix(l, "Pane is dead") {
			continue
		}
		pane = append(pane, l)
	}
	for len(pane) > 0 && pane[len(pane)-1] == "" {
		pane = pane[:len(pane)-1]
	}
	stored := trimLines(w.ok(nil, "show", "--sanitize", "s1"))
	for len(stored) > 0 && stored[len(stored)-1] == "" {
		stored = stored[:len(stored)-1]
	}
	if strings.Join(stored, "\n") != strings.Join(pane, "\n") {
		t.Fatalf("calm stored:\n%s\n\ntmux shows:\n%s", strings.Join(stored, "\n"), strings.Join(pane, "\n"))
	}
	if strings.Contains(strings.Join(stored, "\n"), "Progress:") {
		t.Fatal("the progress bar's residue is in the stored text")
	}
}

// aptLike is what apt install writes through dpkg's fancy progress.
func aptLike(cols, rows int) string {
	var b strings.Builder
	b.WriteString("Reading package lists... Done\r\nThe following NEW packages will be installed:\r\n  jq libjq1 libonig5\r\n")
	fmt.Fprintf(&b, "\n\x1b7\x1b[0;%dr\x1b8\x1b[1A", rows-1)
	p := 0
	bar := func() {
		p += 10
		progress := fmt.Sprintf("Progress: [%3d%%]", p)
		width := cols - 4 - len(progress)
		fmt.Fprintf(&b, "\x1b7\x1b[%d;0f\x1b[42m\x1b[30m%s\x1b[49m\x1b[39m [%s%s] \x1b8", rows, progress, strings.Repeat("#", width*p/100), strings.Repeat(".", width-2-width*p/100))
	}
	for i := range 12 {
		fmt.Fprintf(&b, "Selecting previously unselected package pkg%d.\r\n", i)
		fmt.Fprintf(&b, "Preparing to unpack .../pkg%d_1.0_amd64.deb ...\r\n", i)
		bar()
		fmt.Fprintf(&b, "Unpacking pkg%d (1.0) ...\r\n", i)
		if p >= 90 {
			p = 0
		}
	}
	for i := range 12 {
		fmt.Fprintf(&b, "Setting up pkg%d (1.0) ...\r\n", i)
		bar()
		if p >= 90 {
			p = 0
		}
	}
	fmt.Fprintf(&b, "\n\x1b7\x1b[0;%dr\x1b8\x1b[1A\x1b[J", rows)
	return b.String()
}

// Output that is not UTF-8 comes back from show --raw byte for byte, while
// show gives U+FFFD for it and an exported cast keeps no unredacted copy.
func TestShowRawGivesBytesThatAreNotUTF8Exactly(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	if _, errs, code := w.run(nil, "shell", "--wait", "--", "sh", "-c", `printf 'caf\351 \377\376 password=hunter2\351\n'`); code != 0 {
		t.Fatalf("calm shell: %s", errs)
	}
	raw := w.ok(nil, "show", "--raw", "s1")
	if want := "caf\xe9 \xff\xfe password=hunter2\xe9\r\n"; !strings.Contains(raw, want) {
		t.Fatalf("show --raw gives %q, want it to contain %q", raw, want)
	}
	if shown := w.ok(nil, "show", "--sanitize", "s1"); !strings.Contains(shown, "caf\uFFFD \uFFFD\uFFFD password=hunter2\uFFFD\n") {
		t.Fatalf("show gives %q", shown)
	}
	cast := w.ok(nil, "export", "--format", "cast")
	_, events, _ := strings.Cut(cast, "\n") // the header's title is the command line
	if strings.Contains(events, "hunter2") || strings.Contains(events, `"b"`) || !strings.Contains(events, "REDACTED") {
		t.Fatalf("the exported cast is not redacted throughout: %q", cast)
	}
}

// asciinema's own recordings, v2 and v3, come in as sessions: searched,
// shown as a person saw them, exported like any other.
func TestImportAsciinemaRecordingsV2AndV3(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	fixtures := filepath.Join("..", "terminal", "testdata", "asciinema")
	out := w.ok(nil, "import", filepath.Join(fixtures, "full-v3.cast"), "the v3 one")
	if !strings.Contains(out, "/s1: asciicast v3, 5 events") || !strings.Contains(out, "copies verified") {
		t.Fatalf("import said %q", out)
	}
	out = w.ok(nil, "import", filepath.Join(fixtures, "demo.cast"))
	if !strings.Contains(out, "/s2: asciicast v2") {
		t.Fatalf("import said %q", out)
	}
	if shown := w.ok(nil, "show", "--sanitize", "s1"); shown != "żółć\n" {
		t.Fatalf("show s1 = %q", shown)
	}
	found := w.ok(nil, "search", "-F", "develop ↩☡=")
	if !strings.Contains(found, "/s2:") {
		t.Fatalf("search did not find the imported session: %q", found)
	}
	cast := w.ok(nil, "export", "--format", "cast", "--item", "s1")
	if !strings.HasPrefix(cast, `{"version":2,"width":100,"height":50,"timestamp":1509091818,"title":"the v3 one"`) ||
		!strings.Contains(cast, "[1.300001,\"i\",\"\\n\"]") || !strings.Contains(cast, "[2.900002,\"r\",\"80x40\"]") {
		t.Fatalf("exported cast:\n%s", cast)
	}
	list := w.ok(nil, "status")
	if !strings.Contains(list, "the v3 one") {
		t.Fatalf("status does not list the imported session: %s", list)
	}
}

func TestImportRefusesWhatIsNoRecording(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	bad := writeTemp(t, []byte("just some text\n"))
	_, errs, code := w.run(nil, "import", bad)
	if code == 0 || !strings.Contains(errs, "is not an asciicast v2 or v3 recording") {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if _, errs, code := w.run(nil, "import", filepath.Join(t.TempDir(), "missing.cast")); code == 0 || !strings.Contains(errs, "no such file") {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if out, _, _ := w.run(nil, "search", "-F", "just some text"); out != "" {
		t.Fatalf("a refused import stored something: %q", out)
	}
}

// show to a pipe says what it wrote against what was stored, and invalid
// UTF-8 makes it more, not less.
func TestShowToAPipeSaysWhatItWrote(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok([]byte("caf\xe9 \x1b[31mred\x1b[0m\n"), "tee", "-q", "t")
	out, errs, code := w.run(nil, "show", "c1")
	if code != 0 || out != "caf\uFFFD red\n" {
		t.Fatalf("show exited %d with %q", code, out)
	}
	if want := "(wrote 11 B for its 18 B)"; !strings.Contains(errs, want) || strings.Count(errs, "\n") != 1 {
		t.Fatalf("show's note is %q, want one line with %q", errs, want)
	}
	w.ok([]byte("caf\xe9\xe9\xe9\n"), "tee", "-q", "t2")
	if _, errs, _ := w.run(nil, "show", "c2"); !strings.Contains(errs, "(wrote 13 B for its 7 B)") {
		t.Fatalf("show's note is %q", errs)
	}
}

// TestShowEndsItsLineOnATerminal: a capture without a final line end ran
// into what came after it on the terminal (the prompt); a file or a pipe
// still gets its bytes as they are.
func TestShowEndsItsLineOnATerminal(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok([]byte("last line no newline"), "tee", "-q", "cut short")
	tm := newTmux(t)
	tm.startPane("tmux-256color", 80, 24, w.envPrefix()+calmBin+" show c1; echo NEXT-LINE")
	tm.waitFor("NEXT-LINE", 20*time.Second)
	if screen := tm.screen(); !strings.Contains(screen, "last line no newline\nNEXT-LINE") {
		t.Fatalf("show on a terminal did not end its line:\n%s", screen)
	}
	if piped := w.ok(nil, "show", "c1"); piped != "last line no newline" {
		t.Fatalf("show to a pipe wrote %q, want the bytes as they are", piped)
	}
}

// TestExportDoesNotFloodTheTerminal: 'calm export' with no -o at a terminal
// printed a whole incident (300k lines), pushing out the scrollback where
// the original data may still be.
func TestExportDoesNotFloodTheTerminal(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok(shellText(200<<10, 3), "tee", "-q", "big")
	tm := newTmux(t)
	tm.startPane("tmux-256color", 120, 24, w.envPrefix()+calmBin+" export; echo EXPORT-EXIT-$?")
	tm.waitFor("EXPORT-EXIT-2", 20*time.Second)
	if screen := tm.screen(); !strings.Contains(screen, "would push the scrollback out") {
		t.Fatalf("export into a terminal:\n%s", screen)
	}
	if out := w.ok(nil, "export"); len(out) < 100<<10 {
		t.Fatalf("export to a pipe wrote %d bytes", len(out))
	}
}
