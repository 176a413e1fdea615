package scratch

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// The test binary runs itself as the process a signal stops: it holds a
// folder with a file in it and a file in another folder, says their names
// and waits on stdin.
func TestMain(m *testing.M) {
	switch os.Getenv("SCRATCH_CHILD") {
	case "":
		os.Exit(m.Run())
	case "hold":
		child(false)
	case "released":
		child(true)
	}
}

func child(release bool) {
	dir, err := MkdirTemp("", "calm-test-")
	if err != nil {
		panic(err)
	}
	if err := os.WriteFile(filepath.Join(dir.Name(), "capture.txt"), []byte("customer data\n"), 0o600); err != nil {
		panic(err)
	}
	f, file, err := CreateTemp(os.Getenv("SCRATCH_OUT"), ".out.calm-*")
	if err != nil {
		panic(err)
	}
	f.WriteString("half an export")
	stop := OnSignal(func(s os.Signal) { fmt.Fprintf(os.Stderr, "said %v\n", s) })
	if release {
		stop()
		dir.Remove()
		file.Remove()
	}
	fmt.Println(dir.Name())
	fmt.Println(file.Name())
	bufio.NewReader(os.Stdin).ReadString('\n') // until the test closes it
	os.Exit(0)
}

type holder struct {
	cmd          *exec.Cmd
	dir, file    string
	stderr       strings.Builder
	stdin        interface{ Close() error }
	tmp, outside string
}

// start runs the child, through sh running shell first when it is set, with its own TMPDIR.
func start(t *testing.T, mode string, shell string) *holder {
	t.Helper()
	h := &holder{tmp: t.TempDir(), outside: t.TempDir()}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	h.cmd = exec.Command(self, "-test.run=^$")
	if shell != "" {
		h.cmd = exec.Command("sh", "-c", shell+`; exec "$0" -test.run='^$'`, self)
	}
	h.cmd.Env = append(os.Environ(), "SCRATCH_CHILD="+mode, "TMPDIR="+h.tmp, "SCRATCH_OUT="+h.outside)
	h.cmd.Stderr = &h.stderr
	in, err := h.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	h.stdin = in
	out, err := h.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.cmd.Process.Kill(); h.cmd.Wait() })
	r := bufio.NewReader(out)
	line := func() string {
		s, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("the child said no names: %v (stderr %q)", err, h.stderr.String())
		}
		return strings.TrimSpace(s)
	}
	h.dir, h.file = line(), line()
	return h
}

func (h *holder) left(t *testing.T) []string {
	t.Helper()
	var left []string
	for _, d := range []string{h.tmp, h.outside} {
		entries, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			left = append(left, filepath.Join(d, e.Name()))
		}
	}
	return left
}

func TestHeldPathsArePrivate(t *testing.T) {
	h := start(t, "hold", "")
	for _, c := range []struct {
		name string
		mode os.FileMode
	}{{h.dir, 0o700 | os.ModeDir}, {h.file, 0o600}} {
		fi, err := os.Stat(c.name)
		if err != nil || fi.Mode() != c.mode {
			t.Errorf("%s: %v, mode %v: want %v", c.name, err, fi.Mode(), c.mode)
		}
	}
	h.stdin.Close()
	if err := h.cmd.Wait(); err != nil {
		t.Fatal(err)
	}
}

// TestSignalRemovesWhatIsHeld: SIGINT, SIGTERM and SIGHUP each leave
// nothing behind, say their word first, and leave with 128+the signal.
func TestSignalRemovesWhatIsHeld(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			h := start(t, "hold", "")
			if len(h.left(t)) != 2 {
				t.Fatalf("before the signal: %v", h.left(t))
			}
			h.cmd.Process.Signal(sig)
			err := h.cmd.Wait()
			if code := h.cmd.ProcessState.ExitCode(); code != 128+int(sig) {
				t.Fatalf("exit %d (%v): want %d", code, err, 128+int(sig))
			}
			if left := h.left(t); len(left) > 0 {
				t.Fatalf("left after %v: %v", sig, left)
			}
			if got := h.stderr.String(); got != "said "+sig.String()+"\n" {
				t.Fatalf("stderr %q", got)
			}
		})
	}
}

// TestReleasedPathsGiveSignalsBack: once nothing is held, a signal does
// what it did before calm caught it: it kills.
func TestReleasedPathsGiveSignalsBack(t *testing.T) {
	h := start(t, "released", "")
	if left := h.left(t); len(left) > 0 {
		t.Fatalf("left after Remove: %v", left)
	}
	h.cmd.Process.Signal(syscall.SIGINT)
	h.cmd.Wait()
	ws := h.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGINT {
		t.Fatalf("after its paths went, SIGINT gave %v: want killed by SIGINT", h.cmd.ProcessState)
	}
}

// TestIgnoredSignalStaysIgnored: started under nohup (SIGHUP ignored),
// a hangup does not stop the work; SIGTERM still cleans up.
func TestIgnoredSignalStaysIgnored(t *testing.T) {
	h := start(t, "hold", "trap '' HUP")
	h.cmd.Process.Signal(syscall.SIGHUP)
	// The ignored signal changes nothing: the child is still there when
	// SIGTERM comes, and leaves by it.
	h.cmd.Process.Signal(syscall.SIGTERM)
	h.cmd.Wait()
	if code := h.cmd.ProcessState.ExitCode(); code != 128+int(syscall.SIGTERM) {
		t.Fatalf("exit %d: want %d (SIGHUP should have been ignored)", code, 128+int(syscall.SIGTERM))
	}
	if got := h.stderr.String(); got != "said terminated\n" {
		t.Fatalf("stderr %q: the hangup was caught", got)
	}
	if left := h.left(t); len(left) > 0 {
		t.Fatalf("left: %v", left)
	}
}

// TestSweptFolderTakesWhatADeadProcessLeft: a calm killed with SIGKILL
// leaves its folder (no handler runs); the next one of that prefix removes
// it, and leaves a living process's own.
func TestSweptFolderTakesWhatADeadProcessLeft(t *testing.T) {
	dir := t.TempDir()
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	dead := filepath.Join(dir, fmt.Sprintf("calm-review-p%d-1", gone.Process.Pid))
	alive := filepath.Join(dir, fmt.Sprintf("calm-review-p%d-2", os.Getppid()))
	other := filepath.Join(dir, "calm-review-12345")
	for _, d := range []string{dead, alive, other} {
		if err := os.MkdirAll(filepath.Join(d, "calm-inc"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	p, err := MkdirTempSwept(dir, "calm-review-")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Remove()
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Fatalf("the dead process's folder is still there: %v", err)
	}
	for _, d := range []string{alive, other} {
		if _, err := os.Stat(d); err != nil {
			t.Fatalf("%s went: %v", d, err)
		}
	}
	if want := fmt.Sprintf("calm-review-p%d-", os.Getpid()); !strings.HasPrefix(filepath.Base(p.Name()), want) {
		t.Fatalf("the new folder %s is not named for its process (%s...)", p.Name(), want)
	}
}
