package ui

import "bytes"

// Block is a balanced {...} or [...] found around a line.
type Block struct {
	StartLine, StartCol int // the opening bracket (byte offset in its line)
	EndLine, EndCol     int // the closing bracket
	Depth               int // 0 for the outermost block around the line
}

// How far the extractor looks: a document a person recovers is far smaller.
const (
	extractBack    = 20000 // lines before the cursor to start parsing from
	extractForward = 200000
)

// Extract finds the balanced block around line cursor of n lines (plain
// text, from line(i)). It returns the outermost block that encloses the
// line or opens on it, or the one depth levels inside that. Strings ("..."
// and '...', with backslash escapes) are skipped, so brackets inside them do
// not count; Mongo shell values such as ObjectId("…") and ISODate("…") are
// plain text inside the block. An opener that is never closed (a stray brace
// in a prompt or prose) is passed over for the next one inside it.
func Extract(line func(i int) []byte, n, cursor, depth int) (Block, bool) {
	return ExtractAt(line, n, cursor, -1, depth)
}

// ExtractAt is Extract around a point of the cursor line (a byte of its
// text), when point is not -1: a block that opens after it or closes
// before it on that line is not around it, and a list of documents around
// the point counts from the document (what a find landed on).
func ExtractAt(line func(i int) []byte, n, cursor, point, depth int) (Block, bool) {
	if cursor < 0 || cursor >= n {
		return Block{}, false
	}
	// Sized for the cursor line's openers up front: growing these slices
	// one append at a time copied a 200k-"{" line's worth many times over.
	text := line(cursor)
	opens := bytes.Count(text, []byte("{")) + bytes.Count(text, []byte("["))
	stack := make([]opener, 0, opens+16)
	// Where each kind of opener is in stack, so that a mismatched closer
	// finds the one it closes without walking the stack (a line of 200k
	// "{" and then "]" would make that quadratic).
	at := [2][]int{make([]int, 0, opens+16), make([]int, 0, opens+16)}
	candidates := make([]opener, 0, opens+16) // blocks open at the start of the cursor line, outermost first, then those opened on it
	from := max(cursor-extractBack, 0)
	for i := from; i <= cursor; i++ {
		if i == cursor {
			candidates = append(candidates, stack...)
		}
		scanBrackets(line(i), func(col int, ch byte) {
			if ch == '{' || ch == '[' {
				at[kind(ch)] = append(at[kind(ch)], len(stack))
				stack = append(stack, opener{i, col, ch})
				if i == cursor {
					candidates = append(candidates, opener{i, col, ch})
				}
				return
			}
			// A closer: drop back to the opener it closes, if any (the
			// top one when it matches).
			mine := at[kind(ch)]
			if len(mine) == 0 {
				return
			}
			j := mine[len(mine)-1]
			stack = stack[:j]
			for k := range at {
				for len(at[k]) > 0 && at[k][len(at[k])-1] >= j {
					at[k] = at[k][:len(at[k])-1]
				}
			}
		})
	}
	closers := closersOf(line, n, candidates)
	var around []Block // outermost first
	for i, c := range candidates {
		end := closers[i]
		if end.line < 0 || end.line > c.line+extractForward {
			continue
		}
		if end.line < cursor {
			continue // closed before the cursor line: not around it
		}
		if point >= 0 && (c.line == cursor && c.col > point || end.line == cursor && end.col < point) {
			continue // beside the point, not around it
		}
		if k := len(around) - 1; k >= 0 && (c.line > around[k].EndLine || c.line == around[k].EndLine && c.col > around[k].EndCol) {
			continue // after the block found at the last level, beside it: one level in is inside that one
		}
		around = append(around, Block{StartLine: c.line, StartCol: c.col, EndLine: end.line, EndCol: end.col})
		if point < 0 && len(around) > depth {
			break
		}
	}
	if point >= 0 && len(around) > 1 && line(around[0].StartLine)[around[0].StartCol] == '[' && line(around[1].StartLine)[around[1].StartCol] == '{' {
		// Found in a list of documents (EJSON.stringify of find's array):
		// the document found, not the whole list.
		around = around[1:]
	}
	if depth >= len(around) {
		return Block{}, false
	}
	b := around[depth]
	b.Depth = depth
	return b, true
}

