package cli

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// runWithTerminalStderr runs calm with its stderr on a real PTY (stdin and
// stdout plain pipes) and returns stdout and everything the terminal got.
func (w *world) runWithTerminalStderr(args ...string) (string, string) {
	w.t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		w.t.Fatal(err)
	}
	defer master.Close()
	pty.Setsize(master, &pty.Winsize{Rows: 24, Cols: 120})
	c := w.cmd(args...)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, slave
	got := make(chan []byte)
	go func() {
		var b bytes.Buffer
		io.Copy(&b, master) // ends with EIO once the slave is closed
		got <- b.Bytes()
	}()
	if err := c.Run(); err != nil {
		if _, exited := err.(*exec.ExitError); !exited {
			w.t.Fatalf("calm %v: %v", args, err)
		}
	}
	slave.Close()
	return out.String(), string(<-got)
}

// TestLongWorkShowsProgressOnATerminalOnly: export, bundle, verify and
// search draw a progress bar on stderr when it is a terminal, and write
// nothing of it when stderr is piped.
func TestLongWorkShowsProgressOnATerminalOnly(t *testing.T) {
	t.Parallel()
	slow(t)
	w := newWorld(t)
	w.ok(nil, "incident", "new", "large incident")
	w.ok(shellText(2<<20+4096, 1), "tee", "-q", "big dump") // three chunks
	w.ok(shellText(512<<10, 2), "tee", "-q", "another")
	inc := strings.Fields(w.ok(nil, "status"))[1]
	bundle := filepath.Join(t.TempDir(), "b.tar.gz")
	cases := []struct {
		args []string
		bar  string
	}{
		{[]string{"export", inc, "--format", "bundle", "-o", bundle, "--force"}, "calm: exporting " + inc},
		{[]string{"export", inc, "--format", "txt"}, "calm: exporting " + inc},
		{[]string{"verify", inc}, "calm: verifying copies"},
		{[]string{"search", "-F", "no such text anywhere"}, "calm: searching"},
	}
	for _, c := range cases {
		name := strings.Join(c.args[:1], " ")
		_, errs, _ := w.run(nil, c.args...)
		if strings.Contains(errs, c.bar) || strings.ContainsAny(errs, "\r\x1b") {
			t.Errorf("%s with stderr piped drew progress: %q", name, errs)
		}
		out, term := w.runWithTerminalStderr(c.args...)
		if !strings.Contains(term, c.bar) || !strings.Contains(term, "\r") {
			t.Errorf("%s on a terminal shows no progress: %q", name, term)
		}
		if strings.Contains(out, c.bar) {
			t.Errorf("%s drew progress on stdout", name)
		}
		if strings.Contains(term, "/-)") {
			t.Errorf("%s counts against an unknown total: %q", name, term)
		}
	}
	// The bar leaves its line clean: the last thing on the terminal after a
	// bundle is calm's own line about the file.
	_, term := w.runWithTerminalStderr("export", inc, "--format", "bundle", "-o", bundle, "--force")
	term = strings.ReplaceAll(term, "\r\n", "\n") // the terminal's own line ends
	last := term[strings.LastIndex(term, "\r")+1:]
	if !strings.HasPrefix(strings.TrimSpace(last), "calm: wrote "+bundle) {
		t.Errorf("after the bar: %q", last)
	}
}

