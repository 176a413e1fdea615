package terminal

import (
	"bytes"
	"unicode"
	"unicode/utf8"

	"github.com/mattn/go-runewidth"

	"calm/terminal/escape"
)

// Emulator turns raw terminal output into the lines a person saw. It models
// the screen as a terminal does: a grid of the session's width and height
// with soft-wrapped rows, a scroll region, saved cursors, insert and delete
// of lines and characters, tab stops, origin mode, the alternate screen and
// resizes, and keeps colours as SGR sequences. Every other sequence is
// dropped: nothing in a derived line can act on a terminal.
//
// The derived text is history, and nothing displayed is lost from it: a row
// goes into it when it leaves the screen, by scrolling or by an erase of
// the whole screen (ESC[2J, ESC[J from the top, RIS), in its final state;
// ESC[3J, which erases a terminal's scrollback, erases nothing here. Rows a
// soft wrap joined are one line again, so a JSON document printed on one
// line stays one line to search and extract. A full-screen program (the
// alternate screen: less, vim, top) leaves its last screen between two
// marker lines, and the rows that scrolled off its screen before that
// under a marker of their own. When it starts, the rows above the cursor go
// into history first, so history stays in the order things were shown.
type Emulator struct {
	// Emit receives each finished line: text with SGR sequences only, and the
	// time (seconds into the stream) its first character was written. The
	// slice is only valid during the call.
	Emit func(line []byte, at float64)

	cols, rows int
	now        float64
	// newlineMode: a line feed also returns the carriage, as text from a
	// pipe or file means; a terminal's stream (NewSessionEmulator) has its
	// own CR.
	newlineMode bool

	main, alt *screen
	scr       *screen // the active one
	inAlt     bool
	altMarked bool // rows have scrolled off the alternate screen, under their marker

	pen      Style
	autowrap bool
	origin   bool
	insert   bool
	graphics [2]bool // G0, G1 designated as DEC special graphics (line drawing)
	shifted  bool    // G1 invoked (SO)
	last     rune    // the last character printed, for REP

	// A history line being assembled from soft-wrapped rows.
	pend     []byte
	pendCut  int // its length with trailing blanks cut
	pendAt   float64
	havePend bool

	// the escape-sequence parser: its states are escape's, and a string
	// is skipped by escape.Output; CSI and ESC sequences are parsed here,
	// byte by byte, as their parameters are collected and C0 controls
	// inside them act at once.
	state   escape.State
	params  []int
	param   int
	hasP    bool
	private byte // '?' or '>' etc. right after CSI
	inter   byte // an intermediate byte (0x20-0x2f) in a sequence
	partial []byte

	spare []*line
	out   []byte
}

type screen struct {
	lines    []*line
	x, y     int
	wrapNext bool // the last column was written: the next character wraps
	top, bot int  // the scroll region, inclusive
	saved    savedCursor
	tabs     []bool // nil: a stop every 8 columns
}

type savedCursor struct {
	x, y     int
	wrapNext bool
	pen      Style
	origin   bool
	graphics [2]bool
	shifted  bool
}

// line is a screen row. A row written by the fast path is kept as its
// derived bytes (raw) until something edits it.
type line struct {
	cells []cell
	raw   []byte
	isRaw bool
	cont  bool // continues the row above (a soft wrap)
	// pad is 1 + the column of the blank a wide character left at the
	// row's end when it did not fit and wrapped to the next row (0: none).
	// A terminal's joined line has no blank there.
	pad int
	// width is the screen's width when the row wrapped onto the next (0:
	// it did not): joined, the row is that wide, whatever the width after
	// a resize.
	width int
	at    float64
}

type cell struct {
	r    rune   // 0: the right half of a wide character, or the rest of a tab
	comb string // combining marks that follow r
	st   Style
}

// The marker lines around what a full-screen program showed.
var (
	markScrolled = []byte("\x1b[0;2m── full-screen program, rows that scrolled off its screen ──\x1b[0m")
	markLast     = []byte("\x1b[0;2m── full-screen program, its last screen ──\x1b[0m")
	markEnd      = []byte("\x1b[0;2m── end of full-screen program ──\x1b[0m")
)

// NewEmulator returns an emulator for text from a pipe or a file, where a
// line feed starts a new line; cols x rows of 0 mean unknown (textColumns x
// 24).
func NewEmulator(cols, rows int, emit func(line []byte, at float64)) *Emulator {
	if cols <= 0 {
		cols = textColumns
	}
	e := NewSessionEmulator(cols, rows, emit)
	e.newlineMode = true
	return e
}

// textColumns is the width text of unknown width is laid out in: wide, as
// no terminal wrapped it, so its long lines stay on the fast path.
const textColumns = 512

// NewSessionEmulator returns an emulator for what a program wrote to a
// terminal (a session), where a line feed only moves down, as with stty
// -onlcr.
func NewSessionEmulator(cols, rows int, emit func(line []byte, at float64)) *Emulator {
	if cols <= 0 {
		cols = 80
	}
	if rows <= 0 {
		rows = 24
	}
	e := &Emulator{Emit: emit, cols: cols, rows: rows, autowrap: true}
	e.main = e.newScreen()
	e.scr = e.main
	return e
}

func (e *Emulator) newScreen() *screen {
	s := &screen{lines: make([]*line, e.rows), bot: e.rows - 1}
	for i := range s.lines {
		s.lines[i] = &line{at: e.now}
	}
	return s
}

// Reset makes the emulator as it was new (at its size), dropping what it holds unsent, but
// keeping its buffers: one emulator can then serve many short streams (a
// line each) without allocating for each.
func (e *Emulator) Reset() {
	main, spare, out, pend, params, partial := e.main, e.spare, e.out[:0], e.pend[:0], e.params[:0], e.partial[:0]
	if e.alt != nil {
		spare = append(spare, e.alt.lines...)
	}
	*e = Emulator{Emit: e.Emit, cols: e.cols, rows: e.rows, newlineMode: e.newlineMode, autowrap: true,
		spare: spare, out: out, pend: pend, params: params, partial: partial}
	*main = screen{lines: main.lines, bot: e.rows - 1}
	for _, l := range main.lines {
		e.clearLine(l)
	}
	e.main, e.scr = main, main
}

