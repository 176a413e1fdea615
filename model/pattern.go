package model

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// GNUPattern reads a pattern as grep -E reads it in a UTF-8 locale where
// RE2 reads it otherwise: \< and \> are a word's start and end (RE2 reads
// < and >; see wordStartMark),
// and \w, \W, \s, \S and the POSIX classes ([:alpha:], [:space:], ...)
// take their members from every script (RE2's are ASCII only, so \w missed
// the é of café, and \s an ideographic space). As grep, it drops a repetition with nothing to repeat
// (*a, a|+b), reads a ) that closes nothing as itself, and a run of
// repetitions as the one they make (a** is a*, a+? is a*: RE2 refuses the
// first and reads the second as a lazy a+). It leaves a pattern it gave
// unchanged.
func GNUPattern(pat string) string {
	if !strings.ContainsAny(pat, `\:*+?){=.`) && (!strings.HasPrefix(pat, "{") || !strings.Contains(pat, "}")) {
		return pat
	}
	var b strings.Builder
	inClass := false
	depth := 0      // groups open
	nothing := true // at a start, where a repetition repeats nothing
	for i := 0; i < len(pat); i++ {
		c := pat[i]
		if !inClass && (c == '*' || c == '+' || c == '?') {
			run := i
			for run < len(pat) && strings.IndexByte("*+?", pat[run]) >= 0 {
				run++
			}
			switch {
			case nothing && (c != '?' || i == 0 || pat[i-1] != '('): // (? is RE2's group syntax
				i = run - 1
				continue
			case run-i > 1:
				b.WriteString(repetitions(pat[i:run]))
				i = run - 1
				continue
			}
			b.WriteByte(c)
			continue
		}
		if !inClass && nothing && c == '{' {
			if end := intervalEnd(pat[i:]); end > 0 {
				i += end - 1 // an interval of nothing, dropped as grep drops it
				continue
			}
		}
		nothing = !inClass && (c == '(' || c == '|' || c == '^' && nothing)
		switch {
		case c == '\\' && i+1 < len(pat):
			next := pat[i+1]
			i++
			switch {
			case !inClass && next == '<':
				b.WriteString(`\b` + wordStartMark)
			case !inClass && next == '>':
				b.WriteString(`\b` + wordEndMark)
			case next == 'w' && inClass:
				b.WriteString(wordChars())
			case next == 'w':
				b.WriteString("[" + wordChars() + "]")
			case next == 'W' && !inClass:
				b.WriteString("[^" + wordChars() + "]")
			case next == 's' && inClass:
				b.WriteString(unicodeClasses()["space"])
			case next == 's':
				b.WriteString("[" + unicodeClasses()["space"] + "]")
			case next == 'S' && !inClass:
				b.WriteString("[^" + unicodeClasses()["space"] + "]")
			case next == 'r':
				b.WriteString(CarriageReturn)
			default:
				b.WriteByte(c)
				b.WriteByte(next)
			}
			continue
		case c == '[' && inClass && (strings.HasPrefix(pat[i:], "[=") || strings.HasPrefix(pat[i:], "[.")):
			// An equivalence class or collating symbol of one character
			// ([[=e=]], [[.-.]]) is that character, in grep's UTF-8
			// locales.
			r, size := utf8.DecodeRuneInString(pat[i+2:])
			if end := i + 2 + size; size > 0 && strings.HasPrefix(pat[end:], string(pat[i+1])+"]") {
				fmt.Fprintf(&b, `\x{%x}`, r)
				i = end + 1
				continue
			}
		case c == '[' && inClass && strings.HasPrefix(pat[i:], "[:"):
			end := strings.Index(pat[i+2:], ":]")
			if end < 0 {
				break
			}
			name := pat[i+2 : i+2+end]
			if class, ok := unicodeClasses()[name]; ok {
				b.WriteString(class)
				i += 2 + end + 1
				continue
			}
		case c == '{' && !inClass && i+2 < len(pat) && pat[i+1] == ',' && (pat[i+2] >= '0' && pat[i+2] <= '9' || pat[i+2] == '}'):
			b.WriteString("{0") // grep's {,n}: at most n; {,}: any number
			continue
		case c == '[' && !inClass:
			inClass = true
			b.WriteByte(c)
			// A ] first (after ^) is a member, not the end.
			if i+1 < len(pat) && pat[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(pat) && pat[i+1] == ']' {
				b.WriteByte(']')
				i++
			}
			continue
		case c == ']' && inClass:
			inClass = false
		case c == '(' && !inClass:
			depth++
		case c == ')' && !inClass && depth == 0:
			b.WriteString(`\)`)
			continue
		case c == ')' && !inClass:
			depth--
		}
		b.WriteByte(c)
	}
	return b.String()
}

// intervalEnd is the length of the interval s starts with ({2}, {2,},
// {2,5}, {,5}, {,}), or 0.
func intervalEnd(s string) int {
	digits := func(i int) int {
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i
	}
	i := digits(1)
	bounded := i > 1
	if i < len(s) && s[i] == ',' {
		i, bounded = digits(i+1), true // {,5} and {,} too
	}
	if !bounded || i >= len(s) || s[i] != '}' {
		return 0
	}
	return i + 1
}

// bareClass returns the first bracket expression of pat that reads as a
// class name alone, [:digit:], where [[:digit:]] was meant; grep refuses
// it ("character class syntax is [[:space:]], not [:space:]"). bad is an
// equivalence class or collating symbol of other than one character,
// [.space.], which grep's UTF-8 locales do not know.
func bareClass(pat string) (bare, bad string) {
	for i := 0; i < len(pat) && bad == ""; i++ {
		switch pat[i] {
		case '\\':
			i++
		case '[':
			start := i
			j := i + 1
			if j < len(pat) && pat[j] == '^' {
				j++
			}
			first := j
			if j < len(pat) && pat[j] == ']' {
				j++ // a ] first is a member
			}
			for j < len(pat) && pat[j] != ']' {
				if pat[j] == '[' && j+1 < len(pat) && strings.IndexByte(":=.", pat[j+1]) >= 0 {
					if end := strings.Index(pat[j+2:], string(pat[j+1])+"]"); end >= 0 {
						if name := pat[j+2 : j+2+end]; pat[j+1] != ':' && utf8.RuneCountInString(name) != 1 {
							bad = pat[j : j+2+end+2] // grep: "Invalid collation character"
						}
						j += 2 + end + 2
						continue
					}
				}
				j++
			}
			if j >= len(pat) {
				return "", bad
			}
			inside := pat[first:j]
			if len(inside) >= 3 && inside[0] == ':' && inside[len(inside)-1] == ':' && strings.Trim(inside, ":") != "" {
				return pat[start : j+1], ""
			}
			i = j
		}
	}
	return "", bad
}

// RE2 has no \< or \> (a word's start, its end), only \b, either edge:
// GNUPattern writes them as \b followed by a mark that matches nothing
// (a rune repeated no times), which RE2 reads as \b alone, and Matcher
// makes into the edge itself.
const (
	wordStartRune = '\U0010FFFE'
	wordEndRune   = '\U0010FFFF'
	wordStartMark = `\x{10fffe}{0}`
	wordEndMark   = `\x{10ffff}{0}`
	// The empty-width conditions Matcher adds to syntax.EmptyOp's.
	emptyWordStart syntax.EmptyOp = 1 << 6
	emptyWordEnd   syntax.EmptyOp = 1 << 7
)

// directedEdges turns each \b followed by its mark into a one-rune
// literal of the mark's rune, which the compiled program's instruction
// for it becomes the edge (Matcher); it reports whether there was one.
func directedEdges(re *syntax.Regexp) bool {
	found := false
	for _, sub := range re.Sub {
		found = directedEdges(sub) || found
	}
	if re.Op != syntax.OpConcat {
		return found
	}
	subs := re.Sub[:0]
	for i := 0; i < len(re.Sub); i++ {
		sub := re.Sub[i]
		if sub.Op == syntax.OpWordBoundary && i+1 < len(re.Sub) {
			if mark := re.Sub[i+1]; mark.Op == syntax.OpRepeat && mark.Max == 0 && mark.Sub[0].Op == syntax.OpLiteral &&
				len(mark.Sub[0].Rune) == 1 && (mark.Sub[0].Rune[0] == wordStartRune || mark.Sub[0].Rune[0] == wordEndRune) {
				subs = append(subs, &syntax.Regexp{Op: syntax.OpLiteral, Rune: []rune{mark.Sub[0].Rune[0]}})
				i++
				found = true
				continue
			}
		}
		subs = append(subs, sub)
	}
	re.Sub = subs
	return found
}

// repetitions is the one repetition a run of them makes: each of * + ?
// repeats what the one before it made.
func repetitions(run string) string {
	least, most := 1, 1 // -1: no bound
	for _, c := range run {
		switch c {
		case '*':
			least, most = 0, -1
		case '+':
			if most != -1 && most != 0 {
				most = -1
			}
		case '?':
			least = 0
		}
	}
	switch {
	case least == 0 && most == -1:
		return "*"
	case least == 1 && most == -1:
		return "+"
	case least == 0:
		return "?"
	}
	return ""
}

// unicodeClasses are the POSIX classes as grep reads them in a UTF-8 locale
// (glibc's), as RE2 escapes for inside brackets; RE2's own are ASCII only.
// alpha is Unicode's Alphabetic and the decimal digits beyond 0-9 (not ½,
// ①: those are punct); upper takes the titlecase letters (ǅ), lower
// those with an upper case;
// space leaves out the no-break spaces, which are graph and punct; punct
// is every graph that is not alnum. A ␍ stands for the carriage return it
// replaced in the text searched, so it is space and cntrl, not graph.
var unicodeClasses = sync.OnceValue(func() map[string]string {
	noBreak := func(r rune) bool { return r == 0x85 || r == 0xA0 || r == 0x2007 || r == 0x202F }
	cr := []rune(CarriageReturn)[0]
	nonASCIIDigits := keep(func(r rune) bool { return r > '9' }, unicode.Nd)
	blanks := keep(func(r rune) bool { return !noBreak(r) }, unicode.Zs)
	spaces := keep(func(r rune) bool { return !noBreak(r) }, unicode.White_Space) + ranges(cr)
	graph := `\pL\pM\pN\pP\p{Cf}\p{Co}\x{a0}\x{2007}\x{202f}` + keep(func(r rune) bool { return r != cr }, unicode.S)
	notAlpha := func(r rune) bool { return r != cr && !unicode.Is(unicode.Other_Alphabetic, r) }
	return map[string]string{
		"alpha": `\pL\p{Nl}` + keep(nil, unicode.Other_Alphabetic) + nonASCIIDigits,
		"alnum": `\pL\p{Nl}\p{Nd}` + keep(nil, unicode.Other_Alphabetic),
		"upper": `\p{Lu}\p{Lt}` + keep(nil, unicode.Other_Uppercase),
		"lower": `\p{Ll}` + keep(nil, unicode.Other_Lowercase) + keep(func(r rune) bool { return unicode.ToUpper(r) != r }, unicode.Lt),
		"space": spaces,
		"blank": `\t` + blanks,
		"cntrl": `\p{Cc}\x{2028}\x{2029}` + ranges(cr),
		"graph": graph,
		"print": graph + blanks,
		"punct": `\pP\p{No}\p{Cf}\p{Co}\x{a0}\x{2007}\x{202f}` + keep(notAlpha, unicode.S, unicode.M),
	}
})

// WordChars are grep's word characters in a UTF-8 locale ([:alnum:] and
// _), as RE2 writes them inside brackets: \w, \b and -w are made of them.
func WordChars() string { return wordChars() }

var wordChars = sync.OnceValue(func() string { return unicodeClasses()["alnum"] + "_" })

// keep writes the runes of tables that pass (all, for nil) as RE2 ranges
// for inside brackets.
func keep(pass func(rune) bool, tables ...*unicode.RangeTable) string {
	var b strings.Builder
	lo, hi := rune(-1), rune(-1)
	flush := func() {
		if lo < 0 {
			return
		}
		if lo == hi {
			fmt.Fprintf(&b, `\x{%x}`, lo)
		} else {
			fmt.Fprintf(&b, `\x{%x}-\x{%x}`, lo, hi)
		}
		lo = -1
	}
	each := func(r rune) {
		if pass != nil && !pass(r) {
			return
		}
		if lo >= 0 && r == hi+1 {
			hi = r
			return
		}
		flush()
		lo, hi = r, r
	}
	for _, t := range tables {
		for _, r := range t.R16 {
			for c := rune(r.Lo); c <= rune(r.Hi); c += rune(r.Stride) {
				each(c)
			}
		}
		for _, r := range t.R32 {
			for c := rune(r.Lo); c <= rune(r.Hi); c += rune(r.Stride) {
				each(c)
			}
		}
		flush()
	}
	return b.String()
}

// ranges writes runes as RE2 escapes for inside brackets.
func ranges(rs ...rune) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, `\x{%x}`, r)
	}
	return b.String()
}

