package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"calm/model"
)

// paneText is what a pane of the test's window shows now.
func (tm *tmux) paneText(index int) string {
	return tm.run("capture-pane", "-p", "-t", "t:0."+string(rune('0'+index)))
}

// waitForPrompt waits until the pane's last line is the prompt again, after
// after: what is typed before it is echoed by the terminal, not the shell.
func (tm *tmux) waitForPrompt(after, prompt string) {
	tm.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		screen := strings.TrimRight(tm.paneText(0), "\n ")
		if i := strings.LastIndex(screen, after); i >= 0 && strings.HasSuffix(screen[i:], "\n"+prompt) {
			return
		}
	}
	tm.t.Fatalf("no prompt after %q:\n%s", after, lastLines(tm.screen(), 10))
}

// waitForPanes waits until the window has n panes and returns their layout.
func (tm *tmux) waitForPanes(n int) []string {
	tm.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		layout := strings.Split(strings.TrimSpace(tm.run("list-panes", "-t", "t", "-F", "#{pane_left} #{pane_top} #{pane_width}")), "\n")
		if len(layout) == n || time.Now().After(deadline) {
			return layout
		}
	}
}

// TestSplitMarksCommandsShowsItsSessionAndRefusesASecond: calm split marks
// a destructive command typed in the recorded pane as calm shell does; the
// pane it opens shows the session it started, live; a second split in the
// same pane says the pane is already recording and opens nothing.
func TestSplitMarksCommandsShowsItsSessionAndRefusesASecond(t *testing.T) {
	t.Parallel()
	slow(t)
	w := newWorld(t)
	tm := newTmux(t)
	tm.start("PS1='db1$ ' bash --norc --noprofile")
	tm.typeText("echo earlier-output; EDITOR=the-persons-editor " + w.envPrefix() + calmBin + " split")
	tm.press("Enter")
	tm.waitForPrompt("calm: recording pane", "db1$")
	if !strings.Contains(tm.screen(), "/s1 until it closes") {
		t.Fatalf("split does not name its session: %s", lastLines(tm.screen(), 5))
	}
	// The pane calm opens runs in tmux's environment: it must still have
	// the person's editor (e and c open it) and folders.
	tm.waitForPanes(2)
	pid := strings.TrimSpace(tm.run("display-message", "-p", "-t", "t.1", "#{pane_pid}"))
	// The pane's process may not have become calm yet (its environment is
	// tmux's until it execs): read it again until it has, or time is up.
	var environ []byte
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		environ, err = os.ReadFile("/proc/" + pid + "/environ")
		ok := err == nil && bytes.Contains(environ, []byte("EDITOR=the-persons-editor\x00")) && bytes.Contains(environ, []byte("CALM_HOME="+w.home+"\x00"))
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("calm's pane (pid %s) lacks the shell's EDITOR or CALM_HOME: %v %q", pid, err, environ)
		}
	}
	gone := filepath.Join(t.TempDir(), "gone")
	tm.typeText("rm -rf " + gone)
	tm.press("Enter")
	tm.typeText("echo after-the-rm")
	tm.press("Enter")
	tm.waitFor("after-the-rm\n", 5*time.Second)

	// calm's pane, beside the shell in this wide window, shows s1 live.
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(tm.paneText(1), "after-the-rm") || !strings.Contains(tm.paneText(1), "s1  live output of pane") {
		if time.Now().After(deadline) {
			t.Fatalf("calm's pane does not show the live session:\n%s", tm.paneText(1))
		}
		time.Sleep(100 * time.Millisecond)
	}
	layout := tm.waitForPanes(2)
	if len(layout) != 2 || !strings.HasPrefix(layout[0], "0 0 ") || strings.HasPrefix(layout[1], "0 ") || !strings.Contains(layout[1], " 0 ") {
		t.Fatalf("want calm's pane beside the shell: %q", layout)
	}

	inc := strings.Fields(w.ok(nil, "status"))[1]
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		md := w.ok(nil, "export", inc, "--format", "md")
		if strings.Contains(md, "| marker | s1 | rm -rf: rm -rf "+gone) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no marker for the rm -rf typed in the recorded pane:\n%s", md)
		}
	}
	if md := w.ok(nil, "export", inc, "--format", "md"); strings.Count(md, "| marker |") != 1 {
		t.Fatalf("want one marker, for the rm -rf alone:\n%s", md)
	}

	tm.typeText(w.envPrefix() + calmBin + " split")
	tm.press("Enter")
	tm.waitFor("is already recording, as "+inc+"/s1: 'calm split --stop' ends it; 'calm' opens the TUI again", 10*time.Second)
	if panes := tm.run("list-panes", "-t", "t"); strings.Count(panes, "\n") != 2 {
		t.Fatalf("a second split opened another pane: %s", panes)
	}
	if caps := w.ok(nil, "status"); strings.Count(caps, " sha256 ") != 2 {
		t.Fatalf("a second split captured again:\n%s", caps)
	}
	tm.typeText(w.envPrefix() + calmBin + " split --stop")
	tm.press("Enter")
	tm.waitFor("session is being sealed", 5*time.Second)
	// Stopped twice: the second says there is nothing to stop.
	tm.typeText(w.envPrefix() + calmBin + " split --stop; echo rc=$?")
	tm.press("Enter")
	tm.waitFor("is not recording: nothing to stop", 5*time.Second)
	tm.waitFor("rc=1", 5*time.Second)
}