// SetTime sets the stream time of what is written next.
func (e *Emulator) SetTime(t float64) { e.now = t }

// Resize follows the terminal's size. Rows keep what they hold when the
// screen narrows (a terminal reflows them; the text is the same).
func (e *Emulator) Resize(cols, rows int) {
	if cols <= 0 {
		cols = e.cols
	}
	if rows <= 0 {
		rows = e.rows
	}
	if cols == e.cols && rows == e.rows {
		return
	}
	e.cols, e.rows = cols, rows
	for _, s := range []*screen{e.main, e.alt} {
		if s == nil {
			continue
		}
		for len(s.lines) > rows {
			last := len(s.lines) - 1
			if last > s.y && e.blankLine(s.lines[last]) {
				e.recycle(s.lines[last])
				s.lines = s.lines[:last]
				continue
			}
			if s == e.main {
				e.pushRow(s.lines[0], s.lines[1].cont)
			}
			e.recycle(s.lines[0])
			s.lines = append(s.lines[:0], s.lines[1:]...)
			s.y--
			s.saved.y = max(s.saved.y-1, 0)
		}
		for len(s.lines) < rows {
			s.lines = append(s.lines, e.fresh())
		}
		s.x, s.y = min(s.x, cols-1), min(max(s.y, 0), rows-1)
		s.wrapNext = false
		s.top, s.bot = 0, rows-1
		s.tabs = nil
		s.saved.x, s.saved.y = min(s.saved.x, cols-1), min(s.saved.y, rows-1)
	}
}

// Write parses raw output.
func (e *Emulator) Write(p []byte) (int, error) {
	n := len(p)
	if len(e.partial) > 0 {
		// Finish a rune cut by the last write.
		buf := append(e.partial, p[:min(len(p), utf8.UTFMax)]...)
		if !utf8.FullRune(buf) {
			e.partial = buf
			return n, nil
		}
		r, size := utf8.DecodeRune(buf)
		p = p[max(size-len(e.partial), 0):]
		e.partial = e.partial[:0]
		e.rune(r)
	}
	for len(p) > 0 {
		c := p[0]
		if e.state >= escape.KeyRune {
			// ESC and a character beyond ASCII: its bytes are the sequence's.
			if c >= 0x80 && c <= 0xbf {
				switch e.state {
				case escape.KeyRune3:
					e.state = escape.KeyRune2
				case escape.KeyRune2:
					e.state = escape.KeyRune
				default:
					e.state = escape.Ground // its last byte
				}
				p = p[1:]
				continue
			}
			e.state = escape.Ground // c is read from the ground state
		}
		if e.state == escape.Ground {
			if e.scr.x == 0 {
				if k := e.fastLine(p); k > 0 {
					p = p[k:]
					continue
				}
			}
			if c >= 0x20 && c < 0x7f && !e.graphicsOn() {
				k := e.printASCII(p)
				p = p[k:]
				continue
			}
		} else if e.state.InString() {
			// A title, a hyperlink's target, a clipboard write: nothing of
			// it is shown.
			p = p[e.skipString(p):]
			continue
		}
		if c < 0x80 || e.state == escape.CSI || e.state == escape.Esc || e.state == escape.EscInter {
			e.byte(c)
			p = p[1:]
			continue
		}
		if !utf8.FullRune(p) {
			e.partial = append(e.partial, p...)
			break
		}
		r, size := utf8.DecodeRune(p)
		p = p[size:]
		e.rune(r)
	}
	return n, nil
}

// skipString reads p in a string to its end, or p's, and says how much of
// p it took.
func (e *Emulator) skipString(p []byte) int {
	d := escape.Output
	if e.newlineMode {
		d = escape.Lines // text: a line's end ends a string, as sanitize reads it
	}
	k, st := d.Skip(p, e.state)
	e.state = st
	return k
}

// rune handles one decoded character outside the ASCII range, in the
// ground state (a string's are skipped, a sequence's are its bytes).
func (e *Emulator) rune(r rune) {
	if r >= 0x80 && r < 0xa0 {
		e.c1(r)
		return
	}
	e.print(r)
}

func (e *Emulator) graphicsOn() bool {
	if e.shifted {
		return e.graphics[1]
	}
	return e.graphics[0]
}

// fastLine takes a whole line (printable ASCII and SGR sequences, up to its
// line feed) in one step when it starts a fresh bottom row of a plain
// screen, and stores it as its derived bytes: most of any log is such lines.
// It declines (0) anything else, and the general path does it cell by cell.
func (e *Emulator) fastLine(p []byte) int {
	s := e.scr
	if e.inAlt || s.x != 0 || s.wrapNext || s.y != s.bot || s.top != 0 || s.bot != e.rows-1 || e.insert || !e.autowrap || e.graphicsOn() {
		return 0
	}
	l := s.lines[s.y]
	if l.isRaw || len(l.cells) != 0 {
		return 0
	}
	pen := e.pen
	raw := l.raw[:0]
	cur := Style{}
	keep, keepSt := 0, Style{}
	col := 0
	plain := true
	// The scan stops at the first byte it cannot take, so a stream of \r
	// progress updates costs no more than the general path.
	j := 0
	for ; ; j++ {
		if j >= len(p) {
			return e.fastBail(l, raw, pen)
		}
		c := p[j]
		if c >= 0x20 && c < 0x7f {
			if e.pen != cur {
				if e.pen.IsZero() {
					raw = append(raw, "\x1b[0m"...)
				} else {
					raw = e.pen.AppendSGR(raw)
				}
				cur = e.pen
			}
			k := j + 1
			for k < len(p) && p[k] >= 0x20 && p[k] < 0x7f {
				k++
			}
			run := p[j:k]
			raw = append(raw, run...)
			col += len(run)
			if !blankLooks(cur) {
				keep, keepSt = len(raw), cur
			} else if n := len(bytes.TrimRight(run, " ")); n > 0 {
				keep, keepSt = len(raw)-len(run)+n, cur
			}
			j = k - 1
			continue
		}
		switch {
		case c == '\n':
			if !e.newlineMode {
				return e.fastBail(l, raw, pen)
			}
		case c == '\r':
			if j+1 >= len(p) || p[j+1] != '\n' {
				return e.fastBail(l, raw, pen)
			}
			j++
		case c == '\t' && s.tabs == nil:
			col = (col/8 + 1) * 8
			if col >= e.cols {
				return e.fastBail(l, raw, pen)
			}
			plain = false
		case c == 0x1b:
			k := e.fastSGR(p[j:])
			if k == 0 {
				return e.fastBail(l, raw, pen)
			}
			j += k - 1
			plain = false
			continue
		default:
			return e.fastBail(l, raw, pen)
		}
		if c != '\t' {
			break
		}
		if e.pen != cur {
			if e.pen.IsZero() {
				raw = append(raw, "\x1b[0m"...)
			} else {
				raw = e.pen.AppendSGR(raw)
			}
			cur = e.pen
		}
		raw = append(raw, c)
		keep, keepSt = len(raw), cur
	}
	i := j // at the line feed
	if col > e.cols {
		if !plain {
			return e.fastBail(l, raw, pen)
		}
		e.pen = pen
		text := bytes.TrimSuffix(p[:i], []byte{'\r'})
		return e.fastWrapped(text, i+1)
	}
	raw = raw[:keep]
	if !keepSt.IsZero() {
		raw = append(raw, "\x1b[0m"...)
	}
	l.raw, l.isRaw, l.at = raw, len(raw) > 0, e.now
	e.lineFeed()
	return i + 1
}

