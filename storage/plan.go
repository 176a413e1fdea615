package storage

import (
	"bytes"
	"calm/model"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A query is planned as grep and ripgrep plan theirs: a pattern without
// metacharacters is a literal, a regexp yields the literals every match
// holds (one of a set, for an alternation), and the exact test runs only on
// the lines a scan for those literals over a whole chunk cannot rule out.
//
// Lines are matched in their sanitised text. A chunk's lines first lose
// their CSI sequences (colours), as sanitising takes them out; a line that
// is then printable (valid UTF-8, or a progress bar's last rewrite) is its
// own text, where bytes.Index finds a literal, many lines at a time. The
// other lines (other escapes, controls, invalid UTF-8) are found by a scan
// eight bytes at a time or, when the literals' guard bytes are rare in the
// capture, by those: sanitising only removes bytes and adds U+FFFD's, so a
// line whose text holds a literal holds each of its bytes. Only candidates
// are sanitised and matched.

// plan is how one query is searched.
type plan struct {
	exact  func(text []byte, clean bool) bool // the query itself, on a line's text
	all    bool                               // every line matches
	needle []needle                           // a line's text holds one of these; none: any line may match
	// guarded: lines that need sanitising are found by their needles'
	// guards, not by a scan of every byte for such lines.
	guarded bool
}

// needle is a literal every match of (one branch of) the query contains.
type needle struct {
	lit  []byte // ASCII lower case when fold
	fold bool   // matched ignoring case (Unicode simple folding)
	// anyClean is false when no clean line can hold it (a rune no ASCII
	// letter folds to): only dirty lines are looked at.
	anyClean bool
	// The scan looks for the needle's byte at anchorAt that is rarest in
	// the capture, then compares the whole: for a folded needle anchor (a
	// byte or run without letters) or rare (a letter, lower case, in
	// either case); for another, rare, or the needle itself when rare is 0.
	anchor   []byte
	anchorAt int
	rare     byte
	// guard holds the bytes of which a dirty line holding the needle in
	// its text holds at least one (both cases of a letter). Empty: any
	// dirty line may hold it.
	guard  []byte
	guards [][]byte // the choices
}

// guardedForTest, when set, overrides the choice between guards and a scan.
var guardedForTest *bool

// The cost model that picks a plan, in "looks" (a byte compared): what
// sanitising one guarded line with an escape and testing it costs, and what
// stripping a MiB of every line costs, as CPU profiles of search show them.
const (
	sanitiseLooks    = 25
	stripLooksPerMiB = 6000
)

// tuned returns the plan with each needle's guard the least common in
// sample (a capture's first chunk).
func (p *plan) tuned(sample []byte) *plan {
	if len(p.needle) == 0 {
		return p
	}
	count, counted := byteCounts(sample)
	t := *p
	t.needle = append([]needle(nil), p.needle...)
	hits := 0
	for i := range t.needle {
		n := &t.needle[i]
		if !n.fold && len(n.lit) > 1 {
			// bytes.Index looks for the first byte; a byte rare enough in
			// the capture is found faster, and its hits checked.
			at := 0
			for k, c := range n.lit {
				if count[c] < count[n.lit[at]] {
					at = k
				}
			}
			// An IndexByte per hit costs about what bytes.Index's own
			// search does on 16 bytes.
			if count[n.lit[at]]*16 < counted && count[n.lit[at]] < count[n.lit[0]]/2 {
				n.rare, n.anchorAt = n.lit[at], at
			}
		}
		if n.fold && n.anyClean {
			// The byte (a letter in either case) rarest in the capture.
			best := -1
			for k, c := range n.lit {
				cost := count[c]
				if isLetter(c) {
					cost += count[c-'a'+'A']
				}
				if best < 0 || cost < best {
					best = cost
					n.anchorAt, n.anchor, n.rare = k, nil, 0
					if isLetter(c) {
						n.rare = c
					} else {
						n.anchor = n.lit[k : k+1]
					}
				}
			}
		}
		t.needle[i].pickGuard(&count)
		for _, c := range t.needle[i].guard {
			hits += count[c]
		}
	}
	// A guard's hit costs a look at its line, and when the line holds an
	// escape (guarded, lines keep theirs) sanitising it and the exact test.
	// Taking the escapes out of every line and scanning for lines that need
	// sanitising costs passes over the whole chunk.
	lines := max(count['\n'], 1)
	escaped := min(float64(count[esc])/float64(lines), 1)
	t.guarded = float64(hits)*(1+sanitiseLooks*escaped) < stripLooksPerMiB*float64(counted)/(1<<20)
	if guardedForTest != nil {
		t.guarded = *guardedForTest
	}
	return &t
}

// byteCounts counts each byte value in pieces spread over sample, 64 KiB
// in all: as telling of a chunk as every byte of it, and a search that
// stops at its first line (-l) does not pay for a pass over the whole chunk.
func byteCounts(sample []byte) (count [256]int, counted int) {
	const pieces, piece = 16, 4 << 10
	if len(sample) <= pieces*piece {
		for _, c := range sample {
			count[c]++
		}
		return count, len(sample)
	}
	step := len(sample) / pieces
	for k := range pieces {
		for _, c := range sample[k*step : k*step+piece] {
			count[c]++
		}
	}
	return count, pieces * piece
}

// pickGuard chooses the guard least common by count, or by rank without
// counts.
func (n *needle) pickGuard(count *[256]int) {
	best := -1
	for _, g := range n.guards {
		cost := 0
		for _, c := range g {
			if count != nil {
				cost += count[c]
			} else {
				cost += rank(c)
			}
		}
		if best < 0 || cost < best {
			best, n.guard = cost, g
		}
	}
}

// planQuery compiles a query into its plan.
func planQuery(q SearchQuery) (*plan, error) {
	re, err := q.Matcher()
	if err != nil {
		return nil, err
	}
	if q.Literal || regexp.QuoteMeta(q.Pattern) == q.Pattern {
		return planLiteral(strings.ReplaceAll(q.Pattern, "\r", model.CarriageReturn), q.IgnoreCase, re), nil
	}
	tree, err := q.Syntax()
	if err != nil {
		return nil, errorf(ErrInvalid, "pattern %s: %v", model.QuotePattern(q.Pattern), err)
	}
	tree = tree.Simplify()
	p := &plan{exact: func(text []byte, _ bool) bool { return re.Match(text) }}
	if matchesEveryLine(tree) {
		p.all = true
		return p, nil
	}
	if set, ok := finite(tree); ok {
		if f := planFinite(set, re); f != nil {
			return f, nil
		}
	}
	if set, ok := required(tree); ok {
		for _, l := range set {
			if n, ok := newNeedle(l.text, l.fold); ok {
				p.needle = append(p.needle, n)
			} else {
				p.needle = nil // one branch the scan cannot find: look at every line
				break
			}
		}
	}
	return p, nil
}

// maxFinite is the most strings finite expands an expression into.
const maxFinite = 100_000

// finite returns the strings an expression matches, when it is a set of
// literals (timeout|refund, the alternation search -f makes of a list of
// ObjectIds, an -i literal), each matched as it is or, for its ASCII
// letters, ignoring case: then a line holds a match exactly when it holds
// one of them (for a folded one, on a line of ASCII). False for anything
// else, and for more than maxFinite strings.
func finite(re *syntax.Regexp) ([]literal, bool) {
	pieces, ok := expand(re)
	if !ok {
		return nil, false
	}
	set := make([]literal, 0, len(pieces))
	for _, pc := range pieces {
		if len(pc.runes) == 0 || pc.fold && pc.exact {
			return nil, false // empty: every line; mixed: neither test is the expression's
		}
		set = append(set, literal{string(pc.runes), pc.fold})
	}
	return set, true
}

// piece is a string an expression matches: fold when it has ASCII letters
// matched ignoring case, exact when it has letters matched as they are.
type piece struct {
	runes       []rune
	fold, exact bool
}

func expand(re *syntax.Regexp) ([]piece, bool) {
	switch re.Op {
	case syntax.OpEmptyMatch:
		return []piece{{}}, true
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase == 0 || !hasLetter(re.Rune) {
			return []piece{{runes: re.Rune, exact: hasLetter(re.Rune)}}, true
		}
		if !isASCII([]byte(string(re.Rune))) {
			return nil, false
		}
		lower := make([]rune, len(re.Rune))
		for i, r := range re.Rune {
			lower[i] = unicode.ToLower(r)
		}
		return []piece{{runes: lower, fold: true}}, true
	case syntax.OpCharClass:
		// One rune, or an ASCII letter in both cases (and what search
		// folds to it beyond ASCII: [Iiı]).
		var ascii []rune
		for i := 0; i+1 < len(re.Rune); i += 2 {
			for r := re.Rune[i]; r <= re.Rune[i+1] && r < utf8.RuneSelf; r++ {
				ascii = append(ascii, r)
			}
		}
		switch {
		case len(re.Rune) == 2 && re.Rune[0] == re.Rune[1]:
			return []piece{{runes: re.Rune[:1], exact: hasLetter(re.Rune[:1])}}, true
		case len(ascii) == 2 && isLetter(byte(ascii[0])) && unicode.ToLower(ascii[0]) == unicode.ToLower(ascii[1]) && ascii[0] != ascii[1]:
			for i := 0; i+1 < len(re.Rune); i += 2 {
				for r := max(re.Rune[i], utf8.RuneSelf); r <= re.Rune[i+1]; r++ {
					if !slices.Contains(model.CaseCounterparts(unicode.ToLower(ascii[0])), r) {
						return nil, false
					}
				}
			}
			return []piece{{runes: []rune{unicode.ToLower(ascii[0])}, fold: true}}, true
		}
	case syntax.OpCapture:
		return expand(re.Sub[0])
	case syntax.OpAlternate:
		var all []piece
		for _, sub := range re.Sub {
			s, ok := expand(sub)
			if !ok || len(all)+len(s) > maxFinite {
				return nil, false
			}
			all = append(all, s...)
		}
		return all, true
	case syntax.OpConcat:
		all := []piece{{}}
		for _, sub := range re.Sub {
			s, ok := expand(sub)
			if !ok || len(all)*len(s) > maxFinite {
				return nil, false
			}
			next := make([]piece, 0, len(all)*len(s))
			for _, a := range all {
				for _, b := range s {
					next = append(next, piece{runes: append(slices.Clip(a.runes), b.runes...), fold: a.fold || b.fold, exact: a.exact || b.exact})
				}
			}
			all = next
		}
		return all, true
	}
	return nil, false
}

// planFinite plans a set of literals (finite's): each is a needle, and a
// line that holds one matches, tested without the regexp but where a
// folded one may be spelled beyond ASCII. Nil when a needle cannot be
// scanned for.
func planFinite(set []literal, re *model.Matcher) *plan {
	p := &plan{}
	fold := false
	for _, l := range set {
		n, ok := newNeedle(l.text, l.fold)
		if !ok || l.fold && !n.anyClean {
			return nil
		}
		p.needle = append(p.needle, n)
		fold = fold || l.fold
	}
	var multi *multiLiteral
	if len(p.needle) > manyNeedles {
		all := make([]*needle, len(p.needle))
		for i := range p.needle {
			all[i] = &p.needle[i]
		}
		multi = newMultiLiteral(all)
	}
	needles := p.needle
	p.exact = func(text []byte, clean bool) bool {
		if fold && !clean {
			return re.Match(text)
		}
		if multi != nil {
			return multi.find(text, 0) < len(text)
		}
		for _, n := range needles {
			if n.fold && indexFold(text, n.lit) >= 0 || !n.fold && bytes.Contains(text, n.lit) {
				return true
			}
		}
		return false
	}
	return p
}

// planLiteral plans a pattern without metacharacters: a byte search, or a
// case-folded one, with no regexp at all for a clean line.
func planLiteral(pattern string, fold bool, re *model.Matcher) *plan {
	if pattern == "" {
		return &plan{all: true, exact: func([]byte, bool) bool { return true }}
	}
	n, ok := newNeedle(pattern, fold)
	p := &plan{}
	if ok {
		p.needle = []needle{n}
	}
	lit := []byte(pattern)
	switch {
	case !fold:
		p.exact = func(text []byte, _ bool) bool { return bytes.Contains(text, lit) }
	case ok && n.anyClean && isASCII(n.lit):
		// A clean line is ASCII: there, ASCII folding is Unicode folding
		// (no rune outside ASCII to fold to), and much faster.
		p.exact = func(text []byte, clean bool) bool {
			if clean {
				return indexFold(text, n.lit) >= 0
			}
			return re.Match(text)
		}
	default:
		p.exact = func(text []byte, _ bool) bool { return re.Match(text) }
	}
	return p
}

// newNeedle prepares a literal for the scan; false when the scan could not
// find every line that holds it (then every line is looked at).
func newNeedle(text string, fold bool) (needle, bool) {
	if !fold {
		n := needle{lit: []byte(text), anyClean: true}
		// Any byte of it but U+FFFD's, which sanitising adds.
		for i := 0; i < len(text); i++ {
			if c := text[i]; c != 0xEF && c != 0xBF && c != 0xBD {
				n.guards = append(n.guards, []byte{c})
			}
		}
		n.pickGuard(nil)
		return n, len(n.guard) > 0
	}
	n := needle{fold: true, anyClean: true}
	// On a clean line only ASCII can stand for each rune: the rune itself,
	// or the ASCII letter it folds to (U+212A KELVIN SIGN is k, U+017F
	// LONG S is s). A rune that folds to no ASCII never is on a clean line.
	for _, r := range text {
		a, ok := asciiFold(r)
		if !ok {
			n.anyClean = false
			break
		}
		n.lit = append(n.lit, lower(a))
	}
	// Guards: a byte that every spelling of the needle holds. A letter
	// whose only folds are its two ASCII cases is one in either case; k, s
	// and i are not (a dirty line may spell them U+212A, U+017F, ı).
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c >= 0x80 || c == 'k' || c == 'K' || c == 's' || c == 'S' || c == 'i' || c == 'I':
		case isLetter(c):
			n.guards = append(n.guards, []byte{lower(c), lower(c) - 'a' + 'A'})
		default:
			n.guards = append(n.guards, []byte{c})
		}
	}
	n.pickGuard(nil)
	if n.guard == nil {
		return n, false
	}
	if n.anyClean {
		// The longest run without letters is found as it is; else the
		// rarest letter in either case.
		start, bestLen := 0, 0
		for i := 0; i <= len(n.lit); i++ {
			if i == len(n.lit) || isLetter(n.lit[i]) {
				if i-start > bestLen {
					n.anchorAt, bestLen = start, i-start
				}
				start = i + 1
			}
		}
		if bestLen >= 2 || bestLen == len(n.lit) {
			n.anchor = n.lit[n.anchorAt : n.anchorAt+bestLen]
		} else {
			best := -1
			for i, c := range n.lit {
				if r := rank(c); isLetter(c) && (best < 0 || r < best) {
					best, n.rare, n.anchorAt = r, c, i
				}
			}
		}
	}
	return n, true
}

