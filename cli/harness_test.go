package cli

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"calm/storage/agent"
)

// calmBin is the binary under test, built once, in a folder any user may
// enter (the other-uid test runs it as nobody).
var calmBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "calm-bin-")
	if err != nil {
		panic(err)
	}
	os.Chmod(dir, 0o755)
	calmBin = filepath.Join(dir, "calm")
	build := exec.Command("go", "build", "-o", calmBin, "..")
	build.Env = append(os.Environ(), "CGO_ENABLED=0") // as the README builds it
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build calm:", err)
		os.Exit(1)
	}
	// These tests mostly wait (on tmux, shells, the agent, fsync), each in
	// its own store, socket and tmux server: more run at once than there
	// are CPUs, unless -parallel says otherwise.
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		// Eight: the fault loops are short by default (faultRuns), and what
		// is left is mostly waiting; more at once starves the CPU, and
		// deadlines in the tests start to bite.
		flag.Set("test.parallel", strconv.Itoa(max(8, runtime.GOMAXPROCS(0))))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// slow marks an end-to-end test that takes seconds: -short, the quick loop
// while editing, leaves it to the full run, which CI makes.
func slow(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("slow end to end: runs without -short")
	}
}

// world is one user's calm setup: a store, a config folder and a runtime
// folder for the agent's socket, all private to the test.
type world struct {
	t       testing.TB
	home    string
	runtime string
	config  string
	extra   []string
}

func newWorld(t testing.TB) *world {
	t.Helper()
	rt, err := os.MkdirTemp("", "rt") // short: socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, home: filepath.Join(t.TempDir(), "home"), runtime: rt, config: t.TempDir()}
	t.Cleanup(func() {
		w.stopAgent()
		w.endLeftovers()
		os.RemoveAll(rt)
	})
	return w
}

// endLeftovers kills what a test left running in this world (a TUI still
// quitting, a shell whose tmux server is gone, an agent one of them started
// after stopAgent) and waits until each has ended, so that none of them
// writes in the folders the cleanup removes next. A process is this
// world's if its environment names the world's home.
func (w *world) endLeftovers() {
	// Again until a pass finds none: one killed halfway through starting
	// another (a completion script starting calm, calm starting its agent)
	// leaves that one to the next pass.
	for range 5 {
		found := false
		environs, _ := filepath.Glob("/proc/[0-9]*/environ")
		for _, p := range environs {
			environ, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			// Or named on its command line: what tmux starts (split's
			// recorder, and the agent it starts) has tmux's environment.
			cmdline, _ := os.ReadFile(filepath.Join(filepath.Dir(p), "cmdline"))
			if !bytes.Contains(environ, []byte("CALM_HOME="+w.home+"\x00")) && !bytes.Contains(cmdline, []byte(w.home+"/")) {
				continue
			}
			if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil {
				found = true
				syscall.Kill(pid, syscall.SIGKILL)
				waitExited(pid, 10*time.Second)
			}
		}
		if !found {
			return
		}
	}
}

func (w *world) env() []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + w.config,
		"CALM_HOME=" + w.home,
		"XDG_CONFIG_HOME=" + w.config,
		"XDG_RUNTIME_DIR=" + w.runtime,
		"CALM_AGENT_IDLE=20s",
	}
	return append(env, w.extra...)
}

// cmd prepares `calm args...` in this world.
func (w *world) cmd(args ...string) *exec.Cmd {
	c := exec.Command(calmBin, args...)
	c.Env = w.env()
	return c
}

// run runs calm and returns stdout, stderr and the exit status.
func (w *world) run(stdin []byte, args ...string) (string, string, int) {
	w.t.Helper()
	c := w.cmd(args...)
	var out, errb bytes.Buffer
	c.Stdin, c.Stdout, c.Stderr = bytes.NewReader(stdin), &out, &errb
	err := c.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		w.t.Fatalf("run calm %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// ok runs calm and fails the test unless it exits 0.
func (w *world) ok(stdin []byte, args ...string) string {
	w.t.Helper()
	out, errs, code := w.run(stdin, args...)
	if code != 0 {
		w.t.Fatalf("calm %v exited %d: %s", args, code, errs)
	}
	return out
}

func (w *world) socket() string {
	matches, _ := filepath.Glob(filepath.Join(w.runtime, "calm", "agent-*.sock"))
	if len(matches) == 0 {
		return ""
	}
	return matches[0]
}

// agentPID asks the running agent for its pid; 0 if none answers.
func (w *world) agentPID() int {
	sock := w.socket()
	if sock == "" {
		return 0
	}
	c := agent.NewClient(sock, nil, "")
	defer c.Close()
	st, err := c.Status()
	if err != nil {
		return 0
	}
	pid, _ := st["pid"].(float64)
	return int(pid)
}

// waitIdle waits until the agent has no idle work left: every sealed
// capture's search lines derived.
func (w *world) waitIdle() {
	w.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		out, _, _ := w.run(nil, "agent", "status")
		if !strings.Contains(out, "idle work") {
			return
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("the agent still has idle work after a minute: %s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (w *world) stopAgent() {
	if pid := w.agentPID(); pid > 0 {
		syscall.Kill(pid, syscall.SIGTERM)
		// A graceful stop may take a while after heavy load (closing a big store).
		waitExited(pid, 30*time.Second)
	}
}

// exited says whether process pid has ended: it is gone, or a zombie. An
// agent's parent is whoever adopted it (PID 1, which may reap it only a
// second or two later), and signal 0 still finds a zombie.
func exited(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// pid (comm) state ...: comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' || stat[i+2] == 'X'
}

// waitExited waits until process pid has ended, at most within.
func waitExited(pid int, within time.Duration) {
	for deadline := time.Now().Add(within); !exited(pid) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
}

func (w *world) storePath() string { return filepath.Join(w.home, "calm.db") }

// withStore is this world pointed at another store (its own agent).
func (w *world) withStore(path string) *world {
	c := *w
	c.home = filepath.Dir(path)
	return &c
}

// checkStore stops the agent and runs bbolt's consistency check on the file.
func (w *world) checkStore() {
	w.t.Helper()
	w.stopAgent()
	b, err := bolt.Open(w.storePath(), 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		w.t.Fatalf("open store for its check: %v", err)
	}
	defer b.Close()
	b.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			w.t.Errorf("store consistency: %v", err)
		}
		return nil
	})
}

// shellText makes n bytes of text that looks like a shell session.
func shellText(n int, seed int64) []byte {
	r := rand.New(rand.NewSource(seed))
	words := []string{"ls", "-la", "/var/log", "drwxr-xr-x", "root", "ERROR", "INFO", "db.users.updateOne({_id:",
		`ObjectId("65f1a2")`, "total", "2026-11-26T15:41:33Z", "GET /api/v1/users 200", "\x1b[32mok\x1b[0m", "12.5%\r"}
	var b bytes.Buffer
	b.Grow(n + 256)
	for b.Len() < n {
		k := 3 + r.Intn(12)
		for i := 0; i < k; i++ {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(words[r.Intn(len(words))])
		}
		b.WriteByte('\n')
	}
	return b.Bytes()[:n]
}

func writeTemp(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "input")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}