// CarriageReturn is what a carriage return inside a line is in the text
// search matches (sanitize.AppendSearchText): a pattern's \r means it.
const CarriageReturn = "\u240d"

// expression is the RE2 text of a query: a literal quoted, grep -E's
// readings applied, case folded on request.
func (q SearchQuery) expression() string {
	pat := strings.ReplaceAll(q.Pattern, "\r", CarriageReturn)
	if q.Literal {
		pat = regexp.QuoteMeta(pat)
	} else {
		pat = FoldedPattern(pat, q.IgnoreCase) // a bracket Regexp refuses is left for it
	}
	if q.IgnoreCase {
		pat = grepFolded("(?i)"+pat, q.Literal)
	}
	return pat
}

// grep -i takes for a character c the ones whose simple case mappings meet
// c's (GNU dfa.c's case_folded_counterparts): its upper case, the lower
// case of that, and the "lonesome" lower case letters whose upper case it
// is (ı for I, ſ for S). RE2's folding takes Unicode's whole orbit, which
// adds K (the Kelvin sign) to k, Å (Ångström) to å, ẞ to ß, and leaves ı
// alone. grepFolded writes each character of a case-folded expression
// whose set differs as a class of grep's set: -i diyarbakir finds
// diyarbakır, and k finds no Kelvin sign.
var lonesomeLower = []rune{0x00B5, 0x0131, 0x017F, 0x01C5, 0x01C8, 0x01CB, 0x01F2, 0x0345, 0x03C2, 0x03D0, 0x03D1, 0x03D5, 0x03D6, 0x03F0, 0x03F1, 0x03F5, 0x1E9B, 0x1FBE}

