package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"calm/sanitize"
)

// trimLines drops trailing spaces on each line and blank lines at the end,
// as a terminal shows text.
func trimLines(s string) []string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \r")
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

func TestShellRecordingMatchesWhatTmuxShows(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	var input bytes.Buffer
	for i := 1; i <= 100_000; i++ {
		switch {
		case i%10 == 0:
			fmt.Fprintf(&input, "\x1b[1;32mok\x1b[0m step %d \x1b[31mred\x1b[0m\n", i)
		case i%7 == 0:
			fmt.Fprintf(&input, "downloading 10%%\rdownloading 55%%\rdownloading 100%% line %d\n", i)
		default:
			fmt.Fprintf(&input, "plain line %d { _id: ObjectId(\"65f1\") }\n", i)
		}
	}
	file := writeTemp(t, input.Bytes())
	tm := newTmux(t)
	tm.start(w.envPrefix() + calmBin + " shell --wait -- cat " + file + "; echo CALM-EXITED-$?")
	tm.waitFor("CALM-EXITED-0", 60*time.Second)

	var shown []string
	for _, l := range trimLines(tm.screen()) {
		if !strings.HasPrefix(l, "calm: ") && !strings.HasPrefix(l, "CALM-EXITED") && !strings.HasPrefix(l, "Pane is dead") {
			shown = append(shown, l)
		}
	}
	stored := trimLines(w.ok(nil, "show", "--sanitize", "s1"))
	if len(stored) != 100_000 || len(shown) != 100_000 {
		t.Fatalf("stored %d lines, tmux shows %d; want 100000 each", len(stored), len(shown))
	}
	for i := range shown {
		if shown[i] != stored[i] {
			t.Fatalf("line %d: tmux shows %q, calm stored %q", i+1, shown[i], stored[i])
		}
	}
}

func TestJournalPassesAsciinemaCatAndEqualsTheSession(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("asciinema"); err != nil {
		t.Fatal("asciinema is missing: install it (apt-get install asciinema)")
	}
	w := newWorld(t)
	out, errs, code := w.run(nil, "shell", "--wait", "--", "sh", "-c", `printf 'caf\303\251 \033[31mred\033[0m\n'; seq 1 2000; exit 4`)
	if code != 4 {
		t.Fatalf("exit status %d, want the command's 4: %s", code, errs)
	}
	if !strings.Contains(out, "1999\r\n2000") {
		t.Fatalf("the terminal did not get the output: %q", lastLines(out, 3))
	}
	// Once sealed, the journal is the session's evidence copy.
	journals, _ := filepath.Glob(filepath.Join(w.home, "evidence", "*", "s1.cast"))
	if left, _ := filepath.Glob(filepath.Join(w.home, "journal", "*.cast")); len(journals) != 1 || len(left) != 0 {
		t.Fatalf("journals %v in the evidence folder, %v left behind", journals, left)
	}
	if sums := w.ok(nil, "status"); !strings.Contains(sums, "2/2 copies verified") {
		t.Fatalf("status: %s", sums)
	}
	journal, _ := os.ReadFile(journals[0])
	if cast := w.ok(nil, "show", "--cast", "s1"); cast != string(journal) {
		t.Fatal("the session in the store differs from the journal")
	}
	played, err := exec.Command("script", "-q", "-c", "asciinema cat "+journals[0], "/dev/null").Output()
	if err != nil {
		t.Fatalf("asciinema cat: %v", err)
	}
	session := w.ok(nil, "show", "--raw", "s1") // the output as recorded
	strip := func(s string) string { return strings.ReplaceAll(s, "\r", "") }
	if strip(string(played)) != strip(session) {
		t.Fatalf("asciinema cat plays %d bytes, the session holds %d", len(played), len(session))
	}
}

