package terminal

import (
	"testing"
	"unicode/utf8"

	"calm/terminal/escape"
)

// The emulator parses CSI and ESC sequences itself, as it collects their
// parameters, and skips strings with escape's rules: every sequence ends
// where escape.Output ends it in a session, and where escape.Lines does in
// text (a capture, where a line's end ends any sequence, as sanitize and
// search read it), for every byte in every state.
func TestEmulatorEndsSequencesWhereEscapeDoes(t *testing.T) {
	for _, mode := range []struct {
		name    string
		new     func(cols, rows int, emit func([]byte, float64)) *Emulator
		dialect *escape.Dialect
	}{{"session", NewSessionEmulator, escape.Output}, {"text", NewEmulator, escape.Lines}} {
		t.Run(mode.name, func(t *testing.T) { testEmulatorEndsSequences(t, mode.new, mode.dialect) })
	}
}

func testEmulatorEndsSequences(t *testing.T, newEmulator func(cols, rows int, emit func([]byte, float64)) *Emulator, dialect *escape.Dialect) {
	prefixes := map[escape.State]string{
		escape.Esc:      "\x1b",
		escape.EscInter: "\x1b(",
		escape.CSI:      "\x1b[1;",
		escape.String:   "\x1b]0;",
		escape.StringC2: "\x1b]0;\xc2",
	}
	for st, prefix := range prefixes {
		for c := range 256 {
			e := newEmulator(80, 24, func([]byte, float64) {})
			e.Write([]byte(prefix))
			if e.state != st {
				t.Fatalf("%q leaves state %d, want %d", prefix, e.state, st)
			}
			e.Write([]byte{byte(c)})
			n, want := dialect.Skip([]byte{byte(c)}, st)
			if n == 0 && c == 0x1b {
				want = escape.Esc // the sequence ended before it: it begins the next
			}
			if e.state != want {
				t.Errorf("%q then %#x: state %d, want %d", prefix, c, e.state, want)
			}
		}
	}
	for r := rune(0x80); r <= 0x9f; r++ {
		e := newEmulator(80, 24, func([]byte, float64) {})
		e.Write(utf8.AppendRune(nil, r))
		if want := escape.Begin(r); e.state != want {
			t.Errorf("%U: state %d, want %d", r, e.state, want)
		}
	}
}

// boundaries is the state of a reader that begins sequences as every user
// of escape does (ESC, or a C1 control written as UTF-8) and ends them
// where escape.Output says, after each byte it is fed.
type boundaries struct {
	st      escape.State
	pending []byte          // a rune begun in the ground state
	dialect *escape.Dialect // escape.Output when nil
}

func (b *boundaries) feed(c byte) {
	if b.st != escape.Ground {
		d := b.dialect
		if d == nil {
			d = escape.Output
		}
		var n int
		if n, b.st = d.Skip([]byte{c}, b.st); n == 1 {
			return
		}
		// The sequence ended before c (an ESC, or a text's line feed):
		// c is read from the ground state.
	}
	if len(b.pending) == 0 && c < 0x80 {
		if c == 0x1b {
			b.st = escape.Esc
		}
		return
	}
	b.pending = append(b.pending, c)
	if !utf8.FullRune(b.pending) {
		return
	}
	r, size := utf8.DecodeRune(b.pending)
	rest := b.pending[size:]
	b.pending = nil
	if r >= 0x80 && r <= 0x9f {
		b.st = escape.Begin(r)
	}
	for _, c := range rest { // what followed a byte that began no rune
		b.feed(c)
	}
}

// Whatever the bytes, written whole or a byte at a time, the emulator is
// inside a sequence exactly when the reference reader is, and in the same
// state.
func FuzzEmulatorSequenceBoundaries(f *testing.F) {
	f.Add([]byte("a\x1b[31\x18b\x1b]0;t\x1b\xc2\x9cc\x1b\x1b[1md\xc2\x9b2Je\xe2\x82\xac\x1bP$q\x07"))
	f.Add([]byte("\x1b(\x1b[4m\x1b#8\xc2\x9d8;;x\x1b\\\xf0\x9f\x98\x80\x1b[?1049h\x1b[?1049l"))
	f.Fuzz(func(t *testing.T, in []byte) {
		ref := boundaries{dialect: escape.Lines} // text: a line's end ends a sequence
		e := NewEmulator(80, 24, func([]byte, float64) {})
		for i, c := range in {
			e.Write([]byte{c})
			ref.feed(c)
			if e.state != ref.st {
				t.Fatalf("%q, byte by byte: after byte %d, state %d, want %d", in, i, e.state, ref.st)
			}
		}
		whole := NewEmulator(80, 24, func([]byte, float64) {})
		whole.Write(in)
		if whole.state != ref.st {
			t.Fatalf("%q whole: state %d, want %d", in, whole.state, ref.st)
		}
	})
}
