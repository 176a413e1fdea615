package cli

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var savedRe = regexp.MustCompile(`saved (\S+/c\d+), .*sha256 ([0-9a-f]{16})`)

func sha(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

func TestTeeStoresSixteenMegabytesOfRandomBytes(t *testing.T) {
	t.Parallel()
	slow(t)
	w := newWorld(t)
	input := make([]byte, 16<<20) // sixteen chunks, several batches of them
	rand.Read(input)
	out, errs, code := w.run(input, "tee", "x")
	if code != 0 {
		t.Fatalf("calm tee exited %d: %s", code, errs)
	}
	if out != string(input) {
		t.Fatalf("stdout differs from stdin (%d of %d bytes)", len(out), len(input))
	}
	m := savedRe.FindStringSubmatch(errs)
	if m == nil || !strings.HasPrefix(sha(input), m[2]) {
		t.Fatalf("tee said %q, want it saved with sha256 %s", errs, sha(input)[:16])
	}
	stored := w.ok(nil, "show", "--raw", m[1])
	if sha([]byte(stored)) != sha(input) {
		t.Fatal("the stored capture's sha256 differs from the input's")
	}
	// The evidence folder checks out with plain sha256sum.
	// One folder per incident (evidence/current names the current one).
	dirs, _ := filepath.Glob(filepath.Join(w.home, "evidence", "*", "SHA256SUMS"))
	for i := range dirs {
		dirs[i] = filepath.Dir(dirs[i])
	}
	if len(dirs) != 1 {
		t.Fatalf("evidence folders %v", dirs)
	}
	check := exec.Command("sha256sum", "-c", "SHA256SUMS")
	check.Dir = dirs[0]
	if out, err := check.CombinedOutput(); err != nil || !strings.Contains(string(out), "c1.txt: OK") {
		t.Fatalf("sha256sum -c: %v %s", err, out)
	}
	w.checkStore()
}

// TestTeeSurvivesAgentKills kills the agent with SIGKILL at random moments
// while a large tee streams, and checks that nothing is lost: the tee restarts
// the agent, sends again what was not acknowledged, and the capture equals the
// input.
func TestTeeSurvivesAgentKills(t *testing.T) {
	t.Parallel()
	slow(t)
	w := newWorld(t)
	// A kill for each fault run, at least, and twice as many at most. The
	// input, fed at a pace, keeps the tee running long enough for them
	// (2.4 MiB, about 190 ms, a kill; 20 MiB at least), so the kills land
	// at every stage: streaming, commit, seal.
	least := max(faultRuns(), 4)
	input := shellText(max(least*(12<<20)/5, 20<<20), 7)
	w.ok(nil, "incident", "new", "kill test") // the agent is up before the tee

	cmd, out, errs := w.pacedTee(t, input, 512<<10, 40*time.Millisecond, "under fire")
	kills := 0
	r := faultRand(t)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
loop:
	for {
		select {
		case err = <-done:
			break loop
		case <-time.After(time.Duration(50+r.Intn(200)) * time.Millisecond):
			if kills >= 2*least {
				continue // enough: let the seal finish
			}
			if pid := w.agentPID(); pid > 0 {
				syscall.Kill(pid, syscall.SIGKILL)
				kills++
			}
		}
	}
	if err != nil {
		t.Fatalf("tee failed after %d kills: %v: %s", kills, err, errs.String())
	}
	if kills < least {
		t.Fatalf("only %d kills landed; the test needs at least %d", kills, least)
	}
	t.Logf("agent killed %d times", kills)
	if !bytes.Equal(out.Bytes(), input) {
		t.Fatalf("stdout differs from stdin (%d of %d bytes)", out.Len(), len(input))
	}
	m := savedRe.FindStringSubmatch(errs.String())
	if m == nil {
		t.Fatalf("tee did not say what it saved: %s", errs.String())
	}
	stored := w.ok(nil, "show", "--raw", m[1])
	if stored != string(input) {
		t.Fatalf("stored capture differs from the input (%d of %d bytes)", len(stored), len(input))
	}
	if out := w.ok(nil, "verify"); !strings.HasPrefix(out, "ok:") {
		t.Fatalf("verify after the kills: %s", out)
	}
	w.checkStore()
}

// pacedTee starts calm tee and feeds it input in pieces of size, one every
// pause, so faults can land while it streams.
func (w *world) pacedTee(t *testing.T, input []byte, size int, pause time.Duration, args ...string) (*exec.Cmd, *bytes.Buffer, *lockedBuffer) {
	t.Helper()
	cmd := w.cmd(append([]string{"tee"}, args...)...)
	stdin, _ := cmd.StdinPipe()
	out, errs := &bytes.Buffer{}, &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, errs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		for rest := input; len(rest) > 0; {
			n := min(len(rest), size)
			stdin.Write(rest[:n])
			rest = rest[n:]
			time.Sleep(pause)
		}
		stdin.Close()
	}()
	return cmd, out, errs
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestTeeKeepsThePipelineWhenStoringFails(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	// A store under a plain file cannot be created, so the agent cannot start.
	blocker := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocker, nil, 0o600)
	w.home = filepath.Join(blocker, "home")
	input := shellText(3<<20, 1)
	out, errs, code := w.run(input, "tee", "doomed")
	if out != string(input) {
		t.Fatalf("stdout lost bytes when storing failed (%d of %d)", len(out), len(input))
	}
	if code == 0 || !strings.Contains(errs, "not saving this output") || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Fatalf("exit %d, stderr %q: want non-zero and one line saying why", code, errs)
	}
}

