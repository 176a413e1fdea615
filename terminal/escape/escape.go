// Package escape finds where a terminal escape sequence ends. It is the one
// set of rules that sanitize, the store's line stripper (search), capture's
// command watchers and the emulator's strings follow, so that what one of
// them takes for a sequence the others take for the same one. It imports
// nothing of calm's, so that every package can use it.
//
// The rules are those of a UTF-8 terminal: ESC begins a sequence; CSI ends
// at its final byte (0x40-0x7e); OSC, DCS, SOS, PM and APC are strings that
// end at BEL or ST (ESC \ or U+009C), or before any other ESC; ESC and up
// to any number of intermediates (0x20-0x2f) take one more byte; an ESC
// inside a sequence begins a new one (inside a string too: ST is then the
// two-byte sequence ESC \); CAN and SUB cancel a sequence. C1 controls count only written as UTF-8 (U+0080-U+009F): a raw
// byte 0x80-0x9f is broken UTF-8, not a control, as a UTF-8 terminal reads
// it. A C0 control inside a sequence belongs to it here; a user that acts on
// it there (the emulator does) still sees the same end.
package escape

// State is where a scan stands in a sequence.
type State uint8

const (
	Ground    State = iota // outside any sequence
	Esc                    // after ESC
	EscInter               // after ESC and an intermediate (0x20-0x2f)
	CSI                    // in a control sequence, before its final byte
	String                 // in an OSC, DCS, SOS, PM or APC string
	StringEsc              // unused: any ESC ends a string (kept so states keep their numbers)
	StringC2               // after 0xC2 in a string: ST if 0x9C follows
	SS3                    // typed: after ESC O, before the key's byte
	KeyRune                // in a multi-byte character after ESC (or, typed, ESC O): its last byte to come
	KeyRune2               // output: two of its bytes to come
	KeyRune3               // output: three of its bytes to come
	numStates
)

// Two targets that end a sequence; never a state a scan is left in.
const (
	done   State = 0x40 + iota // the byte is the sequence's last
	before                     // the sequence ended before the byte
)

// A Dialect is a set of rules for where sequences end: for each state and
// byte, the state after it.
type Dialect struct {
	// 16 rows, not numStates: a row index masked with 15 needs no bounds
	// check in Skip's loop.
	next [16][256]State
}

var (
	// Output is a program's output as a terminal reads it.
	Output = output()
	// Lines is Output read a line at a time: a line feed is never part of
	// a sequence. A sequence that a line's end cuts short ends there, as it
	// does when the line is read alone. Captured output is read by it
	// everywhere but a session's emulator (sanitize, search, redaction, a
	// capture's viewer), so that output cannot hide the lines after a
	// string it never ends, and every view numbers lines alike.
	Lines = lines()
	// Keys is what a terminal sends for typed keys: CSI and SS3 (ESC O
	// and one more character) are the cursor and function keys; ESC and
	// any other character, even ] or P, is that character typed with Alt,
	// never the start of a string.
	Keys = keys()
)

// Skip reads b, the bytes that follow a sequence read as far as state st,
// and returns how many of them belong to the sequence and the state after
// them: Ground when the sequence ends within b (what follows is not looked
// at), else the state to go on with in the bytes that come next (n is then
// len(b)). From Ground it reads nothing.
func (d *Dialect) Skip(b []byte, st State) (n int, next State) {
	// Most bytes leave the state as it is (a parameter, a string's text):
	// the row stays, and the next byte's lookup need not wait for this
	// one's.
	row := &d.next[st&15]
	for i, c := range b {
		s := row[c]
		if s == st {
			continue
		}
		switch s {
		case done:
			return i + 1, Ground
		case before:
			return i, Ground
		}
		st, row = s, &d.next[s&15]
	}
	return len(b), st
}

