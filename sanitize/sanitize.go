// Package sanitize neutralises untrusted terminal output before anything of it
// reaches a terminal or a report: escape sequences (CSI, OSC, DCS, SOS, PM,
// APC), C0 and C1 controls and invalid UTF-8 are removed or replaced, so a
// captured byte stream can never set the clipboard, retitle a window, answer
// a query or switch a mode on the terminal that displays it.
package sanitize

import (
	"slices"
	"unicode/utf8"

	"calm/terminal/escape"
)

const esc = 0x1b

// Text returns src with every escape sequence and control character removed
// except tab and newline; invalid UTF-8 becomes U+FFFD. A line that moves
// its cursor back over what it wrote (a carriage return, a backspace, a
// cursor move, save and restore, characters erased, deleted, inserted or
// repeated) is what a terminal shows of it: "ERROR disk full\rOK" is
// "OKROR disk full", as on the screen.
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
	seq       []byte // a sequence begun in an earlier piece, as far as seqMax
	saved     int    // the column ESC 7 or CSI s saved, on this line

	// A line that writes over itself is kept as cells, a terminal's, until
	// it ends: over says so, col is the cursor's cell.
	over  bool
	cells []rune // 0: a blank cell no character was written to
	col   int
	last  rune // the last character written, for CSI b
}

// mayMove marks the final bytes of the sequences that may move along a line
// (CSI D C G K P X @ b s u, ESC 7 8): only those are read whole.
var mayMove = func() (t [256]bool) {
	for _, c := range []byte("DCGKPX@bsu78") {
		t[c] = true
	}
	return t
}()

// seqMax is as much of a sequence as is kept to read what it does: the
// sequences that move along a line are a few bytes.
const seqMax = 32

// maxCells bounds a line kept as cells: a line longer goes out as it is (a
// sanitising writer holds no more of a line either).
const maxCells = 1 << 20

// margin is where a cursor move, an insert or a repeat stops when the line
// is no longer, as at a terminal's right margin: blanks and repeats made of
// a few bytes never make a line longer than that, whatever their counts.
const margin = 256

// HoldsLine tells the filter that the next dst passed to Append begins with
// the current, unfinished line: a \r may then take back what is in it. A
// writer that sends out only finished lines uses it.
func (f *Filter) HoldsLine() { f.lineStart = 0 }

// Flush ends the stream: a rune left incomplete becomes U+FFFD.
func (f *Filter) Flush(dst []byte) []byte {
	if len(f.partial) > 0 {
		f.partial = f.partial[:0]
		if f.st == escape.Ground {
			dst = f.put(dst, utf8.RuneError)
		}
	}
	return f.endOver(dst)
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
			dst = f.home(dst)
		}
	}
	seqStart := -1 // where the sequence being read began in src; -1: in an earlier piece (f.seq)
	for i := 0; i < len(src); {
		if f.st != escape.Ground {
			n, st := escape.Lines.Skip(src[i:], f.st)
			if st != escape.Ground {
				// On into the next piece: kept, for its end to be read.
				from := i
				if seqStart >= 0 {
					from, f.seq = seqStart, f.seq[:0]
				}
				f.seq = append(f.seq, src[from:from+min(len(src)-from, seqMax-len(f.seq))]...)
			} else if n > 0 && mayMove[src[i+n-1]] {
				// Its final byte may move along the line: read it whole.
				seq := f.seq
				if seqStart >= 0 {
					seq = src[seqStart : i+n]
				} else if len(seq) < seqMax {
					seq = append(seq, src[i:i+n]...)
				}
				dst = f.sequenceEnded(dst, seq)
				f.seq = f.seq[:0]
			} else {
				f.seq = f.seq[:0]
			}
			i, f.st = i+n, st
			continue
		}
		// Runs of printable ASCII, most of any output, go in one copy.
		j := i
		for j < len(src) && (src[j] >= 0x20 && src[j] < 0x7f || src[j] == '\t') {
			j++
		}
		if j > i {
			if f.over {
				for _, c := range src[i:j] {
					dst = f.put(dst, rune(c))
				}
			} else {
				dst = append(dst, src[i:j]...)
			}
			i = j
			continue
		}
		b := src[i]
		if b < 0x80 {
			i++
			switch {
			case b == esc:
				f.st, seqStart = escape.Esc, i-1
			case b == '\n':
				if f.over {
					dst = f.endOver(dst)
				}
				dst = append(dst, b)
				f.lineStart, f.saved = len(dst), 0
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
					// Progress bars: what follows writes over the line.
					f.cr = false
					dst = f.home(dst)
				}
			case b == '\b':
				if dst = f.cellsOf(dst); f.over {
					f.col = max(f.col-1, 0)
				}
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
			dst = f.put(dst, utf8.RuneError)
			i++
			continue
		}
		i += size
		if r >= 0x80 && r <= 0x9f {
			f.st, seqStart = escape.Begin(r), i-size // C1 controls never reach the terminal
			continue
		}
		if r == 0x2028 || r == 0x2029 || r == 0xfeff {
			continue
		}
		if f.over {
			dst = f.put(dst, r)
		} else {
			dst = append(dst, src[i-size:i]...)
		}
	}
	return dst
}

