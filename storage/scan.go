package storage

import (
	"bytes"
	"encoding/binary"
	"slices"
	"sync"
	"unicode/utf8"

	"calm/model"
	"calm/sanitize"
	"calm/terminal/escape"
)

// source finds, from a position on, the next place in a chunk where a line
// may match.
type source struct {
	needle *needle
	at     int  // the next candidate found, len(chunk) for none
	guard  byte // for a guard source: the byte looked for
	kind   sourceKind
	// foldHigh: a needle matched ignoring case may be on a line of text
	// beyond ASCII where its scan (ASCII only) cannot find it: such lines
	// are candidates too. Set a chunk at a time.
	foldHigh bool
	// high: a dirty source looks at lines with bytes beyond ASCII too
	// (foldHigh, or a chunk with invalid UTF-8 or runes sanitising drops).
	high  bool
	text  *stripped     // the chunk scanned
	multi *multiLiteral // for a multi source: its needles
}

type sourceKind uint8

const (
	sourceNeedle sourceKind = iota // the needle itself, on any line
	sourceGuard                    // a guard byte on a line that needs sanitising
	sourceDirty                    // any line that needs sanitising
	sourceHigh                     // in search lines: any line beyond ASCII, when high
	sourceMulti                    // any of many needles, on any line
)

// find returns the first candidate at or after pos (a line's start) in b
// (whole lines).
func (s *source) find(b []byte, pos int) int {
	n := s.needle
	for pos < len(b) {
		switch {
		case s.kind == sourceMulti:
			return s.multi.find(b, pos)
		case s.kind == sourceHigh:
			if !s.high {
				return len(b)
			}
			return nextControl(b, pos, true)
		case s.kind == sourceDirty:
			at := nextControl(b, pos, s.high)
			if at == len(b) {
				return at
			}
			start, end := lineAround(b, pos, at)
			if !s.scanned(b, start, end) {
				return at
			}
			pos = end + 1
		case s.kind == sourceGuard:
			i := bytes.IndexByte(b[pos:], s.guard)
			if i < 0 {
				return len(b)
			}
			at := pos + i
			start, end := lineAround(b, pos, at)
			if !s.scanned(b, start, end) {
				return at
			}
			pos = end + 1
		case !n.fold && n.rare == 0:
			i := bytes.Index(b[pos:], n.lit)
			if i < 0 {
				return len(b)
			}
			return pos + i
		case !n.fold:
			// A byte of it that is rare in this capture, then the whole.
			i := bytes.IndexByte(b[pos:], n.rare)
			if i < 0 {
				return len(b)
			}
			at := pos + i - n.anchorAt
			if at >= 0 && at+len(n.lit) <= len(b) && bytes.Equal(b[at:at+len(n.lit)], n.lit) {
				return at
			}
			pos += i + 1
		case n.anchor != nil:
			i := bytes.Index(b[pos:], n.anchor)
			if i < 0 {
				return len(b)
			}
			at := pos + i - n.anchorAt
			if at >= 0 && at+len(n.lit) <= len(b) && equalFold(b[at:at+len(n.lit)], n.lit) {
				return at
			}
			pos += i + 1
		default:
			i := indexEither(b[pos:], n.rare, n.rare-'a'+'A')
			if i < 0 {
				return len(b)
			}
			at := pos + i - n.anchorAt
			if at >= 0 && at+len(n.lit) <= len(b) && equalFold(b[at:at+len(n.lit)], n.lit) {
				return at
			}
			pos += i + 1
		}
	}
	return len(b)
}

// scanned reports whether the needle scan finds what a line's text holds:
// its text is the line, or the line's end.
func (s *source) scanned(b []byte, start, end int) bool {
	t, known := textOf(b[start:end], s.text.endsRaw(end))
	return known && (!s.foldHigh || clean(t))
}

// indexEither is the first index of a or c in b.
func indexEither(b []byte, a, c byte) int {
	i := bytes.IndexByte(b, a)
	if i < 0 {
		return bytes.IndexByte(b, c)
	}
	if j := bytes.IndexByte(b[:i], c); j >= 0 {
		return j
	}
	return i
}

// lineAround returns the line holding b[at]: its start and its '\n'. The
// line starts at from or after it.
func lineAround(b []byte, from, at int) (start, end int) {
	start = from + bytes.LastIndexByte(b[from:at], '\n') + 1
	end = at + bytes.IndexByte(b[at:], '\n')
	if end < at {
		end = len(b)
	}
	return start, end
}

