// Package sanitize neutralises untrusted terminal output before anything of it
// reaches a terminal or a report: escape sequences (CSI, OSC, DCS, SOS, PM,
// APC), C0 and C1 controls and invalid UTF-8 are removed or replaced, so a
// captured byte stream can never set the clipboard, retitle a window, answer
// a query or switch a mode on the terminal that displays it.
package sanitize

import (
	"bytes"
	"calm/model"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"calm/terminal"
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

// AppendSearchText appends the text a search matches for one line (without
// its line end): as AppendText, but a carriage return inside the line parts
// what was written before and after it, with ␍, rather than letting the
// rest write over it. A search finds what was written, as grep does:
// "id,name\r1,alice\r2,bob" (carriage returns for line ends) shows as
// "2,bobce" but holds alice. A part that shows nothing adds nothing, so
// carriage returns at the line's end end it.
func AppendSearchText(dst, line []byte) []byte {
	f := Filter{lineStart: len(dst), lineBegin: len(dst), parts: true}
	dst = f.Flush(f.Append(dst, line))
	if f.row != nil {
		f.row.em.Reset()
		rows.Put(f.row)
	}
	return dst
}

// Line returns a stored text (a title, a note, a command line on the
// timeline) as one line, safe to print: escape sequences and controls out,
// as Text, but what was written is all there: a carriage return parts the
// pieces of a line it would have written over with ␍, as in search text, so
// "restore done\rnothing ran" shows both, and a backspace shows as ⌫. Its
// lines are joined with a space, and each run of blanks is one.
func Line(s string) string {
	// A backspace would take back what was written before it: shown, as a
	// carriage return is parted, so that nothing written is hidden.
	s = strings.ReplaceAll(s, "\b", Backspace)
	b := []byte(s)
	if !Clean(b) {
		var out []byte
		for line := range bytes.Lines(b) {
			out = AppendSearchText(out, bytes.TrimSuffix(line, []byte("\n")))
			out = append(out, ' ')
		}
		s = string(out)
	}
	return strings.Join(strings.Fields(s), " ")
}

// Shows reports whether s, shown as Line shows it, holds anything to see:
// a note of escape sequences only, or of zero-width spaces, shows nothing.
func Shows(s string) bool {
	return strings.ContainsFunc(Line(s), func(r rune) bool {
		return unicode.IsGraphic(r) && !unicode.IsSpace(r) && !unicode.Is(unicode.Cf, r)
	})
}

// Backspace is what a backspace in a stored text shows as.
const Backspace = "\u232b"

// CarriageReturn is what parts the pieces of a line a carriage return wrote
// over, in the text search matches.
const CarriageReturn = model.CarriageReturn

// AppendText appends the sanitised form of src to dst: a \r in src takes
// back only what src put on its line, never what dst held before.
func AppendText(dst, src []byte) []byte {
	f := Filter{lineStart: len(dst)}
	dst = f.Flush(f.Append(dst, src))
	if f.row != nil {
		f.row.em.Reset()
		rows.Put(f.row)
	}
	return dst
}

// Filter sanitises a stream that arrives in pieces: a sequence split between
// two calls is still recognised.
type Filter struct {
	st        escape.State
	lineStart int    // index in dst where the current line starts, for \r
	partial   []byte // the start of a rune cut at the end of the last piece
	cr        bool   // the last piece ended with \r: CRLF, or a line rewrite?
	seq       []byte // a sequence begun in an earlier piece, as far as seqMax

	// parts: a \r inside a line parts it (AppendSearchText). lineBegin is
	// where the line began in dst; sep, that a ␍ ends dst[:lineStart].
	parts     bool
	lineBegin int
	sep       bool

	// A line that writes over itself goes through a terminal emulator, one
	// row of lineColumns, until it ends: over says so. It takes only what
	// moves along the line; what goes to other lines a line cannot show.
	over     bool
	overSize int // bytes the emulator takes for this line, and the cost of its repeats
	row      *row
}

// row is the emulator a line that writes over itself goes through.
type row struct {
	em    *terminal.Emulator
	line  []byte // the line's bytes, written to it at its end in one go
	shown []byte // the line as the emulator showed it
}

// rows keeps emulators for AppendText: a search line is sanitised on its
// own, and a new emulator for each took most of the time.
var rows = sync.Pool{New: func() any {
	r := new(row)
	r.em = terminal.NewEmulator(lineColumns, 1, func(line []byte, _ float64) { r.shown = append(r.shown, line...) })
	return r
}}

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

// lineColumns is the width of the terminal a line that writes over itself
// is shown on: calm's, for text whose width is not known.
const lineColumns = 512

// maxOver bounds the bytes of a line shown through the emulator: a line
// longer goes out as it is from there (a sanitising writer holds no more
// of a line either).
const maxOver = 1 << 20

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
	return f.endPart(f.endOver(dst))
}

// carriageReturn lets what follows write over the line, or, for a search,
// starts a part of it.
func (f *Filter) carriageReturn(dst []byte) []byte {
	if !f.parts {
		return f.overWrite(dst, []byte{'\r'})
	}
	dst = f.endPart(f.endOver(dst))
	if len(dst) > f.lineBegin {
		dst = append(dst, CarriageReturn...)
		f.sep = true
	}
	f.lineStart = len(dst)
	return dst
}

