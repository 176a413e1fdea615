package report

import (
	"bytes"
	"regexp"
	"slices"
	"strings"
)

// keywordIndex finds the rules' keywords in a text in one pass.
type keywordIndex struct {
	// byFirst2[two]: the keywords starting with the two bytes two (first
	// byte low), as a range of ids sorted that way: byFirst2[two] to
	// byFirst2[two+1].
	byFirst2 []int32
	// A quick no for most places: the pairs that are whole keywords, and
	// the first three bytes of longer ones hashed, as bit sets that stay
	// in the CPU's nearest cache.
	pairs, triples [1 << 16 / 64]uint64
	words          [][]byte       // lower case ASCII, two bytes or more
	rulesOf        [][]keywordUse // the rules that use each keyword
	long           []bool         // the rules that reach longReach lines
}

// keywordUse is a rule that runs where a keyword is found. assign: the
// keyword is the NAME of one of gitleaks' semi-generic rules, NAME ... =
// VALUE, so the rule runs only where an operator can follow it (see
// assignFollows), from at most namePrefix bytes before it.
type keywordUse struct {
	rule   int
	assign bool
}

// The semi-generic rules' shape: (?i)[\w.-]{0,50}?(?:NAMES)(?:[ \t\w.-]{0,20})[\s'"]{0,3}(?:=|>|...
const (
	assignGapShape = `(?:[ \t\w.-]{0,20})[\s'"]{0,3}`
	assignShape    = `(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)`
	namePrefix     = 64
)

// assignNames returns the alternatives of NAMES in a rule of the
// semi-generic shape, matching a whole keyword; nil for other rules.
func assignNames(re string) *regexp.Regexp {
	end := strings.Index(re, assignGapShape+assignShape)
	if end < 0 {
		end = strings.Index(re, assignGapShape+")"+assignShape) // in a (?i:...) of its own
	}
	if end < 1 || re[end-1] != ')' {
		return nil
	}
	depth := 0
	for i := end - 1; i >= 0; i-- {
		if i > 0 && re[i-1] == '\\' {
			continue
		}
		switch re[i] {
		case ')':
			depth++
		case '(':
			depth--
		}
		if depth == 0 {
			names, err := regexp.Compile(`^(?i:` + re[i:end] + `)$`)
			if err != nil {
				return nil
			}
			return names
		}
	}
	return nil
}

// assignFollows reports whether text from i (just after a keyword) can go
// on as the semi-generic shape does: up to 20 characters of [ \t\w.-], up
// to 3 of [\s'"], then an operator. It errs towards yes: any non-ASCII
// character counts as a name character ((?i)\w holds the Kelvin sign and
// the long s), and \v as a space.
func assignFollows(text []byte, i int) bool {
	for name := 0; ; name++ {
		for j := i; j < len(text) && j <= i+3; j++ {
			if isOperatorStart(text[j]) {
				return true
			}
			if !isAssignSpace(text[j]) {
				break
			}
		}
		if i >= len(text) || name == 20 || !isNameByte(text[i]) {
			return false
		}
		i++
		for i < len(text) && text[i]&0xc0 == 0x80 { // the rest of a character
			i++
		}
	}
}

func isOperatorStart(b byte) bool {
	return b == '=' || b == '>' || b == ':' || b == '|' || b == '?' || b == ','
}

func isAssignSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\f' || b == '\v' || b == '\'' || b == '"'
}

func isNameByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' ||
		b == '_' || b == '.' || b == '-' || b == ' ' || b == '\t' || b >= 0x80
}

// nextLine is where the line after the one holding text[i] starts.
func nextLine(text []byte, i int) int {
	if i >= len(text) {
		return len(text)
	}
	if j := bytes.IndexByte(text[i:], '\n'); j >= 0 {
		return i + j + 1
	}
	return len(text)
}

func newKeywordIndex(rules []rule) *keywordIndex {
	k := &keywordIndex{}
	ids := map[string]int{}
	k.long = make([]bool, len(rules))
	for ri, ru := range rules {
		k.long[ri] = strings.Contains(ru.re.String(), `[\r\n]`)
		names := assignNames(ru.re.String())
		for _, w := range ru.keywords {
			if len(w) < 2 || !isASCII(w) {
				panic("redaction keyword not of two ASCII bytes or more: " + w)
			}
			id, ok := ids[w]
			if !ok {
				id = len(k.words)
				ids[w] = id
				k.words = append(k.words, []byte(w))
				k.rulesOf = append(k.rulesOf, nil)
			}
			if n := len(k.rulesOf[id]); n == 0 || k.rulesOf[id][n-1].rule != ri {
				// A keyword outside NAMES (atlassian's ATATT3 token, a
				// prefix such as live_) runs the rule wherever it is.
				k.rulesOf[id] = append(k.rulesOf[id], keywordUse{rule: ri, assign: names != nil && names.MatchString(w)})
			}
		}
	}
	// Ids sorted by their first two bytes, and where each pair starts.
	first2 := func(w []byte) int { return int(w[0]) | int(w[1])<<8 }
	order := make([]int, len(k.words))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return first2(k.words[a]) - first2(k.words[b]) })
	words, rulesOf := make([][]byte, len(order)), make([][]keywordUse, len(order))
	for i, id := range order {
		words[i], rulesOf[i] = k.words[id], k.rulesOf[id]
	}
	k.words, k.rulesOf = words, rulesOf
	k.byFirst2 = make([]int32, 1<<16+1)
	for _, w := range k.words {
		k.byFirst2[first2(w)+1]++
		if len(w) == 2 {
			setBit(&k.pairs, first2(w))
		} else {
			setBit(&k.triples, hash3(w[0], w[1], w[2]))
		}
	}
	for i := 1; i < len(k.byFirst2); i++ {
		k.byFirst2[i] += k.byFirst2[i-1]
	}
	return k
}