// CaseCounterparts returns the characters grep -i takes for c besides c.
func CaseCounterparts(c rune) []rune {
	var out []rune
	upper := unicode.ToUpper(c)
	lower := unicode.ToLower(upper)
	if upper != c {
		out = append(out, upper)
	}
	if lower != upper && lower != c && unicode.ToUpper(lower) == upper {
		out = append(out, lower)
	}
	for _, l := range lonesomeLower {
		if l != lower && l != upper && l != c && unicode.ToUpper(l) == upper {
			out = append(out, l)
		}
	}
	return out
}

// foldedOtherwise holds each character whose grep -i set is not its RE2
// folding orbit, with that set as an RE2 class.
var foldedOtherwise = sync.OnceValue(func() map[rune]string {
	classes := map[rune]string{}
	// Only a character with a case mapping, or in the folding orbit of
	// one (ß, of ẞ), has either set beyond itself.
	for _, rg := range unicode.CaseRanges {
		for r := rune(rg.Lo); r <= rune(rg.Hi); r++ {
			for f := unicode.SimpleFold(r); ; f = unicode.SimpleFold(f) {
				if _, done := classes[f]; !done {
					addFoldClass(classes, f)
				}
				if f == r {
					break
				}
			}
		}
	}
	return classes
})

func addFoldClass(classes map[rune]string, r rune) {
	set := append([]rune{r}, CaseCounterparts(r)...)
	orbit := []rune{r}
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		orbit = append(orbit, f)
	}
	slices.Sort(set)
	slices.Sort(orbit)
	if slices.Equal(set, orbit) {
		return
	}
	var b strings.Builder
	b.WriteString("(?-i:[") // as it is: RE2 would fold it again
	for _, c := range set {
		fmt.Fprintf(&b, `\x{%x}`, c)
	}
	b.WriteString("])")
	classes[r] = b.String()
}