// TestPushPullAndSalvageShowProgressOnATerminalOnly: push (bundling, then
// uploading), pull (downloading) and a salvage draw on a terminal, and
// write nothing of it to a pipe.
func TestPushPullAndSalvageShowProgressOnATerminalOnly(t *testing.T) {
	t.Parallel()
	endpoint, _ := startVersity(t)
	w := s3World(t, endpoint)
	w.ok(nil, "incident", "new", "orders overwritten")
	w.ok(shellText(2<<20, 3), "tee", "-q", "before")
	inc := strings.Fields(w.ok(nil, "status"))[1]
	object := "s3://calm/team/bundles/" + inc + ".tar.gz"
	other := s3World(t, endpoint)
	salvaged := filepath.Join(t.TempDir(), "salvaged", "calm.db")
	for _, c := range []struct {
		w    *world
		args []string
		bars []string
	}{
		{w, []string{"push", inc}, []string{"calm: bundling " + inc, "calm: uploading"}},
		{other, []string{"pull", object}, []string{"calm: downloading"}},
		{w, []string{"doctor", "--salvage", salvaged}, []string{"calm: salvaging"}},
	} {
		_, errs, code := c.w.run(nil, c.args...)
		if code != 0 || strings.ContainsAny(errs, "\r\x1b") {
			t.Errorf("%s with stderr piped: exit %d, drew progress: %q", c.args[0], code, errs)
		}
		os.RemoveAll(filepath.Dir(salvaged))
		_, term := c.w.runWithTerminalStderr(c.args...)
		for _, bar := range c.bars {
			if !strings.Contains(term, bar+" ") || !strings.Contains(term, "\r") {
				t.Errorf("%s on a terminal does not show %q: %q", c.args[0], bar, term)
			}
		}
	}
}

// TestCtrlCTakesTheBarOffAndSaysSo: Ctrl-C on a search the agent is slow
// to answer left "⠙ calm: searching (0/-)" above the prompt, with no word
// of what happened.
func TestCtrlCTakesTheBarOffAndSaysSo(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok(nil, "incident", "new", "a slow search")
	w.ok([]byte("a line\n"), "tee", "-q", "something")
	pid := w.agentPID()
	if pid == 0 {
		t.Fatal("no agent")
	}
	syscall.Kill(pid, syscall.SIGSTOP) // the search waits on it
	defer syscall.Kill(pid, syscall.SIGCONT)
	tm := newTmux(t)
	tm.start("PS1='ready> ' bash --norc --noprofile")
	tm.waitFor("ready> ", 10*time.Second)
	tm.typeText(w.envPrefix() + calmBin + " search needle; echo exit=$?")
	tm.press("Enter")
	tm.waitFor("calm: searching", 10*time.Second)
	tm.press("C-c")
	tm.waitFor("exit=130", 10*time.Second)
	screen := tm.screen()
	if !strings.Contains(screen, "calm: searching: interrupted by SIGINT") {
		t.Fatalf("Ctrl-C during the bar says nothing:\n%s", lastLines(screen, 8))
	}
	for _, l := range strings.Split(screen, "\n") {
		if strings.Contains(l, "(0/-)") || strings.Contains(l, "⠙") {
			t.Fatalf("the bar is left on screen: %q\n%s", l, lastLines(screen, 8))
		}
	}
}

// TestANoticeTakesTheSpinnerOff: a notice during a search (a capture still
// being written) went on the spinner's line: "⠋ calm: searching  [0s]
// calm: INC/c1 is still being written: ...".
func TestANoticeTakesTheSpinnerOff(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok(nil, "incident", "new", "live tee")
	tee := w.cmd("tee", "-q", "still arriving")
	in, err := tee.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	tee.Stdout = io.Discard
	if err := tee.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { in.Close(); tee.Wait() }()
	io.WriteString(in, "first line\nsecond line\n")
	deadline := time.Now().Add(20 * time.Second)
	for out, _, _ := w.run(nil, "show", "c1"); !strings.Contains(out, "first line"); out, _, _ = w.run(nil, "show", "c1") {
		if time.Now().After(deadline) {
			t.Fatal("the tee's first lines never reached the store")
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, term := w.runWithTerminalStderr("search", "-F", "line")
	for _, line := range strings.Split(strings.ReplaceAll(term, "\r\n", "\n"), "\n") {
		if !strings.Contains(line, "still being written") {
			continue
		}
		if shown := line[strings.LastIndex(line, "\r")+1:]; !strings.HasPrefix(shown, "calm: ") {
			t.Fatalf("the notice shares its line with the spinner: %q", shown)
		}
		return
	}
	t.Fatalf("no notice of the capture being written: %q", term)
}
