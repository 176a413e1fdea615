package capture

import (
	"bytes"
	"image/color"
	"io"
	"strings"
	"unicode/utf8"

	uv "github.com/charmbracelet/ultraviolet"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/vt"
	"github.com/mattn/go-runewidth"
)

// Emulator turns raw terminal output into the lines a person saw: carriage
// returns and backspaces overwrite, erases erase, the cursor moves among the
// last screenful of lines (progress bars, readline editing), wide characters
// take two columns, colours are kept as SGR sequences, and every other
// sequence is dropped: nothing in a derived line can act on a terminal.
//
// Lines are logical, not wrapped at the terminal's width, so a JSON document
// printed on one line stays one line to search and extract. A full-screen
// program (the alternate screen: less, vim, top) is run through a complete
// emulator, charmbracelet/x/vt, and what its screen showed when the program
// left is kept between two marker lines. The hot path is this file's own
// parser: x/vt emulates every cell of a fixed screen and runs at about
// 3 MB/s on shell output, far too slow for a million-line scrollback.
type Emulator struct {
	// Emit receives each finished line: text with SGR sequences only, and the
	// time (seconds into the stream) its first character was written. The
	// slice is only valid during the call.
	Emit func(line []byte, at float64)

	rows  int       // how many recent lines the cursor can reach
	cols  int       // for the alternate screen
	now   float64   // the time of what is being written
	win   [][]cell  // the last lines, still editable; the last is the newest
	raw   [][]byte  // a plain line of win kept as bytes until it is edited
	at    []float64 // when each line of win was begun
	free  [][]byte  // raw buffers to reuse
	spare [][]cell  // cell buffers to reuse
	row   int       // cursor row in win
	col   int       // cursor column
	st    Style
	sRow  int // saved cursor (ESC 7), counted back from the newest line
	sCol  int

	// the escape-sequence parser
	state   parseState
	params  []int
	param   int
	hasP    bool
	private byte // '?' or '>' etc. right after CSI
	partial []byte

	alt    *vt.Emulator // non-nil while a full-screen program runs
	altRaw []byte       // the raw sequence being passed to alt
	out    []byte       // scratch for rendering a line
}

type cell struct {
	r    rune   // 0: the right half of a wide character
	comb string // combining marks that follow r
	st   Style
}

type parseState uint8

const (
	pGround parseState = iota
	pEscape
	pEscInter
	pCSI
	pString
	pStringEsc
	pStringC2 // 0xc2 inside a string: U+009C (ST) if 0x9c follows
)

// NewEmulator returns an emulator for a terminal of cols x rows; 0 means
// unknown (80 x 24).
func NewEmulator(cols, rows int, emit func(line []byte, at float64)) *Emulator {
	if cols <= 0 {
		cols = 80
	}
	if rows <= 0 {
		rows = 24
	}
	return &Emulator{Emit: emit, rows: rows, cols: cols, win: [][]cell{nil}, raw: [][]byte{nil}, at: []float64{0}}
}

// SetTime sets the stream time of what is written next.
func (e *Emulator) SetTime(t float64) {
	e.now = t
	if e.row == len(e.win)-1 && len(e.win[e.row]) == 0 && e.raw[e.row] == nil {
		e.at[e.row] = t
	}
}

