package report

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"calm/terminal/escape"
)

// A line that moves its cursor back over what it wrote (a backspace, a
// cursor move left, right or to a column) shows a terminal other text than
// its bytes read in order: "AKIAIOSFODNN7EX\b\bEXAMPLE" shows a key that
// neither the bytes nor the sanitised text hold. Such a line is also read
// as a terminal shows it, and when that holds a secret the whole stored
// line is redacted: its pieces cannot be told apart from the rest.

// overwriteEdits returns an edit for each line of stored that shows a secret
// only once its cursor moves are made.
func (r *Redactor) overwriteEdits(stored []byte) []edit {
	if bytes.IndexByte(stored, '\b') < 0 && !movesCursor(stored) {
		return nil
	}
	var eds []edit
	for start := 0; start < len(stored); {
		end := bytes.IndexByte(stored[start:], '\n')
		if end < 0 {
			end = len(stored)
		} else {
			end += start
		}
		line := stored[start:end]
		if bytes.IndexByte(line, '\b') >= 0 || movesCursor(line) {
			if spans := r.find(shownLine(line)); len(spans) > 0 {
				eds = append(eds, edit{start, end, []byte("[REDACTED " + r.rules[spans[0].rule].kind + ": a line written over itself]")})
			}
		}
		start = end + 1
	}
	return eds
}

// movesCursor reports whether b holds a CSI that moves the cursor along a
// line: CUB, CUF or CHA (final D, C or G).
func movesCursor(b []byte) bool {
	for i := 0; ; {
		k := bytes.Index(b[i:], []byte("\x1b["))
		if k < 0 {
			return false
		}
		i += k + 2
		for i < len(b) && b[i] >= 0x20 && b[i] < 0x40 {
			i++ // parameters and intermediates
		}
		if i < len(b) && (b[i] == 'D' || b[i] == 'C' || b[i] == 'G') {
			return true
		}
	}
}

// shownLine is what a terminal shows of one line of output: characters put
// where the cursor stands, backspaces, carriage returns and cursor moves
// along the line made, erases to the line's end made, other sequences
// skipped.
func shownLine(line []byte) []byte {
	var cells []rune
	col := 0
	put := func(r rune) {
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
			}
			i = j + 1
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