// put writes r where the cursor is.
func (f *Filter) put(dst []byte, r rune) []byte {
	if !f.over {
		return utf8.AppendRune(dst, r)
	}
	f.last = r
	for len(f.cells) < f.col {
		f.cells = append(f.cells, 0)
	}
	if f.col < len(f.cells) {
		f.cells[f.col] = r
	} else {
		f.cells = append(f.cells, r)
	}
	f.col++
	if len(f.cells) > maxCells {
		dst = f.endOver(dst) // out as it is; what follows starts a line of its own
		f.lineStart = len(dst)
	}
	return dst
}

// cellsOf begins keeping the current line as cells, the cursor at its end,
// unless it is empty (nothing to write over) or already kept.
func (f *Filter) cellsOf(dst []byte) []byte {
	if f.over || len(dst) == f.lineStart {
		return dst
	}
	f.over, f.cells, f.col = true, f.cells[:0], 0
	for _, r := range string(dst[f.lineStart:]) {
		f.cells = append(f.cells, r)
	}
	f.col, f.last = len(f.cells), f.cells[len(f.cells)-1]
	return dst[:f.lineStart]
}

// home is a carriage return: the cursor to the line's start.
func (f *Filter) home(dst []byte) []byte {
	if dst = f.cellsOf(dst); f.over {
		f.col = 0
	}
	return dst
}

// endOver writes out a line kept as cells, as a terminal shows it: blank
// cells inside it are spaces, those at its end nothing.
func (f *Filter) endOver(dst []byte) []byte {
	if !f.over {
		return dst
	}
	end := len(f.cells)
	for end > 0 && f.cells[end-1] == 0 {
		end--
	}
	for _, r := range f.cells[:end] {
		if r == 0 {
			r = ' '
		}
		dst = utf8.AppendRune(dst, r)
	}
	f.over, f.cells, f.col = false, f.cells[:0], 0
	return dst
}

// sequenceEnded makes what an escape sequence just read, seq, does along the
// line: cursor moves, save and restore, erasing, deleting, inserting and
// repeating characters. Any other sequence shows nothing and does nothing
// here (colours; moves to other lines, which a line cannot show).
func (f *Filter) sequenceEnded(dst, seq []byte) []byte {
	if len(seq) == 2 && seq[0] == esc && (seq[1] == '7' || seq[1] == '8') {
		if seq[1] == '7' {
			f.saved = f.column(dst)
			return dst
		}
		if dst = f.cellsOf(dst); f.over {
			f.col = min(f.saved, f.edge())
		}
		return dst
	}
	if len(seq) < 3 || seq[0] != esc || seq[1] != '[' {
		return dst
	}
	final := seq[len(seq)-1]
	if final == '7' || final == '8' {
		return dst
	}
	n := 0
	for _, p := range seq[2 : len(seq)-1] {
		if p < '0' || p > '9' {
			if p == ';' || p == ':' {
				break
			}
			return dst // private (CSI ? ...) or an intermediate byte: another sequence
		}
		n = min(n*10+int(p-'0'), maxCells)
	}
	if final == 's' {
		f.saved = f.column(dst)
		return dst
	}
	if final == 'K' && n == 0 && !f.over {
		return dst // erasing from the end of a line erases nothing
	}
	if dst = f.cellsOf(dst); !f.over {
		return dst // an empty line: nothing to move over
	}
	one := max(n, 1)
	switch final {
	case 'D':
		f.col = max(f.col-one, 0)
	case 'C':
		f.col = min(f.col+one, f.edge())
	case 'G':
		f.col = min(one-1, f.edge())
	case 'u':
		f.col = min(f.saved, f.edge())
	case 'K':
		switch n {
		case 0:
			f.cells = f.cells[:min(f.col, len(f.cells))]
		case 1:
			clear(f.cells[:min(f.col+1, len(f.cells))])
		default:
			clear(f.cells)
		}
	case 'X':
		clear(f.cells[min(f.col, len(f.cells)):min(f.col+one, len(f.cells))])
	case 'P':
		if f.col < len(f.cells) {
			f.cells = append(f.cells[:f.col], f.cells[min(f.col+one, len(f.cells)):]...)
		}
	case '@':
		if f.col < len(f.cells) {
			f.cells = slices.Insert(f.cells, f.col, make([]rune, min(one, f.edge()-len(f.cells)))...)
		}
	case 'b':
		for range min(one, max(f.edge()-f.col, 0)) {
			dst = f.put(dst, f.last)
		}
	}
	return dst
}

// edge is the last cell a cursor move reaches: the line's end, or the
// margin on a shorter line.
func (f *Filter) edge() int { return max(len(f.cells), margin) }

// column is the cursor's cell on the current line.
func (f *Filter) column(dst []byte) int {
	if f.over {
		return f.col
	}
	return utf8.RuneCount(dst[f.lineStart:])
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
