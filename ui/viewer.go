package ui

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gdamore/tcell/v2"
	"github.com/mattn/go-runewidth"
	"github.com/rivo/tview"

	"calm/model"
	"calm/sanitize"
	"calm/terminal"
)

// Viewer shows a Doc. It is virtualised: a draw reads only the lines on
// screen, so a million-line session opens and scrolls as fast as a short
// one. Lines hold only text and SGR styles (the emulator removed everything
// else), and each rune is drawn as a cell: nothing captured ever reaches the
// terminal as a sequence.
type Viewer struct {
	*tview.Box
	doc *Doc
	top int // first line on screen
	cur int // the cursor's line
	// point is where on the cursor's line a find put it (a byte of its
	// plain text), or -1: x then takes the block around that point, not
	// the first one the line opens (a one-line array of documents).
	point  int
	left   int // columns scrolled off to the left
	width  int // columns for text at the last draw
	anchor int // where a selection began, or -1
	block  *Block
	origin int // the line x was first pressed on, while block stands
	// wrapped says the last Extract found no block inside the one it
	// had, and went back to the outermost.
	wrapped bool
	follow  bool // keep the last line in view as a live session grows
	find    *Finder
	height  int // lines on screen at the last draw, for paging
	limit   int // a replay shows only this many lines; -1 shows all
	// guide is shown instead of "(empty)" until a document is set: what
	// to do next on a first screen.
	guide string
	title string // the document's title, plain; Draw fits it to the width
}

// NewViewer returns a viewer with an empty document.
func NewViewer() *Viewer {
	v := &Viewer{Box: tview.NewBox(), doc: DocFromText("", nil), anchor: -1, limit: -1, point: -1}
	v.SetBorder(true)
	return v
}

// SetDoc shows another document from its top (or its end, to follow a live
// session).
func (v *Viewer) SetDoc(d *Doc, follow bool) {
	v.doc, v.top, v.cur, v.left, v.anchor, v.block, v.limit = d, 0, 0, 0, -1, nil, -1
	v.guide = ""
	v.follow = follow
	v.title = plainTitle(d.Title)
}

// Doc returns the document shown.
func (v *Viewer) Doc() *Doc { return v.doc }

// Cursor returns the cursor's line.
func (v *Viewer) Cursor() int { return v.cur }

// SetLimit shows only the first n lines, following the last (a replay);
// -1 shows them all again.
func (v *Viewer) SetLimit(n int) {
	v.limit = n
	v.follow = n >= 0
}

// lines is how many lines are shown.
func (v *Viewer) lines() int {
	n := v.doc.Len()
	if v.limit >= 0 {
		n = min(n, v.limit)
	}
	return n
}

// MoveTo puts the cursor on line i and brings it into view.
func (v *Viewer) MoveTo(i int) {
	n := v.lines()
	v.cur, v.point = min(max(i, 0), max(n-1, 0)), -1
	v.follow = false
	h := max(v.height, 1)
	if v.cur < v.top || v.cur >= v.top+h {
		v.top = max(v.cur-h/3, 0)
	}
}

// page moves a screenful down (dir 1) or up (-1).
func (v *Viewer) page(dir int) {
	page := max(v.height-1, 1)
	v.top = max(v.top+dir*page, 0)
	v.scroll(dir * page)
}

// sideways scrolls the view by cols columns (negative: left).
func (v *Viewer) sideways(cols int) { v.left = max(v.left+cols, 0) }

func (v *Viewer) scroll(delta int) {
	v.MoveTo(v.cur + delta)
	if delta > 0 && v.cur >= v.lines()-1 {
		v.follow = true // reaching the end again resumes following
	}
}

// Selection returns the selected lines (first, last), the cursor's line
// when nothing is selected.
func (v *Viewer) Selection() (int, int, bool) {
	if v.anchor < 0 {
		return v.cur, v.cur, false
	}
	return min(v.anchor, v.cur), max(v.anchor, v.cur), true
}

// ToggleSelection starts or ends a line selection at the cursor.
func (v *Viewer) ToggleSelection() {
	if v.anchor < 0 {
		v.anchor = v.cur
		v.block = nil
	} else {
		v.anchor = -1
	}
}

// ClearMarks drops the selection and any extracted block.
func (v *Viewer) ClearMarks() { v.anchor, v.block = -1, nil }