// Input larger than the terminal holds (a big paste) reaches the program
// whole, although the program reads none of it for a second: calm waits for
// room instead of dropping what does not fit.
func TestShellPassesInputLargerThanTheTerminalHolds(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	var in bytes.Buffer
	for i := 0; in.Len() < 200_000; i++ {
		fmt.Fprintf(&in, "pasted line %06d %s\n", i, strings.Repeat("x", 80))
	}
	want := fmt.Sprintf("%x", sha256.Sum256(in.Bytes()))
	out := w.ok(in.Bytes(), "shell", "--", "sh", "-c", fmt.Sprintf("sleep 1; timeout --foreground 20 head -c %d | sha256sum", in.Len()))
	if !strings.Contains(out, want) {
		t.Fatalf("the program did not get the input whole: want sha256 %s, output ends %q", want, lastLines(out, 3))
	}
}

// The recorded shell's terminal has the user's modes, not the kernel's
// defaults: an erase key of ^H, flow control off and IUTF8 stay as they were.
func TestShellKeepsTheTerminalsModes(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tm := newTmux(t)
	tm.start("stty erase '^H' -ixon iutf8 && " + w.envPrefix() + calmBin + " shell -- stty -a")
	tm.waitFor("recording stopped", 10*time.Second)
	modes := strings.Fields(strings.ReplaceAll(tm.screen(), ";", " "))
	has := func(word string) bool { return slices.Contains(modes, word) }
	erase := slices.Index(modes, "erase")
	if erase < 0 || erase+2 >= len(modes) || modes[erase+2] != "^H" || !has("-ixon") || !has("iutf8") {
		t.Fatalf("the recorded shell's terminal lost the user's modes (want erase = ^H, -ixon, iutf8):\n%s", tm.screen())
	}
}

// runShellWithin runs calm shell with stdin, and kills it (failing the
// test) if it has not ended within limit.
func (w *world) runShellWithin(limit time.Duration, stdin string, args ...string) (out string, code int) {
	w.t.Helper()
	return w.runShellWithinTo(&lockedBuffer{}, limit, stdin, args...)
}

// runShellWithinTo is runShellWithin with its output in buf as it comes,
// for a test to act on while the shell runs.
func (w *world) runShellWithinTo(buf *lockedBuffer, limit time.Duration, stdin string, args ...string) (out string, code int) {
	w.t.Helper()
	cmd := w.cmd(append([]string{"shell"}, args...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), buf, buf
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	timer := time.AfterFunc(limit, func() { cmd.Process.Kill() })
	defer timer.Stop()
	err := cmd.Wait()
	if !timer.Stop() {
		w.t.Fatalf("calm shell %v with input %q was still running after %v: %s", args, stdin, limit, lastLines(buf.String(), 5))
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return buf.String(), ee.ExitCode()
	}
	return buf.String(), 0
}

// Piped input that ends ends the shell, as with script(1): the program
// gets the terminal's end-of-file once it has read the input, even after
// an unfinished last line, and through bash's line editor.
func TestShellEndsWhenPipedInputEnds(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for _, c := range []struct {
		input string
		shell []string
	}{
		{"echo piped-$((6*7))\n", []string{"bash", "--norc"}},
		{"echo piped-$((6*7))\n", []string{"sh"}},
		{"echo piped-$((6*7))", []string{"sh"}},
	} {
		out, code := w.runShellWithin(20*time.Second, c.input, append([]string{"--"}, c.shell...)...)
		if code != 0 || !strings.Contains(out, "piped-42") {
			t.Fatalf("%s with input %q: exit %d, want 0 and the command's output: %s", c.shell[0], c.input, code, lastLines(out, 5))
		}
	}
}

// TestShellInsideAShellSaysItRecordsTwice: calm shell run in a terminal
// calm shell already records started a second session without a word.
func TestShellInsideAShellSaysItRecordsTwice(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok(nil, "incident", "new", "nested")
	out, code := w.runShellWithin(20*time.Second, calmBin+" shell -- echo inner-$((6*7)); exit\n", "--", "sh")
	if code != 0 || !strings.Contains(out, "inner-42") || !strings.Contains(out, "this terminal is already recorded, as ") {
		t.Fatalf("calm shell inside calm shell: exit %d: %s", code, lastLines(out, 8))
	}
}

// A program that closes every descriptor of its terminal and then writes to
// it again through /dev/tty: a terminal (and script(1)) shows that output.
// calm shell stopped reading at the first EIO and lost it, from the screen
// and the session.
func TestShellReadsATerminalOpenedAgain(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	out, code := w.runShellWithin(20*time.Second, "", "--", "sh", "-c", "echo early; exec >/dev/null 2>&1 </dev/null; sleep 0.3; echo la''te > /dev/tty")
	if code != 0 || !strings.Contains(out, "early") || !strings.Contains(out, "late") {
		t.Fatalf("exit %d, shown %q: want both lines", code, out)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if text, _, code := w.run(nil, "show", "s1"); code == 0 && strings.Contains(text, "early") {
			if !strings.Contains(text, "late") {
				t.Fatalf("the session holds %q: the line written through /dev/tty is missing", text)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the session was not stored within 20 s")
		}
	}
}

// A shell that ignores the signal ending calm shell is hung up, as a closing
// terminal would, and killed if it ignores that too; the session is kept.
func TestShellEndsAStubbornShell(t *testing.T) {
	t.Parallel()
	slow(t)
	w := newWorld(t)
	cmd := w.cmd("shell", "--wait", "--", "sh", "-c", `trap "" TERM HUP; echo stubborn-$((6*7)); sleep 60`)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), "stubborn-42"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the shell never started: %s", out.String())
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	timer := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	if !timer.Stop() {
		t.Fatalf("calm shell did not end its stubborn shell: %s", lastLines(out.String(), 5))
	}
	ee, _ := err.(*exec.ExitError)
	if ee == nil || ee.ExitCode() != 128+int(syscall.SIGKILL) {
		t.Fatalf("exit %v, want %d (the shell killed)", err, 128+int(syscall.SIGKILL))
	}
	for _, want := range []string{"after SIGTERM; hanging up its terminal", "after SIGTERM; killing it", " sealed: "} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("calm said nothing like %q: %s", want, lastLines(out.String(), 5))
		}
	}
	if !strings.Contains(w.ok(nil, "show", "s1"), "stubborn-42") {
		t.Fatal("the session lost the shell's output")
	}
}

