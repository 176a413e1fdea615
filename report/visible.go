package report

import (
	"sort"
	"unicode/utf8"

	"calm/terminal/escape"
)

// reading is stored bytes as a person reads them: escape sequences and
// controls taken out, so that a secret coloured in parts (grep --color,
// jq -C) is one run of text again. Every byte of text remembers where it
// was stored, so a match on the text maps back onto the stored bytes.
type reading struct {
	text []byte
	at   offsets // where each byte of text is stored
	// strings are the string sequences (OSC, DCS, SOS, PM, APC) as stored
	// ranges: their payloads are text too (a window title can hold a
	// command line) and are read on their own.
	strings []storedString
}

// storedString is one string sequence: all of it [start, end), its payload
// [payStart, payEnd).
type storedString struct {
	start, end, payStart, payEnd int
}

// read scans stored bytes by the rules every view of them follows
// (terminal/escape): what a view shows is text here, byte for byte, so no
// sequence, cancelled sequence or dropped character can split a secret in
// the text redaction reads while the view shows it whole. Printable bytes,
// tab, CR, LF and broken UTF-8 are text; sequences, other controls (C0, DEL,
// C1 written as UTF-8) and the characters views drop are not.
func read(stored []byte) reading {
	if textRun(stored, 0) == len(stored) {
		return reading{text: stored} // most output: the text is the stored form
	}
	r := reading{text: make([]byte, 0, len(stored)), at: offsets{}}
	keep := func(from, to int) {
		r.at = r.at.add(len(r.text), from)
		r.text = append(r.text, stored[from:to]...)
	}
	for i := 0; i < len(stored); {
		if j := textRun(stored, i); j > i {
			keep(i, j)
			i = j
			continue
		}
		start, st := i, escape.Ground
		switch c := stored[i]; {
		case c == 0x1b:
			st = escape.Esc
			i++
		case c < 0x80:
			i++ // a control
			continue
		default:
			ru, size := utf8.DecodeRune(stored[i:])
			switch {
			case ru >= 0x80 && ru <= 0x9f:
				st = escape.Begin(ru) // Ground: a C1 control on its own
			case ru == 0x2028 || ru == 0x2029 || ru == 0xfeff:
				// views drop these
			case ru >= 0x200b && ru <= 0x200d || ru == 0x2060:
				// zero-width: a person reads the text around them as one
			default:
				keep(i, i+size) // a character, or a byte of broken UTF-8
			}
			i += size
			if st == escape.Ground {
				continue
			}
		}
		i = r.sequence(stored, start, i, st)
	}
	return r
}

// sequence reads on from stored[i] a sequence begun at start and read as far
// as state st, and returns where it ends; a string's payload is kept.
func (r *reading) sequence(stored []byte, start, i int, st escape.State) int {
	// Up to a string or the end, a byte at a time: these are short, and
	// one may chain into a string (ESC [ 1 ESC ] ...).
	for st != escape.Ground && !st.InString() {
		if i >= len(stored) {
			return i
		}
		n, next := escape.Lines.Skip(stored[i:i+1], st)
		if n == 0 {
			return i
		}
		i, st = i+n, next
	}
	if st == escape.Ground {
		return i
	}
	pay := i
	n, next := escape.Lines.Skip(stored[i:], st)
	end := i + n
	payEnd := end
	if next == escape.Ground { // the terminator is not payload
		switch last := stored[end-1]; {
		case last == 0x07 || last == 0x18 || last == 0x1a:
			payEnd = end - 1
		case end-pay >= 2 && (stored[end-2] == 0x1b && last == '\\' || stored[end-2] == 0xc2 && last == 0x9c):
			payEnd = end - 2
		}
	}
	r.strings = append(r.strings, storedString{start, end, pay, max(pay, payEnd)})
	return end
}

// textRun returns where the run of text bytes from stored[i] ends: bytes
// that may begin a character views drop, or a C1 control, end it too.
func textRun(stored []byte, i int) int {
	for i < len(stored) && isTextByte[stored[i]] {
		i++
	}
	return i
}

var isTextByte = func() (t [256]bool) {
	for b := range t {
		t[b] = b >= 0x20 && b != 0x7f || b == '\t' || b == '\n' || b == '\r'
	}
	// 0xc2 leads U+0080-U+00BF (the C1 controls), 0xe2 U+2028 and U+2029,
	// 0xef U+FEFF: the slow path decodes them.
	t[0xc2], t[0xe2], t[0xef] = false, false, false
	return t
}()

// inString reports whether stored range [a, b) touches a string sequence.
func (r *reading) inString(a, b int) bool {
	i := sort.Search(len(r.strings), func(i int) bool { return r.strings[i].end > a })
	return i < len(r.strings) && r.strings[i].start < b
}

// payloads is the string sequences' payloads as one text, a line each,
// mapped like the text (the line ends added between them map to -1).
func (r *reading) payloads(stored []byte) (text []byte, at offsets) {
	at = offsets{}
	for _, s := range r.strings {
		at = at.add(len(text), s.payStart)
		text = append(text, stored[s.payStart:s.payEnd]...)
		at = at.add(len(text), -1)
		text = append(text, '\n')
	}
	return text, at
}

// offsets maps a text's bytes to where they are stored, as runs of bytes
// stored one after another (a text holds few: one per escape sequence);
// nil: the same place.
type offsets []offsetRun

// offsetRun: the text from byte text on, up to the next run, is stored from
// byte stored on; stored -1: nowhere (a line end added between payloads).
type offsetRun struct{ text, stored int32 }

func (o offsets) of(i int) int {
	if o == nil {
		return i
	}
	k := sort.Search(len(o), func(k int) bool { return int(o[k].text) > i }) - 1
	if o[k].stored < 0 {
		return -1
	}
	return int(o[k].stored) + i - int(o[k].text)
}

// add maps the text from byte t on to the stored bytes from s on (-1:
// nowhere, for one byte).
func (o offsets) add(t, s int) offsets {
	if n := len(o); n > 0 && s >= 0 && o[n-1].stored >= 0 && int(o[n-1].stored)+t-int(o[n-1].text) == s {
		return o // the last run goes on
	}
	return append(o, offsetRun{int32(t), int32(s)})
}