// Block returns the extracted block shown, if any.
func (v *Viewer) Block() *Block { return v.block }

// Extract marks the block around the cursor. Pressed again without the
// cursor moving it goes one level further in towards the line it was first
// pressed on, and from the innermost back to the outermost. The cursor
// stays where it is, so "again" keeps meaning the same place.
func (v *Viewer) Extract() (*Block, bool) {
	depth, from := 0, v.cur
	if v.block != nil && v.cur == v.origin {
		depth = v.block.Depth + 1
	}
	plain := func(i int) []byte { return terminal.PlainText(v.doc.Line(i)) }
	b, ok := ExtractAt(plain, v.doc.Len(), from, v.point, depth)
	v.wrapped = false
	if !ok && depth > 0 {
		b, ok = ExtractAt(plain, v.doc.Len(), from, v.point, 0)
		v.wrapped = ok
	}
	if !ok {
		// No block here: the one marked before is not what y and s take
		// now (they took it, another document, after x said none).
		v.block = nil
		return nil, false
	}
	v.block, v.anchor, v.origin = &b, -1, from
	v.follow = false
	// Show the block's first line when it fits with the cursor's.
	if b.StartLine < v.top && v.cur-b.StartLine < max(v.height, 1) {
		v.top = b.StartLine
	}
	return &b, true
}

// MarkedText is the extracted block, else the selected lines, else the
// cursor's line, as plain text.
func (v *Viewer) MarkedText() []byte {
	if v.block != nil {
		plain := func(i int) []byte { return terminal.PlainText(v.doc.Line(i)) }
		return BlockText(plain, *v.block)
	}
	from, to, _ := v.Selection()
	return v.doc.Text(from, to)
}

// SetFind sets the pattern to highlight and move between.
func (v *Viewer) SetFind(f *Finder) { v.find = f }

// FindNext moves to the next (or previous) line matching the pattern,
// wrapping around; it reports whether any line matched.
func (v *Viewer) FindNext(forward bool) bool { return v.findAfter(v.cur, forward) }

// FindFirst is FindNext for a new search: the cursor's own line first, so
// that the match in front of the person is the one found, not the next.
func (v *Viewer) FindFirst() bool { return v.findAfter(v.cur-1, true) }

func (v *Viewer) findAfter(from int, forward bool) bool {
	if v.find == nil {
		return false
	}
	i := v.doc.Find(from, forward, v.find.Matches)
	if i < 0 {
		return false
	}
	v.MoveTo(i)
	plain := terminal.PlainText(v.doc.Line(i))
	if r := v.find.Ranges(plain); len(r) > 0 {
		// The match in view, a third in from the left when it was not.
		v.point = r[0][0]
		at := displayWidth(plain[:v.point])
		if w := max(v.width, 1); at < v.left || at >= v.left+w {
			v.left = max(at-w/3, 0)
		}
	}
	return true
}

// displayWidth is how many columns text takes on screen, as drawLine lays
// it out (tabs to the next multiple of 8).
func displayWidth(text []byte) int {
	col, prev := 0, rune(0)
	for _, r := range string(text) {
		joins := joinsCluster(prev, r)
		switch {
		case r == '\t':
			col = (col/8 + 1) * 8
		case !joins:
			col += runewidth.RuneWidth(r)
		case regionalIndicator(r):
			col++ // a flag is two columns wide, its letters one each
		}
		prev = nextPrev(joins, r)
	}
	return col
}

// nextPrev is the rune the next one may join: none after a flag's second
// letter (🇯🇵🇺 is a flag and a letter, not one cell pair).
func nextPrev(joined bool, r rune) rune {
	if joined && regionalIndicator(r) {
		return 0
	}
	return r
}

func regionalIndicator(r rune) bool { return r >= 0x1f1e6 && r <= 0x1f1ff }

// joinsCluster reports whether r draws in the cell of the rune before it,
// prev, as a terminal draws an emoji sequence: the emoji after a zero-width
// joiner (👩‍💻 is one cell pair, not two with a gap), a skin tone, and a
// flag's second letter (🇯🇵).
func joinsCluster(prev, r rune) bool {
	return prev == 0x200d && runewidth.RuneWidth(r) > 0 || r >= 0x1f3fb && r <= 0x1f3ff && prev >= 0x1f000 ||
		regionalIndicator(prev) && regionalIndicator(r)
}

