package cli

import (
	"bytes"
	"fmt"
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

// tempWorld is a world whose TMPDIR is a folder of the test's own, so that
// what calm leaves there is seen, and an incident large enough that its
// bundle takes a while.
func tempWorld(t *testing.T) (w *world, tmp, inc string) {
	t.Helper()
	w = newWorld(t)
	tmp = t.TempDir()
	w.extra = append(w.extra, "TMPDIR="+tmp)
	w.ok(nil, "incident", "new", "a large incident")
	w.ok(shellText(12<<20, 7), "tee", "-q", "big dump")
	inc = strings.Fields(w.ok(nil, "status"))[1]
	return w, tmp, inc
}

// entries lists what dir holds, recursively, with each entry's mode.
func entries(t *testing.T, dir string) map[string]os.FileMode {
	t.Helper()
	got := map[string]os.FileMode{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == dir {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			got[p] = fi.Mode()
		}
		return nil
	})
	return got
}

// stopWhenStaging waits until the export is staging the capture in its
// bundle's staging folder in tmp, and stops it there (SIGSTOP), still
// running: what it made can then be looked at, and a signal sent at a
// moment known.
func stopWhenStaging(t *testing.T, cmd *exec.Cmd, tmp string) string {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		// The staged files are numbered: 0 the postmortem, 1 the record,
		// 2 the first capture.
		stages, _ := filepath.Glob(filepath.Join(tmp, "calm-bundle-*", "2"))
		if len(stages) == 0 {
			if exited(cmd.Process.Pid) {
				t.Fatal("the export ended before its staging folder was seen")
			}
			continue
		}
		cmd.Process.Signal(syscall.SIGSTOP)
		if exited(cmd.Process.Pid) {
			t.Fatal("the export ended before it could be stopped while staging: the incident is too small")
		}
		return filepath.Dir(stages[0])
	}
	t.Fatal("the export never made its staging folder")
	return ""
}

