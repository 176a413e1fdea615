package report

import "sort"

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

// read scans stored bytes. Printable bytes, tab, CR and LF are text; ESC
// sequences, other C0 controls and DEL are not. 8-bit C1 bytes are left as
// text: in UTF-8 they are continuation bytes.
func read(stored []byte) reading {
	if textRun(stored, 0) == len(stored) {
		return reading{text: stored} // most output: the text is the stored form
	}
	r := reading{text: make([]byte, 0, len(stored)), at: offsets{}}
	for i := 0; i < len(stored); {
		if j := textRun(stored, i); j > i {
			r.at = r.at.add(len(r.text), i)
			r.text = append(r.text, stored[i:j]...)
			i = j
			continue
		}
		if stored[i] != 0x1b {
			i++ // a control
			continue
		}
		start := i
		i++
		if i >= len(stored) {
			break
		}
		switch c := stored[i]; {
		case c == '[':
			i++
			for i < len(stored) && (stored[i] < 0x40 || stored[i] > 0x7e) && stored[i] != 0x1b {
				i++
			}
			if i < len(stored) && stored[i] != 0x1b {
				i++
			}
		case c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_':
			i++
			pay := i
			for i < len(stored) && stored[i] != 0x07 && stored[i] != 0x1b {
				i++
			}
			payEnd := i
			if i < len(stored) && stored[i] == 0x07 {
				i++
			} else if i+1 < len(stored) && stored[i+1] == '\\' {
				i += 2
			}
			r.strings = append(r.strings, storedString{start, i, pay, payEnd})
		case c >= 0x20 && c <= 0x2f:
			for i < len(stored) && stored[i] >= 0x20 && stored[i] <= 0x2f {
				i++
			}
			if i < len(stored) {
				i++
			}
		default:
			i++ // a two-byte sequence
		}
	}
	return r
}

// textRun returns where the run of text bytes from stored[i] ends.
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