func TestVerifyNamesTheBrokenCopy(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	mirror := t.TempDir()
	w.extra = append(w.extra, "CALM_CONFIG="+filepath.Join(w.config, "calm.toml"))
	os.WriteFile(filepath.Join(w.config, "calm.toml"), []byte("mirrors = ['"+mirror+"']\n"), 0o600)
	_, errs, _ := w.run([]byte("{ _id: 1, name: 'original' }\n"), "tee", "doc")
	if !strings.Contains(errs, "3 of 3 copies verified") {
		t.Fatalf("tee: %s", errs)
	}
	if out := w.ok(nil, "verify"); !strings.HasPrefix(out, "ok: 3 copies") {
		t.Fatalf("verify: %s", out)
	}
	evidence, _ := filepath.Glob(filepath.Join(w.home, "evidence", "*", "c1.txt"))
	mirrored, _ := filepath.Glob(filepath.Join(mirror, "*", "c1.txt"))
	if len(evidence) != 1 || len(mirrored) != 1 {
		t.Fatalf("copies at %v %v", evidence, mirrored)
	}
	original, _ := os.ReadFile(evidence[0])

	for _, tc := range []struct {
		name  string
		path  string
		harm  func(string)
		state string
	}{
		{"flipped evidence", evidence[0], flipByte, "mismatch"},
		{"deleted evidence", evidence[0], func(p string) { os.Remove(p) }, "missing"},
		{"flipped mirror", mirrored[0], flipByte, "mismatch"},
		{"deleted mirror", mirrored[0], func(p string) { os.Remove(p) }, "missing"},
	} {
		tc.harm(tc.path)
		out, errs, code := w.run(nil, "verify")
		if code != 1 || !strings.Contains(out, tc.path+": "+tc.state) || strings.Count(out, "FAIL") != 1 {
			t.Errorf("%s: exit %d, out %q, err %q: want exit 1 naming %s as %s", tc.name, code, out, errs, tc.path, tc.state)
		}
		os.WriteFile(tc.path, original, 0o600)
	}
	if out := w.ok(nil, "verify"); !strings.HasPrefix(out, "ok:") {
		t.Fatalf("verify after repair: %s", out)
	}
}

func flipByte(path string) {
	data, _ := os.ReadFile(path)
	data[len(data)/2] ^= 0x20
	os.WriteFile(path, data, 0o600)
}