// Resize follows the terminal's size.
func (e *Emulator) Resize(cols, rows int) {
	if cols > 0 {
		e.cols = cols
	}
	if rows > 0 {
		e.rows = rows
	}
	if e.alt != nil {
		e.alt.Resize(e.cols, e.rows)
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
		if r >= 0x80 && r < 0xa0 {
			e.c1(r)
		} else {
			e.print(r)
		}
	}
	for len(p) > 0 {
		if e.state == pGround {
			if k := e.fastLine(p); k > 0 {
				p = p[k:]
				continue
			}
		}
		c := p[0]
		if c < 0x80 || e.state != pGround {
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
		if r >= 0x80 && r < 0xa0 {
			e.c1(r)
			continue
		}
		e.print(r)
	}
	return n, nil
}

// fastLine emits a whole plain line (printable ASCII up to '\n') in one step
// when nothing on screen can change it; most of any log is such lines.
func (e *Emulator) fastLine(p []byte) int {
	if e.alt != nil || e.row != len(e.win)-1 || e.col != 0 || len(e.win[e.row]) != 0 || e.raw[e.row] != nil || !e.st.IsZero() {
		return 0
	}
	i := bytes.IndexByte(p, '\n')
	if i < 0 {
		return 0
	}
	line := p[:i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	for _, c := range line {
		if (c < 0x20 && c != '\t') || c >= 0x7f {
			return 0
		}
	}
	var buf []byte
	if n := len(e.free); n > 0 {
		buf, e.free = e.free[n-1][:0], e.free[:n-1]
	}
	e.raw[e.row] = append(buf, bytes.TrimRight(line, " ")...)
	e.lineFeed()
	return i + 1
}

func (e *Emulator) byte(c byte) {
	if e.alt != nil {
		e.altRaw = append(e.altRaw, c)
	}
	switch e.state {
	case pGround:
		e.control(c)
	case pEscape:
		e.escape(c)
	case pEscInter:
		if c >= 0x30 && c <= 0x7e {
			e.state = pGround
		} else if c < 0x20 || c > 0x7e {
			e.state = pGround
		}
	case pCSI:
		e.csiByte(c)
	case pString:
		switch c {
		case 0x07:
			e.state = pGround
		case 0x1b:
			e.state = pStringEsc
		case 0xc2:
			e.state = pStringC2
		}
	case pStringC2:
		switch c {
		case 0x9c:
			e.state = pGround
		case 0x1b:
			e.state = pStringEsc
		case 0xc2:
		default:
			e.state = pString
		}
	case pStringEsc:
		if c == '\\' {
			e.state = pGround
		} else if c != 0x1b {
			e.state = pString
		}
	}
	if e.alt != nil && e.state == pGround {
		e.passToAlt()
	}
}

// c1 handles a C1 control written as UTF-8: CSI and the string introducers
// start what their 7-bit forms do, so what they carry is consumed, not shown.
func (e *Emulator) c1(r rune) {
	switch r {
	case 0x9b:
		e.escape('[')
	case 0x90, 0x98, 0x9d, 0x9e, 0x9f:
		e.state = pString
	}
}

func (e *Emulator) control(c byte) {
	if e.alt != nil {
		if c == 0x1b {
			e.state = pEscape
		}
		return // the alternate screen gets the byte in passToAlt
	}
	switch c {
	case 0x1b:
		e.state = pEscape
	case '\n', 0x0b, 0x0c:
		e.lineFeed()
		e.col = 0
	case '\r':
		e.col = 0
	case '\b':
		if e.col > 0 {
			e.col--
		}
	case '\t':
		e.tab()
	default:
		if c >= 0x20 && c < 0x7f {
			e.print(rune(c))
		}
	}
}

func (e *Emulator) escape(c byte) {
	e.state = pGround
	switch c {
	case '[':
		e.state = pCSI
		e.params = e.params[:0]
		e.param, e.hasP, e.private = 0, false, 0
	case ']', 'P', 'X', '^', '_':
		e.state = pString
	case '7':
		e.sRow, e.sCol = len(e.win)-1-e.row, e.col
	case '8':
		e.row, e.col = max(len(e.win)-1-e.sRow, 0), e.sCol
	case 'M':
		if e.row > 0 {
			e.row--
		}
	case 'c':
		e.flushAll()
		e.st = Style{}
	case 0x1b:
		e.state = pEscape
	default:
		if c >= 0x20 && c <= 0x2f {
			e.state = pEscInter
		}
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
	case c >= 0x40 && c <= 0x7e:
		if e.hasP || len(e.params) > 0 {
			e.params = append(e.params, e.param)
		}
		e.state = pGround
		e.csi(c)
	case c == 0x1b:
		e.state = pEscape
	case c < 0x20:
		if e.alt == nil {
			e.control(c) // C0 inside a sequence acts at once
		}
	}
}

func (e *Emulator) arg(i, def int) int {
	if i < len(e.params) && e.params[i] > 0 {
		return e.params[i]
	}
	return def
}

func (e *Emulator) csi(final byte) {
	if e.private == '?' {
		if final == 'h' || final == 'l' {
			for _, m := range e.params {
				if m == 1049 || m == 1047 || m == 47 {
					e.altScreen(final == 'h')
				}
			}
		}
		return
	}
	if e.alt != nil || e.private != 0 {
		return
	}
	switch final {
	case 'm':
		e.st.ApplySGR(e.params)
	case 'A':
		e.row = max(e.row-e.arg(0, 1), 0)
	case 'B', 'e':
		for range e.arg(0, 1) {
			if e.row == len(e.win)-1 {
				break
			}
			e.row++
		}
	case 'C', 'a':
		e.col += e.arg(0, 1)
	case 'D':
		e.col = max(e.col-e.arg(0, 1), 0)
	case 'E':
		e.row = min(e.row+e.arg(0, 1), len(e.win)-1)
		e.col = 0
	case 'F':
		e.row = max(e.row-e.arg(0, 1), 0)
		e.col = 0
	case 'G', '`':
		e.col = e.arg(0, 1) - 1
	case 'H', 'f':
		e.moveTo(e.arg(0, 1)-1, e.arg(1, 1)-1)
	case 'd':
		e.moveTo(e.arg(0, 1)-1, e.col)
	case 'K':
		e.eraseLine(e.arg(0, 0))
	case 'J':
		e.eraseDisplay(e.arg(0, 0))
	case 'P':
		line := e.cells()
		if e.col < len(line) {
			k := min(e.arg(0, 1), len(line)-e.col)
			e.win[e.row] = append(line[:e.col], line[e.col+k:]...)
		}
	case '@':
		line := e.cells()
		if e.col < len(line) {
			k := e.arg(0, 1)
			blank := make([]cell, k)
			for i := range blank {
				blank[i] = cell{r: ' ', st: e.st}
			}
			e.win[e.row] = append(line[:e.col], append(blank, line[e.col:]...)...)
		}
	case 'X':
		line := e.cells()
		for i := e.col; i < min(e.col+e.arg(0, 1), len(line)); i++ {
			line[i] = cell{r: ' ', st: e.st}
		}
	}
}

// moveTo places the cursor at a screen row, counted from the top of the
// window of recent lines (which starts as the top of the screen).
func (e *Emulator) moveTo(row, col int) {
	row = min(max(row, 0), e.rows-1)
	for len(e.win) <= row {
		e.win = append(e.win, nil)
		e.raw = append(e.raw, nil)
		e.at = append(e.at, e.now)
	}
	e.row, e.col = row, max(col, 0)
}

func (e *Emulator) eraseLine(mode int) {
	line := e.cells()
	switch mode {
	case 0:
		if e.col < len(line) {
			e.win[e.row] = line[:e.col]
		}
	case 1:
		for i := 0; i <= e.col && i < len(line); i++ {
			line[i] = cell{r: ' '}
		}
	case 2:
		e.win[e.row] = line[:0]
	}
}

func (e *Emulator) eraseDisplay(mode int) {
	switch mode {
	case 0: // below: redrawn progress and prompts
		e.eraseLine(0)
		e.win = e.win[:e.row+1]
		e.raw = e.raw[:e.row+1]
		e.at = e.at[:e.row+1]
	case 1:
		for i := 0; i < e.row; i++ {
			e.win[i] = e.win[i][:0]
			e.raw[i] = nil
		}
		e.eraseLine(1)
	default: // the whole screen: what was on it had been seen, so keep it
		e.flushAll()
	}
}

func (e *Emulator) print(r rune) {
	if e.alt != nil {
		e.altRaw = utf8.AppendRune(e.altRaw, r)
		e.passToAlt()
		return
	}
	w := runewidth.RuneWidth(r)
	if w == 0 {
		line := e.cells()
		if e.col > 0 && e.col <= len(line) {
			prev := e.col - 1
			if line[prev].r == 0 && prev > 0 {
				prev--
			}
			line[prev].comb += string(r)
		}
		return
	}
	e.put(cell{r: r, st: e.st}, w)
}

// put writes a cell of width w at the cursor and moves past it.
func (e *Emulator) put(c cell, w int) {
	line := e.cells()
	for len(line) < e.col+w {
		line = append(line, cell{r: ' '})
	}
	// Overwriting part of a wide character or a tab blanks the rest of it.
	if line[e.col].r == 0 {
		h := e.col
		for h > 0 && line[h].r == 0 {
			h--
		}
		blankRun(line, h)
	}
	if end := e.col + w; end < len(line) && line[end].r == 0 {
		blankRun(line, end)
	}
	line[e.col] = c
	if w == 2 {
		line[e.col+1] = cell{r: 0, st: c.st}
	}
	e.win[e.row] = line
	e.col += w
}

// blankRun turns the cell at i and the continuation cells after it into
// blanks.
func blankRun(line []cell, i int) {
	line[i] = cell{r: ' ', st: line[i].st}
	for i++; i < len(line) && line[i].r == 0; i++ {
		line[i] = cell{r: ' ', st: line[i].st}
	}
}

// tab moves to the next tab stop. A tab written past the end of the line is
// kept as a tab (its columns as continuation cells), so text extracted from
// the derived lines has the tabs the program printed.
func (e *Emulator) tab() {
	next := (e.col/8 + 1) * 8
	if line := e.cells(); e.col >= len(line) {
		e.put(cell{r: '\t', st: e.st}, 1)
		line = e.win[e.row]
		for e.col < next {
			e.win[e.row] = append(line, cell{r: 0, st: e.st})
			line = e.win[e.row]
			e.col++
		}
		return
	}
	e.col = next
}

func (e *Emulator) lineFeed() {
	if e.row < len(e.win)-1 {
		e.row++
		return
	}
	var line []cell
	if n := len(e.spare); n > 0 {
		line, e.spare = e.spare[n-1], e.spare[:n-1]
	}
	e.win = append(e.win, line)
	e.raw = append(e.raw, nil)
	e.at = append(e.at, e.now)
	e.row++
	if len(e.win) > e.rows {
		e.emitFirst()
	}
}

// emitFirst sends the oldest line of the window out.
func (e *Emulator) emitFirst() {
	e.emitLine(0)
	if cap(e.win[0]) > 0 && cap(e.win[0]) <= 4096 {
		e.spare = append(e.spare, e.win[0][:0])
	}
	if e.raw[0] != nil {
		e.free = append(e.free, e.raw[0])
	}
	copy(e.win, e.win[1:])
	copy(e.raw, e.raw[1:])
	copy(e.at, e.at[1:])
	e.win = e.win[:len(e.win)-1]
	e.raw = e.raw[:len(e.raw)-1]
	e.at = e.at[:len(e.at)-1]
	e.row = max(e.row-1, 0)
}

// flushAll sends out every line in the window, keeping the cursor's line
// only if it has something on it, and starts a fresh screen.
func (e *Emulator) flushAll() {
	last := len(e.win) - 1
	if len(e.win[last]) == 0 && e.raw[last] == nil {
		last--
	}
	for i := 0; i <= last; i++ {
		e.emitLine(i)
	}
	e.win = append(e.win[:0], nil)
	e.raw = append(e.raw[:0], nil)
	e.at = append(e.at[:0], e.now)
	e.row, e.col = 0, 0
}

func (e *Emulator) emitLine(i int) {
	if e.Emit == nil {
		return
	}
	if e.raw[i] != nil {
		e.Emit(e.raw[i], e.at[i])
		return
	}
	e.out = renderCells(e.out[:0], e.win[i])
	e.Emit(e.out, e.at[i])
}

// cells returns the cursor's line as cells, converting a plain line first.
func (e *Emulator) cells() []cell {
	if raw := e.raw[e.row]; raw != nil {
		line := e.win[e.row][:0]
		for _, c := range raw {
			if c == '\t' {
				line = append(line, cell{r: '\t'})
				for len(line)%8 != 0 {
					line = append(line, cell{})
				}
				continue
			}
			line = append(line, cell{r: rune(c)})
		}
		e.win[e.row] = line
		e.free = append(e.free, raw)
		e.raw[e.row] = nil
	}
	return e.win[e.row]
}

// renderCells writes cells as text with SGR sequences, trailing blanks cut.
func renderCells(dst []byte, line []cell) []byte {
	end := len(line)
	for end > 0 && (line[end-1].r == ' ' || line[end-1].r == 0) && line[end-1].st.IsZero() && line[end-1].comb == "" {
		end--
	}
	var cur Style
	for _, c := range line[:end] {
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
	if !cur.IsZero() {
		dst = append(dst, "\x1b[0m"...)
	}
	return dst
}

// Close sends out every line still on screen.
func (e *Emulator) Close() error {
	if len(e.partial) > 0 {
		e.partial = e.partial[:0]
		e.print(utf8.RuneError)
	}
	if e.alt != nil {
		e.altScreen(false)
	}
	e.flushAll()
	return nil
}

// altScreen starts or ends a full-screen program.
func (e *Emulator) altScreen(on bool) {
	if on == (e.alt != nil) {
		return
	}
	if on {
		e.alt = vt.NewEmulator(e.cols, e.rows)
		// x/vt answers queries (DA, DSR) on a pipe and blocks until they are
		// read: drain and drop them, calm is no terminal to answer for.
		go func(r io.Reader) { _, _ = io.Copy(io.Discard, r) }(e.alt)
		e.altRaw = e.altRaw[:0]
		return
	}
	alt := e.alt
	e.alt = nil
	e.altRaw = e.altRaw[:0]
	var rows []string
	for y := range alt.Height() {
		var b strings.Builder
		var cur Style
		for x := 0; x < alt.Width(); x++ {
			c := alt.CellAt(x, y)
			if c == nil || c.Width == 0 {
				continue
			}
			st := fromVT(c)
			if st != cur {
				b.Write(st.AppendSGR(nil))
				cur = st
			}
			if c.Content == "" {
				b.WriteByte(' ')
			} else {
				b.WriteString(c.Content)
			}
		}
		if !cur.IsZero() {
			b.WriteString("\x1b[0m")
		}
		rows = append(rows, strings.TrimRight(b.String(), " "))
	}
	// Closing the query pipe ends the drain above. (Not alt.Close: it sets
	// a flag the drain's Read checks without a lock, a data race.)
	if pw, ok := alt.InputPipe().(*io.PipeWriter); ok {
		_ = pw.CloseWithError(io.EOF)
	}
	for len(rows) > 0 && (rows[len(rows)-1] == "" || PlainIsBlank(rows[len(rows)-1])) {
		rows = rows[:len(rows)-1]
	}
	if len(rows) == 0 {
		return
	}
	e.flushAll()
	if e.Emit != nil {
		e.Emit([]byte("\x1b[0;2m── full-screen program, its last screen ──\x1b[0m"), e.now)
		for _, r := range rows {
			e.Emit([]byte(r), e.now)
		}
		e.Emit([]byte("\x1b[0;2m── end of full-screen program ──\x1b[0m"), e.now)
	}
}

// PlainIsBlank reports a derived line that shows nothing but blanks.
func PlainIsBlank(line string) bool {
	return len(bytes.TrimSpace(PlainText([]byte(line)))) == 0
}

// passToAlt hands a complete sequence or character to the full-screen
// emulator; the exit from the alternate screen itself is handled here.
func (e *Emulator) passToAlt() {
	if e.alt == nil || len(e.altRaw) == 0 {
		return
	}
	raw := e.altRaw
	e.altRaw = e.altRaw[:0]
	// Report requests would only be answered to the drained pipe; mode and
	// clipboard sequences act on nothing real. x/vt gets them all.
	_, _ = e.alt.Write(raw)
}

// fromVT converts an x/vt cell's look to a Style.
func fromVT(c *uv.Cell) Style {
	var st Style
	a := c.Style.Attrs
	for _, m := range [...]struct {
		from uint8
		to   Attr
	}{{uv.AttrBold, Bold}, {uv.AttrFaint, Dim}, {uv.AttrItalic, Italic}, {uv.AttrBlink, Blink}, {uv.AttrReverse, Reverse}, {uv.AttrStrikethrough, Strike}} {
		if a&m.from != 0 {
			st.Attrs |= m.to
		}
	}
	if c.Style.Underline != uv.UnderlineStyleNone {
		st.Attrs |= Underline
	}
	st.Fg, st.Bg = vtColor(c.Style.Fg), vtColor(c.Style.Bg)
	return st
}

func vtColor(c color.Color) Color {
	switch c := c.(type) {
	case nil:
		return 0
	case ansi.BasicColor:
		return PaletteColor(int(c))
	case ansi.IndexedColor:
		return PaletteColor(int(c))
	}
	r, g, b, _ := c.RGBA()
	return ColorRGB | Color(r>>8)<<16 | Color(g>>8)<<8 | Color(b>>8)
}

// Screen calls f with each line still on screen, oldest first, without
// finishing them: a live view shows them while they may still change.
func (e *Emulator) Screen(f func(line []byte)) {
	last := len(e.win) - 1
	if len(e.win[last]) == 0 && e.raw[last] == nil {
		last--
	}
	for i := 0; i <= last; i++ {
		if e.raw[i] != nil {
			f(e.raw[i])
			continue
		}
		e.out = renderCells(e.out[:0], e.win[i])
		f(e.out)
	}
}