// grepFolded rewrites a case-folded expression ((?i) first) so that it
// folds as grep -i does.
func grepFolded(expr string, literal bool) string {
	differ := foldedOtherwise()
	if !strings.ContainsFunc(expr[4:], func(r rune) bool { _, ok := differ[r]; return ok }) && (literal || !strings.Contains(expr, "[")) {
		return expr
	}
	if literal {
		var b strings.Builder
		b.WriteString("(?i)")
		for _, r := range expr[4:] {
			if class, ok := differ[r]; ok {
				b.WriteString(class)
			} else {
				b.WriteRune(r) // already quoted: a letter is never an escape
			}
		}
		return b.String()
	}
	// The characters themselves are replaced in the text: a parsed tree
	// holds a folded literal as its orbit's least member (K for the
	// Kelvin sign).
	expr = "(?i)" + replaceOutsideBrackets(expr[4:], differ)
	tree, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return expr // Regexp says what is wrong with it
	}
	return foldAsGrep(tree).String()
}

// replaceOutsideBrackets writes each character of pat that classes holds
// as its class, but inside brackets, escapes (\x{..}, \pL, \p{..}) and
// flag groups ((?i:, (?P<name>).
func replaceOutsideBrackets(pat string, classes map[rune]string) string {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(pat); {
		r, size := utf8.DecodeRuneInString(pat[i:])
		switch {
		case r == '\\' && i+1 < len(pat):
			end := escapeEnd(pat, i) // fold.go
			b.WriteString(pat[i:end])
			i = end
			continue
		case !inClass && r == '(' && strings.HasPrefix(pat[i:], "(?"):
			end := i + 2 + strings.IndexAny(pat[i+2:], ":)")
			if end < i+2 {
				end = len(pat) - 1
			}
			b.WriteString(pat[i : end+1])
			i = end + 1
			continue
		case r == '[' && !inClass:
			inClass = true
			b.WriteByte('[')
			i++
			if i < len(pat) && pat[i] == '^' {
				b.WriteByte('^')
				i++
			}
			if i < len(pat) && pat[i] == ']' {
				b.WriteByte(']')
				i++
			}
			continue
		case r == '[' && inClass && i+1 < len(pat) && pat[i+1] == ':':
			if end := strings.Index(pat[i+2:], ":]"); end >= 0 {
				b.WriteString(pat[i : i+2+end+2])
				i += 2 + end + 2
				continue
			}
		case r == ']' && inClass:
			inClass = false
		case !inClass:
			if class, ok := classes[r]; ok {
				b.WriteString(class)
				i += size
				continue
			}
		}
		b.WriteString(pat[i : i+size])
		i += size
	}
	return b.String()
}