// endPart takes back the ␍ before a part that showed nothing.
func (f *Filter) endPart(dst []byte) []byte {
	if f.sep && len(dst) == f.lineStart {
		dst = dst[:f.lineStart-len(CarriageReturn)]
		f.lineStart = len(dst)
	}
	f.sep = false
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
			dst = f.carriageReturn(dst)
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
				seq, whole := f.seq, true
				if seqStart >= 0 {
					seq = src[seqStart : i+n]
				} else if whole = len(seq)+n <= seqMax; whole {
					seq = append(seq, src[i:i+n]...)
				}
				if whole {
					dst = f.sequenceEnded(dst, seq)
				}
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
				dst = f.toEmulator(dst, src[i:j])
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
				dst = f.endPart(f.endOver(dst))
				dst = append(dst, b)
				f.lineStart, f.lineBegin = len(dst), len(dst)
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
					dst = f.carriageReturn(dst)
				}
			case b == '\b':
				dst = f.overWrite(dst, []byte{'\b'})
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
		if Dropped(r) {
			continue
		}
		if f.over {
			dst = f.toEmulator(dst, src[i-size:i])
		} else {
			dst = append(dst, src[i-size:i]...)
		}
	}
	if f.st != escape.Ground && seqStart >= 0 {
		// A sequence begun by this piece's last byte goes on in the next.
		f.seq = append(f.seq[:0], src[seqStart:min(len(src), seqStart+seqMax)]...)
	}
	return dst
}

// Dropped reports the runes sanitising takes out beyond controls: the line
// and paragraph separators and the byte-order mark, which move or hide
// text, and the bidirectional embeddings, overrides and isolates, which
// show a line in another order than it was written (Trojan Source).
func Dropped(r rune) bool {
	return r == 0x2028 || r == 0x2029 || r == 0xfeff || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069
}

// put writes r where the cursor is.
func (f *Filter) put(dst []byte, r rune) []byte {
	if f.over {
		var b [utf8.UTFMax]byte
		return f.toEmulator(dst, utf8.AppendRune(b[:0], r))
	}
	return utf8.AppendRune(dst, r)
}

// overWrite sends what moves along the line to the emulator, which takes
// the line from here.
func (f *Filter) overWrite(dst, b []byte) []byte {
	if !f.over {
		if f.row == nil {
			f.row = rows.Get().(*row)
		}
		// What the line shows so far holds no sequence: as it is.
		f.over, f.overSize = true, 0
		dst = f.toEmulator(dst[:f.lineStart], dst[f.lineStart:])
	}
	return f.toEmulator(dst, b)
}

// toEmulator writes b to the emulator showing the line.
func (f *Filter) toEmulator(dst, b []byte) []byte {
	if f.overSize += len(b); f.overSize > maxOver {
		// Out as it is from here, its controls and sequences left out;
		// what follows starts a line of its own.
		dst = f.endOver(dst)
		f.lineStart = len(dst)
		return AppendText(dst, b)
	}
	f.row.line = append(f.row.line, b...)
	return dst
}

// endOver writes out a line the emulator showed, as it shows it.
func (f *Filter) endOver(dst []byte) []byte {
	if !f.over {
		return dst
	}
	f.over = false
	r := f.row
	r.em.Write(append(r.line, '\n'))
	r.line = r.line[:0]
	dst = append(dst, terminal.PlainText(r.shown)...)
	r.shown = r.shown[:0]
	return dst
}

// sequenceEnded makes what an escape sequence just read, seq, does along the
// line: cursor moves, save and restore, erasing, deleting, inserting and
// repeating characters. Any other sequence shows nothing and does nothing
// here (colours; moves to other lines, which a line cannot show).
func (f *Filter) sequenceEnded(dst, seq []byte) []byte {
	if len(seq) == 2 && seq[0] == esc && (seq[1] == '7' || seq[1] == '8') {
		return f.overWrite(dst, seq)
	}
	if len(seq) < 3 || seq[0] != esc || seq[1] != '[' {
		return dst
	}
	final := seq[len(seq)-1]
	if final == '7' || final == '8' {
		return dst
	}
	params := seq[2 : len(seq)-1]
	for _, p := range params {
		if (p < '0' || p > '9') && p != ';' && p != ':' {
			return dst // private (CSI ? ...) or an intermediate byte: another sequence
		}
	}
	if final == 'K' && !f.over && (len(params) == 0 || string(params) == "0") {
		return dst // erasing from the end of a line erases nothing
	}
	if final == 'b' {
		// A repeat costs what it writes: a few bytes never write more
		// than a row, and a line's repeats no more than maxOver.
		n := 0
		for _, p := range params {
			if p < '0' || p > '9' {
				break
			}
			n = min(n*10+int(p-'0'), lineColumns)
		}
		f.overSize += max(n, 1)
	}
	return f.overWrite(dst, seq)
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