// Draw draws the visible lines only.
func (v *Viewer) Draw(screen tcell.Screen) {
	// A long title keeps its start (the item's ID) and loses its end.
	_, _, boxWidth, _ := v.GetRect()
	v.SetTitle(" " + tview.Escape(runewidth.Truncate(v.title, max(boxWidth-4, 1), "…")) + " ")
	v.DrawForSubclass(screen, v)
	x, y, width, height := v.GetInnerRect()
	v.height = height
	n := v.lines()
	if v.follow {
		v.cur = max(n-1, 0)
		v.top = max(n-height, 0)
	}
	v.cur = min(v.cur, max(n-1, 0))
	if v.cur < v.top {
		v.top = v.cur
	} else if v.cur >= v.top+height {
		v.top = v.cur - height + 1
	}
	if n == 0 {
		done, _, err := v.doc.State()
		msg := "(empty)"
		if v.guide != "" {
			for i, l := range tview.WordWrap(v.guide, width) {
				if i < height {
					tview.Print(screen, l, x, y+i, width, tview.AlignLeft, tview.Styles.PrimaryTextColor)
				}
			}
			return
		}
		if !done {
			msg = "loading…"
		} else if err != nil {
			msg = "could not read: " + err.Error()
		}
		tview.Print(screen, tview.Escape(msg), x, y, width, tview.AlignLeft, tcell.ColorGray)
		return
	}
	gutter := len(strconv.Itoa(n)) + 1
	_, timed := v.doc.Time(0)
	if timed {
		gutter += 9
	}
	if gutter >= width {
		gutter = 0
	}
	v.width = width - gutter
	selFrom, selTo, selecting := v.Selection()
	for row := 0; row < height; row++ {
		i := v.top + row
		if i >= n {
			break
		}
		base := tcell.StyleDefault
		if selecting && i >= selFrom && i <= selTo {
			base = base.Background(tcell.ColorNavy)
		}
		gs := tcell.StyleDefault.Foreground(tcell.ColorGray)
		if i == v.cur {
			gs = gs.Foreground(tcell.ColorYellow).Bold(true)
		}
		if gutter > 0 {
			label := strconv.Itoa(i + 1)
			if timed {
				t, _ := v.doc.Time(i)
				label = t.UTC().Format("15:04:05") + " " + label
			}
			col := x + gutter - 1 - len(label)
			for _, r := range label {
				screen.SetContent(col, y+row, r, nil, gs)
				col++
			}
		}
		v.drawLine(screen, v.doc.Line(i), i, x+gutter, y+row, width-gutter, base)
	}
}