// sources makes the scan of a plan's needles: each needle that can be on a
// line whose text is its own, and for the lines that need sanitising either
// the guards (when rare) or a scan for such lines.
func (p *plan) sources() []source {
	s := p.needleSources()
	if !p.guarded {
		return append(s, source{kind: sourceDirty})
	}
	for i := range p.needle {
		n := &p.needle[i]
		for _, g := range n.guard {
			dup := false
			for _, o := range s {
				dup = dup || (o.kind == sourceGuard && o.guard == g)
			}
			if !dup {
				s = append(s, source{needle: n, kind: sourceGuard, guard: g})
			}
		}
	}
	return s
}

// textSources makes the scan of a plan's needles over search lines, where
// every line is its own text: each needle on any line, and, for a needle
// matched ignoring case, the lines beyond ASCII in a chunk where it may be
// spelled with runes its ASCII scan does not see (setChunk's foldHigh).
func (p *plan) textSources() []source {
	s := p.needleSources()
	for _, n := range p.needle {
		if n.fold {
			return append(s, source{kind: sourceHigh})
		}
	}
	return s
}

// needleSources scan for the needles that can be on a line whose text is
// its own: one source each, or one for them all when they are many.
func (p *plan) needleSources() []source {
	var found []*needle
	for i := range p.needle {
		if n := &p.needle[i]; n.anyClean {
			found = append(found, n)
		}
	}
	if len(found) > manyNeedles {
		if m := newMultiLiteral(found); m != nil {
			return []source{{kind: sourceMulti, multi: m}}
		}
	}
	s := make([]source, 0, len(found))
	for _, n := range found {
		s = append(s, source{needle: n, kind: sourceNeedle})
	}
	return s
}

// setChunk tells the sources about the chunk they scan next.
func (p *plan) setChunk(srcs []source, st *stripped) {
	text := st.text
	// Which ASCII letters this chunk may spell beyond ASCII (ı for i),
	// looked for once, not once a needle: a list of thousands (-i -f).
	var spelledHigh []byte
	for _, f := range foldsToASCII() {
		if bytes.Contains(text, f.rune) {
			spelledHigh = append(spelledHigh, f.letter)
		}
	}
	foldHigh := false
	for _, n := range p.needle {
		if n.fold && !foldHigh {
			foldHigh = !n.anyClean || bytes.ContainsAny(n.lit, string(spelledHigh))
		}
	}
	suspect := -1 // unknown yet: whether text has UTF-8 that sanitising changes
	for i := range srcs {
		s := &srcs[i]
		s.foldHigh, s.text = foldHigh, st
		if s.kind == sourceHigh {
			s.high = foldHigh
		}
		if s.kind == sourceDirty {
			if suspect < 0 && !foldHigh {
				suspect = 0
				if !utf8.Valid(text) || dropsRunes(text) {
					suspect = 1
				}
			}
			s.high = foldHigh || suspect == 1
		}
	}
}

// foldsToASCII are the runes beyond ASCII that search, ignoring case, takes
// for an ASCII letter (model.CaseCounterparts: ı for i, ſ for s), each as
// UTF-8 with that letter in lower case: a chunk that holds one may spell a
// folded needle holding the letter in a way its ASCII scan does not see.
var foldsToASCII = sync.OnceValue(func() []foldToASCII {
	var runes []foldToASCII
	for c := rune('a'); c <= 'z'; c++ {
		for _, r := range model.CaseCounterparts(c) {
			if r >= utf8.RuneSelf {
				runes = append(runes, foldToASCII{rune: []byte(string(r)), letter: byte(c)})
			}
		}
	}
	return runes
})

type foldToASCII struct {
	rune   []byte
	letter byte
}

// candidates calls each with every line of b (whole lines, each ending in
// '\n') that the sources cannot rule out, in order, and the number of lines
// before it, until each returns false.
func candidates(b []byte, srcs []source, each func(line int64, start, end int) bool) {
	for i := range srcs {
		srcs[i].at = -1
	}
	var line int64
	counted := 0
	pos := 0
	for pos < len(b) {
		next := len(b)
		for i := range srcs {
			s := &srcs[i]
			if s.at < pos {
				s.at = s.find(b, pos)
			}
			next = min(next, s.at)
		}
		if next >= len(b) {
			return
		}
		start, end := lineAround(b, counted, next)
		line += int64(bytes.Count(b[counted:start], newline))
		if !each(line, start, end) {
			return
		}
		line++
		counted, pos = end+1, end+1
	}
}