func TestShellSurvivesAgentKills(t *testing.T) {
	t.Parallel()
	slow(t)
	w := newWorld(t)
	w.ok(nil, "incident", "new", "recorder under fire")
	cmd := w.cmd("shell", "--wait", "--", "sh", "-c", `i=0; while [ $i -lt 60 ]; do seq $((i*1000)) $((i*1000+999)); i=$((i+1)); sleep 0.05; done`)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	kills := 0
	for running := true; running; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("calm shell: %v: %s", err, lastLines(out.String(), 5))
			}
			running = false
		case <-time.After(300 * time.Millisecond):
			if pid := w.agentPID(); pid > 0 {
				syscall.Kill(pid, syscall.SIGKILL)
				kills++
			}
		}
	}
	if kills < 3 {
		t.Fatalf("only %d kills landed", kills)
	}
	if !strings.Contains(out.String(), " sealed: ") {
		t.Fatalf("the store did not seal the session: %s", lastLines(out.String(), 3))
	}
	journals, _ := filepath.Glob(filepath.Join(w.home, "evidence", "*", "s1.cast"))
	journal, _ := os.ReadFile(journals[0])
	if cast := w.ok(nil, "show", "--cast", "s1"); cast != string(journal) {
		t.Fatalf("after %d kills the session (%d bytes) differs from the journal (%d bytes)", kills, len(cast), len(journal))
	}
	if lines := trimLines(w.ok(nil, "show", "s1")); len(lines) != 60_000 || lines[59_999] != "59999" {
		t.Fatalf("session holds %d lines", len(lines))
	}
	w.checkStore()
}

type exported struct {
	Events []struct {
		Kind, Item, Text string
		At               float64
	}
}