func TestTwoCommandsStartingAtOnceMakeOneAgent(t *testing.T) {
	t.Parallel() // long and mostly waiting; isolated (own store, socket, tmux server)
	slow(t)
	w := newWorld(t)
	for run := range faultRuns() {
		// No agent: six commands race to start one.
		w.stopAgent()
		var wg sync.WaitGroup
		for i := 0; i < 6; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.ok([]byte("x\n"), "tee", "-q", "racer")
			}()
		}
		wg.Wait()
		if n := countProcesses("agent --socket " + w.socket()); n != 1 {
			t.Fatalf("run %d: %d agents running for one store, want 1", run, n)
		}
		if got := w.ok(nil, "show", fmt.Sprintf("c%d", 6*(run+1))); got != "x\n" {
			t.Fatalf("run %d: the last capture holds %q", run, got)
		}
	}
}

func TestStaleSocketFromAKilledAgentIsReplaced(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok(nil, "incident", "new", "one")
	pid := w.agentPID()
	syscall.Kill(pid, syscall.SIGKILL)
	waitExited(pid, 30*time.Second)
	if _, err := os.Stat(w.socket()); err != nil {
		t.Fatalf("the killed agent's socket should still be there: %v", err)
	}
	if out := w.ok(nil, "incident", "list"); !strings.Contains(out, "one") {
		t.Fatalf("list after the kill: %s", out)
	}
	if p := w.agentPID(); p == 0 || p == pid {
		t.Fatalf("agent pid %d after the kill of %d", p, pid)
	}
}

func TestAnotherUserIsRefused(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("needs root to run a client as nobody") // CI runs as root
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Fatal("setpriv is missing: install util-linux")
	}
	w := newWorld(t)
	w.ok([]byte("secret\n"), "tee", "-q", "prod dump")
	nobodyHome, _ := os.MkdirTemp("", "nobody")
	defer os.RemoveAll(nobodyHome)
	os.Chmod(nobodyHome, 0o777)
	var extra []string
	asNobody := func(args ...string) (string, int) {
		c := exec.Command("setpriv", append([]string{"--reuid=nobody", "--regid=nogroup", "--clear-groups", calmBin}, args...)...)
		c.Env = append(append(w.env(), "XDG_CONFIG_HOME="+nobodyHome, "HOME="+nobodyHome), extra...)
		out, err := c.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return string(out), code
	}
	// The folder's mode keeps nobody out...
	if out, code := asNobody("show", "c1"); code == 0 || strings.Contains(out, "secret") {
		t.Fatalf("nobody read the capture: exit %d: %s", code, out)
	}
	// ...and with every mode opened up, the agent's peer check still does.
	os.Chmod(w.runtime, 0o777)
	os.Chmod(filepath.Dir(w.socket()), 0o777)
	os.Chmod(w.socket(), 0o777)
	// (Named outright: in a runtime folder another user made, nobody's
	// calm would not look for its socket at all.)
	extra = []string{"CALM_SOCKET=" + w.socket()}
	out, code := asNobody("show", "c1")
	if code == 0 || strings.Contains(out, "secret") {
		t.Fatalf("nobody read the capture through an open socket: exit %d: %s", code, out)
	}
	// nobody's calm refuses first (the socket is not its user's), and the
	// agent refuses the connection it made, when it gets to accept it.
	if !strings.Contains(out, "is served by another user") {
		t.Fatalf("nobody's calm did not refuse the socket: %s", out)
	}
	var log []byte
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(string(log), "refused a client with uid 65534"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the agent did not log the refusal: %s (nobody saw: %s)", log, out)
		}
		log, _ = os.ReadFile(filepath.Join(w.home, "agent.log"))
	}
}

func TestBadReferencesGiveOneLineThatSaysWhatToDo(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok([]byte("a\n"), "tee", "-q")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"show", "c99"}, "capture c99"},
		{[]string{"show", "x7"}, "they look like c3"},
		{[]string{"incident", "use", "zzzz"}, "calm incident list"},
		{[]string{"search", "(oops"}, "-F"},
		{[]string{"export", "nope", "--format", "txt"}, "calm incident list"},
	} {
		_, errs, code := w.run(nil, tc.args...)
		if code == 0 || !strings.Contains(errs, tc.want) || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Errorf("calm %v: exit %d, stderr %q: want one line mentioning %q", tc.args, code, errs, tc.want)
		}
	}
}