// drawLine draws one line's cells from column v.left, with matches and the
// extracted block highlighted.
func (v *Viewer) drawLine(screen tcell.Screen, line []byte, i, x, y, width int, base tcell.Style) {
	var marks [][2]int // byte ranges of the plain text to highlight
	if v.find != nil {
		marks = v.find.Ranges(terminal.PlainText(line))
	}
	var block [2]int
	inBlock := v.block != nil && i >= v.block.StartLine && i <= v.block.EndLine
	if inBlock {
		block = [2]int{0, len(line) + 1}
		if i == v.block.StartLine {
			block[0] = v.block.StartCol
		}
		if i == v.block.EndLine {
			block[1] = v.block.EndCol + 1
		}
	}
	col, pos := 0, 0 // screen column within the line; byte offset in the plain text
	// The cell last drawn, for a combining mark to join (an accent typed
	// as e + U+0301 showed as a bare e).
	lastX, lastMain, lastStyle := -1, ' ', tcell.StyleDefault
	lastW := 0 // the width of the cell at lastX
	var lastComb []rune
	prev := rune(0)
	more := false // the line goes on past the right edge
	terminal.StyledText(line, func(text []byte, st terminal.Style) {
		style := toTcell(base, st)
		for len(text) > 0 && col-v.left < width {
			r, size := utf8.DecodeRune(text)
			text = text[size:]
			joins := joinsCluster(prev, r)
			prev = nextPrev(joins, r)
			s := style
			if inBlock && pos >= block[0] && pos < block[1] {
				s = s.Background(tcell.ColorDarkGreen)
			}
			for _, m := range marks {
				if pos >= m[0] && pos < m[1] {
					s = s.Background(tcell.ColorOlive).Foreground(tcell.ColorBlack)
					break
				}
			}
			pos += size
			if r == '\t' {
				for next := (col/8 + 1) * 8; col < next; col++ {
					if col >= v.left && col-v.left < width {
						screen.SetContent(x+col-v.left, y, ' ', nil, s)
					}
				}
				continue
			}
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
				r = '?' // never a control character on the screen
			}
			if joins {
				if lastX >= 0 {
					lastComb = append(lastComb, r)
					screen.SetContent(lastX, y, lastMain, lastComb, lastStyle)
				}
				if regionalIndicator(r) {
					// A flag is two columns wide, its letters one each: the
					// second column is the flag's, left blank.
					if lastX >= 0 && col-v.left < width {
						screen.SetContent(x+col-v.left, y, ' ', nil, lastStyle)
					}
					col++
				}
				continue
			}
			w := runewidth.RuneWidth(r)
			if w == 0 {
				if lastX >= 0 && (unicode.In(r, unicode.Mn, unicode.Me, unicode.Mc) || r == 0x200d || r >= 0xfe00 && r <= 0xfe0f) {
					lastComb = append(lastComb, r)
					screen.SetContent(lastX, y, lastMain, lastComb, lastStyle)
				}
				continue
			}
			lastX = -1
			if col >= v.left && col-v.left+w <= width {
				screen.SetContent(x+col-v.left, y, r, nil, s)
				lastX, lastMain, lastComb, lastStyle, lastW = x+col-v.left, r, lastComb[:0], s, w
			}
			col += w
		}
		if len(text) > 0 {
			more = true
		}
	})
	if base != tcell.StyleDefault {
		for c := max(col-v.left, 0); c < width; c++ {
			screen.SetContent(x+c, y, ' ', nil, base)
		}
	}
	// A line cut at an edge says so, as vim's nowrap does: what is past
	// it is one l (or h) away, not missing.
	edge := tcell.StyleDefault.Foreground(tcell.ColorYellow).Bold(true)
	if (more || col-v.left > width) && width > 1 {
		if lastW == 2 && lastX == x+width-2 {
			// A wide character in the last two columns: the mark takes
			// its place, not half of it.
			screen.SetContent(lastX, y, ' ', nil, base)
		}
		screen.SetContent(x+width-1, y, '›', nil, edge)
	}
	if v.left > 0 && col > 0 && width > 1 {
		// Also on a line shorter than the scroll: it is not empty.
		screen.SetContent(x, y, '‹', nil, edge)
	}
}

func toTcell(base tcell.Style, st terminal.Style) tcell.Style {
	s := base
	if st.Fg != 0 {
		s = s.Foreground(tcellColor(st.Fg))
	}
	if st.Bg != 0 {
		s = s.Background(tcellColor(st.Bg))
	}
	return s.Bold(st.Attrs&terminal.Bold != 0).Dim(st.Attrs&terminal.Dim != 0).
		Italic(st.Attrs&terminal.Italic != 0).Underline(st.Attrs&terminal.Underline != 0).
		Blink(st.Attrs&terminal.Blink != 0).Reverse(st.Attrs&terminal.Reverse != 0).
		StrikeThrough(st.Attrs&terminal.Strike != 0)
}

func tcellColor(c terminal.Color) tcell.Color {
	if c&terminal.ColorRGB != 0 {
		return tcell.NewRGBColor(int32(c>>16&0xff), int32(c>>8&0xff), int32(c&0xff))
	}
	return tcell.PaletteColor(c.Palette())
}

// MouseHandler: a click puts the cursor on a line, the wheel scrolls.
func (v *Viewer) MouseHandler() func(action tview.MouseAction, event *tcell.EventMouse, setFocus func(p tview.Primitive)) (bool, tview.Primitive) {
	return v.WrapMouseHandler(func(action tview.MouseAction, event *tcell.EventMouse, setFocus func(p tview.Primitive)) (bool, tview.Primitive) {
		x, y := event.Position()
		if !v.InRect(x, y) {
			return false, nil
		}
		switch action {
		case tview.MouseLeftClick:
			setFocus(v)
			_, top, _, _ := v.GetInnerRect()
			v.MoveTo(v.top + y - top)
			return true, nil
		case tview.MouseScrollUp:
			v.top = max(v.top-3, 0)
			v.scroll(-3)
			return true, nil
		case tview.MouseScrollDown:
			v.top += 3
			v.scroll(3)
			return true, nil
		}
		return false, nil
	})
}

