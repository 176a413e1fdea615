package cli

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"calm/terminal"
)

// TestSnapOfAFullHistorySaysOlderLinesAreGone: with tmux's default
// history-limit (2000), a pane that printed more has already lost its oldest
// lines; snap saves what is left and says so, and the capture carries the
// warning for the TUI and the status.
func TestSnapOfAFullHistorySaysOlderLinesAreGone(t *testing.T) {
	t.Parallel()
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
	tm.run("new-window", "-t", "t:", "bash --norc --noprofile")
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

// TestSnapKeepsWhatAFullScreenProgramHides: with less, vim or top up in a
// pane, capture-pane's history and screen skip the rows that were on the
// normal screen when the program started (tmux keeps them aside for its
// return); a document printed just before "less" lost its last screenful.
// Snap saves the history, those rows, then the program's screen, in order.
func TestSnapKeepsWhatAFullScreenProgramHides(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tm := newTmux(t)
	tm.start(`seq 1 300 | sed s/^/row-/; printf '\033[?1049h\033[H\033[2Jthe full-screen view\n'; sleep 60`)
	for deadline := time.Now().Add(10 * time.Second); strings.TrimSpace(tm.run("display-message", "-p", "-t", "t", "#{alternate_on}")) != "1"; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the pane never went to the alternate screen")
		}
	}
	pane := strings.TrimSpace(tm.run("display-message", "-p", "-t", "t", "#{pane_id}"))
	snap := w.cmd("snap", "-t", pane, "hidden rows")
	snap.Env = append(snap.Env, "TMUX="+strings.TrimSpace(tm.run("display-message", "-p", "#{socket_path}"))+",0,0")
	out, err := snap.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "full-screen program") {
		t.Fatalf("snap: %v: %s", err, out)
	}
	var rows []string
	view := -1
	for i, line := range trimLines(w.ok(nil, "show", "c1")) {
		if strings.HasPrefix(line, "row-") {
			rows = append(rows, line)
		}
		if line == "the full-screen view" {
			view = i
		}
	}
	if len(rows) != 300 || rows[299] != "row-300" || view < 300 {
		t.Fatalf("the capture holds %d rows (the last %q), the program's screen at line %d", len(rows), rows[len(rows)-1], view)
	}
	for i, r := range rows {
		if r != fmt.Sprintf("row-%d", i+1) {
			t.Fatalf("row %d is %q", i+1, r)
		}
	}
}

// TestSnapSaysWhenAFullScreenProgramStartsMidRead: tmux reads each range
// of a pane at once, not the parts of a snap together. A program that
// takes the alternate screen between them (here, as tmux is asked for the
// pane's text) hides rows from the snap: it is sealed interrupted, saying
// so, rather than passing for the whole pane.
func TestSnapSaysWhenAFullScreenProgramStartsMidRead(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tm := newTmux(t)
	tm.start("seq 1 60 | sed s/^/row-/; exec sh")
	tm.waitFor("row-60", 10*time.Second)
	realTmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Fatal(err)
	}
	pane := strings.TrimSpace(tm.run("display-message", "-p", "-t", "t", "#{pane_id}"))
	dir := t.TempDir()
	hook := fmt.Sprintf(`#!/bin/sh
case "$*" in *capture-pane*)
	if [ ! -e %[1]s/hooked ]; then
		: > %[1]s/hooked
		%[2]s send-keys -t %[3]s "printf '\033[?1049hthe program\n'; sleep 60" Enter
		while [ "$(%[2]s display-message -p -t %[3]s '#{alternate_on}')" != 1 ]; do sleep 0.05; done
	fi;;
esac
exec %[2]s "$@"
`, dir, realTmux, pane)
	os.WriteFile(filepath.Join(dir, "tmux"), []byte(hook), 0o700)
	snap := w.cmd("snap", "-t", pane, "mid-read")
	snap.Env = append(snap.Env, "TMUX="+strings.TrimSpace(tm.run("display-message", "-p", "#{socket_path}"))+",0,0", "PATH="+dir+":"+os.Getenv("PATH"))
	out, err := snap.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "started or left in pane "+pane+" while calm read it") {
		t.Fatalf("snap: %v: %s", err, out)
	}
	if rec := w.captureRecord("c1"); rec["state"] != "sealed" || !strings.Contains(fmt.Sprint(rec["interrupted"]), "rows may be missing") {
		t.Fatalf("the capture is %v, interrupted %v", rec["state"], rec["interrupted"])
	}
}