// fastBail leaves the fast path: the pen as it was, and the row's buffer
// grown so far kept for the next line (a stream of lines that leave it,
// progress bars, allocated one each).
func (e *Emulator) fastBail(l *line, raw []byte, pen Style) int {
	e.pen = pen
	if cap(raw) <= 1<<16 {
		l.raw = raw[:0]
	}
	return 0
}

// fastWrapped stores a plain line longer than the screen is wide as the
// rows a terminal wraps it into.
func (e *Emulator) fastWrapped(text []byte, used int) int {
	s := e.scr
	for first := true; ; first = false {
		l := s.lines[s.y]
		chunk := text[:min(len(text), e.cols)]
		text = text[len(chunk):]
		raw := append(l.raw[:0], chunk...)
		if len(text) == 0 {
			raw = bytes.TrimRight(raw, " ")
		}
		l.raw, l.isRaw, l.at, l.cont, l.width = raw, len(raw) > 0, e.now, !first, e.cols
		if len(text) == 0 {
			break
		}
		e.index()
	}
	e.lineFeed()
	return used
}

// fastSGR applies an SGR sequence at the start of p and says how long it
// was; 0 if p does not start with one.
func (e *Emulator) fastSGR(p []byte) int {
	if len(p) < 3 || p[1] != '[' {
		return 0
	}
	e.params = e.params[:0]
	n, have := 0, false
	for j := 2; j < len(p); j++ {
		c := p[j]
		switch {
		case c >= '0' && c <= '9':
			n = min(n*10+int(c-'0'), 1<<16)
			have = true
		case c == ';' || c == ':':
			e.params = append(e.params, n)
			n, have = 0, false
		case c == 'm':
			if have || len(e.params) > 0 {
				e.params = append(e.params, n)
			}
			e.pen.ApplySGR(e.params)
			return j + 1
		default:
			return 0
		}
	}
	return 0
}

// printASCII prints a run of printable ASCII, cell by cell.
func (e *Emulator) printASCII(p []byte) int {
	k := 0
	for k < len(p) && p[k] >= 0x20 && p[k] < 0x7f {
		e.print(rune(p[k]))
		k++
	}
	return k
}

func (e *Emulator) byte(c byte) {
	if c == '\n' && e.newlineMode && e.state != escape.Ground {
		// Text, not a terminal's stream: a sequence a line's end cuts short
		// ends there, as sanitize and search read it, and cannot swallow
		// the lines after it.
		e.state = escape.Ground
	}
	switch e.state {
	case escape.Ground:
		e.control(c)
	case escape.Esc:
		if c >= 0xc2 && c <= 0xf4 {
			// ESC and one character, all its bytes: one, two or three more.
			e.state = escape.KeyRune
			if c >= 0xe0 {
				e.state = escape.KeyRune2
			}
			if c >= 0xf0 {
				e.state = escape.KeyRune3
			}
			return
		}
		e.escape(c)
	case escape.EscInter:
		switch {
		case c >= 0x30 && c <= 0x7e:
			e.state = escape.Ground
			e.escFinal(e.inter, c)
		case c >= 0x20 && c <= 0x2f:
		case c == 0x1b:
			e.state = escape.Esc
		default:
			e.state = escape.Ground
		}
	case escape.CSI:
		e.csiByte(c)
	}
}

// c1 handles a C1 control written as UTF-8: CSI and the string introducers
// start what their 7-bit forms do, so what they carry is consumed, not shown.
func (e *Emulator) c1(r rune) {
	switch escape.Begin(r) {
	case escape.CSI:
		e.escape('[')
	case escape.String:
		e.state = escape.String
	}
}

func (e *Emulator) control(c byte) {
	s := e.scr
	switch c {
	case 0x1b:
		e.state = escape.Esc
	case '\n':
		e.lineFeed()
	case 0x0b, 0x0c:
		if !e.newlineMode { // in text, as sanitize reads it, only \n ends a line
			e.lineFeed()
		}
	case '\r':
		s.x, s.wrapNext = 0, false
	case '\b':
		if s.wrapNext {
			s.wrapNext = false
		}
		if s.x > 0 {
			s.x--
		}
	case '\t':
		e.tab()
	case 0x0e:
		e.shifted = true
	case 0x0f:
		e.shifted = false
	default:
		if c >= 0x20 && c < 0x7f {
			e.print(rune(c))
		}
	}
}

