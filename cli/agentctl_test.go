package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAgentStatusStopRestartAndMirrorChanges: calm agent status|stop|restart
// work on the real agent, and a --mirror or config mirror the running agent
// lacks is never ignored silently: a capture goes on and warns, anything
// else is refused, both in one line naming 'calm agent restart'.
func TestAgentStatusStopRestartAndMirrorChanges(t *testing.T) {
	t.Parallel()
	slow(t)
	w := newWorld(t)
	if out, _, code := w.run(nil, "agent", "status"); code != 1 || !strings.Contains(out, "no agent runs") {
		t.Fatalf("agent status with none: exit %d, %q", code, out)
	}
	if w.agentPID() != 0 {
		t.Fatal("agent status started an agent")
	}
	w.ok(nil, "incident", "new", "mirrors")
	first := w.agentPID()
	if out := w.ok(nil, "agent", "status"); !strings.Contains(out, "pid "+strconv.Itoa(first)) || !strings.Contains(out, "mirrors: none") {
		t.Fatalf("agent status: %q", out)
	}

	mirror := t.TempDir()
	out, errs, code := w.run(nil, "--mirror", mirror, "status")
	if code != 1 || out != "" || !strings.Contains(errs, mirror) || !strings.Contains(errs, "calm --mirror '"+mirror+"' agent restart") || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Fatalf("--mirror with an agent that lacks it: exit %d, stdout %q, stderr %q: want it refused in one line", code, out, errs)
	}
	out, errs, code = w.run([]byte("still passed\n"), "--mirror", mirror, "tee", "-q", "t")
	if code != 0 || out != "still passed\n" || !strings.Contains(errs, "WARNING") || !strings.Contains(errs, "calm --mirror '"+mirror+"' agent restart") {
		t.Fatalf("tee with an agent that lacks the mirror: exit %d, stdout %q, stderr %q: want it saved, and a warning", code, out, errs)
	}

	if out := w.ok(nil, "--mirror", mirror, "agent", "restart"); !strings.Contains(out, "mirrors: "+mirror) {
		t.Fatalf("agent restart: %q", out)
	}
	if !ended(first) {
		t.Fatalf("the first agent (pid %d) still runs after the restart", first)
	}
	w.ok(nil, "--mirror", mirror, "status")
	w.ok(nil, "status") // asking for fewer mirrors than it has is fine
	w.ok([]byte("copied\n"), "--mirror", mirror, "tee", "-q", "t2")
	if copies, _ := filepath.Glob(filepath.Join(mirror, "*", "c2*")); len(copies) == 0 {
		t.Fatalf("the restarted agent made no copy in the mirror")
	}

	// A mirror added to the config while the agent runs.
	second := t.TempDir()
	os.MkdirAll(filepath.Join(w.config, "calm"), 0o700)
	os.WriteFile(filepath.Join(w.config, "calm", "config.toml"), []byte("mirrors = ['"+second+"']\n"), 0o600)
	if _, errs, code := w.run(nil, "status"); code != 1 || !strings.Contains(errs, second) {
		t.Fatalf("a config mirror the agent lacks: exit %d, %q", code, errs)
	}
	if out, _, code := w.run(nil, "doctor"); code != 1 || !strings.Contains(out, "FAIL the running agent") {
		t.Fatalf("doctor with a config mirror the agent lacks: exit %d:\n%s", code, out)
	}
	if out := w.ok(nil, "agent", "stop"); !strings.Contains(out, "stopped the agent") || w.agentPID() != 0 {
		t.Fatalf("agent stop: %q, pid %d", out, w.agentPID())
	}
	if out := w.ok(nil, "agent", "stop"); !strings.Contains(out, "no agent runs") {
		t.Fatalf("agent stop with none: %q", out)
	}
	w.ok(nil, "status") // started again, with the config's mirror
}

// An agent that has exited but is not reaped yet (PID 1 in a container
// may never reap it) has stopped: 'calm agent stop' does not wait on it.
func TestAZombieHasEnded(t *testing.T) {
	cmd := exec.Command("sh", "-c", "exit 0")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait() // reaped only at the end: until then, a zombie
	for deadline := time.Now().Add(10 * time.Second); !ended(cmd.Process.Pid); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a process that exited and was not reaped still counts as running")
		}
	}
	if ended(os.Getpid()) {
		t.Fatal("this running process counts as ended")
	}
}