// foldAsGrep has each case-folded class take ı where it takes i and I.
func foldAsGrep(re *syntax.Regexp) *syntax.Regexp {
	switch re.Op {
	case syntax.OpCharClass:
		// A class keeps RE2's folding (K with [a-z]), but takes ı where it
		// takes both i and I, as grep's [a-z] does.
		in := func(c rune) bool {
			for i := 0; i+1 < len(re.Rune); i += 2 {
				if re.Rune[i] <= c && c <= re.Rune[i+1] {
					return true
				}
			}
			return false
		}
		if re.Flags&syntax.FoldCase != 0 && in('i') && in('I') && !in('ı') {
			re.Rune = append(re.Rune, 'ı', 'ı') // read again from its text, in order
		}
		return re
	}
	for i, sub := range re.Sub {
		re.Sub[i] = foldAsGrep(sub)
	}
	return re
}

// Syntax is the query's parsed expression, as Regexp compiles it.
func (q SearchQuery) Syntax() (*syntax.Regexp, error) {
	return syntax.Parse(q.expression(), syntax.Perl)
}

// Regexp turns a query into a regexp: RE2 syntax read as grep -E reads it
// (GNUPattern), or a literal with -F. Its \b is RE2's, ASCII only: Matcher
// has grep's.
func (q SearchQuery) Regexp() (*regexp.Regexp, error) {
	bare, bad := bareClass(q.Pattern)
	if bad != "" && !q.Literal {
		return nil, Errorf(ErrInvalid, "pattern %q: %s: an equivalence class or collating symbol is one character here, [[=e=]] or [[.-.]] (grep refuses it too: \"Invalid collation character\")", q.Pattern, bad)
	}
	if bare != "" && !q.Literal {
		meant := "[" + bare + "]"
		if strings.HasPrefix(bare, "[^") {
			meant = "[^[" + bare[2:] + "]"
		}
		return nil, Errorf(ErrInvalid, "pattern %q: a class goes inside brackets: %s, not %s (grep refuses it too; -F searches for the text)", q.Pattern, meant, bare)
	}
	if q.IgnoreCase && !q.Literal {
		if _, err := foldBrackets(q.Pattern); err != nil {
			return nil, err
		}
	}
	re, err := regexp.Compile(q.expression())
	if err != nil && q.Literal {
		return nil, Errorf(ErrInvalid, "pattern %s: %s", QuotePattern(q.Pattern), syntaxProblem(err, q.Pattern))
	}
	if err != nil {
		var perr *syntax.Error
		if errors.As(err, &perr) && perr.Code == syntax.ErrInvalidEscape && len(perr.Expr) == 2 && perr.Expr[1] >= '1' && perr.Expr[1] <= '9' {
			return nil, Errorf(ErrInvalid, "pattern %s: %s: back-references (\\1) are not supported (RE2 finds every match in linear time); search for what the group holds, or filter: calm show ITEM | grep -E PATTERN", QuotePattern(q.Pattern), syntaxProblem(err, q.Pattern))
		}
		return nil, Errorf(ErrInvalid, "pattern %s: %s (use -F to search for it literally)", QuotePattern(q.Pattern), syntaxProblem(err, q.Pattern))
	}
	return re, nil
}