// countProcesses counts running processes whose command line contains s.
func countProcesses(s string) int {
	n := 0
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range cmdlines {
		data, err := os.ReadFile(p)
		if err == nil && strings.Contains(strings.ReplaceAll(string(data), "\x00", " "), s) {
			n++
		}
	}
	return n
}

// The downstream of calm tee reads its end of file when the copy ends, not
// when the store is done, however long the stream: here the agent is stopped
// until the downstream has read 16 MiB, so tee cannot have stored them yet.
func TestTeeDownstreamGetsEOFWithoutWaitingForTheStore(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok(nil, "incident", "new", "slow store")
	pid := w.agentPID()
	if pid == 0 {
		t.Fatal("no agent")
	}
	syscall.Kill(pid, syscall.SIGSTOP)
	defer syscall.Kill(pid, syscall.SIGCONT)
	// Far more than any buffer: the spool takes it while the store is held.
	input := shellText(16<<20, 24)
	cmd := w.cmd("tee", "held")
	cmd.Stdin = bytes.NewReader(input)
	var errs lockedBuffer
	cmd.Stderr = &errs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	read := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(stdout)
		read <- b
	}()
	exited := make(chan error, 1)
	var out []byte
	select {
	case out = <-read:
	case <-time.After(time.Minute):
		syscall.Kill(pid, syscall.SIGCONT)
		t.Fatal("the downstream got no end of file while the store was held")
	}
	go func() { exited <- cmd.Wait() }()
	if !bytes.Equal(out, input) {
		t.Fatalf("the downstream read %d of %d bytes", len(out), len(input))
	}
	syscall.Kill(pid, syscall.SIGCONT)
	if err := <-exited; err != nil {
		t.Fatalf("tee: %v: %s", err, errs.String())
	}
	m := savedRe.FindStringSubmatch(errs.String())
	if m == nil || w.ok(nil, "show", "--raw", m[1]) != string(input) {
		t.Fatalf("tee said %q; the capture is not the input", errs.String())
	}
}

// TestAnotherRuntimeFolderFindsTheRunningAgent: a shell whose
// XDG_RUNTIME_DIR differs (sudo -i, su, a container's shell) saves into
// the same store through the agent already serving it, instead of failing
// on the store's lock.
func TestAnotherRuntimeFolderFindsTheRunningAgent(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok(nil, "incident", "new", "two runtime folders")
	rt, err := os.MkdirTemp("", "rt2")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(rt)
	other := *w
	other.runtime = rt
	other.ok([]byte("from the other shell\n"), "tee", "-q", "other")
	if got := w.ok(nil, "show", "c1"); got != "from the other shell\n" {
		t.Fatalf("the capture holds %q", got)
	}
	if fi, err := os.Stat(w.storePath() + ".socket"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the store's .socket file: %v %v", fi, err)
	}
	w.stopAgent()
	if _, err := os.Stat(w.storePath() + ".socket"); !os.IsNotExist(err) {
		t.Fatalf("a stopped agent left the store's .socket file: %v", err)
	}
}

// TestTwoStoresInOneFolderHaveAnAgentEach: the running agent's socket was
// named per folder, so a command on a second store in the same folder
// talked to the first store's agent and read and wrote the wrong store.
func TestTwoStoresInOneFolderHaveAnAgentEach(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	// The second store is made first: a store named beside an existing
	// one that is not there reads as a typo of its name.
	second := filepath.Join(w.home, "second.db")
	w.ok(nil, "--store", second, "incident", "new", "in the second store")
	w.ok(nil, "incident", "new", "in the first store")
	w.ok([]byte("first store's bytes\n"), "tee", "-q", "first")
	if out := w.ok(nil, "--store", second, "incident", "list", "--json"); strings.Contains(out, "first store") {
		t.Fatalf("the second store's listing shows the first store's incident:\n%s", out)
	}
	w.ok([]byte("second store's bytes\n"), "--store", second, "tee", "-q", "second")
	if got := w.ok(nil, "show", "c1"); got != "first store's bytes\n" {
		t.Fatalf("the first store's c1 holds %q", got)
	}
	if got := w.ok(nil, "--store", second, "show", "c1"); got != "second store's bytes\n" {
		t.Fatalf("the second store's c1 holds %q", got)
	}
	w.ok(nil, "--store", second, "agent", "stop")
}