func TestMarkerBeforeADestructiveCommandAndNoPasswordStored(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tm := newTmux(t)
	tm.start(w.envPrefix() + calmBin + " shell --wait --input -- bash --norc --noprofile")
	tm.waitFor("calm: recording", 10*time.Second)
	tm.typeText("echo before-the-update")
	tm.press("Enter")
	tm.waitFor("before-the-update\n", 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	tm.typeText("UPDATE users SET name='x';")
	tm.press("Enter")
	tm.waitFor("command not found", 5*time.Second)
	tm.typeText(`read -s -p "Password: " pw; echo; echo "got ${#pw} chars"`)
	tm.press("Enter")
	tm.waitFor("Password: ", 5*time.Second)
	tm.typeText("hunter2-Secret")
	tm.press("Enter")
	tm.waitFor("got 14 chars", 5*time.Second)
	tm.typeText("exit")
	tm.press("Enter")
	tm.waitFor(" sealed: ", 10*time.Second)

	var exp exported
	if err := json.Unmarshal([]byte(w.ok(nil, "export", "--format", "json", "")), &exp); err != nil {
		t.Fatal(err)
	}
	var marker *float64
	for _, ev := range exp.Events {
		if ev.Kind == "marker" {
			if !strings.Contains(ev.Text, "UPDATE without WHERE") || ev.Item != "s1" {
				t.Fatalf("marker %+v", ev)
			}
			marker = &ev.At
		}
	}
	if marker == nil {
		t.Fatalf("no marker among %+v", exp.Events)
	}
	// The marker sits after the earlier output and before the command's own.
	cast := w.ok(nil, "show", "--cast", "s1")
	var before, after float64 = -1, -1
	for _, line := range strings.Split(cast, "\n")[1:] {
		var ev [3]any
		if json.Unmarshal([]byte(line), &ev) != nil || ev[1] != "o" {
			continue
		}
		at, data := ev[0].(float64), ev[2].(string)
		if strings.Contains(data, "before-the-update\r\n") && before < 0 {
			before = at
		}
		if strings.Contains(data, "command not found") && after < 0 {
			after = at
		}
	}
	if !(before >= 0 && *marker >= before && *marker < after) {
		t.Fatalf("marker at %.6f, want between the earlier output at %.6f and the command's output at %.6f", *marker, before, after)
	}
	// The password is nowhere: not in the session, journal, copies or store.
	if _, _, code := w.run(nil, "search", "-F", "hunter2"); code != 1 {
		t.Fatal("search found the password")
	}
	filepath.Walk(w.home, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			data, _ := os.ReadFile(p)
			if bytes.Contains(data, []byte("hunter2")) || bytes.Contains(sanitize.Text(data), []byte("hunter2")) {
				t.Errorf("%s holds the password", p)
			}
		}
		return nil
	})
	if !strings.Contains(cast, `"i", "echo before-the-update`) && !strings.Contains(cast, `"i", "e"`) {
		t.Fatalf("--input recorded no typed input at all")
	}
}

func TestSnapStoresEveryLineOfALongHistory(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tm := newTmux(t)
	tm.start("bash --norc --noprofile")
	tm.typeText("seq 1 20000; printf '\\033[31mred tail\\033[0m\\n'; " + w.envPrefix() + calmBin + " snap history")
	tm.press("Enter")
	tm.waitFor("saved ", 20*time.Second)
	stored := w.ok(nil, "show", "c1")
	lines := trimLines(stored)
	at := -1
	for i, l := range lines {
		if l == "1" {
			at = i
			break
		}
	}
	if at < 0 || len(lines) < at+20001 {
		t.Fatalf("capture holds %d lines, the 1..20000 run starts at %d", len(lines), at)
	}
	for n := 1; n <= 20000; n++ {
		if lines[at+n-1] != fmt.Sprint(n) {
			t.Fatalf("line %d of the history is %q", n, lines[at+n-1])
		}
	}
	if !strings.Contains(w.ok(nil, "show", "--raw", "c1"), "\x1b[31mred tail") {
		t.Fatal("colours were not kept")
	}
	// Outside tmux, one line saying so.
	_, errs, code := w.run(nil, "snap")
	if code == 0 || !strings.Contains(errs, "not inside tmux") {
		t.Fatalf("snap outside tmux: exit %d: %s", code, errs)
	}
}

