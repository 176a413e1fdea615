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

// benchInput is CALM_BENCH_MB megabytes of shell-like text (default 200).
func benchInput(b *testing.B) (string, int64) {
	mb := 200
	if v, err := strconv.Atoi(os.Getenv("CALM_BENCH_MB")); err == nil && v > 0 {
		mb = v
	}
	p := filepath.Join(b.TempDir(), "input")
	if err := os.WriteFile(p, shellText(mb<<20, 1), 0o600); err != nil {
		b.Fatal(err)
	}
	return p, int64(mb) << 20
}

func runWithStdin(b *testing.B, c *exec.Cmd, input string) {
	in, err := os.Open(input)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	c.Stdin = in
	if out, err := c.CombinedOutput(); err != nil {
		b.Fatalf("%v: %v: %s", c.Args, err, out)
	}
}

// benchWorld is a private store with its agent running and an incident open.
func benchWorld(b *testing.B) *world {
	w := newWorld(b)
	w.ok(nil, "incident", "new", "bench")
	return w
}

// BenchmarkTee compares calm tee with coreutils tee on the same input in one
// run; compare the MB/s of the two sub-benchmarks (bench/tee.sh prints the
// ratio).
func BenchmarkTee(b *testing.B) {
	input, size := benchInput(b)
	b.Run("coreutils", func(b *testing.B) {
		out := filepath.Join(b.TempDir(), "out")
		b.SetBytes(size)
		for b.Loop() {
			c := exec.Command("sh", "-c", `tee "$1" > /dev/null`, "sh", out)
			runWithStdin(b, c, input)
		}
	})
	b.Run("calm", func(b *testing.B) {
		w := benchWorld(b)
		b.SetBytes(size)
		for b.Loop() {
			c := exec.Command("sh", "-c", `"$1" tee -q bench > /dev/null`, "sh", calmBin)
			c.Env = w.env()
			runWithStdin(b, c, input)
		}
	})
}

// BenchmarkShell compares calm shell with script(1) (and asciinema rec when
// installed) on cat of the same input in one run; compare their MB/s
// (bench/run prints the ratio). calm is timed to its exit; the store's seal
// that follows in the background is waited for outside the timer.
func BenchmarkShell(b *testing.B) {
	input, size := benchInput(b)
	b.Run("script", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			c := exec.Command("sh", "-c", `script -q -c "cat '$1'" /dev/null > /dev/null`, "sh", input)
			runWithStdin(b, c, os.DevNull)
		}
	})
	b.Run("calm", func(b *testing.B) {
		w := benchWorld(b)
		b.SetBytes(size)
		for b.Loop() {
			c := exec.Command("sh", "-c", `"$1" shell -- cat "$2" > /dev/null`, "sh", calmBin, input)
			c.Env = w.env()
			runWithStdin(b, c, os.DevNull)
			b.StopTimer()
			for {
				out, err := w.cmd("status").Output()
				if err != nil {
					b.Fatal(err)
				}
				if !strings.Contains(string(out), "being stored") && !strings.Contains(string(out), "still recording") {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			b.StartTimer()
		}
	})
	if _, err := exec.LookPath("asciinema"); err == nil {
		b.Run("asciinema", func(b *testing.B) {
			cast := filepath.Join(b.TempDir(), "a.cast")
			b.SetBytes(size)
			for b.Loop() {
				c := exec.Command("sh", "-c", `script -q -c "asciinema rec -q --overwrite -c 'cat $1' $2" /dev/null > /dev/null`, "sh", input, cast)
				runWithStdin(b, c, os.DevNull)
			}
		})
	}
}