// Begin returns the state that a C1 control written as UTF-8 (U+0080 to
// U+009F) leaves output in: CSI (U+009B) and the string introducers (DCS,
// SOS, OSC, PM, APC) begin what their 7-bit forms begin; any other C1
// control is one on its own, and the state stays Ground.
func Begin(r rune) State {
	switch r {
	case 0x9b:
		return CSI
	case 0x90, 0x98, 0x9d, 0x9e, 0x9f:
		return String
	}
	return Ground
}

// InString reports whether st is inside a string (OSC, DCS, SOS, PM, APC).
func (st State) InString() bool { return st >= String && st <= StringC2 }

const (
	bel = 0x07
	can = 0x18
	sub = 0x1a
	esc = 0x1b
)

func output() *Dialect {
	d := new(Dialect)
	for c := range 256 {
		d.next[Ground][c] = before
		d.next[Esc][c] = done      // ESC and one byte
		d.next[EscInter][c] = done // the final byte
		d.next[CSI][c] = CSI
		d.next[String][c] = String
		d.next[StringEsc][c] = String
		d.next[StringC2][c] = String
		d.next[SS3][c] = done
		d.next[KeyRune][c] = before
		d.next[KeyRune2][c] = before
		d.next[KeyRune3][c] = before
	}
	d.set(Esc, '[', CSI)
	for _, c := range []byte{']', 'P', 'X', '^', '_'} { // OSC, DCS, SOS, PM, APC
		d.set(Esc, c, String)
	}
	for c := byte(0x20); c <= 0x2f; c++ {
		d.set(Esc, c, EscInter)
		d.set(EscInter, c, EscInter)
	}
	for c := byte(0x40); c <= 0x7e; c++ {
		d.set(CSI, c, done)
	}
	for _, st := range []State{String, StringC2} {
		d.set(st, bel, done)
	}
	d.set(StringC2, 0x9c, done)
	for _, st := range []State{String, StringEsc, StringC2} {
		// Any ESC ends a string, as a VT500 parser (xterm.js, tmux) ends
		// it: ST (ESC \\) is then an escape sequence of its own, and ESC [
		// after an OSC never ended is a CSI, which a terminal acts on.
		d.set(st, esc, before)
		d.set(st, 0xc2, StringC2)
	}
	for _, st := range []State{Esc, EscInter, CSI} {
		d.set(st, esc, Esc) // a new sequence
	}
	// ESC and a character beyond ASCII take the whole character (as many
	// bytes as its first says), as a UTF-8 terminal decodes it first: ESC
	// then U+009C (ST) shows nothing.
	for c := 0xc2; c <= 0xf4; c++ {
		switch {
		case c < 0xe0:
			d.next[Esc][c] = KeyRune
		case c < 0xf0:
			d.next[Esc][c] = KeyRune2
		default:
			d.next[Esc][c] = KeyRune3
		}
	}
	for c := 0x80; c <= 0xbf; c++ {
		d.next[KeyRune][c] = done
		d.next[KeyRune2][c] = KeyRune
		d.next[KeyRune3][c] = KeyRune2
	}
	d.cancellable()
	return d
}

func lines() *Dialect {
	d := output()
	for st := Esc; st < numStates; st++ {
		d.set(st, '\n', before)
	}
	return d
}

func keys() *Dialect {
	d := output()
	for c := range 256 {
		d.next[Esc][c] = done
		d.next[SS3][c] = done
	}
	d.set(Esc, '[', CSI)
	d.set(Esc, 'O', SS3)
	for c := 0xc2; c <= 0xf4; c++ {
		d.next[Esc][c] = KeyRune
		d.next[SS3][c] = KeyRune
	}
	for c := 0x80; c <= 0xbf; c++ {
		d.next[KeyRune][c] = KeyRune
	}
	d.cancellable()
	return d
}

// cancellable makes CAN and SUB end any sequence.
func (d *Dialect) cancellable() {
	for st := Esc; st < numStates; st++ {
		if st < KeyRune {
			d.set(st, can, done)
			d.set(st, sub, done)
		}
	}
}

func (d *Dialect) set(st State, c byte, to State) { d.next[st][c] = to }