func TestSplitSnapsAndRecordsThePane(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tm := newTmux(t)
	tm.start("bash --norc --noprofile")
	tm.typeText("echo earlier-output; " + w.envPrefix() + calmBin + " split")
	tm.press("Enter")
	tm.waitFor("calm: recording pane", 20*time.Second)
	tm.typeText("echo live-output-after-split")
	tm.press("Enter")
	tm.waitFor("live-output-after-split\n", 5*time.Second)
	if panes := tm.waitForPanes(2); len(panes) != 2 {
		t.Fatalf("want calm's pane beside the shell: %s", panes)
	}
	tm.typeText(w.envPrefix() + calmBin + " split --stop")
	tm.press("Enter")
	tm.waitFor("session is being sealed", 5*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _, _ := w.run(nil, "search", "-F", "live-output-after-split")
		if strings.Contains(out, "/s1:") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the live output never reached the session: %q", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if out := w.ok(nil, "search", "-F", "earlier-output"); !strings.Contains(out, "/c1:") {
		t.Fatalf("the scrollback snapshot misses the earlier output: %q", out)
	}
}

func TestClipSendsACaptureToTheTerminalClipboard(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	doc := "{ _id: ObjectId(\"65f1a2\"), name: \"original\" }\n"
	w.ok([]byte(doc+"\x1b]0;title\x07"), "tee", "-q", "doc")
	// Over SSH, headless: no clipboard tool to be found.
	w.extra = append(w.extra, "PATH="+t.TempDir())
	tm := newTmux(t)
	tm.start("bash --norc --noprofile")
	tm.typeText(w.envPrefix() + calmBin + " clip -o c1")
	tm.press("Enter")
	tm.waitFor("sent to the terminal by OSC 52", 10*time.Second)
	if buf := tm.run("show-buffer"); buf != doc {
		t.Fatalf("tmux's clipboard holds %q, want the sanitised capture %q", buf, doc)
	}
	_, errs, code := w.run(nil, "clip", "pasted")
	if code == 0 || !strings.Contains(errs, "calm tee") || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Fatalf("clip without a clipboard tool: exit %d: %q", code, errs)
	}
}

// TestSessionIsSearchedAsAPersonSawIt: the store keeps a session's derived
// text, so a progress bar is found in its final state only, and shown so.
func TestSessionIsSearchedAsAPersonSawIt(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	script := `printf 'fetching 10%%\rfetching 55%%\rfetched 100%%\n'; printf 'typo here\r\033[2Kfixed line\n'; printf '\033[1;31malert\033[0m done\n'`
	if _, errs, code := w.run(nil, "shell", "--wait", "--", "sh", "-c", script); code != 0 {
		t.Fatalf("calm shell: %s", errs)
	}
	shown := w.ok(nil, "show", "--sanitize", "s1")
	if !strings.Contains(shown, "fetched 100%\nfixed line\nalert done\n") || strings.Contains(shown, "55%") || strings.Contains(shown, "typo") {
		t.Fatalf("show s1 is not what a person saw: %q", shown)
	}
	if out, _, _ := w.run(nil, "search", "-F", "55%"); out != "" {
		t.Fatalf("an overwritten progress step was found: %q", out)
	}
	found := w.ok(nil, "search", "-F", "fixed line")
	if !strings.HasSuffix(strings.TrimSpace(found), "/s1:2:fixed line") {
		t.Fatalf("search: %q", found)
	}
	// The stream as recorded is still there, byte for byte.
	if raw := w.ok(nil, "show", "--raw", "s1"); !strings.Contains(raw, "fetching 55%\r") {
		t.Fatalf("show --raw lost the stream: %q", raw)
	}
}