func hash3(a, b, c byte) int { return (int(a)*0x9e5 ^ int(b)*0x3b ^ int(c)) & (1<<16 - 1) }

func setBit(set *[1 << 16 / 64]uint64, i int) { set[i/64] |= 1 << (i % 64) }

func hasBit(set *[1 << 16 / 64]uint64, i int) bool { return set[i/64]&(1<<(i%64)) != 0 }

// hasFoldedPrefix reports whether text starts with w, ASCII case folded.
func hasFoldedPrefix(text, w []byte) bool {
	if len(text) < len(w) {
		return false
	}
	for i, c := range w {
		if asciiLower[text[i]] != c {
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// asciiLower folds ASCII letters, as the rules' (?i) does.
var asciiLower = func() (t [256]byte) {
	for b := range t {
		t[b] = byte(b)
		if b >= 'A' && b <= 'Z' {
			t[b] = byte(b) + 'a' - 'A'
		}
	}
	return t
}()

// The only characters outside ASCII that (?i) folds onto an ASCII letter.
var (
	kelvinSign = []byte("\u212a") // k
	longS      = []byte("\u017f") // s
)

// foldedKeywordText is text as the keyword scan reads it: the Kelvin sign
// and the long s as k and s, mapped back onto text (nil: text itself).
func foldedKeywordText(text []byte) ([]byte, offsets) {
	if !bytes.Contains(text, kelvinSign) && !bytes.Contains(text, longS) {
		return text, nil
	}
	folded, at := make([]byte, 0, len(text)), offsets{}
	for i := 0; i < len(text); i++ {
		at = at.add(len(folded), i)
		switch {
		case bytes.HasPrefix(text[i:], kelvinSign):
			folded = append(folded, 'k')
			i += len(kelvinSign) - 1
		case bytes.HasPrefix(text[i:], longS):
			folded = append(folded, 's')
			i += len(longS) - 1
		default:
			folded = append(folded, text[i])
		}
	}
	return folded, at
}

// A rule reads the line holding its keyword and the next (a value may
// follow a key on a line of its own); gitleaks' curl rules read a command
// continued over five lines.
const (
	shortReach = 1
	longReach  = 6
)

// windows returns, for each rule, the parts of text it should run on: from
// the start of each line holding one of its keywords to the end of the
// windowLines lines after, merged where they overlap.
func (k *keywordIndex) windows(text []byte, nrules int) [][][2]int {
	out := make([][][2]int, nrules)
	if k == nil || len(text) < 2 || len(k.words) == 0 { // nil: a Redactor of no rules
		return out
	}
	folded, at := foldedKeywordText(text)
	inText := func(i int) int { // where folded[i] is in text
		if i >= len(folded) {
			return len(text)
		}
		return at.of(i)
	}
	lineStart, lineEnd := -1, -1 // of the line holding the last hit
	var shortEnd, longEnd int    // the windows' ends for that line
	for fi := 0; fi+2 <= len(folded); fi++ {
		a, b := asciiLower[folded[fi]], asciiLower[folded[fi+1]]
		two := int(a) | int(b)<<8
		if !hasBit(&k.pairs, two) && (fi+3 > len(folded) || !hasBit(&k.triples, hash3(a, b, asciiLower[folded[fi+2]]))) {
			continue
		}
		for id := k.byFirst2[two]; id < k.byFirst2[two+1]; id++ {
			w := k.words[id]
			if !hasFoldedPrefix(folded[fi:], w) {
				continue
			}
			i := inText(fi)
			if i >= lineEnd {
				lineStart = bytes.LastIndexByte(text[:i], '\n') + 1
				lineEnd = nextLine(text, i)
				shortEnd, longEnd = lineEnd, lineEnd
				for range shortReach {
					shortEnd = nextLine(text, shortEnd)
				}
				longEnd = shortEnd
				for range longReach - shortReach {
					longEnd = nextLine(text, longEnd)
				}
			}
			after := inText(fi + len(w))
			for _, use := range k.rulesOf[id] {
				ri := use.rule
				start, end := lineStart, shortEnd
				if k.long[ri] {
					end = longEnd
				}
				if use.assign {
					if !assignFollows(text, after) {
						continue
					}
					if at == nil { // else a name may hold 3-byte Kelvin signs
						start = max(lineStart, i-namePrefix)
					}
				}
				ws := out[ri]
				if n := len(ws); n > 0 && ws[n-1][1] >= start {
					ws[n-1][1] = max(ws[n-1][1], end)
				} else {
					out[ri] = append(ws, [2]int{start, end})
				}
			}
		}
	}
	return out
}
