package ui

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
	if cursor < 0 || cursor >= n {
		return Block{}, false
	}
	type open struct {
		line, col int
		ch        byte
	}
	var stack []open
	var candidates []open // blocks open at the start of the cursor line, outermost first, then those opened on it
	from := max(cursor-extractBack, 0)
	for i := from; i <= cursor; i++ {
		if i == cursor {
			candidates = append(candidates, stack...)
		}
		scanBrackets(line(i), func(col int, ch byte) {
			if ch == '{' || ch == '[' {
				stack = append(stack, open{i, col, ch})
				if i == cursor {
					candidates = append(candidates, open{i, col, ch})
				}
				return
			}
			if k := len(stack) - 1; k >= 0 && matches(stack[k].ch, ch) {
				stack = stack[:k]
			} else if k >= 0 {
				// A mismatched closer: drop back to the opener it closes, if any.
				for j := k; j >= 0; j-- {
					if matches(stack[j].ch, ch) {
						stack = stack[:j]
						break
					}
				}
			}
		})
	}
	// Find each candidate's closer by parsing on from it.
	found := 0
	for _, c := range candidates {
		end, endCol, ok := closeOf(line, n, c.line, c.col)
		if !ok {
			continue
		}
		if end < cursor {
			continue // closed before the cursor line: not around it
		}
		if found == depth {
			return Block{StartLine: c.line, StartCol: c.col, EndLine: end, EndCol: endCol, Depth: depth}, true
		}
		found++
	}
	return Block{}, false
}

func matches(open, closer byte) bool {
	return open == '{' && closer == '}' || open == '[' && closer == ']'
}

// closeOf finds the bracket that closes the one at (l, col).
func closeOf(line func(i int) []byte, n, l, col int) (int, int, bool) {
	var stack []byte
	endLine, endCol := -1, -1
	for i := l; i < n && i <= l+extractForward && endLine < 0; i++ {
		text := line(i)
		start := 0
		if i == l {
			start = col
		}
		scanBrackets(text[start:], func(c int, ch byte) {
			if endLine >= 0 {
				return
			}
			if ch == '{' || ch == '[' {
				stack = append(stack, ch)
				return
			}
			k := len(stack) - 1
			if k < 0 || !matches(stack[k], ch) {
				return // stray closer inside: ignore it
			}
			stack = stack[:k]
			if len(stack) == 0 {
				endLine, endCol = i, start+c
			}
		})
	}
	return endLine, endCol, endLine >= 0
}

// scanBrackets calls f with every bracket of a line outside strings. A
// string left open at the end of the line ends there: JSON and shell output
// never continue one across lines, and an apostrophe in prose must not hide
// the rest of a document.
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
			quote = c
		case '{', '[', '}', ']':
			f(i, c)
		}
	}
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