// TestSnapOfAPaneWithoutHistorySaysSo: history-limit 0 keeps nothing that
// scrolled off: the snap warned only of a full history, and was silent here.
func TestSnapOfAPaneWithoutHistorySaysSo(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tm := newTmux(t)
	conf := filepath.Join(t.TempDir(), "tmux.conf")
	os.WriteFile(conf, []byte("set -g history-limit 0\nset -g remain-on-exit on\n"), 0o600)
	tm.run("-f", conf, "new-session", "-d", "-s", "t", "-x", "120", "-y", "20", "bash --norc --noprofile")
	tm.typeText("seq 1 100; " + w.envPrefix() + calmBin + " snap none; echo snapped-$((40+2))")
	tm.press("Enter")
	tm.waitFor("snapped-42", 20*time.Second)
	if rec := w.captureRecord("c1"); !strings.Contains(fmt.Sprint(rec["warning"]), "keeps no history") {
		t.Fatalf("the capture of a pane without history carries no warning: %v", rec["warning"])
	}
}

// TestFailedSnapCreatesNoCapture: a pane tmux cannot read saves nothing and
// leaves no empty capture "still recording".
func TestFailedSnapCreatesNoCapture(t *testing.T) {
	t.Parallel()
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
	// Outside tmux, with no default server: where it asked, and what to do.
	cmd = w.cmd("snap", "-t", "%1")
	cmd.Env = append(cmd.Env, "TMUX=", "TMUX_TMPDIR="+t.TempDir())
	out, err = cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no tmux server answers here") || !strings.Contains(string(out), "in a pane of that tmux session") {
		t.Fatalf("snap -t outside tmux with no server: %v: %s", err, out)
	}
}