// TestSplitInANarrowWindowOpensBelow: a window too narrow to share its
// width gets calm's pane below the shell, not a sliver beside it. The pane
// is %6, not a new server's first pane (%0): its session's title names it
// as it is (tmux's strftime once padded %6 to "    %6").
func TestSplitInANarrowWindowOpensBelow(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tm := newTmux(t)
	tm.start("sleep 600")
	for range 5 {
		tm.run("new-window", "-t", "t:", "sleep 600")
	}
	tm.run("new-window", "-t", "t:", "bash --norc --noprofile")
	tm.run("kill-window", "-a", "-t", "t:6")
	pane := strings.TrimSpace(tm.run("display-message", "-p", "-t", "t", "#{pane_id}"))
	if pane != "%6" {
		t.Fatalf("the pane to split is %s, want %%6", pane)
	}
	tm.run("resize-window", "-t", "t", "-x", "100", "-y", "50")
	tm.typeText(w.envPrefix() + calmBin + " split")
	tm.press("Enter")
	tm.waitFor("calm: recording pane", 20*time.Second)
	lines := tm.waitForPanes(2)
	if len(lines) != 2 || !strings.HasPrefix(lines[1], "0 ") || strings.HasPrefix(lines[1], "0 0 ") || !strings.HasSuffix(lines[1], " 100") {
		t.Fatalf("want calm's pane below the shell, full width: %q", lines)
	}
	tm.waitFor("calm: recording pane "+pane+" as ", 10*time.Second)
	var rec struct{ Title string }
	if err := json.Unmarshal([]byte(w.ok(nil, "show", "--record", "s1")), &rec); err != nil || rec.Title != "live output of pane "+pane {
		t.Fatalf("the split session's title is %q (%v), want %q", rec.Title, err, "live output of pane "+pane)
	}
	tm.typeText(w.envPrefix() + calmBin + " split --stop")
	tm.press("Enter")
	tm.waitFor("session is being sealed", 5*time.Second)
}