type opener struct {
	line, col int
	ch        byte
}

type place struct{ line, col int }

func kind(ch byte) int {
	if ch == '{' || ch == '}' {
		return 0
	}
	return 1
}

func matches(open, closer byte) bool {
	return open == '{' && closer == '}' || open == '[' && closer == ']'
}

// closersOf finds the bracket that closes each candidate ({-1, -1}: none),
// in one pass from the first. A candidate's closer is where a stack begun
// at it empties, stray closers inside ignored; a stack begun earlier holds
// the same above it, so one stack from the first serves them all.
func closersOf(line func(i int) []byte, n int, candidates []opener) []place {
	out := make([]place, len(candidates))
	for i := range out {
		out[i] = place{-1, -1}
	}
	if len(candidates) == 0 {
		return out
	}
	type entry struct {
		ch        byte
		candidate int // its index in candidates, or -1
	}
	stack := make([]entry, 0, len(candidates))
	next, closed := 0, 0 // the next candidate to be pushed; how many closed
	first := candidates[0]
	last := candidates[len(candidates)-1].line + extractForward
	for i := first.line; i < n && i <= last; i++ {
		text := line(i)
		start := 0
		if i == first.line {
			start = first.col
		}
		done := false
		scanBrackets(text[start:], func(c int, ch byte) {
			if done {
				return
			}
			col := start + c
			if ch == '{' || ch == '[' {
				e := entry{ch, -1}
				if next < len(candidates) && candidates[next].line == i && candidates[next].col == col {
					e.candidate = next
					next++
				}
				stack = append(stack, e)
				return
			}
			k := len(stack) - 1
			if k < 0 || !matches(stack[k].ch, ch) {
				return // a stray closer: ignored
			}
			if ci := stack[k].candidate; ci >= 0 {
				out[ci] = place{i, col}
				closed++
				done = closed == len(candidates)
			}
			stack = stack[:k]
		})
		if done {
			break
		}
	}
	return out
}

// scanBrackets calls f with every bracket of a line outside strings. A
// string left open at the end of the line ends there: JSON and shell output
// never continue one across lines, and an apostrophe in prose must not hide
// the rest of a document. Nor do two apostrophes that start no string: one
// inside a word (Don't panic: {...}), and one right before a bracket, a
// shell's quotes around the document it prints (echo '[{...}]'). A double
// quote always does: "{\"a\":1}" is a string in JSON.
func scanBrackets(text []byte, f func(col int, ch byte)) {
	var quote byte
	for i := 0; i < len(text); i++ {
		c := text[i]
		if quote != 0 {
			switch c {
			case '\\':
				i++
			case quote:
				quote = 0
			}
			continue
		}
		switch c {
		case '"', '\'':
			inWord := c == '\'' && i > 0 && isWordByte(text[i-1])
			beforeBracket := c == '\'' && i+1 < len(text) && (text[i+1] == '{' || text[i+1] == '[')
			if !inWord && !beforeBracket {
				quote = c
			}
		case '{', '[', '}', ']':
			f(i, c)
		}
	}
}

// isWordByte reports whether b is an ASCII letter or digit, or part of a
// character beyond ASCII.
func isWordByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b >= 0x80
}

// BlockText returns the block's text: from its opener to its closer.
func BlockText(line func(i int) []byte, b Block) []byte {
	var out []byte
	for i := b.StartLine; i <= b.EndLine; i++ {
		text := line(i)
		start, end := 0, len(text)
		if i == b.StartLine {
			start = b.StartCol
		}
		if i == b.EndLine {
			end = b.EndCol + 1
		}
		if start > end || end > len(text) {
			continue
		}
		out = append(out, text[start:end]...)
		if i < b.EndLine {
			out = append(out, '\n')
		}
	}
	return out
}