// syntaxProblem says what is wrong in a pattern that does not compile, in
// the pattern's words: the expression RE2 was given is the pattern
// translated (\w and [[:alpha:]] are long lists of Unicode ranges), which a
// person never typed, so only a part of the pattern itself is quoted.
func syntaxProblem(err error, pattern string) string {
	var perr *syntax.Error
	if !errors.As(err, &perr) {
		return err.Error()
	}
	if perr.Expr != "" && perr.Expr != pattern && strings.Contains(pattern, perr.Expr) {
		return fmt.Sprintf("%s: %s", perr.Code, QuotePattern(perr.Expr))
	}
	return perr.Code.String()
}

// QuotePattern quotes a pattern as it was typed, backslashes and all:
// '\w+(' rather than Go's "\\w+(". Go's quoting where it holds a quote
// or a control character.
func QuotePattern(p string) string {
	if strings.ContainsRune(p, '\'') || strings.IndexFunc(p, func(r rune) bool { return r < ' ' || r == 0x7f || r == utf8.RuneError }) >= 0 {
		return strconv.Quote(p)
	}
	return "'" + p + "'"
}

// A Matcher tells whether a line holds a match of a query, as grep does in
// a UTF-8 locale: a word edge (\b, \B, \< \>) falls between a letter or
// digit of any script, or _, and anything else. RE2 knows only ASCII word
// characters there, so a line with other characters and a pattern with a
// word edge is matched by a search of its own (Prog's instructions, each
// tried once at each position).
type Matcher struct {
	re    *regexp.Regexp
	prog  *syntax.Prog // nil: the pattern has no word edge, RE2 is right
	seen  sync.Pool    // *[]uint64: which instruction has been tried at which position
	insts int
	// directed: the pattern has \< or \>, which RE2 reads as \b: the
	// program decides on every line.
	directed bool

	longestOnce sync.Once
	longest     *regexp.Regexp

	// words is the program WordParts runs, for any pattern.
	query     SearchQuery
	wordsOnce sync.Once
	words     *syntax.Prog
}

// Matcher compiles a query into its Matcher.
func (q SearchQuery) Matcher() (*Matcher, error) {
	re, err := q.Regexp()
	if err != nil {
		return nil, err
	}
	m := &Matcher{re: re, query: q}
	if tree, err := q.Syntax(); err == nil && hasWordEdge(tree) {
		if prog, directed, err := compileProg(q); err == nil {
			m.prog, m.insts, m.directed = prog, len(prog.Inst), directed
		}
	}
	return m, nil
}

// compileProg compiles the query into the program Matcher runs itself,
// with \< and \> as edges of their own; directed says it has them.
func compileProg(q SearchQuery) (prog *syntax.Prog, directed bool, err error) {
	tree, err := q.Syntax()
	if err != nil {
		return nil, false, err
	}
	directed = directedEdges(tree)
	if prog, err = syntax.Compile(tree.Simplify()); err != nil {
		return nil, false, err
	}
	for i := range prog.Inst {
		inst := &prog.Inst[i]
		if (inst.Op == syntax.InstRune1 || inst.Op == syntax.InstRune) && len(inst.Rune) == 1 {
			switch inst.Rune[0] {
			case wordStartRune:
				inst.Op, inst.Arg, inst.Rune = syntax.InstEmptyWidth, uint32(emptyWordStart), nil
			case wordEndRune:
				inst.Op, inst.Arg, inst.Rune = syntax.InstEmptyWidth, uint32(emptyWordEnd), nil
			}
		}
	}
	return prog, directed, nil
}

