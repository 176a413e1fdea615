package report

import (
	"bytes"
	"regexp"
	"strings"
)

// keywordIndex finds the rules' keywords in a text in one pass.
type keywordIndex struct {
	first2  [1 << 16]bool    // some keyword starts with these two bytes
	byStart map[uint32][]int // keywords by their first three bytes
	short   map[uint16][]int // keywords of two bytes
	words   [][]byte         // lower case, two bytes or more
	rulesOf [][]keywordUse   // the rules that use each keyword
	long    []bool           // the rules that reach longReach lines
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

func prefix3(b []byte) uint32 { return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 }

func newKeywordIndex(rules []rule) *keywordIndex {
	k := &keywordIndex{byStart: map[uint32][]int{}, short: map[uint16][]int{}}
	ids := map[string]int{}
	k.long = make([]bool, len(rules))
	for ri, ru := range rules {
		k.long[ri] = strings.Contains(ru.re.String(), `[\r\n]`)
		names := assignNames(ru.re.String())
		for _, w := range ru.keywords {
			if len(w) < 2 {
				panic("redaction keyword shorter than two bytes: " + w)
			}
			id, ok := ids[w]
			if !ok {
				id = len(k.words)
				ids[w] = id
				k.words = append(k.words, []byte(w))
				k.rulesOf = append(k.rulesOf, nil)
				two := uint16(w[0]) | uint16(w[1])<<8
				k.first2[two] = true
				if len(w) == 2 {
					k.short[two] = append(k.short[two], id)
				} else {
					k.byStart[prefix3([]byte(w))] = append(k.byStart[prefix3([]byte(w))], id)
				}
			}
			if n := len(k.rulesOf[id]); n == 0 || k.rulesOf[id][n-1].rule != ri {
				// A keyword outside NAMES (atlassian's ATATT3 token, a
				// prefix such as live_) runs the rule wherever it is.
				k.rulesOf[id] = append(k.rulesOf[id], keywordUse{rule: ri, assign: names != nil && names.MatchString(w)})
			}
		}
	}
	return k
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
	lower := bytes.ToLower(text)
	lineStart, lineEnd := -1, -1 // of the line holding the last hit
	var shortEnd, longEnd int    // the windows' ends for that line
	for i := 0; i+2 <= len(lower); i++ {
		two := uint16(lower[i]) | uint16(lower[i+1])<<8
		if !k.first2[two] {
			continue
		}
		ids := k.short[two]
		if i+3 <= len(lower) {
			if long, ok := k.byStart[prefix3(lower[i:])]; ok {
				ids = append(ids[:len(ids):len(ids)], long...)
			}
		}
		for _, id := range ids {
			if !bytes.HasPrefix(lower[i:], k.words[id]) {
				continue
			}
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
			after := i + len(k.words[id])
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
					start = max(lineStart, i-namePrefix)
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
