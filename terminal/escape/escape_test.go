package escape

import (
	"strings"
	"testing"
)

// skipAll reads b from ground the way every user does: ESC and C1 controls
// written as UTF-8 begin sequences, d says where they end. It returns what
// is left of b outside them.
func skipAll(d *Dialect, b string) string {
	var out strings.Builder
	st := Ground
	for i := 0; i < len(b); {
		if st != Ground {
			n, next := d.Skip([]byte(b[i:]), st)
			i, st = i+n, next
			continue
		}
		switch {
		case b[i] == esc:
			st = Esc
			i++
		case d != Keys && b[i] == 0xc2 && i+1 < len(b) && b[i+1] < 0xa0:
			st = Begin(rune(b[i+1]))
			i += 2
		default:
			out.WriteByte(b[i])
			i++
		}
	}
	return out.String()
}

func TestSequencesEndWhereATerminalEndsThem(t *testing.T) {
	cases := []struct {
		in, output, keys string
	}{
		{"a\x1b[1;31mb", "ab", "ab"},
		{"a\x1b[?1049hb", "ab", "ab"},
		{"a\x1b[3\xc3\xa9mb", "ab", "ab"}, // bytes of any value inside CSI
		{"a\x1b]0;title\x07b", "ab", "a0;title\x07b"},
		{"a\x1b]52;c;Zm9v\x1b\\b", "ab", "a52;c;Zm9vb"},
		{"a\x1b]0;t\xc2\x9cb", "ab", "a0;t\xc2\x9cb"},
		{"a\x1bP$q\x1b\x1b\\b", "ab", "a$q\\b"},                    // ESC ESC \ still ends a string
		{"a\x1b]0;t\x1b\xc2\x9cb", "ab", "a0;tb"},                  // the ESC ends the string, then ESC and one character
		{"a\x1b]0;t\x1bxmore\x07b", "amore\x07b", "a0;tmore\x07b"}, // any ESC ends a string, as in xterm.js and tmux
		{"a\x1b]0;t\x1b\x07more\x07b", "amore\x07b", "a0;tmore\x07b"},
		{"a\x1b_apc\x1b\\b", "ab", "aapcb"},
		{"a\x1bXsos\x07b", "ab", "asos\x07b"},
		{"a\x1b^pm\x07b", "ab", "apm\x07b"},
		{"a\x1b(Bb", "ab", "aBb"},
		{"a\x1b(\x1b[1mb", "ab", "ab"}, // ESC after an intermediate begins a new sequence
		{"a\x1b#8b", "ab", "a8b"},
		{"a\x1b=b\x1b>c", "abc", "abc"},
		{"a\x1b\x1b[31mb", "ab", "a[31mb"}, // output: ESC restarts; typed: Alt-ESC
		{"a\x1b[31\x1b[32mb", "ab", "ab"},
		{"a\x1b[31\x18b", "ab", "ab"}, // CAN cancels
		{"a\x1b[31\x1ab", "ab", "ab"}, // SUB cancels
		{"a\x1b]0;t\x18b", "ab", "a0;t\x18b"},
		{"a\x1bP1$t\x1ab", "ab", "a1$t\x1ab"},
		{"a\x1bOAb", "aAb", "ab"}, // SS3: output shows the character; typed, a key
		{"a\x1bO\xc3\xa9b", "a\xc3\xa9b", "ab"},
		{"a\x1b\xc3\xa9b", "ab", "ab"}, // Alt-é typed; output: ESC and one character, as xterm.js
		{"a\xc2\x9b1mb", "ab", "a\xc2\x9b1mb"},
		{"a\xc2\x9d0;t\xc2\x9cb", "ab", "a\xc2\x9d0;t\xc2\x9cb"},
		{"a\xc2\x9b1\x18b", "ab", "a\xc2\x9b1\x18b"},
		{"a\x9b1mb", "a\x9b1mb", "a\x9b1mb"}, // a raw 0x9b is broken UTF-8, not CSI
		{"a\x1b[1\nm", "a", "a"},             // a line feed inside CSI is the sequence's
		{"a\x1b]0;t\nmore", "a", "a0;t\nmore"},
	}
	for _, c := range cases {
		if got := skipAll(Output, c.in); got != c.output {
			t.Errorf("Output: %q leaves %q, want %q", c.in, got, c.output)
		}
		if got := skipAll(Keys, c.in); got != c.keys {
			t.Errorf("Keys: %q leaves %q, want %q", c.in, got, c.keys)
		}
	}
}

