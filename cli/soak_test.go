package cli

import (
	"bytes"
	"fmt"
	mrand "math/rand"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// soakTime is how long the concurrency test runs: CALM_SOAK (for example
// 2m; bench/faults runs it for a minute), 2 seconds by default, which is
// still dozens of tees beside the session and the TUI, so the suite stays
// short: its full-speed tees slow every test running beside them.
func soakTime() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("CALM_SOAK")); err == nil && d > 0 {
		return d
	}
	return 2 * time.Second
}

// TestEightTeesAShellAndTheTUIAtOnce runs eight calm tee loops, a recording
// calm shell and the TUI following it, all at full speed: every capture
// holds exactly its own input, the session holds every line in order, the
// TUI still answers, and the store and every copy check out.
func TestEightTeesAShellAndTheTUIAtOnce(t *testing.T) {
	t.Parallel()
	slow(t)
	w := newWorld(t)
	w.ok(nil, "incident", "new", "soak")
	d := soakTime()
	deadline := time.Now().Add(d)

	// The recorder prints numbered lines until the time is up.
	secs := int(d.Seconds()) + 1
	shell := w.cmd("shell", "--wait", "--", "sh", "-c", fmt.Sprintf(`end=$(($(date +%%s) + %d)); i=0; while [ $(date +%%s) -lt $end ]; do seq -f "shell %%.0f" $i $((i+999)); i=$((i+1000)); done; echo done $i`, secs))
	var shellOut lockedBuffer
	shell.Stdout, shell.Stderr = &shellOut, &shellOut
	if err := shell.Start(); err != nil {
		t.Fatal(err)
	}

	// The TUI follows the session while everything else runs.
	tm := newTmux(t)
	tm.start(w.envPrefix() + calmBin + " ui")
	tm.waitFor("soak", 10*time.Second)

	type saved struct {
		input []byte
		out   string
	}
	var mu sync.Mutex
	var captures []saved
	var wg sync.WaitGroup
	for k := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := mrand.New(mrand.NewSource(int64(k)))
			for n := 0; time.Now().Before(deadline); n++ {
				var in bytes.Buffer
				lines := 1 + r.Intn(40_000)
				for i := range lines {
					fmt.Fprintf(&in, "tee%d capture%d line%d %s\n", k, n, i, strings.Repeat("x", r.Intn(80)))
				}
				stdout, errs, code := w.run(in.Bytes(), "tee", fmt.Sprintf("tee%d-%d", k, n))
				if code != 0 || stdout != in.String() {
					t.Errorf("tee%d #%d: exit %d, stdout %d of %d bytes: %s", k, n, code, len(stdout), in.Len(), errs)
					return
				}
				m := savedRe.FindStringSubmatch(errs)
				if m == nil {
					t.Errorf("tee%d #%d said nothing saved: %s", k, n, errs)
					return
				}
				mu.Lock()
				captures = append(captures, saved{in.Bytes(), m[1]})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := shell.Wait(); err != nil {
		t.Fatalf("calm shell: %v: %s", err, lastLines(shellOut.String(), 3))
	}
	if t.Failed() {
		return
	}
	// The TUI still answers.
	tm.press("?")
	tm.waitFor("calm keys", 10*time.Second)
	// One key at a time: Escape and q in one write are Alt-q.
	tm.press("Escape")
	time.Sleep(200 * time.Millisecond)
	tm.press("q")
	tm.waitFor("Quit calm?", 10*time.Second)
	tm.press("y")
	// The TUI gone before the agent stops: a TUI still quitting would start
	// the agent again, and hold the store the check opens.
	for deadline := time.Now().Add(20 * time.Second); strings.TrimSpace(tm.run("display", "-p", "-t", "t", "#{pane_dead}")) != "1"; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the TUI did not quit:\n%s", lastLines(tm.screen(), 8))
		}
	}

	for _, c := range captures {
		if got := w.ok(nil, "show", "--raw", c.out); got != string(c.input) {
			t.Fatalf("%s holds %d bytes, its input had %d: interleaved or lost", c.out, len(got), len(c.input))
		}
	}
	// The session: every number once, in order.
	lines := trimLines(w.ok(nil, "show", "s1"))
	next := 0
	for _, l := range lines {
		if !strings.HasPrefix(l, "shell ") {
			continue
		}
		n, err := strconv.Atoi(strings.TrimPrefix(l, "shell "))
		if err != nil || n != next {
			t.Fatalf("session line %q, want shell %d", l, next)
		}
		next++
	}
	if next < 1000 {
		t.Fatalf("the session holds only %d lines", next)
	}
	if out, errs, code := w.run(nil, "verify"); code != 0 {
		t.Fatalf("verify: %s %s", out, errs)
	}
	t.Logf("%s: %d captures from 8 tees, %d session lines", d, len(captures), next)
	w.stopAgent()
	w.checkStore()
}