// TestCtrlCOnSnapSealsWhatArrived presses Ctrl-C, through the terminal, on
// calm snap of a long history, at random moments: every capture ends sealed,
// either whole or interrupted by SIGINT with what arrived (a prefix of the
// whole snap), each interrupted one said in one line, and verify passes.
func TestCtrlCOnSnapSealsWhatArrived(t *testing.T) {
	t.Parallel()
	slow(t)
	w := newWorld(t)
	w.ok(nil, "incident", "new", "snap interrupted")
	tm := newTmux(t)
	tm.start("PS1='ready> ' bash --norc --noprofile")
	tm.run("new-window", "-d", "-t", "t:", "sh -c 'seq 1 150000; exec sleep 600'")
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(tm.run("capture-pane", "-p", "-t", "t:1"), "150000") {
		if time.Now().After(deadline) {
			t.Fatal("the history pane never finished printing")
		}
		time.Sleep(50 * time.Millisecond)
	}
	snap := w.envPrefix() + calmBin + " snap -t t:1"
	tm.waitFor("ready> ", 10*time.Second)
	tm.typeText(snap + " whole; echo snap-$((40+2))")
	tm.press("Enter")
	tm.waitFor("snap-42", 30*time.Second)
	whole := w.ok(nil, "show", "--raw", "c1")
	r := faultRand(t)
	runs := faultRuns()
	order := r.Perm(runs)
	for run := range runs {
		tm.typeText(fmt.Sprintf("%s run-%d", snap, run))
		tm.press("Enter")
		time.Sleep(time.Duration(spread(r, order, run, 0, 400)) * time.Millisecond)
		tm.press("C-c")
		deadline := time.Now().Add(30 * time.Second)
		for exec.Command("pgrep", "-f", calmBin+" snap -t t:1").Run() == nil {
			if time.Now().After(deadline) {
				t.Fatal("calm snap did not end after Ctrl-C")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	said := strings.Count(tm.screen(), "calm: interrupted by SIGINT (Ctrl-C): saved")
	interrupted, complete := 0, 0
	for i := 2; i <= runs+1; i++ {
		id := fmt.Sprintf("c%d", i)
		if _, _, code := w.run(nil, "show", "--record", id); code != 0 {
			continue // Ctrl-C before snap made its capture
		}
		rec := w.captureRecord(id)
		if rec["state"] != "sealed" {
			t.Fatalf("%s is %v after Ctrl-C", id, rec["state"])
		}
		got := w.ok(nil, "show", "--raw", id)
		switch {
		case rec["interrupted"] != nil:
			interrupted++
			if !strings.HasPrefix(whole, got) {
				t.Fatalf("interrupted %s (%d bytes) is not a prefix of the whole snap (%d bytes)", id, len(got), len(whole))
			}
			if !strings.Contains(fmt.Sprint(rec["interrupted"]), "SIGINT") {
				t.Fatalf("%s was interrupted by %v, not Ctrl-C", id, rec["interrupted"])
			}
		case got == whole:
			complete++
		default:
			t.Fatalf("%s holds %d bytes, sealed as whole; the whole snap holds %d", id, len(got), len(whole))
		}
	}
	t.Logf("%d runs: %d interrupted, %d complete", runs, interrupted, complete)
	if said != interrupted {
		t.Fatalf("%d captures were interrupted, %d said so", interrupted, said)
	}
	if out, errs, code := w.run(nil, "verify"); code != 0 {
		t.Fatalf("verify: %s %s", out, errs)
	}
}

// TestCtrlCAtTheClosedIncidentQuestionSaysNothingWasSaved: Ctrl-C at
// snap's question about a closed current incident leaves with one line
// saying nothing was saved, and exit 130; nothing was saved, and the
// incident stays closed.
func TestCtrlCAtTheClosedIncidentQuestionSaysNothingWasSaved(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok(nil, "incident", "new", "done with")
	w.ok(nil, "incident", "close")
	tm := newTmux(t)
	tm.start("PS1='ready> ' bash --norc --noprofile")
	tm.waitFor("ready> ", 10*time.Second)
	tm.typeText(w.envPrefix() + calmBin + " snap; echo exit=$?")
	tm.press("Enter")
	tm.waitFor("or save into it as closed [s]? [r] ", 10*time.Second)
	tm.press("C-c")
	tm.waitFor("exit=130", 10*time.Second)
	screen := tm.screen()
	if !strings.Contains(screen, "[r] ^C\ncalm snap: interrupted by SIGINT (Ctrl-C) at the question: nothing was saved\nexit=130") {
		t.Fatalf("Ctrl-C at the question:\n%s", lastLines(screen, 6))
	}
	if got := w.ok(nil, "status"); !strings.Contains(got, "closed") || strings.Contains(got, " sha256 ") {
		t.Fatalf("after Ctrl-C at the question, status shows:\n%s", got)
	}
}

// TestSplitRecorderSealsOnSIGTERM: the recorder behind calm split, asked to
// stop by a signal (tmux going away, a shutdown), closes its journal and
// seals the session with everything the pane sent, itself.
func TestSplitRecorderSealsOnSIGTERM(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok(nil, "incident", "new", "pane recorder stopped")
	cmd := w.cmd("pipe", "--pane", "%0")
	in, _ := cmd.StdinPipe()
	var errs lockedBuffer
	cmd.Stderr = &errs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sent := shellText(256<<10, 7)
	in.Write(sent)
	// The bytes are in the recorder's pipe; it has them, or will, before
	// it reads the signal's word.
	for !strings.Contains(w.ok(nil, "status"), " s1 ") {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the recorder ended with %v after SIGTERM: %s", err, errs.String())
	}
	var c map[string]any
	for deadline := time.Now().Add(20 * time.Second); ; {
		c = w.captureRecord("s1")
		if c["state"] == "sealed" || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if c["state"] != "sealed" {
		t.Fatalf("the session is %v after its recorder stopped", c["state"])
	}
	var out bytes.Buffer
	cast := terminal.CastOutput{W: &out}
	cast.Write([]byte(w.ok(nil, "show", "--cast", "s1")))
	cast.Close()
	if !bytes.Equal(out.Bytes(), sent) {
		t.Fatalf("the session holds %d bytes of output; the pane sent %d", out.Len(), len(sent))
	}
}

// TestShowToAFileGivesUsableData: calm show > file of a snapped pane is the
// text a person saw (no escapes; --raw keeps them), and of a tee'd query
// the exact bytes, which jq reads back as the same JSON.
func TestShowToAFileGivesUsableData(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok(nil, "incident", "new", "show to a file")
	tm := newTmux(t)
	tm.start("printf '\\033[31mred\\033[0m plain\\n'; exec sleep 600")
	tm.waitFor("red plain", 10*time.Second)
	cmd := w.cmd("snap", "-t", "t")
	cmd.Env = append(cmd.Env, "TMUX="+strings.TrimSpace(tm.run("display", "-p", "#{socket_path}"))+",1,0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("snap: %v %s", err, out)
	}
	text := w.ok(nil, "show", "c1")
	if strings.Contains(text, "\x1b") || !strings.Contains(text, "red plain") {
		t.Fatalf("show of a snapped pane to a file: %q", text)
	}
	// The pane's empty rows below its output are not output: not shown, not
	// stored, not counted by search.
	if !strings.HasSuffix(text, "red plain\n") {
		t.Fatalf("show of a snapped pane ends with the pane's empty rows: %q", text[max(0, len(text)-40):])
	}
	if pane := tm.run("capture-pane", "-p", "-t", "t"); !strings.HasSuffix(pane, "\n\n") {
		t.Fatalf("the test is void: the pane has no empty rows below its output: %q", pane[max(0, len(pane)-40):])
	}
	if raw := w.ok(nil, "show", "--raw", "c1"); strings.HasSuffix(raw, "\n\n") {
		t.Fatalf("the stored pane keeps the empty rows below its output: %q", raw[max(0, len(raw)-40):])
	}
	if got, want := strings.TrimSpace(w.ok(nil, "search", "-h", "-c", "", "c1")), fmt.Sprint(strings.Count(text, "\n")); got != want {
		t.Fatalf("search -c '' counts %s lines in the snap, show prints %s", got, want)
	}
	if raw := w.ok(nil, "show", "--raw", "c1"); !strings.Contains(raw, "\x1b[31m") {
		t.Fatalf("show --raw lost the pane's escapes: %q", raw)
	}
	doc := `[{"_id":{"$oid":"65f1a2b3c4d5e6f708192a3b"},"email":"ada@example.com","note":"tab\there \u001b[31m"}]` + "\n"
	w.ok([]byte(doc), "tee", "-q", "orders before fix")
	file := filepath.Join(t.TempDir(), "before.json")
	os.WriteFile(file, []byte(w.ok(nil, "show", "c2")), 0o600)
	got, err := exec.Command("jq", "-c", ".", file).Output()
	if err != nil {
		t.Fatalf("jq cannot read the file calm show wrote: %v", err)
	}
	want, _ := exec.Command("jq", "-c", "-n", "--argjson", "d", doc, "$d").Output()
	if string(got) != string(want) {
		t.Fatalf("jq reads %s from the file, %s from the query's output", got, want)
	}
}