// WordParts returns the parts of text grep -ow prints: from each place a
// word may begin, the longest match there that ends where a word may end
// (grep tries the shorter ones before it moves on), then on from its end.
// ok is false for a line too long to search so: Parts, filtered, is then
// the answer.
func (m *Matcher) WordParts(text []byte) (parts [][2]int, ok bool) {
	m.wordsOnce.Do(func() {
		m.words = m.prog
		if m.words == nil {
			m.words, _, _ = compileProg(m.query)
		}
	})
	if m.words == nil || len(text) > maxPartsLine {
		return nil, false
	}
	seen := make([]uint32, len(m.words.Inst)*(len(text)+1)) // the start that reached a state last, plus one
	var stack []state
	var ends []int
	from := 0 // where grep's search for this part began: the last part's end
	wordEnd := func(at int) bool {
		after, _ := utf8.DecodeRune(text[at:])
		return at == len(text) || !IsWordRune(after)
	}
	for start := 0; start <= len(text); {
		if before, _ := utf8.DecodeLastRune(text[:start]); start == 0 || !IsWordRune(before) {
			mark := uint32(start + 1)
			first := func(k int) bool {
				if seen[k] == mark {
					return false
				}
				seen[k] = mark
				return true
			}
			ends = ends[:0]
			reachIn(m.words, text, start, &stack, first, func(at int) bool {
				ends = append(ends, at)
				return false
			})
			// grep takes the longest match here, then shorter ones: each
			// the longest that ends before the last tried, less how far
			// into the line its search began (GNU grep's dfasearch.c
			// measures the shorter subject from the line's start, so after
			// a first part a line yields fewer; calm gives what grep does).
			end := slices.Max(append(ends, -1))
			for end > start && !wordEnd(end) {
				limit, shorter := end-1-from, -1
				for _, e := range ends {
					if e > start && e <= limit && e > shorter {
						shorter = e
					}
				}
				end = shorter
			}
			if end > start {
				parts = append(parts, [2]int{start, end})
				start, from = end, end
				continue
			}
		}
		if start == len(text) {
			break
		}
		_, size := utf8.DecodeRune(text[start:])
		start += size
	}
	return parts, true
}

// Regexp is the matcher's RE2 regexp (exact for ASCII text).
func (m *Matcher) Regexp() *regexp.Regexp { return m.re }

// Longest is the regexp taking the longest of the matches that start
// first, as grep -o does (a|ab takes ab).
func (m *Matcher) Longest() *regexp.Regexp {
	m.longestOnce.Do(func() {
		m.longest = regexp.MustCompile(m.re.String())
		m.longest.Longest()
	})
	return m.longest
}

// maxPartsLine bounds the line Parts searches with grep's word edges
// itself (its work grows with the square of the line): a longer one is
// searched by RE2, whose word edges are ASCII only.
const maxPartsLine = 64 << 10

// Parts returns where the matches in text are, [start, end) each, the
// longest of those that start first and then on from its end, as grep -o
// finds them.
func (m *Matcher) Parts(text []byte) [][2]int {
	var parts [][2]int
	if m.prog != nil && (m.directed || !ascii(text)) && len(text) <= maxPartsLine {
		return m.partsWords(text)
	}
	for _, at := range m.Longest().FindAllIndex(text, -1) {
		if at[0] < at[1] {
			parts = append(parts, [2]int{at[0], at[1]})
		}
	}
	return parts
}

// partsWords is Parts by a search over the program, with grep's word
// edges: from each start, every state reached once, the furthest match
// kept.
func (m *Matcher) partsWords(text []byte) [][2]int {
	seen := make([]uint32, m.insts*(len(text)+1)) // the start that reached a state last, plus one
	var stack []state
	var parts [][2]int
	for start := 0; start <= len(text); {
		mark, end := uint32(start+1), -1
		first := func(k int) bool {
			if seen[k] == mark {
				return false
			}
			seen[k] = mark
			return true
		}
		m.reach(text, start, &stack, first, func(at int) bool { end = max(end, at); return false })
		if end > start {
			parts = append(parts, [2]int{start, end})
			start = end
			continue
		}
		if start == len(text) {
			break
		}
		_, size := utf8.DecodeRune(text[start:])
		start += size
	}
	return parts
}

// Match reports whether text holds a match.
func (m *Matcher) Match(text []byte) bool {
	switch {
	case m.prog == nil:
		return m.re.Match(text)
	case ascii(text) && !m.directed:
		return m.re.Match(text)
	case ascii(text) && !m.re.Match(text):
		return false // with \b for \< and \> RE2 takes more: what it refuses, they refuse
	}
	return m.matchWords(text)
}