func (e *Emulator) escape(c byte) {
	e.state = escape.Ground
	s := e.scr
	switch c {
	case '[':
		e.state = escape.CSI
		e.params = e.params[:0]
		e.param, e.hasP, e.private, e.inter = 0, false, 0, 0
	case ']', 'P', 'X', '^', '_':
		e.state = escape.String
	case '7':
		e.saveCursor()
	case '8':
		e.restoreCursor()
	case 'D':
		e.index()
	case 'E':
		e.index()
		s.x = 0
	case 'M':
		e.reverseIndex()
	case 'H':
		e.setTab(s.x, true)
	case 'c':
		e.reset()
	case 0x1b:
		e.state = escape.Esc
	default:
		if c >= 0x20 && c <= 0x2f {
			e.inter = c
			e.state = escape.EscInter
		}
	}
}

// escFinal ends an escape sequence with an intermediate: charset choices.
func (e *Emulator) escFinal(inter, final byte) {
	switch inter {
	case '(':
		e.graphics[0] = final == '0'
	case ')':
		e.graphics[1] = final == '0'
	}
}

func (e *Emulator) csiByte(c byte) {
	switch {
	case c >= '0' && c <= '9':
		e.param = min(e.param*10+int(c-'0'), 1<<16)
		e.hasP = true
	case c == ';' || c == ':':
		e.params = append(e.params, e.param)
		e.param, e.hasP = 0, false
	case c >= '<' && c <= '?':
		e.private = c
	case c >= 0x20 && c <= 0x2f:
		e.inter = c
	case c >= 0x40 && c <= 0x7e:
		if e.hasP || len(e.params) > 0 {
			e.params = append(e.params, e.param)
		}
		e.state = escape.Ground
		e.csi(c)
	case c == 0x1b:
		e.state = escape.Esc
	case c == 0x18 || c == 0x1a: // CAN, SUB
		e.state = escape.Ground
	case c < 0x20:
		e.control(c) // C0 inside a sequence acts at once
	}
}

func (e *Emulator) arg(i, def int) int {
	if i < len(e.params) && e.params[i] > 0 {
		return e.params[i]
	}
	return def
}

func (e *Emulator) csi(final byte) {
	s := e.scr
	if e.inter != 0 {
		if e.inter == '!' && final == 'p' {
			e.softReset()
		}
		return
	}
	if e.private == '?' {
		switch final {
		case 'h', 'l':
			for _, m := range e.params {
				e.privateMode(m, final == 'h')
			}
		case 'J':
			e.eraseDisplay(e.arg(0, 0))
		case 'K':
			e.eraseLine(e.arg(0, 0))
		}
		return
	}
	if e.private != 0 {
		return
	}
	switch final {
	case 'm':
		e.pen.ApplySGR(e.params)
	case 'A':
		top := 0
		if s.y >= s.top {
			top = s.top
		}
		e.moveTo(s.x, max(s.y-e.arg(0, 1), top))
	case 'B', 'e':
		bot := e.rows - 1
		if s.y <= s.bot {
			bot = s.bot
		}
		e.moveTo(s.x, min(s.y+e.arg(0, 1), bot))
	case 'C', 'a':
		e.moveTo(s.x+e.arg(0, 1), s.y)
	case 'D':
		e.moveTo(s.x-e.arg(0, 1), s.y)
	case 'E':
		bot := e.rows - 1
		if s.y <= s.bot {
			bot = s.bot
		}
		e.moveTo(0, min(s.y+e.arg(0, 1), bot))
	case 'F':
		top := 0
		if s.y >= s.top {
			top = s.top
		}
		e.moveTo(0, max(s.y-e.arg(0, 1), top))
	case 'G', '`':
		e.moveTo(e.arg(0, 1)-1, s.y)
	case 'H', 'f':
		e.moveAbs(e.arg(1, 1)-1, e.arg(0, 1)-1)
	case 'd':
		e.moveAbs(s.x, e.arg(0, 1)-1)
	case 'I':
		for range e.arg(0, 1) {
			e.tabStop()
		}
	case 'Z':
		for range e.arg(0, 1) {
			e.backTab()
		}
	case 'K':
		e.eraseLine(e.arg(0, 0))
	case 'J':
		e.eraseDisplay(e.arg(0, 0))
	case 'L':
		e.insertLines(e.arg(0, 1))
	case 'M':
		e.deleteLines(e.arg(0, 1))
	case 'P':
		e.deleteChars(e.arg(0, 1))
	case '@':
		e.insertChars(e.arg(0, 1))
	case 'X':
		e.eraseChars(e.arg(0, 1))
	case 'S':
		e.scrollUp(e.arg(0, 1))
	case 'T':
		if len(e.params) <= 1 {
			e.scrollDown(e.arg(0, 1))
		}
	case 'b':
		if e.last != 0 {
			// At most a row: a few bytes asking for more would write a
			// gigabyte of history (xterm.js goes on to the next rows).
			for range min(e.arg(0, 1), e.cols) {
				e.print(e.last)
			}
		}
	case 'g':
		switch e.arg(0, 0) {
		case 0:
			e.setTab(s.x, false)
		case 3:
			s.tabs = make([]bool, e.cols)
		}
	case 'h', 'l':
		for _, m := range e.params {
			switch m {
			case 4:
				e.insert = final == 'h'
			case 20:
				e.newlineMode = final == 'h'
			}
		}
	case 'r':
		top, bot := e.arg(0, 1)-1, e.arg(1, e.rows)-1
		bot = min(bot, e.rows-1)
		if top < bot {
			s.top, s.bot = top, bot
			e.moveAbs(0, 0)
		}
	case 's':
		e.saveCursor()
	case 'u':
		e.restoreCursor()
	}
}

func (e *Emulator) privateMode(m int, on bool) {
	switch m {
	case 6:
		e.origin = on
		e.moveAbs(0, 0)
	case 7:
		e.autowrap = on
	case 1048:
		if on {
			e.saveCursor()
		} else {
			e.restoreCursor()
		}
	case 1049:
		if on {
			if !e.inAlt {
				e.leaveMainRowsAbove()
				e.saveCursor()
				e.altScreen(true)
			}
		} else if e.inAlt {
			e.altScreen(false)
			e.restoreCursor()
		}
	case 1047, 47:
		if on && !e.inAlt {
			e.leaveMainRowsAbove()
		}
		e.altScreen(on)
	}
}

// moveTo moves the cursor within the screen.
func (e *Emulator) moveTo(x, y int) {
	s := e.scr
	s.x, s.y = min(max(x, 0), e.cols-1), min(max(y, 0), e.rows-1)
	s.wrapNext = false
}