// TestTeeKeepsOnlyWhatReachedAClosedDownstream: when the command after tee
// goes away (| head), the capture is what reached it, not the read that
// found it gone.
func TestTeeKeepsOnlyWhatReachedAClosedDownstream(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	// The downstream is a process of its own, as in a shell's pipeline: the
	// pipe's read end lives only there (a copy in this test's process could
	// be held a moment by any child another test starts).
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	head := exec.Command("dd", "bs=1", "count=21", "status=none") // as head -c 21, unbuffered
	head.Stdin = pr
	headOut, err := head.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	tee := w.cmd("tee", "head")
	tee.Stdout = pw
	stdin, err := tee.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errs lockedBuffer
	tee.Stderr = &errs
	if err := head.Start(); err != nil {
		t.Fatal(err)
	}
	if err := tee.Start(); err != nil {
		t.Fatal(err)
	}
	pr.Close()
	pw.Close()
	// One line at a time, each read back downstream before the next: then
	// the downstream leaves, and only then does the fourth line come.
	var passed []byte
	for _, line := range []string{"line 1\n", "line 2\n", "line 3\n"} {
		if _, err := io.WriteString(stdin, line); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(line))
		if _, err := io.ReadFull(headOut, got); err != nil {
			t.Fatal(err)
		}
		passed = append(passed, got...)
	}
	if err := head.Wait(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(stdin, "line 4, after the downstream left\n")
	stdin.Close()
	tee.Wait()
	m := regexp.MustCompile(`saved (\S+/c\d+) \(.*partial\)`).FindStringSubmatch(errs.String())
	if m == nil {
		t.Fatalf("tee did not say it saved a partial capture: %s", errs.String())
	}
	if got := w.ok(nil, "show", "--raw", m[1]); got != string(passed) {
		t.Fatalf("the capture holds %q, the downstream got %q", got, passed)
	}
	if out, _, _ := w.run(nil, "verify"); !strings.Contains(out, "2 copies of 1 capture read back and match") {
		t.Fatalf("verify: %s", out)
	}
}

// TestEmptyTeeSaysSo: a query that failed into stderr leaves tee nothing;
// "saved ... 0 B" read as success, so the empty capture is named EMPTY in
// one line, even under -q, and the pipeline's status stays tee's.
func TestEmptyTeeSaysSo(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	_, errs, code := w.run(nil, "tee", "-q", "orders before the fix")
	if code != 0 || !strings.Contains(errs, "/c1, but it is EMPTY") || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Fatalf("an empty tee: exit %d, stderr %q", code, errs)
	}
	if _, errs, _ := w.run([]byte("x\n"), "tee", "-q", "one line"); errs != "" {
		t.Fatalf("a tee with bytes under -q said %q", errs)
	}
}

// TestSignalWithinLooksPastSIGPIPE: the write that met EPIPE raises a
// SIGPIPE, often heard before the Ctrl-C that killed the downstream; and a
// signal already heard counts even when the grace is past.
func TestSignalWithinLooksPastSIGPIPE(t *testing.T) {
	sigs := make(chan os.Signal, 4)
	sigs <- syscall.SIGPIPE
	sigs <- syscall.SIGINT
	if got := signalWithin(sigs, -time.Second); got != syscall.SIGINT {
		t.Fatalf("SIGPIPE then SIGINT, grace past: got %v, want SIGINT", got)
	}
	sigs <- syscall.SIGPIPE
	go func() {
		time.Sleep(20 * time.Millisecond)
		sigs <- syscall.SIGINT
	}()
	if got := signalWithin(sigs, 5*time.Second); got != syscall.SIGINT {
		t.Fatalf("SIGPIPE, then SIGINT later within the grace: got %v, want SIGINT", got)
	}
	sigs <- syscall.SIGPIPE
	if got := signalWithin(sigs, 10*time.Millisecond); got != nil {
		t.Fatalf("SIGPIPE alone: got %v, want none", got)
	}
}
