package terminal

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tmuxDiffers names the workloads where tmux 3.3 and xterm.js disagree,
// and why; calm follows xterm.js, the suite's first reference.
var tmuxDiffers = map[string]string{
	"docker pull, multi-line redraw":                     "tmux ends a soft wrap when the upper row is erased, xterm.js only when the lower one is",
	"readline, long line moved up with ESC M":            "tmux keeps a soft wrap across a later line feed into the lower row, xterm.js ends it",
	"readline, long line edited in the middle":           "the same: a line feed through a soft wrap",
	"recorded bash-readline-screen":                      "the same: a line feed through a soft wrap",
	"recorded bash-readline-tmux-256color":               "the same: a line feed through a soft wrap",
	"recorded bash-readline-linux":                       "the same: a line feed through a soft wrap",
	"recorded bash-readline-xterm":                       "the same: a line feed through a soft wrap",
	"right margin":                                       "tmux moves left from the pending-wrap position as from one column further right",
	"pending wrap, then CR and LF":                       "the same, and a line feed there returns in tmux",
	"both cursor save and restore forms":                 "tmux has no ?1048",
	"tab stops set and cleared":                          "tmux's CBT stops at column 0 past cleared stops",
	"line drawing (DEC special graphics)":                "capture-pane prints line drawing as the letters that select it",
	"DECSTR soft reset":                                  "tmux has no DECSTR",
	"DCS cancelled by SUB, C1 controls written as UTF-8": "tmux reads a DCS on past SUB to its ST, and shows C1 controls written as UTF-8 as text",
}

// tmuxComparable is whether tmux's history is calm's on a workload: tmux
// keeps a screen erased from the top in its history as calm does (its
// scroll-on-clear), but ESC[3J and RIS erase its history, it keeps no last
// screen of a full-screen program, and it reflows on a resize.
func tmuxComparable(w *workload) bool {
	if tmuxDiffers[w.Name] != "" {
		return false
	}
	var all bytes.Buffer
	for _, ev := range w.Events {
		if ev[0] != "o" {
			return false
		}
		data, _ := base64.StdEncoding.DecodeString(ev[1])
		all.Write(data)
	}
	s := all.String()
	for _, seq := range []string{"\x1b[3J", "\x1bc", "\x1b[?1049h", "\x1b[?1047h", "\x1b[?47h", "\x1b[?1049;", "\x1b[?47;"} {
		if strings.Contains(s, seq) {
			return false
		}
	}
	return true
}

// TestEmulatorMatchesTmux runs the workloads tmux can judge through a real
// tmux (a private server), the bytes written to its pane unchanged (stty
// -opost), and compares its history and screen with calm's text.
func TestEmulatorMatchesTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: runs without -short")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") == "" {
			t.Skip("tmux is not installed")
		}
		t.Fatal("tmux is not installed, and CI is set: install it (.ci/run does)")
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "tmux.conf")
	os.WriteFile(conf, []byte("set -g history-limit 100000\nset -g remain-on-exit on\n"), 0o600)
	socket := fmt.Sprintf("calm-emu-%d", os.Getpid())
	tmux := func(args ...string) (string, error) {
		out, err := exec.Command("tmux", append([]string{"-L", socket, "-f", conf}, args...)...).CombinedOutput()
		return string(out), err
	}
	defer tmux("kill-server")
	// A session that stays, so the server does not exit between workloads.
	if out, err := tmux("new-session", "-d", "-s", "keep", "sleep 600"); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	n := 0
	for _, w := range conformanceWorkloads() {
		if !tmuxComparable(w) {
			continue
		}
		n++
		t.Run(w.Name, func(t *testing.T) {
			var raw bytes.Buffer
			for _, ev := range w.Events {
				data, _ := base64.StdEncoding.DecodeString(ev[1])
				raw.Write(data)
			}
			file := filepath.Join(dir, fmt.Sprintf("w%d", n))
			os.WriteFile(file, raw.Bytes(), 0o600)
			name := fmt.Sprintf("w%d", n)
			cmd := fmt.Sprintf("stty -opost; cat %s; printf '\\033]2;CALM-DONE\\007'; sleep 60", file)
			if out, err := tmux("new-session", "-d", "-s", name, "-x", fmt.Sprint(w.Cols), "-y", fmt.Sprint(w.Rows), "sh", "-c", cmd); err != nil {
				t.Fatalf("tmux new-session: %v: %s", err, out)
			}
			defer tmux("kill-session", "-t", name)
			deadline := time.Now().Add(20 * time.Second)
			for {
				title, _ := tmux("display-message", "-p", "-t", name, "#{pane_title}")
				if strings.TrimSpace(title) == "CALM-DONE" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("tmux never finished the workload (pane title %q)", title)
				}
				time.Sleep(20 * time.Millisecond)
			}
			shown, err := tmux("capture-pane", "-p", "-J", "-S", "-", "-E", "-", "-t", name)
			if err != nil {
				t.Fatalf("tmux capture-pane: %v: %s", err, shown)
			}
			ref := trimTrailingEmpty(strings.Split(strings.TrimSuffix(shown, "\n"), "\n"))
			got := comparable(w.derive())
			if d := firstDifference(got, ref); d != "" {
				t.Fatal(strings.ReplaceAll(d, "xterm", "tmux "))
			}
		})
	}
	if n < 15 {
		t.Fatalf("only %d workloads for tmux, want at least 15", n)
	}
}