// moveAbs moves to a position counted as CUP does (from the scroll
// region's top in origin mode).
func (e *Emulator) moveAbs(x, y int) {
	s := e.scr
	if e.origin {
		e.moveTo(x, min(s.top+max(y, 0), s.bot))
		return
	}
	e.moveTo(x, y)
}

func (e *Emulator) saveCursor() {
	s := e.scr
	s.saved = savedCursor{x: s.x, y: s.y, wrapNext: s.wrapNext, pen: e.pen, origin: e.origin, graphics: e.graphics, shifted: e.shifted}
}

func (e *Emulator) restoreCursor() {
	s := e.scr
	sv := s.saved
	s.x, s.y = min(sv.x, e.cols-1), min(sv.y, e.rows-1)
	s.wrapNext = sv.wrapNext
	e.pen, e.origin, e.graphics, e.shifted = sv.pen, sv.origin, sv.graphics, sv.shifted
}

func (e *Emulator) softReset() {
	s := e.scr
	e.insert, e.origin, e.autowrap = false, false, true
	e.pen, e.graphics, e.shifted = Style{}, [2]bool{}, false
	s.top, s.bot = 0, e.rows-1
	s.saved = savedCursor{}
}

// reset is RIS: the screen goes into history, and everything starts afresh.
func (e *Emulator) reset() {
	if e.inAlt {
		e.altScreen(false)
	}
	e.pushScreen()
	e.softReset()
	e.main = e.newScreen()
	e.scr = e.main
	e.alt = nil
	e.last = 0
}

// row returns the cursor's row as cells, converting a raw row first.
func (e *Emulator) row() *line {
	l := e.scr.lines[e.scr.y]
	if l.isRaw {
		e.unraw(l)
	}
	return l
}

// unraw turns a row kept as derived bytes into cells.
func (e *Emulator) unraw(l *line) {
	cells := l.cells[:0]
	StyledText(l.raw, func(text []byte, st Style) {
		for _, c := range text {
			if c == '\t' {
				cells = append(cells, cell{r: '\t', st: st})
				for len(cells)%8 != 0 {
					cells = append(cells, cell{st: st})
				}
				continue
			}
			cells = append(cells, cell{r: rune(c), st: st})
		}
	})
	l.cells, l.raw, l.isRaw = cells, l.raw[:0], false
}

// runeWidth is how many columns r takes, as xterm.js and tmux count them:
// a nonspacing or enclosing mark (Thai tone marks, the Devanagari virama,
// Hebrew and Arabic vowel points) takes none, whatever go-runewidth's table
// says of it.
func runeWidth(r rune) int {
	if unicode.In(r, unicode.Mn, unicode.Me) {
		return 0
	}
	return runewidth.RuneWidth(r)
}

func (e *Emulator) blankCell() cell { return cell{r: ' ', st: Style{Bg: e.pen.Bg}} }

func (e *Emulator) print(r rune) {
	if r < 0x7f && r > 0x5e && e.graphicsOn() {
		r = decGraphics[r-0x5f]
	}
	s := e.scr
	w := 1
	if r >= 0x7f {
		w = runeWidth(r)
	}
	if w == 0 {
		e.combine(r)
		return
	}
	e.last = r
	if s.wrapNext && e.autowrap {
		e.wrap()
	}
	if s.x+w > e.cols {
		if !e.autowrap {
			if w > e.cols-s.x {
				return
			}
		} else {
			l := e.row()
			for x := s.x; x < e.cols; x++ {
				e.putCell(l, x, e.blankCell(), 1)
			}
			l.pad = e.cols
			e.wrap()
		}
	}
	// A line's time is when it last changed: what it shows was there by
	// then. A prompt's line is thus the time its command was entered, a
	// progress line's the time of its final state.
	l := e.row()
	l.at = e.now
	if e.insert {
		e.shiftRight(l, s.x, w)
	}
	e.putCell(l, s.x, cell{r: r, st: e.pen}, w)
	s.x += w
	if s.x >= e.cols {
		s.x = e.cols - 1
		s.wrapNext = e.autowrap
	}
}

// wrap moves to the start of the next row, which continues this one.
func (e *Emulator) wrap() {
	s := e.scr
	s.lines[s.y].width = e.cols
	s.wrapNext = false
	s.x = 0
	e.index()
	s.lines[s.y].cont = true
}

// combine attaches a zero-width character to the one before the cursor.
func (e *Emulator) combine(r rune) {
	s := e.scr
	x := s.x - 1
	if s.wrapNext {
		x = s.x
	}
	l := e.row()
	if x < 0 || x >= len(l.cells) {
		return
	}
	if l.cells[x].r == 0 && x > 0 {
		x--
	}
	l.cells[x].comb += string(r)
}

// putCell writes a cell of width w at x.
func (e *Emulator) putCell(l *line, x int, c cell, w int) {
	cells := l.cells
	for len(cells) < x+w {
		cells = append(cells, cell{r: ' '})
	}
	// Overwriting part of a wide character or a tab blanks the rest of it.
	if cells[x].r == 0 {
		h := x
		for h > 0 && cells[h].r == 0 {
			h--
		}
		blankRun(cells, h)
	}
	if end := x + w; end < len(cells) && cells[end].r == 0 {
		blankRun(cells, end)
	}
	if w == 2 && cells[x+1].r == '\t' {
		blankRun(cells, x+1)
	}
	cells[x] = c
	if w == 2 {
		cells[x+1] = cell{r: 0, st: c.st}
	}
	l.cells = cells
	if l.pad > x && l.pad <= x+w {
		l.pad = 0 // written over: not a wide character's blank any more
	}
}

// blankRun turns the cell at i and the continuation cells after it into
// blanks.
func blankRun(cells []cell, i int) {
	cells[i] = cell{r: ' ', st: cells[i].st}
	for i++; i < len(cells) && cells[i].r == 0; i++ {
		cells[i] = cell{r: ' ', st: cells[i].st}
	}
}