// TestSplitMarksEachCommandWhenEnteredAndFollowsThePaneSize: in a pane of a
// tmux server started with -L (its recorder, run by tmux, cannot find the
// server from its environment), each destructive command's marker is when
// its line was entered, not when its prompt was drawn, alike in the store
// and the cast; the session begins at the pane's size and records the pane
// shrinking when calm's pane opens beside it.
func TestSplitMarksEachCommandWhenEnteredAndFollowsThePaneSize(t *testing.T) {
	t.Parallel()
	slow(t)
	w := newWorld(t)
	tm := newTmux(t)
	tm.start("PS1='db1$ ' bash --norc --noprofile")
	paneSize := func() string {
		return strings.Replace(strings.TrimSpace(tm.run("display-message", "-p", "-t", "t:0.0", "#{pane_width} #{pane_height}")), " ", "x", 1)
	}
	before := paneSize()
	tm.typeText(w.envPrefix() + calmBin + " split")
	splitTyped := time.Now()
	tm.press("Enter")
	tm.waitForPrompt("calm: recording pane", "db1$")
	// The session began between the Enter and the split's word that it had.
	recording := time.Now()
	tm.waitForPanes(2)

	gone := filepath.Join(t.TempDir(), "gone")
	commands := []struct{ line, mark string }{
		{"rm -rf " + gone, "rm -rf"},
		{`echo "DROP TABLE orders;"`, "DROP"},
		{`echo 'db.orders.deleteMany({})'`, "Mongo write"},
	}
	// Pauses unlike each other, so that a marker one command late is not
	// as far from the one before as its own command is.
	pauses := []time.Duration{3 * time.Second, 1500 * time.Millisecond, 3 * time.Second}
	var entered []time.Time
	for i, c := range commands {
		time.Sleep(pauses[i])
		tm.typeText(c.line)
		entered = append(entered, time.Now())
		tm.press("Enter")
		tm.waitForPrompt(c.line, "db1$")
	}

	inc := strings.Fields(w.ok(nil, "status"))[1]
	var markers []model.Event
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var export struct{ Events []model.Event }
		if err := json.Unmarshal([]byte(w.ok(nil, "export", inc, "--format", "json")), &export); err != nil {
			t.Fatal(err)
		}
		markers = markers[:0]
		for _, ev := range export.Events {
			if ev.Kind == model.EventMarker {
				markers = append(markers, ev)
			}
		}
		if len(markers) >= len(commands) || time.Now().After(deadline) {
			break
		}
	}
	if len(markers) != len(commands) {
		t.Fatalf("want a marker for each of the %d commands: %+v", len(commands), markers)
	}
	for i, m := range markers {
		if want := commands[i].mark + ": " + commands[i].line; m.Text != want || m.Item != "s1" {
			t.Fatalf("marker %d is %q on %s, want %q on s1", i, m.Text, m.Item, want)
		}
		// Where the session began is known to within the split's run.
		earliest := entered[i].Sub(recording).Seconds() - 1
		latest := entered[i].Sub(splitTyped).Seconds() + 1
		if m.At < earliest || m.At > latest {
			t.Errorf("marker %q at %.3fs, want when its command was entered: between %.3fs and %.3fs", m.Text, m.At, earliest, latest)
		}
		if i > 0 {
			gap, sent := m.At-markers[i-1].At, entered[i].Sub(entered[i-1]).Seconds()
			if gap < sent-1 || gap > sent+1 {
				t.Errorf("markers %d and %d are %.3fs apart; their commands were entered %.3fs apart", i-1, i, gap, sent)
			}
		}
	}

	cast := strings.Split(strings.TrimSpace(w.ok(nil, "export", inc, "--format", "cast", "--item", "s1")), "\n")
	var header struct {
		Width, Height int
		Env           map[string]string
	}
	if err := json.Unmarshal([]byte(cast[0]), &header); err != nil {
		t.Fatal(err)
	}
	// The pane's programs ran under tmux's TERM, not the server's own.
	if want := strings.TrimSpace(tm.run("show-options", "-gv", "default-terminal")); header.Env["TERM"] != want || want == "" {
		t.Errorf("the session's TERM is %q; the pane's is %q", header.Env["TERM"], want)
	}
	if got := fmt.Sprintf("%dx%d", header.Width, header.Height); got != before {
		t.Errorf("the session began at %s, the pane was %s", got, before)
	}
	var castMarks []float64
	lastSize, firstResize := "", -1.0
	for _, line := range cast[1:] {
		var ev []any
		if err := json.Unmarshal([]byte(line), &ev); err != nil || len(ev) != 3 {
			t.Fatalf("cast event %q: %v", line, err)
		}
		switch ev[1] {
		case "m":
			castMarks = append(castMarks, ev[0].(float64))
		case "r":
			lastSize = ev[2].(string)
			if firstResize < 0 {
				firstResize = ev[0].(float64)
			}
		}
	}
	// The split's own resize is in the journal when it happened, not at
	// the first output after it (the first command, 3 s later).
	if firstResize < 0 || firstResize > 2 {
		t.Errorf("the split resized the pane at once; the session's first resize is at %.3fs", firstResize)
	}
	if len(castMarks) != len(markers) {
		t.Fatalf("the cast has %d markers, the store %d", len(castMarks), len(markers))
	}
	for i := range castMarks {
		if castMarks[i] != markers[i].At {
			t.Errorf("marker %d is at %v in the cast, %v in the store", i, castMarks[i], markers[i].At)
		}
	}
	if now := paneSize(); now == before || lastSize != now {
		t.Errorf("the pane went from %s to %s; the session's last resize is %q", before, now, lastSize)
	}
	tm.typeText(w.envPrefix() + calmBin + " split --stop")
	tm.press("Enter")
	tm.waitFor("session is being sealed", 5*time.Second)
}

