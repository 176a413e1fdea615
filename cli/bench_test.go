package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
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
		w := &world{t: &testing.T{}, home: filepath.Join(b.TempDir(), "home"), config: b.TempDir()}
		rt, _ := os.MkdirTemp("", "rt")
		w.runtime = rt
		defer func() { w.stopAgent(); os.RemoveAll(rt) }()
		if err := w.cmd("incident", "new", "bench").Run(); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(size)
		for b.Loop() {
			c := exec.Command("sh", "-c", `"$1" tee -q bench > /dev/null`, "sh", calmBin)
			c.Env = w.env()
			runWithStdin(b, c, input)
		}
	})
}