func ascii(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func hasWordEdge(re *syntax.Regexp) bool {
	if re.Op == syntax.OpWordBoundary || re.Op == syntax.OpNoWordBoundary {
		return true
	}
	for _, sub := range re.Sub {
		if hasWordEdge(sub) {
			return true
		}
	}
	return false
}

// IsWordRune reports grep's word character in a UTF-8 locale (WordChars).
func IsWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return r == '_' || '0' <= r && r <= '9' || 'a' <= r|0x20 && r|0x20 <= 'z'
	}
	return unicode.In(r, unicode.L, unicode.Nl, unicode.Nd, unicode.Other_Alphabetic)
}

// matchWords runs the program over text from every position, depth first.
// An instruction that failed at a position fails there whatever the start
// (nothing is captured), so each is tried once: the work is bounded by
// instructions times positions.
func (m *Matcher) matchWords(text []byte) bool {
	positions := len(text) + 1
	bits := (m.insts*positions + 63) / 64
	seen, _ := m.seen.Get().(*[]uint64)
	if seen == nil {
		seen = new([]uint64)
	}
	if cap(*seen) < bits {
		*seen = make([]uint64, bits)
	} else {
		*seen = (*seen)[:bits]
		clear(*seen)
	}
	defer m.seen.Put(seen)
	visited := *seen
	first := func(k int) bool {
		if visited[k/64]&(1<<(k%64)) != 0 {
			return false
		}
		visited[k/64] |= 1 << (k % 64)
		return true
	}
	var stack []state
	for start := 0; start <= len(text); {
		if m.reach(text, start, &stack, first, func(int) bool { return true }) {
			return true
		}
		if start == len(text) {
			break
		}
		_, size := utf8.DecodeRune(text[start:])
		start += size
	}
	return false
}

// state is an instruction of the program at a position of the line.
type state struct{ pc, pos int }

// reach runs the program from start, depth first, taking each state that
// first (given its index pc*positions+pos) says is new, and calls match at
// each match's end until it returns true; it reports whether one did.
func (m *Matcher) reach(text []byte, start int, stack *[]state, first func(k int) bool, match func(end int) bool) bool {
	return reachIn(m.prog, text, start, stack, first, match)
}

// reachIn is reach over prog.
func reachIn(prog *syntax.Prog, text []byte, start int, stack *[]state, first func(k int) bool, match func(end int) bool) bool {
	positions := len(text) + 1
	*stack = append((*stack)[:0], state{prog.Start, start})
	for len(*stack) > 0 {
		j := (*stack)[len(*stack)-1]
		*stack = (*stack)[:len(*stack)-1]
		for first(j.pc*positions + j.pos) {
			inst := &prog.Inst[j.pc]
			switch inst.Op {
			case syntax.InstMatch:
				if match(j.pos) {
					return true
				}
			case syntax.InstFail:
			case syntax.InstAlt, syntax.InstAltMatch:
				*stack = append(*stack, state{int(inst.Arg), j.pos})
				j.pc = int(inst.Out)
				continue
			case syntax.InstCapture, syntax.InstNop:
				j.pc = int(inst.Out)
				continue
			case syntax.InstEmptyWidth:
				if emptyAt(text, j.pos)&syntax.EmptyOp(inst.Arg) == syntax.EmptyOp(inst.Arg) {
					j.pc = int(inst.Out)
					continue
				}
			default: // a rune instruction
				if j.pos < len(text) {
					r, size := utf8.DecodeRune(text[j.pos:])
					if inst.MatchRune(r) {
						j.pc, j.pos = int(inst.Out), j.pos+size
						continue
					}
				}
			}
			break
		}
	}
	return false
}

// emptyAt is what holds at pos of a line: its start and end, and a word
// edge by grep's word characters.
func emptyAt(text []byte, pos int) syntax.EmptyOp {
	before, after := rune(-1), rune(-1)
	if pos > 0 {
		before, _ = utf8.DecodeLastRune(text[:pos])
	}
	if pos < len(text) {
		after, _ = utf8.DecodeRune(text[pos:])
	}
	var op syntax.EmptyOp
	if pos == 0 {
		op |= syntax.EmptyBeginText | syntax.EmptyBeginLine
	}
	if pos == len(text) {
		op |= syntax.EmptyEndText | syntax.EmptyEndLine
	}
	switch wordBefore, wordAfter := IsWordRune(before), IsWordRune(after); {
	case !wordBefore && wordAfter:
		op |= syntax.EmptyWordBoundary | emptyWordStart
	case wordBefore && !wordAfter:
		op |= syntax.EmptyWordBoundary | emptyWordEnd
	default:
		op |= syntax.EmptyNoWordBoundary
	}
	return op
}
