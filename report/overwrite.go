package report

import (
	"bytes"
	"sort"
	"strings"
	"unicode/utf8"

	"calm/terminal"
	"calm/terminal/escape"
)

// A line that moves its cursor back over what it wrote (a backspace, a
// carriage return, a cursor move, save and restore, characters deleted,
// inserted, erased or repeated) shows a terminal other text than its bytes
// read in order: "AKIAIOSFODNN7EX\b\bEXAMPLE" shows a key that
// neither the bytes nor the sanitised text hold. Such a line is also read
// as a terminal shows it, and when that holds a secret every stored line the
// secret touches is redacted whole: its pieces cannot be told apart from the
// rest.

// overwriteEdits returns the edits for the secrets that stored shows only
// once its lines' cursor moves are made: stored is read again, each line as
// a terminal shows it, and a secret that touches a line written over itself
// takes the whole of every line it touches (a private key whose BEGIN line
// was written over itself takes its body too).
func (r *Redactor) overwriteEdits(stored []byte) []edit {
	if !rewritesLine(stored) {
		return nil
	}
	type lineAt struct {
		start, end int  // in stored, without its '\n'
		shown      int  // where its shown text ends in the reading
		rewrites   bool // it writes over itself
	}
	var lines []lineAt
	var shown []byte
	for start := 0; start < len(stored); {
		end := bytes.IndexByte(stored[start:], '\n')
		if end < 0 {
			end = len(stored)
		} else {
			end += start
		}
		line := stored[start:end]
		shown = append(append(shown, shownLine(line)...), '\n')
		lines = append(lines, lineAt{start, end, len(shown), rewritesLine(line)})
		start = end + 1
	}
	var eds []edit
	for _, sp := range r.find(shown) {
		first := sort.Search(len(lines), func(i int) bool { return lines[i].shown > sp.start })
		last := sort.Search(len(lines), func(i int) bool { return lines[i].shown >= sp.end })
		last = min(last, len(lines)-1)
		touched := false
		for i := first; i <= last; i++ {
			touched = touched || lines[i].rewrites
		}
		if !touched {
			continue // read as it is stored too: the other pass has it
		}
		e := edit{lines[first].start, lines[last].end, []byte("[REDACTED " + r.rules[sp.rule].kind + ": written over itself]")}
		if n := len(eds); n > 0 && eds[n-1].end >= e.start {
			eds[n-1].end = max(eds[n-1].end, e.end)
			continue
		}
		eds = append(eds, e)
	}
	return eds
}

// rewritesLine reports whether b moves a cursor back over a line: a
// backspace, a carriage return that does not end the line, ESC 7 or 8, or a
// CSI that moves along the line, saves or restores the cursor, or deletes,
// inserts, erases or repeats characters.
func rewritesLine(b []byte) bool {
	if bytes.IndexByte(b, '\b') >= 0 {
		return true
	}
	for i := 0; ; {
		k := bytes.IndexByte(b[i:], '\r')
		if k < 0 {
			break
		}
		i += k + 1
		if i < len(b) && b[i] != '\n' && b[i] != '\r' {
			return true
		}
	}
	for i := 0; ; {
		k := bytes.IndexByte(b[i:], 0x1b)
		if k < 0 || i+k+1 >= len(b) {
			return false
		}
		i += k + 1
		switch b[i] {
		case '7', '8':
			return true
		case '[':
			i++
			for i < len(b) && b[i] >= 0x20 && b[i] < 0x40 {
				i++ // parameters and intermediates
			}
			if i < len(b) && bytes.IndexByte([]byte("DCGsuP@Xb"), b[i]) >= 0 {
				return true
			}
		}
	}
}