// gutterTime is the time calm's viewer shows beside the line that is just
// text, in a pane's text.
func gutterTime(t *testing.T, pane, text string) time.Time {
	t.Helper()
	m := regexp.MustCompile(`(\d\d:\d\d:\d\d) +\d+ ` + regexp.QuoteMeta(text) + ` *║`).FindStringSubmatch(pane)
	if m == nil {
		t.Fatalf("no line %q with a time in the viewer:\n%s", text, pane)
	}
	at, _ := time.Parse("15:04:05", m[1])
	return at
}

// TestSplitLinesCarryTheTimeTheirOutputArrived: in a pane recorded by calm
// split, a line printed two seconds after another shows, in calm's pane
// beside it (live) and in the viewer once the session is sealed, a time two
// seconds or more after the first, and the stored session's events say the
// same. The second line is printed only after the test has seen the first
// in the store, then waited: the gap is the test's, not calm's speed.
func TestSplitLinesCarryTheTimeTheirOutputArrived(t *testing.T) {
	t.Parallel() // its own world and tmux server; the gap it checks is a lower bound, which a loaded machine only widens
	w := newWorld(t)
	tm := newTmux(t)
	tm.start("PS1='db1$ ' bash --norc --noprofile")
	tm.typeText(w.envPrefix() + calmBin + " split")
	tm.press("Enter")
	tm.waitForPrompt("calm: recording pane", "db1$")
	tm.waitForPanes(2)
	inc := strings.Fields(w.ok(nil, "status"))[1]

	tm.typeText("echo first-$((6*7)); read -rs; echo second-$((6*7))")
	tm.press("Enter")
	// calm's pane shows what the store holds: once it shows the first
	// line, that line's time is stamped.
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(tm.paneText(1), " first-42"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("calm's pane never showed the first line:\n%s", tm.paneText(1))
		}
	}
	time.Sleep(2 * time.Second)
	tm.press("Enter") // read returns; the second line is printed
	var live string
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(live, " second-42"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("calm's pane never showed the second line:\n%s", live)
		}
		live = tm.paneText(1)
	}
	apart := func(where, pane string) {
		t.Helper()
		first, second := gutterTime(t, pane, "first-42"), gutterTime(t, pane, "second-42")
		if second.Before(first) {
			second = second.Add(24 * time.Hour) // past midnight
		}
		if gap := second.Sub(first); gap < 2*time.Second {
			t.Errorf("%s, the second line shows %s, %s after the first; it was printed 2 s or more after it",
				where, second.Format("15:04:05"), gap)
		}
	}
	apart("live, in calm's pane", live)

	tm.typeText(w.envPrefix() + calmBin + " split --stop")
	tm.press("Enter")
	tm.waitFor("session is being sealed", 5*time.Second)
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var export struct{ Captures []model.Capture }
		if err := json.Unmarshal([]byte(w.ok(nil, "export", inc, "--format", "json")), &export); err != nil {
			t.Fatal(err)
		}
		if len(export.Captures) == 2 && export.Captures[1].ID == "s1" && export.Captures[1].State == model.CaptureSealed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("s1 was never sealed: %+v", export.Captures)
		}
	}
	var at = map[string]float64{}
	for _, line := range strings.Split(strings.TrimSpace(w.ok(nil, "export", inc, "--format", "cast", "--item", "s1")), "\n")[1:] {
		var ev []any
		if err := json.Unmarshal([]byte(line), &ev); err != nil || len(ev) != 3 {
			t.Fatalf("cast event %q: %v", line, err)
		}
		for _, out := range []string{"first-42\r\n", "second-42\r\n"} {
			if data, _ := ev[2].(string); ev[1] == "o" && strings.Contains(data, out) {
				at[out] = ev[0].(float64)
			}
		}
	}
	if gap := at["second-42\r\n"] - at["first-42\r\n"]; len(at) != 2 || gap < 2 {
		t.Errorf("the stored session has the lines' output at %v: want the second 2 s or more after the first", at)
	}

	// The sealed session, opened afresh in the viewer.
	tm.run("new-window", "-d", "-t", "t:1", w.envPrefix()+calmBin+" ui --item s1 "+inc)
	var sealed string
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(sealed, " second-42"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the viewer never showed the sealed session:\n%s", sealed)
		}
		sealed = tm.run("capture-pane", "-p", "-t", "t:1")
	}
	apart("in the viewer of the sealed session", sealed)
}
