package terminal

import (
	"bytes"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/charmbracelet/x/vt"
)

// benchOutput is about 16 MiB of output made of line(i).
func benchOutput(line func(i int) string) []byte {
	var raw bytes.Buffer
	for i := 0; raw.Len() < 16<<20; i++ {
		raw.WriteString(line(i))
	}
	return raw.Bytes()
}

func plainLine(i int) string {
	return "2026-11-26T16:13:01Z INFO request id=" + strings.Repeat("a", i%40) + " done\r\n"
}

func colouredLine(i int) string {
	return "\x1b[32m2026-11-26\x1b[0m \x1b[1mINFO\x1b[0m request id=" + strings.Repeat("a", i%40) + " done\r\n"
}

// benchCast records output as a session's asciicast stream, in the events
// a recorder writes (reads of up to 4 KiB).
func benchCast(out []byte) []byte {
	var cast bytes.Buffer
	cast.WriteString(`{"version": 2, "width": 80, "height": 24}` + "\n")
	for i := 0; len(out) > 0; i++ {
		k := min(len(out), 4096)
		cast.Write(AppendOutput(nil, float64(i)/1000, out[:k]))
		out = out[k:]
	}
	return cast.Bytes()
}

func benchEmulator(b *testing.B, line func(i int) string) {
	raw := benchOutput(line)
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		e := NewSessionEmulator(80, 24, func([]byte, float64) {})
		e.Write(raw)
		e.Close()
	}
}

// promptLine is a shell's prompt and a command's output in a session: a
// window title and hyperlinks (OSC strings) around colours.
func promptLine(i int) string {
	return "\x1b]0;ada@db1: ~/src\x07\x1b[01;32mada@db1\x1b[00m:\x1b[01;34m~/src\x1b[00m$ ls\r\n" +
		"\x1b]8;;file:///home/ada/src/f" + strings.Repeat("a", i%40) + ".go\x1b\\f.go\x1b]8;;\x1b\\\r\n"
}

func BenchmarkEmulatorPlain(b *testing.B)    { benchEmulator(b, plainLine) }
func BenchmarkEmulatorColoured(b *testing.B) { benchEmulator(b, colouredLine) }
func BenchmarkEmulatorPrompts(b *testing.B)  { benchEmulator(b, promptLine) }

// The Derive benchmarks time what sealing does: a session's asciicast
// stream in, its derived text out. MB/s counts the output recorded.
func benchDerive(b *testing.B, line func(i int) string) {
	out := benchOutput(line)
	cast := benchCast(out)
	b.SetBytes(int64(len(out)))
	cpu := cpuTime()
	n := 0
	for b.Loop() {
		if err := DeriveText(bytes.NewReader(cast), io.Discard); err != nil {
			b.Fatal(err)
		}
		n++
	}
	// On a machine others share, the CPU time this process used is a
	// steadier measure than the wall clock.
	b.ReportMetric(float64(len(out)*n)/1e6/(cpuTime()-cpu).Seconds(), "MB/cpu-s")
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkDerivePlain(b *testing.B)    { benchDerive(b, plainLine) }
func BenchmarkDeriveColoured(b *testing.B) { benchDerive(b, colouredLine) }

// BenchmarkXVT is the baseline: charmbracelet/x/vt, a complete emulator,
// on the same output (a quarter of it: it is slow).
func benchXVT(b *testing.B, line func(i int) string) {
	raw := benchOutput(line)
	raw = raw[:len(raw)/4]
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		e := vt.NewEmulator(80, 24)
		go func(r io.Reader) { _, _ = io.Copy(io.Discard, r) }(e)
		_, _ = e.Write(raw)
		if pw, ok := e.InputPipe().(*io.PipeWriter); ok {
			_ = pw.CloseWithError(io.EOF)
		}
	}
}

func BenchmarkXVTPlain(b *testing.B)    { benchXVT(b, plainLine) }
func BenchmarkXVTColoured(b *testing.B) { benchXVT(b, colouredLine) }