// shownLine is what a terminal shows of one line of output: characters put
// where the cursor stands, backspaces, carriage returns and cursor moves
// along the line made, erases to the line's end made, other sequences
// skipped.
func shownLine(line []byte) []byte {
	var cells []rune
	col, saved := 0, 0
	last := ' '
	put := func(r rune) {
		last = r
		for len(cells) < col {
			cells = append(cells, ' ')
		}
		if col < len(cells) {
			cells[col] = r
		} else {
			cells = append(cells, r)
		}
		col++
	}
	for i := 0; i < len(line); {
		c := line[i]
		switch {
		case c == 0x1b && i+1 < len(line) && line[i+1] == '[':
			j := i + 2
			for j < len(line) && line[j] >= 0x20 && line[j] < 0x40 {
				j++
			}
			if j == len(line) {
				i = j
				continue
			}
			n := 0
			for _, p := range line[i+2 : j] {
				if p >= '0' && p <= '9' {
					n = n*10 + int(p-'0')
				} else {
					break
				}
			}
			switch line[j] {
			case 'D':
				col = max(col-max(n, 1), 0)
			case 'C':
				col += max(n, 1)
			case 'G':
				col = max(n, 1) - 1
			case 'K':
				if n == 0 && col < len(cells) {
					cells = cells[:col]
				}
			case 's':
				saved = col
			case 'u':
				col = saved
			case 'P': // delete: what follows moves left
				if col < len(cells) {
					cells = append(cells[:col], cells[min(col+max(n, 1), len(cells)):]...)
				}
			case '@': // insert blanks: what follows moves right
				if col < len(cells) {
					cells = append(cells[:col], append([]rune(strings.Repeat(" ", max(n, 1))), cells[col:]...)...)
				}
			case 'X': // erase in place
				for k := col; k < min(col+max(n, 1), len(cells)); k++ {
					cells[k] = ' '
				}
			case 'b': // repeat the last character
				for range min(max(n, 1), 4096) {
					put(last)
				}
			}
			i = j + 1
		case c == 0x1b && i+1 < len(line) && (line[i+1] == '7' || line[i+1] == '8'):
			if line[i+1] == '7' {
				saved = col
			} else {
				col = saved
			}
			i += 2
		case c == 0x1b:
			n, _ := escape.Lines.Skip(line[i+1:], escape.Esc)
			i += 1 + n
		case c == '\b':
			col = max(col-1, 0)
			i++
		case c == '\r':
			col = 0
			i++
		case c == '\t':
			for put(' '); col%8 != 0; {
				put(' ')
			}
			i++
		case c < 0x20 || c == 0x7f:
			i++
		default:
			r, size := utf8.DecodeRune(line[i:])
			put(r)
			i += size
		}
	}
	return []byte(strings.TrimRight(string(cells), " "))
}

// withWholeLines adds whole-line edits to eds (sorted, apart): an edit
// that overlaps a line's joins it, the line's replacement standing for both.
func withWholeLines(eds, lines []edit) []edit {
	if len(lines) == 0 {
		return eds
	}
	var out []edit
	k := 0
	for _, l := range lines {
		for ; k < len(eds) && eds[k].end <= l.start; k++ {
			out = append(out, eds[k])
		}
		for ; k < len(eds) && eds[k].start < l.end; k++ {
			l.start, l.end = min(l.start, eds[k].start), max(l.end, eds[k].end)
		}
		if n := len(out); n > 0 && out[n-1].end > l.start {
			// A secret across line ends joined an earlier line's edit.
			out[n-1].end = max(out[n-1].end, l.end)
			continue
		}
		out = append(out, l)
	}
	return append(out, eds[k:]...)
}

// acrossLinesEdits covers output that writes back onto an earlier line
// (cursor up, reverse index, a cursor position or a restored cursor): stored
// is run through the emulator, and when what it shows holds a secret that
// the text as read does not, every line from the start of stored to the last
// that moves up is redacted whole. Which bytes made the secret cannot be
// told; this is rare, and a secret must not get out.
func (r *Redactor) acrossLinesEdits(stored, read []byte) []edit {
	last := lastMoveUp(stored)
	if last < 0 {
		return nil
	}
	var shown bytes.Buffer
	e := terminal.NewEmulator(0, 0, func(line []byte, _ float64) {
		shown.Write(terminal.PlainText(line))
		shown.WriteByte('\n')
	})
	e.Write(stored)
	e.Close()
	text := shown.Bytes()
	for _, sp := range r.find(text) {
		if secret := text[sp.start:sp.end]; bytes.Count(text, secret) <= bytes.Count(read, secret) {
			continue // the text as read holds it as often: the other pass has it
		}
		end := last + bytes.IndexByte(stored[last:], '\n')
		if end < last {
			end = len(stored)
		}
		return []edit{{0, end, []byte("[REDACTED " + r.rules[sp.rule].kind + ": written over from another line]")}}
	}
	return nil
}

// lastMoveUp returns where the last sequence in b that can move the cursor
// up a line begins, or -1: CUU, CPL, CUP, HVP, VPA, RI (ESC M or U+008D), a
// restored cursor (ESC 8, CSI u).
func lastMoveUp(b []byte) int {
	at := bytes.LastIndex(b, []byte("\u008d"))
	for i := 0; ; {
		k := bytes.IndexByte(b[i:], 0x1b)
		if k < 0 || i+k+1 >= len(b) {
			return at
		}
		start := i + k
		i = start + 1
		switch b[i] {
		case 'M', '8':
			at = max(at, start)
		case '[':
			i++
			for i < len(b) && b[i] >= 0x20 && b[i] < 0x40 {
				i++
			}
			if i < len(b) && bytes.IndexByte([]byte("AFHfdu"), b[i]) >= 0 {
				at = max(at, start)
			}
		}
	}
}
