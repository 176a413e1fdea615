package report

import (
	"bytes"
	"sort"

	"calm/sanitize"
	"calm/terminal"
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
		end := lines[last].end
		if end > lines[last].start && stored[end-1] == '\r' {
			end-- // a CRLF's CR stays: a replay goes on at the line's start
		}
		// Not "KIND: ...", which a password rule would read again.
		e := edit{lines[first].start, end, []byte("[REDACTED " + r.rules[sp.rule].kind + " (written over itself)]")}
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
	// A carriage return with nothing shown before it on its line (a shell's
	// "\x1b[?2004l\r" before a command's output) writes over nothing. What
	// each shows is read once, piece by piece from the one before.
	shown, from := false, 0
	for i := 0; ; {
		k := bytes.IndexByte(b[i:], '\r')
		if k < 0 {
			break
		}
		cr := i + k
		if nl := bytes.LastIndexByte(b[from:cr], '\n'); nl >= 0 {
			shown, from = false, from+nl+1
		}
		shown = shown || len(sanitize.Text(b[from:cr])) > 0
		from, i = cr+1, cr+1
		if i < len(b) && b[i] != '\n' && b[i] != '\r' && shown {
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

// shownLine is what a terminal shows of one line of output: sanitize's
// reading, through calm's emulator, where every move is bounded by a
// row (a hand-made one here took 2.4 GB for "ab\x1b[99999999Cx").
func shownLine(line []byte) []byte { return sanitize.Text(line) }

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
