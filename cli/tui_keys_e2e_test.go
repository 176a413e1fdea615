package cli

import (
	"strings"
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
