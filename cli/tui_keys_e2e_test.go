package cli

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestTUIFirstScreenAndCtrlCInARealTerminal runs the built binary in tmux at
// 90 columns: the first screen says what to do next, ctrl-c asks before
// quitting (in a prompt too), and a prompt's text survives esc and the
// quit dialog.
func TestTUIFirstScreenAndCtrlCInARealTerminal(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok(nil, "incident", "new", "orders overwritten")
	tm := newTmux(t)
	tm.start(w.envPrefix() + " sh -c '" + calmBin + "; echo calm exited $?; sleep 60'")
	tm.run("resize-window", "-t", "t", "-x", "90", "-y", "30")
	tm.waitFor("Nothing captured in this incident yet", 10*time.Second)
	tm.waitFor(`cmd | calm tee "title"`, 5*time.Second)
	tm.waitFor("q quit", 5*time.Second)

	tm.press("C-c")
	tm.waitFor("Quit calm?", 5*time.Second)
	tm.press("n")
	tm.press("/")
	tm.waitFor("find:", 5*time.Second)
	tm.typeText("needle")
	tm.press("Escape")
	tm.press("/")
	tm.waitFor("find: needle", 5*time.Second)
	tm.press("C-c")
	tm.waitFor("Quit calm?", 5*time.Second)
	tm.press("n")
	tm.typeText("s")
	tm.press("Enter")
	tm.waitFor(`"needles": no match`, 5*time.Second)

	tm.press("C-c")
	tm.waitFor("Quit calm?", 5*time.Second)
	tm.press("y")
	tm.waitFor("calm exited 0", 5*time.Second)
}

// TestTUIOnAnEmptyStoreMakesNoIncident: a first look at calm (the README's
// "calm" alone) must not leave an "incident at …" behind.
func TestTUIOnAnEmptyStoreMakesNoIncident(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tm := newTmux(t)
	tm.start(w.envPrefix() + " sh -c '" + calmBin + "; echo calm exited $?; sleep 60'")
	tm.waitFor("No incident yet", 10*time.Second)
	tm.waitFor(`calm incident new "what happened"`, 5*time.Second)
	tm.press("q")
	tm.waitFor("Quit calm?", 5*time.Second)
	tm.press("y")
	tm.waitFor("calm exited 0", 5*time.Second)
	if out := w.ok(nil, "incident", "list", "--json"); strings.TrimSpace(out) != "" && strings.TrimSpace(out) != "[]" {
		t.Fatalf("looking at an empty store made an incident:\n%s", out)
	}
}

// TestSignalledTUIGivesTheTerminalBack: SIGTERM or SIGHUP (a closing ssh
// session, a kill) ended the TUI with the terminal left in the alternate
// screen, mouse reporting on and the cursor hidden, so clicks typed escape
// junk at the shell. The terminal is given back first.
func TestSignalledTUIGivesTheTerminalBack(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok(nil, "incident", "new", "signals")
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGHUP} {
		tm := newTmux(t)
		tm.start(w.envPrefix() + " sh -c '" + calmBin + "; echo calm exited $?; sleep 60'")
		tm.waitFor("q quit", 10*time.Second)
		if flags := strings.TrimSpace(tm.run("display", "-p", "-t", "t", "#{alternate_on} #{mouse_any_flag}")); flags != "1 1" {
			t.Fatalf("the TUI runs with alternate screen and mouse flags %q", flags)
		}
		tty := strings.TrimPrefix(strings.TrimSpace(tm.run("display", "-p", "-t", "t", "#{pane_tty}")), "/dev/")
		out, err := exec.Command("pgrep", "-t", tty, "-x", filepath.Base(calmBin)).Output()
		pid, _ := strconv.Atoi(strings.TrimSpace(string(out)))
		if err != nil || pid == 0 {
			t.Fatalf("no calm on the pane's terminal %s: %v %q", tty, err, out)
		}
		syscall.Kill(pid, sig)
		tm.waitFor(fmt.Sprintf("calm exited %d", 128+int(sig)), 10*time.Second)
		if flags := strings.TrimSpace(tm.run("display", "-p", "-t", "t", "#{alternate_on} #{mouse_any_flag} #{cursor_flag}")); flags != "0 0 1" {
			t.Fatalf("after %v the terminal's alternate screen, mouse and cursor flags are %q, want 0 0 1", sig, flags)
		}
	}
}

// TestPastedLinesStayTextInARealTerminal: tmux pastes as a terminal does
// (paste-buffer -p: bracketed, since calm asks for it). The lines pasted
// into the find prompt stay in it as one line; pasted with no prompt open,
// nothing happens. Before, the pasted line break ran the prompt and a t on
// the next line ticked the checklist's step.
func TestPastedLinesStayTextInARealTerminal(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok(nil, "incident", "new", "paste")
	tm := newTmux(t)
	tm.start(w.envPrefix() + " sh -c '" + calmBin + "; echo calm exited $?; sleep 60'")
	tm.run("resize-window", "-t", "t", "-x", "120", "-y", "30")
	tm.waitFor("q quit", 10*time.Second)
	paste := func(text string) {
		tm.run("set-buffer", "-b", "p", text)
		tm.run("paste-buffer", "-p", "-b", "p", "-t", "t")
	}
	tm.press("/")
	tm.waitFor("find:", 5*time.Second)
	paste("line 5\nt\nq\n")
	tm.waitFor("find: line 5 t q", 5*time.Second)
	tm.press("Escape")
	tm.waitFor("q quit", 5*time.Second) // the prompt put away, and esc read as itself
	paste("t\nq\n")
	tm.waitFor("pasted text is not keys", 5*time.Second)
	if screen := tm.screen(); strings.Contains(screen, "Quit calm?") {
		t.Fatalf("a pasted q asked to quit:\n%s", screen)
	}
	if out := w.ok(nil, "steps"); !strings.Contains(out, "0 of 11 steps done") {
		t.Fatalf("a paste ticked a step:\n%s", out)
	}
	tm.press("q")
	tm.waitFor("Quit calm?", 5*time.Second)
	tm.press("y")
	tm.waitFor("calm exited 0", 5*time.Second)
}