var newline = []byte{'\n'}

// clean is sanitize.Clean eight bytes at a time: true when b is printable
// ASCII and tabs (no newline is passed to it).
func clean(b []byte) bool {
	const ones, high = 0x0101010101010101, 0x8080808080808080
	for len(b) >= 8 {
		x := binary.LittleEndian.Uint64(b)
		y := x &^ high
		// Per byte, without carries between them: at or above 0x20, at
		// 0x7f, not a tab.
		printable := y + (0x80-0x20)*ones
		del := y + ones
		notTab := (y ^ '\t'*ones) + 0x7f*ones
		if (x|del|(^printable&notTab))&high != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if (c < 0x20 && c != '\t') || c >= 0x7f {
			return false
		}
	}
	return true
}

// stripped is a chunk with its lines' CSI sequences (colours, cursor moves)
// taken out, as sanitising takes them out: a line that is clean here is its
// own sanitised text, so most coloured output needs no sanitising at all.
// Lines stay where they were; moves maps a place here back to the chunk.
type stripped struct {
	text  []byte // the chunk itself when it has no escape, else own
	own   []byte // memory of its own, never the chunk's
	moves []move
}

// move says that from at (in the stripped text) on, the chunk is by more
// bytes ahead.
type move struct{ at, by int }

// strip fills s from b (whole lines), reusing s's memory. Only a control
// sequence (ESC [) that sanitising meets in its ground state is taken out,
// and it ends where escape.Lines ends it, as sanitising a line ends it. On
// a line with any other escape, or a C1 control (which can begin a string
// that swallows what follows), the rest of the line is kept as it is, and
// stays dirty: taking strings out too costs more than sanitising the few
// lines that hold them.
func (s *stripped) strip(b []byte) {
	s.moves = s.moves[:0]
	if bytes.IndexByte(b, esc) < 0 {
		s.text = b
		return
	}
	out := s.own[:0]
	if cap(out) < len(b) {
		out = make([]byte, 0, len(b))
	}
	for i := 0; ; {
		k := bytes.IndexByte(b[i:], esc)
		if k < 0 {
			out = append(out, b[i:]...)
			break
		}
		seg := b[i : i+k]
		if c := bytes.IndexByte(seg, 0xC2); c >= 0 {
			e := lineEnd(b, i+c)
			out = append(out, b[i:e]...)
			i = e
			continue
		}
		out = append(out, seg...)
		i += k
		if i+1 < len(b) && b[i+1] == '[' {
			// A line's end cuts a sequence short (sanitising a line
			// swallows the rest); an ESC inside one begins the next,
			// which is taken out with it.
			n, _ := escape.Lines.Skip(b[i+2:], escape.CSI)
			j := i + 2 + n
			if r, size := utf8.DecodeLastRune(out); r == utf8.RuneError && size == 1 || movesAlongLine(b[i:j]) {
				// A rune cut short before it: taken out, the sequence
				// could join its halves, which sanitising sees apart.
				// Or a sequence that moves along the line, erases or
				// repeats: what the line shows is sanitising's to say.
				// The line stays as it is.
				e := lineEnd(b, i)
				out = append(out, b[i:e]...)
				i = e
				continue
			}
			s.moves = append(s.moves, move{len(out), j - len(out)})
			i = j
			continue
		}
		e := lineEnd(b, i)
		out = append(out, b[i:e]...)
		i = e
	}
	s.text, s.own = out, out
}

// movesAlongLine reports whether seq, a whole CSI sequence, is one that
// sanitising makes on the line (sanitize.Filter: a cursor move along it,
// a restore, erasing, deleting, inserting, repeating). Erasing to the end
// (grep --color's CSI K) and saving the cursor change nothing on their own:
// the line's fallback, when something does, sanitises it from its start.
func movesAlongLine(seq []byte) bool {
	if len(seq) < 3 {
		return false
	}
	final, params := seq[len(seq)-1], seq[2:len(seq)-1]
	if final == 'K' {
		return len(bytes.Trim(params, "0")) > 0
	}
	return bytes.IndexByte([]byte("DCGPX@bu"), final) >= 0
}

// lineEnd is the index after the '\n' that ends the line holding b[i].
func lineEnd(b []byte, i int) int {
	if e := bytes.IndexByte(b[i:], '\n'); e >= 0 {
		return i + e + 1
	}
	return len(b)
}

