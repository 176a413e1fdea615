// Package sanitize neutralises untrusted terminal output before anything of it
// reaches a terminal or a report: escape sequences (CSI, OSC, DCS, SOS, PM,
// APC), C0 and C1 controls and invalid UTF-8 are removed or replaced, so a
// captured byte stream can never set the clipboard, retitle a window, answer
// a query or switch a mode on the terminal that displays it.
package sanitize

import (
	"unicode/utf8"

	"calm/terminal/escape"
)

const esc = 0x1b

// Text returns src with every escape sequence and control character removed
// except tab and newline; invalid UTF-8 becomes U+FFFD. A carriage return
// keeps only what followed it on the line, as a terminal would have shown it
// when the new text is at least as long.
func Text(src []byte) []byte {
	return AppendText(make([]byte, 0, len(src)), src)
}

// AppendText appends the sanitised form of src to dst: a \r in src takes
// back only what src put on its line, never what dst held before.
func AppendText(dst, src []byte) []byte {
	f := Filter{lineStart: len(dst)}
	return f.Flush(f.Append(dst, src))
}

// Filter sanitises a stream that arrives in pieces: a sequence split between
// two calls is still recognised.
type Filter struct {
	st        escape.State
	lineStart int    // index in dst where the current line starts, for \r
	partial   []byte // the start of a rune cut at the end of the last piece
	cr        bool   // the last piece ended with \r: CRLF, or a line rewrite?
}

// HoldsLine tells the filter that the next dst passed to Append begins with
// the current, unfinished line: a \r may then take back what is in it. A
// writer that sends out only finished lines uses it.
func (f *Filter) HoldsLine() { f.lineStart = 0 }

// Flush ends the stream: a rune left incomplete becomes U+FFFD.
func (f *Filter) Flush(dst []byte) []byte {
	if len(f.partial) > 0 {
		f.partial = f.partial[:0]
		if f.st == escape.Ground {
			dst = append(dst, "\uFFFD"...)
		}
	}
	return dst
}

// Append appends the sanitised form of src to dst.
func (f *Filter) Append(dst, src []byte) []byte {
	f.lineStart = min(f.lineStart, len(dst))
	if len(f.partial) > 0 {
		// Rare: a multi-byte rune was split between two pieces.
		src = append(f.partial, src...)
		f.partial = nil
	}
	if f.cr && len(src) > 0 && src[0] != '\r' { // a \r goes on deciding in the loop
		f.cr = false
		if src[0] != '\n' {
			dst = dst[:f.lineStart]
		}
	}
	for i := 0; i < len(src); {
		if f.st != escape.Ground {
			n, st := escape.Lines.Skip(src[i:], f.st)
			i, f.st = i+n, st
			continue
		}
		// Runs of printable ASCII, most of any output, go in one copy.
		j := i
		for j < len(src) && (src[j] >= 0x20 && src[j] < 0x7f || src[j] == '\t') {
			j++
		}
		if j > i {
			dst = append(dst, src[i:j]...)
			i = j
			continue
		}
		b := src[i]
		if b < 0x80 {
			i++
			switch {
			case b == esc:
				f.st = escape.Esc
			case b == '\n':
				dst = append(dst, b)
				f.lineStart = len(dst)
			case b == '\r':
				// Carriage returns in a row move the cursor once: CR CR LF,
				// what a CRLF file becomes through a pty, is a line end.
				for i < len(src) && src[i] == '\r' {
					i++
				}
				switch {
				case i == len(src):
					f.cr = true // decided by the next piece
				case src[i] == '\n':
					f.cr = false // CRLF is a plain line end
				default:
					// Progress bars: the text after \r replaces the line.
					f.cr = false
					dst = dst[:f.lineStart]
				}
			case b == '\t' || (b >= 0x20 && b < 0x7f):
				dst = append(dst, b)
			}
			continue
		}
		r, size := utf8.DecodeRune(src[i:])
		if r == utf8.RuneError && size <= 1 {
			if !utf8.FullRune(src[i:]) {
				// A rune cut at the end of this piece: finish it next time.
				f.partial = append([]byte(nil), src[i:]...)
				return dst
			}
			dst = append(dst, "\uFFFD"...)
			i++
			continue
		}
		i += size
		if r >= 0x80 && r <= 0x9f {
			f.st = escape.Begin(r) // C1 controls never reach the terminal
			continue
		}
		if r == 0x2028 || r == 0x2029 || r == 0xfeff {
			continue
		}
		dst = append(dst, src[i-size:i]...)
	}
	return dst
}

// Clean reports whether b needs no sanitising: printable ASCII, tab and
// newline only. It lets hot paths skip the copy.
func Clean(b []byte) bool {
	for _, c := range b {
		if (c < 0x20 && c != '\t' && c != '\n') || c >= 0x7f {
			return false
		}
	}
	return true
}