// TestShowOfASessionToAFileIsWhatAPersonSaw: calm show SESSION > file
// holds the text the terminal showed, without its colour escapes, so grep
// finds in the file what calm search finds; --raw keeps the stream as
// recorded, and a tee'd capture stays byte for byte.
func TestShowOfASessionToAFileIsWhatAPersonSaw(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	if _, errs, code := w.run(nil, "shell", "--wait", "--", "sh", "-c", `printf '\033[0;38;5;2mgreen\033[0m done\n'`); code != 0 {
		t.Fatalf("calm shell: %s", errs)
	}
	if found := w.ok(nil, "search", "-F", "green done"); !strings.Contains(found, "/s1:") {
		t.Fatalf("search does not find the session's line: %q", found)
	}
	colours := "\x1b[31mred\x1b[0m as piped\n"
	w.ok([]byte(colours), "tee", "-q", "coloured")
	showTo := func(args ...string) string {
		file := filepath.Join(t.TempDir(), "shown")
		f, err := os.Create(file)
		if err != nil {
			t.Fatal(err)
		}
		cmd := w.cmd(append([]string{"show"}, args...)...)
		var errs bytes.Buffer
		cmd.Stdout, cmd.Stderr = f, &errs
		if err := cmd.Run(); err != nil {
			t.Fatalf("calm show %v > file: %v %s", args, err, errs.String())
		}
		f.Close()
		return file
	}
	file := showTo("s1")
	if out, err := exec.Command("grep", "-F", "green done", file).CombinedOutput(); err != nil {
		data, _ := os.ReadFile(file)
		t.Fatalf("grep 'green done' in the file calm show s1 wrote: %v %s; the file holds %q", err, out, data)
	}
	if data, _ := os.ReadFile(file); strings.Contains(string(data), "\x1b") {
		t.Fatalf("calm show s1 > file kept escapes: %q", data)
	}
	if data, _ := os.ReadFile(showTo("--raw", "s1")); !strings.Contains(string(data), "\x1b[0;38;5;2mgreen") {
		t.Fatalf("calm show --raw s1 > file lost the stream's escapes: %q", data)
	}
	if data, _ := os.ReadFile(showTo("c1")); string(data) != colours {
		t.Fatalf("calm show c1 > file of a tee'd capture: %q, want the bytes piped in, %q", data, colours)
	}
}

// TestClipThroughAnXClipboard runs a real X server (Xvfb) with xclip, the
// clipboard tool atotto/clipboard uses on a desktop: calm clip saves what
// another program put there, byte for byte, and clip -o puts a capture back.
func TestClipThroughAnXClipboard(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.extra = append(w.extra, "DISPLAY="+startXvfb(t))

	text := "db.users.find({ _id: ObjectId(\"65f1a2\") })\ncafé \t tabs\n"
	set := exec.Command("xclip", "-selection", "clipboard", "-i")
	set.Env = w.env()
	set.Stdin = strings.NewReader(text)
	// xclip stays behind to serve the selection: no pipes to wait on.
	if err := set.Run(); err != nil {
		t.Fatalf("xclip -i: %v", err)
	}
	if out := w.ok(nil, "clip", "from the desktop"); !strings.Contains(out, "saved the clipboard as") {
		t.Fatalf("clip: %q", out)
	}
	if got := w.ok(nil, "show", "--raw", "c1"); got != text {
		t.Fatalf("the capture holds %q, the clipboard held %q", got, text)
	}

	doc := "{ name: \"original\" }\n"
	w.ok([]byte(doc), "tee", "-q", "doc")
	if _, errs, code := w.run(nil, "clip", "-o", "c2"); code != 0 || !strings.Contains(errs, "copied to the clipboard") {
		t.Fatalf("clip -o: exit %d: %s", code, errs)
	}
	get := exec.Command("xclip", "-selection", "clipboard", "-o")
	get.Env = w.env()
	if out, err := get.Output(); err != nil || string(out) != doc {
		t.Fatalf("the X clipboard holds %q (%v), want %q", out, err, doc)
	}
}

