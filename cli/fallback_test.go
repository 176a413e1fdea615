package cli

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestTUIShowsTheVerifiedCopyAndSaysSo runs the built binary in a real
// terminal on a store whose copy of the capture is damaged: the viewer
// shows the evidence copy's text, a bar inside the TUI names that copy
// while it runs, and the same line is said again on the terminal once the
// TUI has quit.
func TestTUIShowsTheVerifiedCopyAndSaysSo(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok(nil, "incident", "new", "damaged under the TUI")
	var doc strings.Builder
	for i := range 40 {
		fmt.Fprintf(&doc, "row %02d: the original value\n", i)
	}
	original := doc.String()
	w.ok([]byte(original), "tee", "-q", "the document")
	w.stopAgent()
	flipStored(t, w.storePath(), "c1") // one byte in the middle: row 20
	damaged := []byte(original)
	damaged[len(damaged)/2] ^= 0x20
	at := strings.LastIndexByte(string(damaged[:len(damaged)/2]), '\n') + 1
	damagedRow := string(damaged[at : at+strings.IndexByte(string(damaged[at:]), '\n')])
	originalRow := original[at : at+len(damagedRow)]
	if damagedRow == originalRow {
		t.Fatal("the damage changed nothing")
	}

	tm := newTmux(t)
	tm.start(w.envPrefix() + "sh -c '" + calmBin + "; echo calm exited $?; sleep 60'")
	tm.waitFor(originalRow, 10*time.Second)
	tm.waitFor("using its verified evidence copy", 5*time.Second)
	if strings.Contains(tm.screen(), damagedRow) {
		t.Fatalf("the damaged row %q is on the screen:\n%s", damagedRow, tm.screen())
	}
	tm.press("q")
	tm.press("y")
	tm.waitFor("calm exited 0", 10*time.Second)
	screen := tm.screen()
	after := lastLines(screen[:strings.LastIndex(screen, "calm exited 0")], 4)
	if !strings.Contains(after, "calm: the store's copy of") || !strings.Contains(after, "/c1 does not match its SHA-256") {
		t.Fatalf("the notice is not said again after the TUI quit:\n%s", lastLines(screen, 10))
	}
}