// tab moves to the next tab stop. A tab written past the end of a row is
// kept as a tab (its columns as continuation cells), so text extracted from
// the derived lines has the tabs the program printed.
func (e *Emulator) tab() {
	s := e.scr
	from := s.x
	e.tabStop()
	l := e.row()
	if s.tabs != nil || from >= s.x || from < len(l.cells) || s.wrapNext || s.x%8 != 0 {
		return
	}
	e.putCell(l, from, cell{r: '\t', st: e.pen}, 1)
	for x := from + 1; x < s.x; x++ {
		l.cells = append(l.cells, cell{st: e.pen})
	}
}

func (e *Emulator) tabStop() {
	s := e.scr
	x := s.x + 1
	for ; x < e.cols-1; x++ {
		if e.isTab(x) {
			break
		}
	}
	s.x = min(x, e.cols-1)
	s.wrapNext = false
}

func (e *Emulator) backTab() {
	s := e.scr
	x := s.x - 1
	for ; x > 0; x-- {
		if e.isTab(x) {
			break
		}
	}
	s.x = max(x, 0)
	s.wrapNext = false
}

func (e *Emulator) isTab(x int) bool {
	if t := e.scr.tabs; t != nil {
		return x < len(t) && t[x]
	}
	return x%8 == 0
}

func (e *Emulator) setTab(x int, on bool) {
	s := e.scr
	if s.tabs == nil {
		s.tabs = make([]bool, max(e.cols, x+1))
		for i := range s.tabs {
			s.tabs[i] = i%8 == 0
		}
	}
	if x < len(s.tabs) {
		s.tabs[x] = on
	}
}

// lineFeed is LF: down a row, scrolling at the region's bottom.
func (e *Emulator) lineFeed() {
	e.index()
	if e.newlineMode {
		e.scr.x = 0
	}
}

// index moves down a row. The row it moves to no longer continues the
// one above: only a wrap joins rows (wrap sets it again), as in xterm.js
// and tmux.
func (e *Emulator) index() {
	s := e.scr
	s.wrapNext = false
	// The row a line feed leaves shows what it will: a command's line is
	// timed when it was entered (its marker's time), a blank one ("echo")
	// when it was output, not when the screen was last cleared.
	s.lines[s.y].at = e.now
	if s.y == s.bot {
		e.scrollUp(1)
	} else if s.y < e.rows-1 {
		s.y++
		s.lines[s.y].cont = false
	}
}

func (e *Emulator) reverseIndex() {
	s := e.scr
	s.wrapNext = false
	if s.y == s.top {
		e.scrollDown(1)
	} else if s.y > 0 {
		s.y--
	}
}

// scrollUp moves the scroll region up n rows: the top rows leave the
// screen, and so go into history.
func (e *Emulator) scrollUp(n int) {
	s := e.scr
	n = min(n, s.bot-s.top+1)
	for range n {
		gone := s.lines[s.top]
		next := s.top < s.bot && s.lines[s.top+1].cont
		if e.inAlt {
			e.pushAltRow(gone, next)
		} else {
			e.pushRow(gone, next)
		}
		copy(s.lines[s.top:s.bot], s.lines[s.top+1:s.bot+1])
		e.clearLine(gone)
		s.lines[s.bot] = gone
	}
}

// scrollDown moves the scroll region down n rows; the bottom rows go.
func (e *Emulator) scrollDown(n int) {
	s := e.scr
	n = min(n, s.bot-s.top+1)
	for range n {
		gone := s.lines[s.bot]
		copy(s.lines[s.top+1:s.bot+1], s.lines[s.top:s.bot])
		e.clearLine(gone)
		s.lines[s.top] = gone
	}
	if s.top+n <= s.bot {
		s.lines[s.top+n].cont = false
	}
}

func (e *Emulator) insertLines(n int) {
	s := e.scr
	if s.y < s.top || s.y > s.bot {
		return
	}
	top := s.top
	s.top = s.y
	e.scrollDown(n)
	s.top = top
	s.x, s.wrapNext = 0, false
}

func (e *Emulator) deleteLines(n int) {
	s := e.scr
	if s.y < s.top || s.y > s.bot {
		return
	}
	n = min(n, s.bot-s.y+1)
	for range n {
		gone := s.lines[s.y]
		copy(s.lines[s.y:s.bot], s.lines[s.y+1:s.bot+1])
		e.clearLine(gone)
		s.lines[s.bot] = gone
	}
	s.lines[s.y].cont = false
	s.x, s.wrapNext = 0, false
}

func (e *Emulator) shiftRight(l *line, x, n int) {
	if x >= len(l.cells) {
		return
	}
	if l.cells[x].r == 0 {
		h := x
		for h > 0 && l.cells[h].r == 0 {
			h--
		}
		blankRun(l.cells, h)
	}
	blank := e.blankCell()
	for range n {
		l.cells = append(l.cells, blank)
	}
	copy(l.cells[x+n:], l.cells[x:])
	for i := x; i < x+n; i++ {
		l.cells[i] = blank
	}
	if len(l.cells) > e.cols {
		l.cells = l.cells[:e.cols]
		if last := e.cols - 1; l.cells[last].r != 0 && last > 0 && runeWidth(l.cells[last].r) == 2 {
			l.cells[last] = blank
		}
	}
}

func (e *Emulator) insertChars(n int) {
	s := e.scr
	s.wrapNext = false
	e.shiftRight(e.row(), s.x, min(n, e.cols-s.x))
}

func (e *Emulator) deleteChars(n int) {
	s := e.scr
	s.wrapNext = false
	l := e.row()
	if s.x >= len(l.cells) {
		return
	}
	if l.cells[s.x].r == 0 {
		blankRun(l.cells, max(s.x-1, 0))
	}
	n = min(n, len(l.cells)-s.x)
	l.cells = append(l.cells[:s.x], l.cells[s.x+n:]...)
	if s.x < len(l.cells) && l.cells[s.x].r == 0 {
		blankRun(l.cells, s.x)
	}
	if bg := e.blankCell(); !bg.st.IsZero() {
		for len(l.cells) < e.cols {
			l.cells = append(l.cells, bg)
		}
	}
}

func (e *Emulator) eraseChars(n int) {
	s := e.scr
	s.wrapNext = false
	e.eraseCells(e.row(), s.x, min(s.x+n, e.cols))
}

