package cli

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	w := newWorld(t)
	tm := newTmux(t)
	tm.start("PS1='db1$ ' bash --norc --noprofile")
	tm.typeText("echo earlier-output; " + w.envPrefix() + calmBin + " split")
	tm.press("Enter")
	tm.waitForPrompt("calm: recording pane", "db1$")
	if !strings.Contains(tm.screen(), "/s1 until it closes") {
		t.Fatalf("split does not name its session: %s", lastLines(tm.screen(), 5))
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
	tm.waitFor("is already recording, as "+inc+"/s1: 'calm split --stop' ends it", 10*time.Second)
	if panes := tm.run("list-panes", "-t", "t"); strings.Count(panes, "\n") != 2 {
		t.Fatalf("a second split opened another pane: %s", panes)
	}
	if caps := w.ok(nil, "status"); strings.Count(caps, "\n") != 3 {
		t.Fatalf("a second split captured again:\n%s", caps)
	}
	tm.typeText(w.envPrefix() + calmBin + " split --stop")
	tm.press("Enter")
	tm.waitFor("session is being sealed", 5*time.Second)
}

// TestSplitInANarrowWindowOpensBelow: a window too narrow to share its
// width gets calm's pane below the shell, not a sliver beside it.
func TestSplitInANarrowWindowOpensBelow(t *testing.T) {
	w := newWorld(t)
	tm := newTmux(t)
	tm.start("bash --norc --noprofile")
	tm.run("resize-window", "-t", "t", "-x", "100", "-y", "50")
	tm.typeText(w.envPrefix() + calmBin + " split")
	tm.press("Enter")
	tm.waitFor("calm: recording pane", 20*time.Second)
	lines := tm.waitForPanes(2)
	if len(lines) != 2 || !strings.HasPrefix(lines[1], "0 ") || strings.HasPrefix(lines[1], "0 0 ") || !strings.HasSuffix(lines[1], " 100") {
		t.Fatalf("want calm's pane below the shell, full width: %q", lines)
	}
	tm.typeText(w.envPrefix() + calmBin + " split --stop")
	tm.press("Enter")
	tm.waitFor("session is being sealed", 5*time.Second)
}
