package sanitize_test

import (
	"math/rand"
	"strings"
	"testing"

	"calm/sanitize"
	"calm/terminal"
)

// shownByEmulator is what calm's terminal emulator, itself checked against
// xterm.js, shows of text: one line for each line of it.
func shownByEmulator(text string) string {
	var lines []string
	e := terminal.NewEmulator(512, 1, func(l []byte, _ float64) { lines = append(lines, string(terminal.PlainText(l))) })
	e.Write([]byte(text))
	e.Close()
	return strings.TrimRight(strings.Join(lines, "\n"), "\n") // a blank last row is not emitted
}

// TestTextShowsLinesAsATerminalDoes: lines that move along themselves
// (carriage returns, backspaces, tabs, cursor moves, save and restore,
// erase, delete, insert, repeat) among wide and combining characters and
// colours read as the emulator shows them, whatever pieces the stream
// arrives in. Before, a tab wrote over a cell, a wide character took one
// and a move on an empty line was lost.
func TestTextShowsLinesAsATerminalDoes(t *testing.T) {
	tokens := []string{"abc", "xyz", "Q", " ", "\r", "\b", "\t", "\r\n", "\n", "\x1b[D", "\x1b[2D", "\x1b[C", "\x1b[3C",
		"\x1b[5G", "\x1b[G", "\x1b[K", "\x1b[0K", "\x1b[1K", "\x1b[2K", "\x1b[P", "\x1b[2P", "\x1b[X", "\x1b[2X", "\x1b[@", "\x1b[2@",
		"Q\x1b[b", "中\x1b[3b", "\x1b7", "\x1b8", "\x1b[s", "\x1b[u", "\x1b[31m", "\x1b[0m", "中", "é", "e\u0301", "ｶ", "🙂"}
	// A repeat comes right after its character, as programs write it.
	r := rand.New(rand.NewSource(1))
	for range 20000 {
		var b strings.Builder
		for range 1 + r.Intn(12) {
			b.WriteString(tokens[r.Intn(len(tokens))])
		}
		in := b.String()
		want := shownByEmulator(in)
		var f sanitize.Filter
		var got []byte
		for rest := []byte(in); len(rest) > 0; {
			n := 1 + r.Intn(len(rest))
			got = f.Append(got, rest[:n])
			rest = rest[n:]
		}
		got = f.Flush(got)
		lines := strings.Split(strings.TrimSuffix(string(got), "\n"), "\n")
		for i := range lines {
			lines[i] = strings.TrimRight(lines[i], " ")
		}
		if strings.TrimRight(strings.Join(lines, "\n"), "\n") != want {
			t.Fatalf("%q reads %q, a terminal shows %q", in, got, want)
		}
	}
}