// eraseCells blanks cells [from, to) of a row.
func (e *Emulator) eraseCells(l *line, from, to int) {
	if l.isRaw {
		e.unraw(l)
	}
	blank := e.blankCell()
	if from >= to {
		return
	}
	if blank.st.IsZero() && to >= len(l.cells) {
		if from < len(l.cells) {
			if from > 0 && l.cells[from].r == 0 {
				blankRun(l.cells, from-1)
			}
			l.cells = l.cells[:from]
		}
		return
	}
	for len(l.cells) < to {
		l.cells = append(l.cells, cell{r: ' '})
	}
	if from > 0 && l.cells[from].r == 0 {
		blankRun(l.cells, from-1)
	}
	if to < len(l.cells) && l.cells[to].r == 0 {
		blankRun(l.cells, to)
	}
	for i := from; i < to; i++ {
		l.cells[i] = blank
	}
}

func (e *Emulator) eraseLine(mode int) {
	s := e.scr
	l := e.row()
	// After the last column was written the cursor is, for an erase, past
	// it (as in xterm.js and tmux): EL 0 erases nothing then.
	x := s.x
	if s.wrapNext {
		x = e.cols
	}
	// An erase from the row's start ends its being a continuation.
	switch mode {
	case 0:
		e.eraseCells(l, x, max(e.cols, len(l.cells)))
		l.cont = l.cont && x > 0
	case 1:
		e.eraseCells(l, 0, min(x+1, e.cols))
	case 2:
		e.eraseCells(l, 0, max(e.cols, len(l.cells)))
		l.cont = false
	}
}

func (e *Emulator) eraseDisplay(mode int) {
	s := e.scr
	switch mode {
	case 0:
		if s.x == 0 && s.y == 0 && !s.wrapNext {
			e.pushScreen()
		}
		e.eraseLine(0)
		for y := s.y + 1; y < e.rows; y++ {
			e.eraseWhole(s.lines[y])
		}
	case 1:
		for y := 0; y < s.y; y++ {
			e.eraseWhole(s.lines[y])
		}
		e.eraseLine(1)
		s.lines[s.y].cont = false
		if s.x+1 >= e.cols && s.y+1 < len(s.lines) {
			s.lines[s.y+1].cont = false
		}
	case 2:
		e.pushScreen()
		for _, l := range s.lines {
			e.eraseWhole(l)
		}
	}
}

func (e *Emulator) eraseWhole(l *line) {
	e.clearLine(l)
	l.at = e.now
	if bg := e.blankCell(); !bg.st.IsZero() {
		for range e.cols {
			l.cells = append(l.cells, bg)
		}
	}
}

// pushScreen copies the main screen's rows, to its last one that shows
// something, into history before an erase of the whole screen.
func (e *Emulator) pushScreen() {
	if e.inAlt {
		return
	}
	s := e.main
	last := len(s.lines) - 1
	for last >= 0 && e.blankLine(s.lines[last]) {
		last--
	}
	for y := 0; y <= last; y++ {
		e.pushRow(s.lines[y], y < last && s.lines[y+1].cont)
	}
	if last >= 0 && last+1 < len(s.lines) {
		s.lines[last+1].cont = false
	}
	for y := 0; y <= last; y++ {
		s.lines[y].cont = false
	}
}

// leaveMainRowsAbove puts the main screen's rows above the cursor into
// history as a full-screen program starts, and moves the rest up, so that
// what it shows follows them.
func (e *Emulator) leaveMainRowsAbove() {
	s := e.main
	k := s.y
	if k == 0 {
		return
	}
	for y := 0; y < k; y++ {
		e.pushRow(s.lines[y], s.lines[y+1].cont)
		e.clearLine(s.lines[y])
	}
	moved := append([]*line(nil), s.lines[:k]...)
	copy(s.lines, s.lines[k:])
	copy(s.lines[len(s.lines)-k:], moved)
	s.lines[0].cont = false
	s.y -= k
	s.saved.y = max(s.saved.y-k, 0)
}

// altScreen starts or ends a full-screen program's screen.
func (e *Emulator) altScreen(on bool) {
	if on == e.inAlt {
		return
	}
	if on {
		e.alt = e.newScreen()
		e.alt.x, e.alt.y = e.main.x, e.main.y
		e.scr, e.inAlt, e.altMarked = e.alt, true, false
		return
	}
	e.flushPend()
	s := e.alt
	last := len(s.lines) - 1
	for last >= 0 && e.blankLine(s.lines[last]) {
		last--
	}
	if last >= 0 {
		e.emit(markLast, e.now)
		for y := 0; y <= last; y++ {
			l := s.lines[y]
			l.cont = l.cont && y > 0
			e.pushRow(l, y < last && s.lines[y+1].cont)
		}
		e.flushPend()
	}
	if last >= 0 || e.altMarked {
		e.emit(markEnd, e.now)
	}
	// The cursor comes back where the program left it (1049 then restores
	// the saved one), as in xterm.js.
	e.main.x, e.main.y, e.main.wrapNext = s.x, s.y, s.wrapNext
	e.scr, e.inAlt, e.alt = e.main, false, nil
}

// pushAltRow keeps a row that scrolled off a full-screen program's screen,
// under a marker.
func (e *Emulator) pushAltRow(l *line, nextCont bool) {
	if !e.altMarked {
		e.flushPend()
		e.emit(markScrolled, l.at)
		e.altMarked = true
	}
	e.pushRow(l, nextCont)
}

// pushRow sends a row leaving the screen into history. Rows a soft wrap
// joined are sent as one line once the last of them has gone.
func (e *Emulator) pushRow(l *line, nextCont bool) {
	if e.havePend && !l.cont {
		e.flushPend()
	}
	if !nextCont && !e.havePend {
		if l.isRaw {
			e.emit(l.raw, l.at)
			return
		}
		var cut int
		e.out, cut = e.render(e.out[:0], l, false)
		e.emit(e.out[:cut], l.at)
		return
	}
	if !e.havePend {
		e.pend, e.pendAt, e.havePend = e.pend[:0], l.at, true
	}
	e.pend, e.pendCut = e.render(e.pend, l, nextCont)
	limit := maxLine
	if e.newlineMode {
		limit = maxTextLine
	}
	if !nextCont || len(e.pend) > limit {
		e.flushPend()
	}
}

