package sanitize

import (
	"bytes"
	"fmt"
	"testing"
)

// benchText is about 8 MiB of output made of line(i).
func benchText(line func(i int) string) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < 8<<20; i++ {
		b.WriteString(line(i))
	}
	return b.Bytes()
}

func benchSanitize(b *testing.B, line func(i int) string) {
	in := benchText(line)
	out := make([]byte, 0, len(in))
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		out = AppendText(out[:0], in)
	}
}

// Plain log lines; coloured ones (SGR around words, as grep --color and
// loggers write them); a shell session's prompt lines (a title and a
// hyperlink, OSC strings, around colours).
func BenchmarkTextPlain(b *testing.B) {
	benchSanitize(b, func(i int) string {
		return fmt.Sprintf("2026-11-26T16:13:01Z INFO request id=%d path=/v1/orders status=200 took=%dms\n", i, i%900)
	})
}

func BenchmarkTextColoured(b *testing.B) {
	benchSanitize(b, func(i int) string {
		return fmt.Sprintf("\x1b[32m2026-11-26\x1b[0m \x1b[1;31mERROR\x1b[0m worker-%d: connection \x1b[01;31m\x1b[Kreset\x1b[m\x1b[K by peer (retry %d of 5)\r\n", i%64, i%5)
	})
}

func BenchmarkTextPrompts(b *testing.B) {
	benchSanitize(b, func(i int) string {
		return fmt.Sprintf("\x1b]0;ada@db1: ~/src\x07\x1b[01;32mada@db1\x1b[00m:\x1b[01;34m~/src\x1b[00m$ ls\r\n\x1b]8;;file:///home/ada/src/f%d.go\x1b\\f%d.go\x1b]8;;\x1b\\\r\n", i, i)
	})
}

// Progress lines, each redrawn over itself ten times (\r, a spinner's \b,
// an erase to the end of the line), as pv, curl and package managers write.
func BenchmarkTextProgress(b *testing.B) {
	benchSanitize(b, func(i int) string {
		var l bytes.Buffer
		for p := 0; p <= 100; p += 10 {
			fmt.Fprintf(&l, "\rfetching layer %d: %3d%% [%-20s] %c\b", i, p, bytes.Repeat([]byte("#"), p/5), `|/-\`[p/10%4])
		}
		l.WriteString("\x1b[K done\n")
		return l.String()
	})
}

// One line at a time, as the store derives its search lines: a progress
// bar a log line then writes over, as in bench/gen's shell-like text.
func BenchmarkTextEachLine(b *testing.B) {
	in := benchText(func(i int) string {
		return fmt.Sprintf("downloading %3d%% [%-20s]\r\x1b[1;32m\u2714\x1b[0m step %d passed \x1b[2m(%d ms)\x1b[0m\n", i%100, bytes.Repeat([]byte("="), i%20), i, i%5000)
	})
	lines := bytes.SplitAfter(in, []byte("\n"))
	out := make([]byte, 0, len(in))
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		out = out[:0]
		for _, l := range lines {
			out = AppendText(out, l)
		}
	}
}