// asciiFold returns the ASCII rune r matches ignoring case, if any, as
// search folds case (grep's way, model.CaseCounterparts: ı is i, ſ is s,
// the Kelvin sign is only itself).
func asciiFold(r rune) (byte, bool) {
	if r < utf8.RuneSelf {
		return byte(r), true
	}
	for _, f := range model.CaseCounterparts(r) {
		if f < utf8.RuneSelf {
			return byte(f), true
		}
	}
	return 0, false
}

// rank orders bytes by how common they are in shell output, rarest first.
func rank(c byte) int {
	switch {
	case c == ' ':
		return 100
	case c >= 'a' && c <= 'z':
		return 40 + strings.IndexByte("zqxjkvbpygfwmucldrhsnioate", c) // rarer letters rank lower
	case c >= 'A' && c <= 'Z':
		return 40 + strings.IndexByte("zqxjkvbpygfwmucldrhsnioate", c+'a'-'A')
	case c >= '0' && c <= '9':
		return 30
	case c >= 0x80:
		return 90
	}
	return 10
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// indexFold finds lit (ASCII, lower case) in s ignoring ASCII case.
func indexFold(s, lit []byte) int {
	if len(lit) == 0 {
		return 0
	}
	first := lit[0]
	for i := 0; i+len(lit) <= len(s); i++ {
		if lower(s[i]) == first && equalFold(s[i:i+len(lit)], lit) {
			return i
		}
	}
	return -1
}

// equalFold compares s with lit (ASCII, lower case) ignoring ASCII case.
func equalFold(s, lit []byte) bool {
	for i, c := range lit {
		if lower(s[i]) != c {
			return false
		}
	}
	return true
}

// literal is one string a match must contain.
type literal struct {
	text string
	fold bool
}

// required returns literals of which every match contains at least one,
// or false when there are none worth scanning for.
func required(re *syntax.Regexp) ([]literal, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		fold := re.Flags&syntax.FoldCase != 0
		if fold && !hasLetter(re.Rune) {
			fold = false
		}
		return []literal{{string(re.Rune), fold}}, true
	case syntax.OpCapture, syntax.OpPlus:
		return required(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return required(re.Sub[0])
		}
	case syntax.OpCharClass:
		// A small class ([Tt], [ab]) is a set of one-rune literals.
		var set []literal
		for i := 0; i+1 < len(re.Rune); i += 2 {
			for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
				if len(set) == 4 {
					return nil, false
				}
				set = append(set, literal{string(r), false})
			}
		}
		return set, len(set) > 0
	case syntax.OpAlternate:
		var set []literal
		for _, sub := range re.Sub {
			s, ok := required(sub)
			if !ok {
				return nil, false
			}
			set = append(set, s...)
		}
		return set, len(set) <= 64
	case syntax.OpConcat:
		var best []literal
		bestScore := 0
		consider := func(s []literal) {
			if sc := score(s); sc > bestScore {
				best, bestScore = s, sc
			}
		}
		// Runs of literals and letters in either case ([Kk], [Iiı]: how
		// search folds k and i as grep does) are one literal, folded.
		var run []rune
		folded := false
		for _, sub := range re.Sub {
			if r, fold, ok := literalPart(sub); ok {
				run, folded = append(run, r...), folded || fold
				continue
			}
			if len(run) > 0 {
				consider([]literal{{string(run), folded && hasLetter(run)}})
				run, folded = nil, false
			}
			if s, ok := required(sub); ok {
				consider(s)
			}
		}
		if len(run) > 0 {
			consider([]literal{{string(run), folded && hasLetter(run)}})
		}
		return best, best != nil
	}
	return nil, false
}

