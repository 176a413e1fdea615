package cli

import (
	"testing"
	"time"
)

// TestTUIFirstScreenAndCtrlCInARealTerminal runs the built binary in tmux at
// 90 columns: the first screen says what to do next, ctrl-c asks before
// quitting (in a prompt too), and a prompt's text survives esc and the
// quit dialog.
func TestTUIFirstScreenAndCtrlCInARealTerminal(t *testing.T) {
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