// TestInterruptedBundleLeavesNoTempData: a bundle export stopped by
// SIGINT (with the progress bar on a terminal), SIGTERM or SIGHUP removes
// its staging folder (redacted captures) and the hidden file next to the
// output before it leaves; while they exist, they are private.
func TestInterruptedBundleLeavesNoTempData(t *testing.T) {
	t.Parallel()
	slow(t)
	w, tmp, inc := tempWorld(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		out := t.TempDir()
		cmd := w.cmd("export", inc, "--format", "bundle", "-o", filepath.Join(out, "inc.tar.gz"))
		var terminal bytes.Buffer
		var stderr bytes.Buffer
		read := make(chan struct{})
		if sig == syscall.SIGINT {
			// Ctrl-C at a terminal: the bar comes off and calm says so.
			master, slave, err := pty.Open()
			if err != nil {
				t.Fatal(err)
			}
			defer master.Close()
			cmd.Stderr = slave
			go func() { io.Copy(&terminal, master); close(read) }()
			defer slave.Close()
		} else {
			cmd.Stderr = &stderr
			close(read)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		stage := stopWhenStaging(t, cmd, tmp)
		made := entries(t, tmp)
		for name, mode := range entries(t, out) {
			made[name] = mode
		}
		if len(made) < 5 {
			t.Fatalf("%v: stopped while staging, calm had made only %v", sig, made)
		}
		for name, mode := range made {
			want := os.FileMode(0o600)
			if mode.IsDir() {
				want = 0o700 | os.ModeDir
			}
			if mode != want {
				t.Errorf("%v: %s is %v while it exists: want %v", sig, name, mode, want)
			}
		}
		cmd.Process.Signal(sig)
		cmd.Process.Signal(syscall.SIGCONT)
		cmd.Wait()
		if f, ok := cmd.Stderr.(*os.File); ok {
			f.Close()
		}
		<-read
		if code := cmd.ProcessState.ExitCode(); code != 128+int(sig) {
			t.Errorf("%v: exit %d (%v), want %d", sig, code, cmd.ProcessState, 128+int(sig))
		}
		if left := entries(t, tmp); len(left) > 0 {
			t.Errorf("%v: left in TMPDIR (staged in %s): %v", sig, stage, left)
		}
		if left := entries(t, out); len(left) > 0 {
			t.Errorf("%v: left next to the output: %v", sig, left)
		}
		if sig == syscall.SIGINT {
			// It names the file it did not write: Ctrl-C left nothing there.
			if said := "calm: exporting " + inc + ": interrupted by SIGINT (Ctrl-C): " + filepath.Join(out, "inc.tar.gz") + " was NOT written"; !strings.Contains(terminal.String(), said) {
				t.Errorf("SIGINT at a terminal: %q does not say %q", terminal.String(), said)
			}
		} else if stderr.Len() > 0 {
			t.Errorf("%v with stderr piped: %q", sig, stderr.String())
		}
	}
}

// TestExportLosingTheRaceToItsFileSaysSoAlone: a file that appears at the
// output while an export runs (another export to the same name, finished
// first) is kept; the export that lost says so in one line, without
// claiming to have written it, and leaves nothing.
func TestExportLosingTheRaceToItsFileSaysSoAlone(t *testing.T) {
	t.Parallel()
	slow(t)
	w, tmp, inc := tempWorld(t)
	out := t.TempDir()
	same := filepath.Join(out, "same.tar.gz")

	// At a moment known: the other export's file appears while this one
	// is stopped in the middle of its bundle.
	cmd := w.cmd("export", inc, "--format", "bundle", "-o", same)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopWhenStaging(t, cmd, tmp)
	if err := os.WriteFile(same, []byte("the winner's bundle\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGCONT)
	cmd.Wait()
	want := "calm export: export " + inc + ": " + same + " appeared while this export ran (another export to the same file?): that file is kept and this export wrote nothing; --force overwrites it, or pick another name\n"
	if code := cmd.ProcessState.ExitCode(); code != 1 || stderr.String() != want {
		t.Fatalf("the export that lost: exit %d, %q\nwant %q", code, stderr.String(), want)
	}
	if data, _ := os.ReadFile(same); string(data) != "the winner's bundle\n" {
		t.Fatalf("the winner's file was replaced: %.40q", data)
	}
	if left := entries(t, tmp); len(left) > 0 {
		t.Fatalf("left in TMPDIR: %v", left)
	}
	os.Remove(same)
	if left := entries(t, out); len(left) > 0 {
		t.Fatalf("left next to the output: %v", left)
	}

	// Two at once, as a person would start them: whichever wins, its
	// bundle is whole, and the other says only that it did not write.
	type result struct {
		code   int
		stderr string
	}
	results := make(chan result, 2)
	for range 2 {
		go func() {
			_, errs, code := w.run(nil, "export", inc, "--format", "bundle", "-o", same)
			results <- result{code, errs}
		}()
	}
	a, b := <-results, <-results
	if a.code != 0 {
		a, b = b, a
	}
	if a.code != 0 || a.stderr != "calm: wrote "+same+": 4 files and SHA256SUMS; check it with 'calm verify "+same+"'\n" {
		t.Fatalf("neither export won: %+v %+v", a, b)
	}
	if b.code != 1 || strings.Count(b.stderr, "\n") != 1 || strings.Contains(b.stderr, "wrote "+same) ||
		!strings.Contains(b.stderr, same+" appeared while this export ran") && !strings.Contains(b.stderr, same+" exists: --force") {
		t.Fatalf("the export that lost: exit %d, %q", b.code, b.stderr)
	}
	if v := w.ok(nil, "verify", same); !strings.Contains(v, "ok: 4 files") {
		t.Fatalf("the winner's bundle: %s", v)
	}
	if left := entries(t, tmp); len(left) > 0 {
		t.Fatalf("left in TMPDIR: %v", left)
	}
	if left := entries(t, out); len(left) != 1 {
		t.Fatalf("next to the output: %v, want only %s", left, same)
	}
}

// TestReviewLeavesNoUnpackedBundle: calm review unpacks the bundle into a
// private folder in TMPDIR, which goes when the review is quit, and when
// its terminal is closed under it (SIGHUP).
func TestReviewLeavesNoUnpackedBundle(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tmp := t.TempDir()
	w.extra = append(w.extra, "TMPDIR="+tmp)
	w.ok(nil, "incident", "new", "reviewed later")
	w.ok([]byte("customer 4711 paid twice\n"), "tee", "-q", "payments")
	inc := strings.Fields(w.ok(nil, "status"))[1]
	bundle := filepath.Join(t.TempDir(), "inc.tar.gz")
	w.ok(nil, "export", inc, "--format", "bundle", "-o", bundle)

	unpacked := func() {
		t.Helper()
		dirs, _ := filepath.Glob(filepath.Join(tmp, "calm-review-*"))
		if len(dirs) != 1 {
			t.Fatalf("while reviewing, TMPDIR holds %v: want the unpacked bundle", entries(t, tmp))
		}
		for name, mode := range entries(t, tmp) {
			if want := map[bool]os.FileMode{true: 0o700 | os.ModeDir, false: 0o600}[mode.IsDir()]; mode != want {
				t.Errorf("%s is %v while reviewing: want %v", name, mode, want)
			}
		}
	}

	tm := newTmux(t)
	tm.start(w.envPrefix() + "sh -c '" + calmBin + " review " + bundle + "; echo calm exited $?; sleep 60'")
	tm.waitFor("review (read-only)", 10*time.Second)
	tm.waitFor("customer 4711", 10*time.Second)
	// The bundle holds one copy of each capture, and that is what a bundle
	// holds: no "!1", no "1 of 2 required".
	tm.waitFor("1 of 1 required copies verified", 10*time.Second)
	unpacked()
	tm.press("q") // review quits at once: it has nothing to lose
	tm.waitFor("calm exited 0", 5*time.Second)
	if left := entries(t, tmp); len(left) > 0 {
		t.Fatalf("left in TMPDIR after quitting the review: %v", left)
	}

	// reviewing runs a review as a pane's only process, and gives its pid
	// once the bundle is unpacked and shown.
	reviewing := func() (*tmux, int) {
		t.Helper()
		tm := newTmux(t)
		tm.start("exec " + w.envPrefix() + calmBin + " review " + bundle)
		tm.waitFor("customer 4711", 10*time.Second)
		unpacked()
		pid := 0
		if _, err := fmt.Sscan(tm.run("display", "-p", "-t", "t", "#{pane_pid}"), &pid); err != nil || pid == 0 {
			t.Fatalf("the review's pid: %v", err)
		}
		return tm, pid
	}

	// The terminal closed under the review: tmux hangs up on it.
	hup, pid := reviewing()
	hup.run("kill-server")
	waitExited(pid, 10*time.Second)
	if !exited(pid) {
		t.Fatal("the review outlived its terminal")
	}
	if left := entries(t, tmp); len(left) > 0 {
		t.Fatalf("left in TMPDIR after the review's terminal closed: %v", left)
	}

	// SIGKILL: no handler runs, so the unpacked bundle stays; the next
	// review removes it.
	_, pid = reviewing()
	syscall.Kill(pid, syscall.SIGKILL)
	waitExited(pid, 10*time.Second)
	next := newTmux(t)
	next.start(w.envPrefix() + "sh -c '" + calmBin + " review " + bundle + "; echo calm exited $?; sleep 60'")
	next.waitFor("customer 4711", 10*time.Second)
	unpacked() // its own, and no more
	next.press("q")
	next.waitFor("calm exited 0", 5*time.Second)
	if left := entries(t, tmp); len(left) > 0 {
		t.Fatalf("left in TMPDIR after a review killed with SIGKILL and the next one: %v", left)
	}
}
