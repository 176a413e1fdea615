package model

import (
	"fmt"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// grep -i reads a bracket expression as the C library's regex does under
// REG_ICASE in a UTF-8 locale: the pattern is upper-cased before it is
// parsed (a range's ends, not its members: [0-z] becomes [0-Z], which
// leaves out _), [:upper:] and [:lower:] become [:alpha:], and a character
// is in the class when its upper case is. So [a-z] takes ı and ſ but not
// the Kelvin sign (RE2's folding takes it), and [[:upper:]] takes ª and 中.
// foldBrackets writes each bracket expression of a grep -E pattern as that
// class, explicitly and out of RE2's folding: (?-i:[...]).
func foldBrackets(pat string) (string, error) {
	if !strings.Contains(pat, "[") {
		return pat, nil
	}
	var b strings.Builder
	for i := 0; i < len(pat); i++ {
		switch pat[i] {
		case '\\':
			if i+1 < len(pat) {
				b.WriteByte('\\')
				i++
			}
		case '[':
			if strings.HasSuffix(b.String(), "(?-i:") {
				// Folded already (by the client that sent it): as it is.
				end := strings.IndexByte(pat[i+1:], ']')
				if end < 0 {
					break
				}
				b.WriteString(pat[i : i+1+end+1])
				i += 1 + end
				continue
			}
			class, end, err := foldedBracket(pat, i)
			if err != nil {
				return pat, err
			}
			if end < 0 {
				b.WriteString(pat[i:]) // RE2 says what is wrong with it
				return b.String(), nil
			}
			b.WriteString("(?-i:" + class + ")")
			i = end
			continue
		}
		b.WriteByte(pat[i])
	}
	return b.String(), nil
}

// foldedBracket reads the bracket expression at pat[start] and returns the
// class grep -i makes of it, and the index of its closing ]. end < 0: it is
// not one foldBrackets can read (unclosed, an unknown class name), and is
// left as it is.
func foldedBracket(pat string, start int) (class string, end int, err error) {
	i := start + 1
	negated := i < len(pat) && pat[i] == '^'
	if negated {
		i++
	}
	var upper strings.Builder // the members, upper-cased, as RE2 writes them in brackets
	for first := true; ; first = false {
		if i >= len(pat) {
			return "", -1, nil
		}
		if pat[i] == ']' && !first {
			break
		}
		from := i
		lo, loText, next, ok := bracketItem(pat, i)
		switch {
		case !ok:
			return "", -1, nil
		case lo < 0: // a class: its members upper-cased
			upper.WriteString(loText)
			i = next
			continue
		}
		i = next
		if i+1 < len(pat) && pat[i] == '-' && pat[i+1] != ']' {
			hi, _, after, ok := bracketItem(pat, i+1)
			if !ok || hi < 0 {
				return "", -1, nil
			}
			ulo, uhi := unicode.ToUpper(lo), unicode.ToUpper(hi)
			if ulo > uhi {
				return "", 0, Errorf(ErrInvalid, "pattern %q: under -i the range %s reads as %s, which runs backwards (grep -i refuses it too: \"Invalid range end\"); write the range in one case", pat, pat[from:after], string(ulo)+"-"+string(uhi))
			}
			fmt.Fprintf(&upper, `\x{%x}-\x{%x}`, ulo, uhi)
			i = after
			continue
		}
		fmt.Fprintf(&upper, `\x{%x}`, unicode.ToUpper(lo))
	}
	members, ok := classRunes("[" + upper.String() + "]")
	if !ok {
		return "", -1, nil
	}
	set := upperCaseOf(members)
	var b strings.Builder
	b.WriteByte('[')
	if negated {
		b.WriteByte('^')
	}
	writeRanges(&b, set)
	b.WriteByte(']')
	return b.String(), i, nil
}

// bracketItem reads one member of a bracket expression at pat[i]: a
// character (written, or as [.c.] or [=c=], or an escape of one), whose
// rune it returns, or a class ([:alpha:], \w, \d, \pL), for which r < 0
// and class holds its members upper-cased as RE2 writes them in brackets.
// next is where the following member starts.
func bracketItem(pat string, i int) (r rune, class string, next int, ok bool) {
	switch {
	case strings.HasPrefix(pat[i:], "[:"):
		end := strings.Index(pat[i+2:], ":]")
		if end < 0 {
			break // a [ of its own
		}
		name := pat[i+2 : i+2+end]
		if name == "upper" || name == "lower" {
			name = "alpha" // as the C library's regex does under REG_ICASE
		}
		members, known := unicodeClasses()[name]
		if !known {
			members = "[:" + name + ":]" // digit, xdigit: ASCII, as RE2's; another, RE2 refuses
		}
		return -1, members, i + 2 + end + 2, true
	case strings.HasPrefix(pat[i:], "[=") || strings.HasPrefix(pat[i:], "[."):
		c, size := utf8.DecodeRuneInString(pat[i+2:])
		if end := i + 2 + size; size > 0 && strings.HasPrefix(pat[end:], pat[i+1:i+2]+"]") {
			return c, "", end + 2, true
		}
		return 0, "", 0, false // bareClass refuses it
	case pat[i] == '\\' && i+1 < len(pat):
		end := escapeEnd(pat, i)
		if c, ok := hexEscape(pat[i:end]); ok {
			return c, "", end, true
		}
		text := GNUPattern(pat[i:end]) // \w, \s, \r as grep reads them
		if pat[i+1] == 'w' {
			text = wordChars()
		} else if pat[i+1] == 's' {
			text = unicodeClasses()["space"]
		}
		members, ok := classRunes("[" + text + "]")
		if !ok {
			return 0, "", 0, false
		}
		if len(members) == 2 && members[0] == members[1] {
			return members[0], "", end, true
		}
		// An escape's members are upper-cased one by one (its own are
		// kept too: each is in the class as its upper case is).
		var b strings.Builder
		writeRanges(&b, members)
		for _, p := range caseMapped() {
			if inRanges(members, p[0]) {
				fmt.Fprintf(&b, `\x{%x}`, p[1])
			}
		}
		return -1, b.String(), end, true
	}
	c, size := utf8.DecodeRuneInString(pat[i:])
	return c, "", i + size, true
}

// escapeEnd is where the escape at pat[i] ends: \x{..}, \p{..}, \pL, \x41,
// or a backslash and one character.
func escapeEnd(pat string, i int) int {
	end := i + 2
	next := pat[i+1]
	switch {
	case (next == 'x' || next == 'p' || next == 'P') && end < len(pat) && pat[end] == '{':
		if close := strings.IndexByte(pat[end:], '}'); close >= 0 {
			end += close + 1
		}
	case next == 'p' || next == 'P':
		end++
	case next == 'x':
		end += 2
	case next >= utf8.RuneSelf:
		_, n := utf8.DecodeRuneInString(pat[i+1:])
		end = i + 1 + n
	}
	return min(end, len(pat))
}

// caseMapped holds each character whose upper case is another, and that
// upper case, in order.
var caseMapped = sync.OnceValue(func() [][2]rune {
	var pairs [][2]rune
	for _, rg := range unicode.CaseRanges {
		for c := rune(rg.Lo); c <= rune(rg.Hi); c++ {
			if u := unicode.ToUpper(c); u != c {
				pairs = append(pairs, [2]rune{c, u})
			}
		}
	}
	return pairs
})

// upperCaseOf returns the characters whose upper case is in set (ranges,
// as syntax.Regexp.Rune holds them), as sorted ranges.
func upperCaseOf(set []rune) []rune {
	in := func(c rune) bool { return inRanges(set, c) }
	var add, drop []rune
	for _, p := range caseMapped() {
		switch in(p[1]) {
		case true:
			if !in(p[0]) {
				add = append(add, p[0])
			}
		case false:
			if in(p[0]) {
				drop = append(drop, p[0])
			}
		}
	}
	var out []rune
	d := 0
	emit := func(lo, hi rune) {
		for ; d < len(drop) && drop[d] <= hi; d++ {
			if drop[d] < lo {
				continue
			}
			if drop[d] > lo {
				out = appendRange(out, lo, drop[d]-1)
			}
			lo = drop[d] + 1
		}
		if lo <= hi {
			out = appendRange(out, lo, hi)
		}
	}
	a := 0
	for k := 0; k+1 < len(set); k += 2 {
		for ; a < len(add) && add[a] < set[k]; a++ {
			emit(add[a], add[a])
		}
		emit(set[k], set[k+1])
	}
	for ; a < len(add); a++ {
		emit(add[a], add[a])
	}
	return out
}

// appendRange adds lo-hi to sorted ranges, joining it to the last one when
// they touch.
func appendRange(rs []rune, lo, hi rune) []rune {
	if n := len(rs); n > 0 && rs[n-1]+1 >= lo {
		rs[n-1] = max(rs[n-1], hi)
		return rs
	}
	return append(rs, lo, hi)
}

// inRanges reports whether c is in set (sorted ranges, as
// syntax.Regexp.Rune holds them).
func inRanges(set []rune, c rune) bool {
	k, found := slices.BinarySearch(set, c)
	// Not found: c lies inside a range when it goes between its two ends.
	return found || k%2 == 1
}

// writeRanges writes sorted ranges as RE2 writes them in brackets.
func writeRanges(b *strings.Builder, set []rune) {
	for k := 0; k+1 < len(set); k += 2 {
		if set[k] == set[k+1] {
			fmt.Fprintf(b, `\x{%x}`, set[k])
		} else {
			fmt.Fprintf(b, `\x{%x}-\x{%x}`, set[k], set[k+1])
		}
	}
}

// classRunes parses an RE2 bracket expression into its members, as sorted
// ranges.
func classRunes(class string) ([]rune, bool) {
	tree, err := syntax.Parse(class, syntax.Perl)
	switch {
	case err != nil:
		return nil, false
	case tree.Op == syntax.OpLiteral && len(tree.Rune) == 1: // a class of one
		return []rune{tree.Rune[0], tree.Rune[0]}, true
	case tree.Op == syntax.OpCharClass:
		return tree.Rune, true
	}
	return nil, false
}

// hexEscape reads \x{..} and \xHH, the escapes classes are written with,
// without a parse.
func hexEscape(esc string) (rune, bool) {
	var digits string
	switch {
	case strings.HasPrefix(esc, `\x{`) && strings.HasSuffix(esc, "}"):
		digits = esc[3 : len(esc)-1]
	case strings.HasPrefix(esc, `\x`) && len(esc) == 4:
		digits = esc[2:]
	default:
		return 0, false
	}
	n, err := strconv.ParseUint(digits, 16, 32)
	if err != nil || n > unicode.MaxRune {
		return 0, false
	}
	return rune(n), true
}

// FoldedPattern is a grep -E pattern as the store reads it: its brackets
// folded as grep -i's when ignoreCase, then in RE2's syntax (GNUPattern).
// A client sends it so; the store's own reading leaves it as it is.
func FoldedPattern(pat string, ignoreCase bool) string {
	if ignoreCase {
		if folded, err := foldBrackets(pat); err == nil {
			pat = folded
		}
	}
	return GNUPattern(pat)
}
