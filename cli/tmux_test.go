package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var tmuxServers atomic.Int64

// tmux is a private tmux server for one test, driven as a person would.
type tmux struct {
	t      *testing.T
	socket string
}

func newTmux(t *testing.T) *tmux {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is missing: install it (apt-get install tmux)")
	}
	tm := &tmux{t: t, socket: fmt.Sprintf("calm-test-%d-%d", os.Getpid(), tmuxServers.Add(1))}
	t.Cleanup(func() { exec.Command("tmux", "-L", tm.socket, "kill-server").Run() })
	return tm
}

func (tm *tmux) run(args ...string) string {
	tm.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", tm.socket}, args...)...).CombinedOutput()
	if err != nil {
		tm.t.Fatalf("tmux %v: %v: %s", args, err, out)
	}
	return string(out)
}

// start opens a 200x50 session running command, kept on screen after it exits.
func (tm *tmux) start(command string) {
	conf := filepath.Join(tm.t.TempDir(), "tmux.conf")
	os.WriteFile(conf, []byte("set -g history-limit 300000\nset -g remain-on-exit on\nset -g set-clipboard on\n"), 0o600)
	tm.run("-f", conf, "new-session", "-d", "-s", "t", "-x", "200", "-y", "50", "sh", "-c", "sleep 0.3; "+command)
}

func (tm *tmux) typeText(s string) { tm.run("send-keys", "-t", "t", "-l", s) }
func (tm *tmux) press(keys ...string) {
	tm.run(append([]string{"send-keys", "-t", "t"}, keys...)...)
}

// screen is the pane's whole history and screen, wrapped lines joined.
func (tm *tmux) screen() string {
	return tm.run("capture-pane", "-p", "-J", "-t", "t", "-S", "-", "-E", "-")
}

// waitFor waits until the pane shows s.
func (tm *tmux) waitFor(s string, within time.Duration) {
	tm.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if strings.Contains(tm.screen(), s) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	tm.t.Fatalf("the pane never showed %q; it shows:\n%s", s, lastLines(tm.screen(), 20))
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// envPrefix renders a world's environment for a command run inside tmux.
func (w *world) envPrefix() string {
	var b strings.Builder
	b.WriteString("env")
	for _, kv := range w.env() {
		b.WriteString(" '" + strings.ReplaceAll(kv, "'", `'\''`) + "'")
	}
	return b.String() + " "
}