// maxLine bounds a line joined from soft-wrapped rows (output with no line
// feed for hundreds of megabytes, a binary dump): past it the line is cut
// and goes on as the next. Text (a capture) keeps lines as long as search
// reads one (storage.MaxLine), so that both number them alike.
const (
	maxLine     = 1 << 20
	maxTextLine = 16 << 20
)

func (e *Emulator) flushPend() {
	if e.havePend {
		e.havePend = false
		e.emit(e.pend[:e.pendCut], e.pendAt)
	}
}

func (e *Emulator) emit(line []byte, at float64) {
	if e.Emit != nil {
		e.Emit(line, at)
	}
}

// render appends a row's derived text: every cell when the row continues
// on the next (padded to the width), else without trailing blanks. cut is
// where the text without trailing blanks ends.
func (e *Emulator) render(dst []byte, l *line, full bool) ([]byte, int) {
	if l.isRaw {
		dst = append(dst, l.raw...)
		return dst, len(dst)
	}
	cells, width := l.cells, e.cols
	if l.width > 0 {
		width = l.width
	}
	if full && l.pad > 0 && l.pad == len(cells) && cells[l.pad-1].r == ' ' && cells[l.pad-1].comb == "" {
		// The blank before a wide character that wrapped is not text:
		// joined, the line reads on with the character, as tmux's does.
		cells, width = cells[:l.pad-1], l.pad-1
	}
	end := len(cells)
	for end > 0 && (cells[end-1].r == ' ' || cells[end-1].r == 0) && blankLooks(cells[end-1].st) && cells[end-1].comb == "" {
		end--
	}
	dst, cur := renderCells(dst, cells[:end], Style{})
	if !cur.IsZero() {
		dst = append(dst, "\x1b[0m"...)
	}
	cut := len(dst)
	if full {
		for _, c := range cells[end:] {
			if c.r != 0 {
				dst = append(dst, ' ')
			}
		}
		for i := len(cells); i < width; i++ {
			dst = append(dst, ' ')
		}
	}
	return dst, cut
}

// blankLooks reports a style in which a blank shows nothing: no
// background, nothing drawn through or under it. Trailing blanks in such a
// style are cut from a derived line.
func blankLooks(st Style) bool {
	return st.Bg == 0 && st.Attrs&(Reverse|Underline|Strike) == 0
}

// renderCells writes cells as text with SGR sequences, starting from the
// style cur, and returns the style it ends in.
func renderCells(dst []byte, cells []cell, cur Style) ([]byte, Style) {
	for _, c := range cells {
		if c.st != cur {
			if c.st.IsZero() {
				dst = append(dst, "\x1b[0m"...)
			} else {
				dst = c.st.AppendSGR(dst)
			}
			cur = c.st
		}
		if c.r == 0 {
			continue
		}
		dst = utf8.AppendRune(dst, c.r)
		dst = append(dst, c.comb...)
	}
	return dst, cur
}

func (e *Emulator) blankLine(l *line) bool {
	if l.isRaw {
		return len(l.raw) == 0
	}
	for _, c := range l.cells {
		if (c.r != ' ' && c.r != 0) || !blankLooks(c.st) || c.comb != "" {
			return false
		}
	}
	return true
}

func (e *Emulator) clearLine(l *line) {
	l.cells, l.raw, l.isRaw, l.cont, l.pad, l.width, l.at = l.cells[:0], l.raw[:0], false, false, 0, 0, e.now
	if cap(l.cells) > 4096 {
		l.cells = nil
	}
	if cap(l.raw) > 1<<16 {
		l.raw = nil
	}
}

func (e *Emulator) fresh() *line {
	if n := len(e.spare); n > 0 {
		l := e.spare[n-1]
		e.spare = e.spare[:n-1]
		e.clearLine(l)
		return l
	}
	return &line{at: e.now}
}

func (e *Emulator) recycle(l *line) { e.spare = append(e.spare, l) }

// Close sends out every line still on screen.
func (e *Emulator) Close() error {
	if len(e.partial) > 0 {
		e.partial = e.partial[:0]
		if e.state == escape.Ground {
			e.print(utf8.RuneError)
		}
	}
	if e.inAlt {
		e.altScreen(false)
	}
	e.pushScreen()
	e.flushPend()
	for _, l := range e.main.lines {
		e.clearLine(l)
	}
	return nil
}

// PlainIsBlank reports a derived line that shows nothing but blanks.
func PlainIsBlank(line string) bool {
	return len(bytes.TrimSpace(PlainText([]byte(line)))) == 0
}

// Screen calls f with each line still on screen, oldest first, and when it
// began, without finishing them: a live view shows them while they may still
// change.
func (e *Emulator) Screen(f func(line []byte, at float64)) {
	s := e.scr
	last := len(s.lines) - 1
	for last >= 0 && e.blankLine(s.lines[last]) {
		last--
	}
	var buf []byte
	var at float64
	started := false
	if e.havePend && !e.inAlt {
		buf = append(buf, e.pend...)
		at, started = e.pendAt, true
	}
	for y := 0; y <= last; y++ {
		l := s.lines[y]
		if started && !l.cont {
			f(bytes.TrimRight(buf, " "), at)
			buf = buf[:0]
		}
		if !started || !l.cont {
			at = l.at
		}
		started = true
		full := y < last && s.lines[y+1].cont
		var cut int
		buf, cut = e.render(buf, l, full)
		if !full {
			buf = buf[:cut]
		}
	}
	if started {
		f(buf, at)
	}
}

// decGraphics is the DEC special graphics set for 0x5f-0x7e, the line
// drawing of top, htop and many curses programs.
var decGraphics = [...]rune{
	' ', '◆', '▒', '␉', '␌', '␍', '␊', '°', '±', '␤', '␋', '┘', '┐', '┌', '└', '┼',
	'⎺', '⎻', '─', '⎼', '⎽', '├', '┤', '┴', '┬', '│', '≤', '≥', 'π', '≠', '£', '·',
}
