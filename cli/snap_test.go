package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSnapOfAFullHistorySaysOlderLinesAreGone: with tmux's default
// history-limit (2000), a pane that printed more has already lost its oldest
// lines; snap saves what is left and says so, and the capture carries the
// warning for the TUI and the status.
func TestSnapOfAFullHistorySaysOlderLinesAreGone(t *testing.T) {
	w := newWorld(t)
	tm := newTmux(t)
	conf := filepath.Join(t.TempDir(), "tmux.conf")
	os.WriteFile(conf, []byte("set -g history-limit 2000\nset -g remain-on-exit on\n"), 0o600)
	tm.run("-f", conf, "new-session", "-d", "-s", "t", "-x", "120", "-y", "40", "bash --norc --noprofile")
	tm.typeText("seq 1 5000; " + w.envPrefix() + calmBin + " snap full; echo snapped-$((40+2))")
	tm.press("Enter")
	tm.waitFor("snapped-42", 20*time.Second) // not the typed command line
	screen := tm.screen()
	if !strings.Contains(screen, "WARNING: pane") || !strings.Contains(screen, "history-limit") {
		t.Fatalf("snap of a full history gave no warning; the pane shows:\n%s", lastLines(screen, 10))
	}
	rec := w.captureRecord("c1")
	if !strings.Contains(fmt.Sprint(rec["warning"]), "history is full") {
		t.Fatalf("the capture does not carry the warning: %v", rec["warning"])
	}
	if status := w.ok(nil, "status"); !strings.Contains(status, "WARNING: pane") {
		t.Fatalf("status does not show the warning:\n%s", status)
	}

	// A pane with room left: no warning.
	tm.run("new-window", "-t", "t", "bash --norc --noprofile")
	tm.run("send-keys", "-t", "t:1", "-l", "seq 1 50; "+w.envPrefix()+calmBin+" snap small 2>&1 | tee "+filepath.Join(t.TempDir(), "x")+"; echo done-$((40+2))\n")
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(tm.run("capture-pane", "-p", "-t", "t:1"), "done-42") {
		if time.Now().After(deadline) {
			t.Fatal("the second snap never finished")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out := tm.run("capture-pane", "-p", "-t", "t:1"); strings.Contains(out, "WARNING") {
		t.Fatalf("a pane with room left was warned about:\n%s", out)
	}
}

// TestFailedSnapCreatesNoCapture: a pane tmux cannot read saves nothing and
// leaves no empty capture "still recording".
func TestFailedSnapCreatesNoCapture(t *testing.T) {
	w := newWorld(t)
	w.ok(nil, "incident", "new", "snap fails")
	tm := newTmux(t)
	tm.start("sleep 60")
	// A pane that does not exist, on a server that does.
	cmd := w.cmd("snap", "-t", "%999")
	cmd.Env = append(cmd.Env, "TMUX=/tmp/"+tm.socket+",1,0")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "nothing was saved") {
		t.Fatalf("snap of a missing pane: %v: %s", err, out)
	}
	if status := w.ok(nil, "status"); strings.Contains(status, " c1 ") {
		t.Fatalf("a failed snap left a capture:\n%s", status)
	}
}