// literalPart returns what a part of a concatenation is as a piece of a
// literal: a literal, or a class of an ASCII letter in both cases and what
// search folds to it (as a folded letter).
func literalPart(re *syntax.Regexp) (runes []rune, fold, ok bool) {
	switch re.Op {
	case syntax.OpLiteral:
		return re.Rune, re.Flags&syntax.FoldCase != 0, true
	case syntax.OpCharClass:
		var lower rune = -1
		for i := 0; i+1 < len(re.Rune); i += 2 {
			for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
				a, ok := asciiFold(r)
				if !ok || !isLetter(byte(unicode.ToLower(rune(a)))) || lower >= 0 && unicode.ToLower(rune(a)) != lower {
					return nil, false, false
				}
				lower = unicode.ToLower(rune(a))
			}
		}
		if lower >= 0 && len(re.Rune) >= 4 { // both cases at least
			return []rune{lower}, true, true
		}
	}
	return nil, false, false
}

// score is how well a set of literals narrows a scan: long literals, and
// few of them.
func score(set []literal) int {
	shortest := -1
	for _, l := range set {
		if n := len(l.text); shortest < 0 || n < shortest {
			shortest = n
		}
	}
	return 1 + min(shortest, 8)*16/len(set)
}

func hasLetter(rs []rune) bool {
	for _, r := range rs {
		if unicode.SimpleFold(r) != r {
			return true
		}
	}
	return false
}

