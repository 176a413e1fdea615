package report

import (
	"bytes"
	"strings"
)

// keywordIndex finds the rules' keywords in a text in one pass.
type keywordIndex struct {
	first2  [1 << 16]bool    // some keyword starts with these two bytes
	byStart map[uint32][]int // keywords by their first three bytes
	short   map[uint16][]int // keywords of two bytes
	words   [][]byte         // lower case, two bytes or more
	rulesOf [][]int          // the rules that use each keyword
	long    []bool           // the rules that reach longReach lines
	// assign: the rules of gitleaks' semi-generic shape, NAME ... = VALUE,
	// where the operator comes at most assignGap bytes after the keyword
	// and NAME starts at most namePrefix bytes before it.
	assign []bool
}

// The semi-generic rules' shape: (?i)[\w.-]{0,50}?(?:KEYWORD)(?:[ \t\w.-]{0,20})[\s'"]{0,3}(?:=|>|...
const (
	assignShape = `(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)`
	assignGap   = 24
	namePrefix  = 64
)

// assigned reports whether an assignment operator follows text[i].
func assigned(text []byte, i int) bool {
	return bytes.ContainsAny(text[i:min(i+assignGap, len(text))], "=>:|?,")
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
	k.long, k.assign = make([]bool, len(rules)), make([]bool, len(rules))
	for ri, ru := range rules {
		k.long[ri] = strings.Contains(ru.re.String(), `[\r\n]`)
		k.assign[ri] = strings.Contains(ru.re.String(), assignShape)
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
			if n := len(k.rulesOf[id]); n == 0 || k.rulesOf[id][n-1] != ri {
				k.rulesOf[id] = append(k.rulesOf[id], ri)
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
			for _, ri := range k.rulesOf[id] {
				start, end := lineStart, shortEnd
				if k.long[ri] {
					end = longEnd
				}
				if k.assign[ri] {
					if !assigned(text, after) {
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