// Finder is a search pattern: literal unless asked for a regular expression,
// and case-insensitive when it is all lower case (smart case). It matches as
// calm search does (model.SearchQuery: grep's classes, word edges and case
// folding), as ctrl-f's search of the incident does.
type Finder struct {
	Pattern string
	m       *model.Matcher
	literal []byte
	fold    bool // literal, matched ignoring ASCII case
}

// NewFinder compiles a pattern.
func NewFinder(pattern string, regex bool) (*Finder, error) {
	f := &Finder{Pattern: pattern}
	// Smart case; but a pattern that names a case ([[:upper:]]) means it.
	fold := strings.ToLower(pattern) == pattern && !(regex && (strings.Contains(pattern, "[:upper:]") || strings.Contains(pattern, "[:lower:]")))
	// A literal is found by a byte scan, but for letters that fold beyond
	// ASCII (k, s, i: the Kelvin sign, ſ, ı).
	if !regex && (!fold || isASCII(pattern) && !strings.ContainsAny(pattern, "ksi")) {
		f.literal, f.fold = []byte(pattern), fold
		return f, nil
	}
	if regex {
		// Said as typed: without the (?i) lower case adds.
		if _, err := (model.SearchQuery{Pattern: pattern}).Regexp(); err != nil {
			return nil, errors.New(strings.Replace(err.Error(), "use -F to search for it literally", "without re: it is found as typed", 1))
		}
	}
	m, err := model.SearchQuery{Pattern: pattern, Literal: !regex, IgnoreCase: fold}.Matcher()
	if err != nil {
		return nil, err
	}
	f.m = m
	return f, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// Matches reports whether a plain line matches.
func (f *Finder) Matches(plain []byte) bool {
	if f.m == nil {
		return f.index(plain) >= 0
	}
	return f.m.Match(plain)
}

// index finds the literal, ignoring ASCII case when fold is set: candidates
// are found by the first byte in either case (a fast byte scan), then
// compared whole, which a regular expression does more slowly.
func (f *Finder) index(s []byte) int {
	if !f.fold || len(f.literal) == 0 {
		return bytes.Index(s, f.literal)
	}
	lo, up := lower(f.literal[0]), upper(f.literal[0])
	for off := 0; off+len(f.literal) <= len(s); {
		rest := s[off : len(s)-len(f.literal)+1]
		i := bytes.IndexByte(rest, lo)
		if up != lo {
			if j := bytes.IndexByte(rest, up); j >= 0 && (i < 0 || j < i) {
				i = j
			}
		}
		if i < 0 {
			return -1
		}
		if bytes.EqualFold(s[off+i:off+i+len(f.literal)], f.literal) {
			return off + i
		}
		off += i + 1
	}
	return -1
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

// Ranges returns where a plain line matches.
func (f *Finder) Ranges(plain []byte) [][2]int {
	var out [][2]int
	if f.m == nil {
		if len(f.literal) == 0 {
			return nil
		}
		for off := 0; ; {
			i := f.index(plain[off:])
			if i < 0 {
				return out
			}
			out = append(out, [2]int{off + i, off + i + len(f.literal)})
			off += i + len(f.literal)
		}
	}
	return f.m.Parts(plain)
}

// Find returns the next line after from (or before it) whose plain text
// satisfies match, wrapping around, or -1.
func (d *Doc) Find(from int, forward bool, match func(plain []byte) bool) int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	n := len(d.ends) + len(d.tail)
	for k := 1; k <= n; k++ {
		i := from + k
		if !forward {
			i = from - k
		}
		i = ((i % n) + n) % n
		if match(terminal.PlainText(d.line(i))) {
			return i
		}
	}
	return -1
}

// sanitizeTitle keeps control characters out of a box title, and escapes
// it for tview.
func sanitizeTitle(s string) string { return tview.Escape(plainTitle(s)) }

// plainTitle is s on one line, escape sequences out (a note or title typed
// with $'\e[31m' shows as its text, not as [31m), control characters too,
// and all that was written: a carriage return parts what it wrote over
// with ␍ (sanitize.Line).
func plainTitle(s string) string {
	if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r >= 0x7f && r < 0xa0 || sanitize.Dropped(r) }) {
		return sanitize.Line(s)
	}
	return s
}