// matchesEveryLine reports whether re matches every line, empty or not:
// `^`, `$`, `.*`, `x?`.
func matchesEveryLine(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpStar, syntax.OpQuest:
		return true
	case syntax.OpRepeat:
		return re.Min == 0
	case syntax.OpCapture:
		return matchesEveryLine(re.Sub[0])
	case syntax.OpBeginLine, syntax.OpBeginText, syntax.OpEndLine, syntax.OpEndText:
		return true
	case syntax.OpAlternate:
		for _, sub := range re.Sub {
			if matchesEveryLine(sub) {
				return true
			}
		}
	case syntax.OpConcat:
		// Anchors at one end only, never both (`^$` is empty lines), and
		// none inside the rest (`(^|x)$`).
		begins, ends := false, false
		for _, sub := range re.Sub {
			switch sub.Op {
			case syntax.OpBeginLine, syntax.OpBeginText:
				begins = true
			case syntax.OpEndLine, syntax.OpEndText:
				ends = true
			default:
				if !matchesEveryLine(sub) || asserts(sub) {
					return false
				}
			}
		}
		return !(begins && ends)
	}
	return false
}

// asserts reports whether re holds an empty-width assertion anywhere.
func asserts(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpBeginLine, syntax.OpBeginText, syntax.OpEndLine, syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return true
	}
	for _, sub := range re.Sub {
		if asserts(sub) {
			return true
		}
	}
	return false
}