// Lines is Output but for the line feed, which ends a sequence unread.
func TestLinesEndsSequencesAtTheLineEnd(t *testing.T) {
	for st := Esc; st < numStates; st++ {
		if st == SS3 || st >= KeyRune {
			continue // a character after ESC: ended before any other byte
		}
		for c := range 256 {
			want := Output.next[st][c]
			if c == '\n' {
				want = before
			}
			if got := Lines.next[st][c]; got != want {
				t.Errorf("Lines in state %d, byte %#x: %d, want %d", st, c, got, want)
			}
		}
		for _, b := range []string{"a\n", "\n", "\x1b\\\n"} {
			n, next := Lines.Skip([]byte(b), st)
			if b[0] == esc && st.InString() {
				// The ESC ends the string before it (and begins ST).
				if n != 0 || next != Ground {
					t.Errorf("Lines from state %d over %q: %d bytes, state %d", st, b, n, next)
				}
				continue
			}
			if b[n] != '\n' || next != Ground {
				t.Errorf("Lines from state %d over %q: %d bytes, state %d", st, b, n, next)
			}
		}
	}
}

// A sequence read in pieces ends where it ends read whole, wherever the
// pieces are cut.
func FuzzSkipInPieces(f *testing.F) {
	f.Add([]byte("\x1b]52;c;Zm9v\x1b\\rest"), 7, uint8(0))
	f.Add([]byte("\x1b]0;t\xc2\x9crest"), 5, uint8(0))
	f.Add([]byte("\x1b[1;2\x18rest"), 3, uint8(1))
	f.Add([]byte("\x1bO\xe2\x82\xacrest"), 3, uint8(2))
	f.Fuzz(func(t *testing.T, b []byte, cut int, which uint8) {
		d := []*Dialect{Output, Lines, Keys}[which%3]
		whole, wholeSt := d.Skip(b, Esc)
		if whole < len(b) && wholeSt != Ground || whole == len(b) && wholeSt == Ground && !endsLast(d, b) {
			t.Fatalf("Skip(%q) = %d, state %d", b, whole, wholeSt)
		}
		if cut < 0 || cut > len(b) {
			return
		}
		n, st := d.Skip(b[:cut], Esc)
		if st != Ground {
			m, st2 := d.Skip(b[cut:], st)
			n, st = cut+m, st2
		}
		if n != whole || st != wholeSt {
			t.Fatalf("%q cut at %d: %d bytes, state %d; whole: %d, state %d", b, cut, n, st, whole, wholeSt)
		}
	})
}

// endsLast reports whether a sequence that takes all of b ends with its
// last byte.
func endsLast(d *Dialect, b []byte) bool {
	n, st := d.Skip(b[:len(b)-1], Esc)
	return n == len(b)-1 && st != Ground
}

// A C1 control begins what its 7-bit form (ESC and the byte 0x40 below)
// begins; one whose form is a two-byte sequence is a control on its own.
func TestC1BeginsWhatItsSevenBitFormBegins(t *testing.T) {
	for r := rune(0x80); r <= 0x9f; r++ {
		want := Output.next[Esc][r-0x40]
		if want == done {
			want = Ground
		}
		if got := Begin(r); got != want {
			t.Errorf("Begin(%U) = %d, want %d (as ESC %c)", r, got, want, r-0x40)
		}
	}
}