// startXvfb starts an X server of the test's own, with xclip at hand, and
// gives its DISPLAY.
func startXvfb(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"Xvfb", "xclip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing: install it (apt-get install xvfb xclip)", tool)
		}
	}
	r, wfd, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	x := exec.Command("Xvfb", "-displayfd", "3", "-nolisten", "tcp", "-screen", "0", "320x200x8")
	x.ExtraFiles = []*os.File{wfd}
	if err := x.Start(); err != nil {
		t.Fatal(err)
	}
	wfd.Close()
	t.Cleanup(func() { x.Process.Kill(); x.Wait() })
	var display string
	if _, err := fmt.Fscan(r, &display); err != nil {
		t.Fatalf("Xvfb gave no display: %v", err)
	}
	return ":" + display
}

// TestClipSaysWhatIsMissing: a clipboard calm cannot read says which
// part is missing, and saves nothing: no display (over SSH), a display
// that does not answer, or an empty clipboard.
func TestClipSaysWhatIsMissing(t *testing.T) {
	t.Parallel()
	display := startXvfb(t)
	for _, c := range []struct {
		display string
		want    []string
	}{
		{"", []string{"calm clip: no display here (DISPLAY and WAYLAND_DISPLAY are unset", "pipe the text in with 'calm tee'"}},
		{":31999", []string{"calm clip: cannot reach the display DISPLAY=:31999", "pipe the text in with 'calm tee'"}},
		{display, []string{"calm clip: the clipboard is empty: copy the text first, or pipe it in with 'calm tee'"}},
	} {
		w := newWorld(t)
		if c.display != "" {
			w.extra = append(w.extra, "DISPLAY="+c.display)
		}
		out, errs, code := w.run(nil, "clip", "pasted")
		oneLineSaying(t, "clip with DISPLAY="+c.display, errs, c.want...)
		if code != 1 || out != "" || strings.Contains(errs, "exit status") {
			t.Errorf("clip with DISPLAY=%s: exit %d, stdout %q, stderr %q", c.display, code, out, errs)
		}
		if list := w.ok(nil, "incident", "list"); !strings.HasPrefix(list, "no incidents yet") {
			t.Errorf("a clip that read nothing saved something:\n%s", list)
		}
	}
}

// TestClipOutSaysWhatIsMissing: clip -o with a clipboard tool but no
// display, and no terminal for OSC 52, said there was no clipboard tool.
func TestClipOutSaysWhatIsMissing(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok(nil, "incident", "new", "clip out")
	w.ok([]byte("doc\n"), "tee", "-q", "doc")
	_, errs, code := w.run(nil, "clip", "-o", "c1")
	oneLineSaying(t, "clip -o without a display or terminal", errs, "no display here (DISPLAY and WAYLAND_DISPLAY are unset", "no terminal to send OSC 52 to")
	if code != 1 || strings.Contains(errs, "no clipboard tool") {
		t.Fatalf("clip -o without a display or terminal: exit %d, %q", code, errs)
	}
}

// TestALiveSessionIsSearchedAsItWillBeOnceSealed: a session still
// recording was searched line by line, where a Ctrl-L joined the prompt
// before it to the one after ("$ $ echo after"), and the lines found had
// other numbers once the session was sealed: a note's "s1:33" pointed
// elsewhere. It is now read through the emulator while it records too.
func TestALiveSessionIsSearchedAsItWillBeOnceSealed(t *testing.T) {
	t.Parallel()
	slow(t)
	w := newWorld(t)
	w.ok(nil, "incident", "new", "live search")
	tm := newTmux(t)
	tm.start(w.envPrefix() + "PS1='$ ' " + calmBin + " shell -- sh")
	tm.waitFor("$ ", 10*time.Second)
	tm.typeText("for i in 1 2 3 4 5; do echo before-$i; done\n")
	tm.waitFor("before-5", 10*time.Second)
	tm.press("C-l")
	tm.typeText("clear; echo after-clear\n")
	tm.waitFor("after-clear\n", 10*time.Second)
	var live string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if live, _, _ = w.run(nil, "search", "-e", "after-clear", "-e", "before-5", "s1"); strings.Count(live, "\n") >= 3 {
			break
		}
	}
	if strings.Contains(live, "$ $") {
		t.Fatalf("a live search joins lines a terminal shows apart:\n%s", live)
	}
	tm.typeText("exit\n")
	for deadline := time.Now().Add(30 * time.Second); w.captureRecord("s1")["text"] == nil; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("s1 has no derived text 30 s after the shell ended: %v", w.captureRecord("s1"))
		}
	}
	if sealed := w.ok(nil, "search", "-e", "after-clear", "-e", "before-5", "s1"); sealed != live {
		t.Fatalf("search while recording:\n%safter the seal:\n%s", live, sealed)
	}
}

