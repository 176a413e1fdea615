package storage

import (
	"bytes"
	"os/exec"
	"testing"
)

// BenchmarkStrip times the stripping of escapes that spares coloured lines
// a sanitising pass (what the search does to every chunk of a query that
// reads every line), over 8 MiB of bench/gen's text in chunks of whole
// lines; and over a shell session's prompt lines, whose titles and
// hyperlinks are OSC strings.
func BenchmarkStrip(b *testing.B) {
	text, err := exec.Command("go", "run", "../bench/gen", "8").Output()
	if err != nil {
		b.Fatal(err)
	}
	var prompts bytes.Buffer
	for prompts.Len() < 8<<20 {
		prompts.WriteString("\x1b]0;ada@db1: ~/src\x07\x1b[01;32mada@db1\x1b[00m:\x1b[01;34m~/src\x1b[00m$ ls -l\r\n" +
			"\x1b]8;;file:///home/ada/src/main.go\x1b\\main.go\x1b]8;;\x1b\\  \x1b(B\x1b[mREADME.md\r\n")
	}
	for _, c := range []struct {
		name string
		text []byte
	}{{"gen", text}, {"prompts", prompts.Bytes()}} {
		var chunks [][]byte
		for t := c.text; len(t) > 0; {
			end := bytes.LastIndexByte(t[:min(len(t), ChunkSize)], '\n') + 1
			if end == 0 {
				break
			}
			chunks, t = append(chunks, t[:end]), t[end:]
		}
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.text)))
			var s stripped
			for b.Loop() {
				for _, chunk := range chunks {
					s.strip(chunk)
				}
			}
		})
	}
}