// endsRaw reports whether the stripped line ending at end ends where the
// chunk's line does: no sequence was taken out just before its '\n'.
func (s *stripped) endsRaw(end int) bool {
	_, found := slices.BinarySearchFunc(s.moves, end, func(m move, at int) int { return m.at - at })
	return !found
}

// raw returns the chunk's bytes for the stripped text from start to end.
func (s *stripped) raw(b []byte, start, end int) []byte {
	return b[s.orig(start):s.orig(end)]
}

// orig maps a place in the stripped text to the chunk.
func (s *stripped) orig(at int) int {
	// The last move at or before at: a line's start then skips a sequence
	// that begins it, and its end follows one that ends it.
	lo, hi := 0, len(s.moves)
	for lo < hi {
		m := (lo + hi) / 2
		if s.moves[m].at <= at {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return at
	}
	return at + s.moves[lo-1].by
}

const esc = 0x1b

// textOf returns a stripped line's sanitised text when that needs no
// sanitising pass: a clean line, or a line of valid UTF-8 without controls.
//
// crEnds says that a \r at the end of s ends the line as it was stored too
// (no escape sequence taken out after it).
func textOf(s []byte, crEnds bool) ([]byte, bool) {
	if clean(s) {
		return s, true
	}
	if n := len(s); n > 0 && s[n-1] == '\r' {
		if !crEnds || n > 1 && s[n-2] == '\r' {
			// Several \r's at the end take nothing back either, unless a
			// sequence taken out stood between them: sanitising decides.
			return nil, false
		}
		s = s[:n-1] // a \r that ends the line takes nothing back
	}
	if bytes.IndexByte(s, '\r') >= 0 {
		return nil, false // written over itself: sanitising makes what a terminal shows
	}
	return s, plain(s, false)
}

// plain reports whether sanitising leaves b as it is (but for \r's, when
// cr): printable, tabs, valid UTF-8, and none of the runes it drops (C1
// controls, and the runes sanitize.Dropped names).
func plain(b []byte, cr bool) bool {
	high := false
	for i := 0; i < len(b); i++ {
		if i = nextControl(b, i, true); i == len(b) {
			break
		}
		switch c := b[i]; {
		case c >= 0x80:
			high = true
		case !cr || c != '\r':
			return false
		}
	}
	return !high || utf8.Valid(b) && !dropsRunes(b)
}

// dropsRunes reports whether b (valid UTF-8) holds a rune sanitising drops:
// a C1 control, or one sanitize.Dropped names.
func dropsRunes(b []byte) bool {
	for i := 0; ; {
		k := bytes.IndexByte(b[i:], 0xC2)
		if k < 0 {
			break
		}
		i += k + 1
		if b[i] < 0xA0 {
			return true
		}
	}
	// The others are three bytes, E2 80 or 81, or EF BB BF.
	for i := 0; ; {
		k := bytes.IndexByte(b[i:], 0xE2)
		if k < 0 {
			break
		}
		i += k
		if r, _ := utf8.DecodeRune(b[i:]); sanitize.Dropped(r) {
			return true
		}
		i++
	}
	return bytes.Contains(b, []byte("\uFEFF"))
}

// nextControl returns the index of the first control byte (any below 0x20
// but tab and newline, and DEL) at or after pos, or of any byte above 0x7f
// too when high; len(b) if none. Eight bytes at a time.
func nextControl(b []byte, pos int, high bool) int {
	const ones, top = 0x0101010101010101, 0x8080808080808080
	var hi uint64
	if high {
		hi = top
	}
	// Per byte, without carries between them: below 0x20 (and not a tab
	// or newline) when its top bit is clear, DEL, or high.
	flags := func(x uint64) uint64 {
		y := x &^ top
		printable := y + (0x80-0x20)*ones
		del := y + ones
		notTab := (y ^ '\t'*ones) + 0x7f*ones
		notNL := (y ^ '\n'*ones) + 0x7f*ones
		return (x&hi | del&^x | (^x &^ printable & notTab & notNL)) & top
	}
	i := pos
	for ; i+16 <= len(b); i += 16 {
		if flags(binary.LittleEndian.Uint64(b[i:]))|flags(binary.LittleEndian.Uint64(b[i+8:])) != 0 {
			break
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; (c < 0x20 && c != '\t' && c != '\n') || c == 0x7f || (high && c >= 0x80) {
			return i
		}
	}
	return len(b)
}