// TestShellTitleIsItsCommandAsTyped: a session is titled with its command
// quoted as a shell reads it back, and the command's exit status passes.
func TestShellTitleIsItsCommandAsTyped(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	_, errs, code := w.run(nil, "shell", "--", "sh", "-c", "echo inner; exit 3")
	want := `sh -c 'echo inner; exit 3'`
	if code != 3 || !strings.Contains(errs, "recording "+want+" to ") {
		t.Fatalf("calm shell: exit %d, stderr %q: want 3 and the title %s", code, errs, want)
	}
	if out := w.ok(nil, "status"); !strings.Contains(out, want) {
		t.Fatalf("status does not title the session %s:\n%s", want, out)
	}
}

// TestShellHidesTheCommandsSecretsFromPs: any user of the machine can read
// a process's arguments (ps, /proc/PID/cmdline). A password on the command
// calm shell runs (mysql -pSECRET) showed in calm's for the whole session;
// now calm writes over it, as mysql does in its own, and runs the command
// as typed.
func TestShellHidesTheCommandsSecretsFromPs(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	script := `tr '\0' ' ' < /proc/$PPID/cmdline; echo; echo "as" "given: $*"`
	out, errs, code := w.run(nil, "shell", "--", "sh", "-c", script, "mysql", "-h", "db1", "-pS3cretPw9", "--password=Zq7hunter", "-e", "select 1")
	if code != 0 {
		t.Fatalf("calm shell: exit %d: %s", code, errs)
	}
	at := strings.LastIndex(out, "as given:")
	if at < 0 {
		t.Fatalf("calm shell's output: %q", out)
	}
	ps, given := out[:at], out[at:]
	if !strings.Contains(ps, "shell -- sh -c") || !strings.Contains(ps, "-pxxxxxxxxx --password=xxxxxxxxx -e select 1") {
		t.Fatalf("calm's command line as others see it: %q", ps)
	}
	if strings.Contains(ps, "S3cretPw9") || strings.Contains(ps, "Zq7hunter") {
		t.Fatalf("calm's command line shows the passwords: %q", ps)
	}
	if !strings.Contains(given, "-h db1 -pS3cretPw9 --password=Zq7hunter -e select 1") {
		t.Fatalf("the command did not get its arguments as typed: %q", given)
	}
}

func TestSecretsInCommandAreTheCommandsOnly(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string // each argument's secret bytes as x
	}{
		{[]string{"calm", "shell", "--", "mysql", "-u", "root", "-pS3cretPw9"}, "calm shell -- mysql -u root -pxxxxxxxxx"},
		{[]string{"calm", "shell", "--", "psql", "postgres://app:Hunter2Pw@db1/orders"}, "calm shell -- psql postgres://app:xxxxxxxxx@db1/orders"},
		{[]string{"calm", "shell", "--", "ls", "-la"}, "calm shell -- ls -la"},
		{[]string{"calm", "search", "--", "-pS3cretPw9"}, "calm search -- -pS3cretPw9"},     // not a command calm runs
		{[]string{"calm", "shell", "mysql", "-pS3cretPw9"}, "calm shell mysql -pS3cretPw9"}, // no --: no command
	} {
		got := append([]string(nil), c.args...)
		for _, r := range secretsInCommand(c.args) {
			got[r.arg] = got[r.arg][:r.start] + strings.Repeat("x", r.end-r.start) + got[r.arg][r.end:]
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("%q: %q, want %q", c.args, strings.Join(got, " "), c.want)
		}
	}
}
