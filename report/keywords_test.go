package report

import (
	"fmt"
	"math/rand"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The prefilter of the semi-generic rules may only skip text where their
// shape cannot match: wherever a name, then [ \t\w.-]{0,20}[\s'"]{0,3} and
// an operator follow, assignFollows says yes.
func TestAssignFollowsWhereverTheRulesShapeCanMatch(t *testing.T) {
	shape := regexp.MustCompile(`^(?i)(?:[ \t\w.-]{0,20})[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)`)
	pieces := []string{"a", "Z", "9", "_", ".", "-", " ", "\t", "\n", "\r", "'", `"`, "=", ">", ":", "|", "?", ",", "/", "(", "\u212a", "\u017f", "é", "\v", "\f"}
	rng := rand.New(rand.NewSource(25))
	matched := 0
	for range 200000 {
		var b strings.Builder
		for n := rng.Intn(30); n > 0; n-- {
			// Runs of name characters, so that gaps near 20 are common.
			p := pieces[rng.Intn(len(pieces))]
			if rng.Intn(3) > 0 {
				p = pieces[rng.Intn(8)]
			}
			b.WriteString(p)
		}
		s := b.String()
		if shape.MatchString(s) {
			matched++
			if !assignFollows([]byte(s), 0) {
				t.Fatalf("the shape matches %q after a name, but the prefilter skips it", s)
			}
		}
	}
	if matched < 10000 {
		t.Fatalf("only %d of the random tails match the shape: the test proves little", matched)
	}
}

// withoutAssignFilter is r with its rules run on every line holding one of
// their keywords, whatever follows it.
func (r *Redactor) withoutAssignFilter() *Redactor {
	k := *r.keywords
	k.rulesOf = make([][]keywordUse, len(r.keywords.rulesOf))
	for id, uses := range r.keywords.rulesOf {
		for _, u := range uses {
			k.rulesOf[id] = append(k.rulesOf[id], keywordUse{rule: u.rule})
		}
	}
	return &Redactor{rules: r.rules, keywords: &k}
}

// assignCorpus is lines of the semi-generic rules' shape and near misses:
// each rule's names in any case, followed by gaps, quotes, operators and
// values of every kind, and lines where a name is followed by no operator
// (a URL path, prose).
func assignCorpus(r *Redactor, lines int) []byte {
	rng := rand.New(rand.NewSource(24))
	var names []string
	for _, ru := range r.rules {
		if assignNames(ru.re.String()) != nil {
			names = append(names, ru.keywords...)
		}
	}
	pick := func(s ...string) string { return s[rng.Intn(len(s))] }
	value := func() string {
		// Most rules want a length and an alphabet of their own.
		chars := pick("abcdefghijklmnopqrstuvwxyz0123456789", "0123456789abcdef", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-=+/.")
		v := make([]byte, []int{12, 16, 20, 24, 32, 32, 32, 40, 40, 43, 64, 8 + rng.Intn(48)}[rng.Intn(12)])
		for i := range v {
			v[i] = chars[rng.Intn(len(chars))]
		}
		return string(v)
	}
	cased := func(s string) string {
		switch rng.Intn(3) {
		case 0:
			return strings.ToUpper(s)
		case 1:
			return strings.ToUpper(s[:1]) + s[1:]
		}
		return s
	}
	var b strings.Builder
	for range lines {
		name := cased(names[rng.Intn(len(names))])
		gap := strings.Repeat(pick("_", "x", " ", "-", "1", "."), rng.Intn(23))
		switch rng.Intn(6) {
		case 0:
			fmt.Fprintf(&b, "GET /%s/v1/orders/%d status=200 took=%dms\n", name, rng.Intn(1e6), rng.Intn(900))
		case 1:
			fmt.Fprintf(&b, "the %s%s expired, see %s\n", name, gap, value())
		default:
			fmt.Fprintf(&b, "%s%s%s%s%s%s%s%s%s\n", pick("", "export ", "  ", "my_app.", "ř"), name, gap,
				pick("", " ", "'", `"`, "\t", "  '"), pick("=", ":", ": ", "=>", ":=", "::=", "||", "?=", ",", ">"),
				pick("", " ", `"`, "'", "`", " = "), value(), pick("", `"`, "'", ";", " ", "\\n", "`"), pick("", " # set by ops", ", ok"))
		}
	}
	return []byte(b.String())
}

// The semi-generic rules run only where an operator can follow their
// name: they find all they find when run on every line holding a keyword.
func TestAssignFilterFindsWhatEveryLineWithAKeywordHolds(t *testing.T) {
	r, err := NewRedactor(nil)
	if err != nil {
		t.Fatal(err)
	}
	text := append(assignCorpus(r, 3000), shellLike(64<<10)...)
	got, want := r.find(text), r.withoutAssignFilter().find(text)
	kinds := map[string]bool{}
	for _, sp := range want {
		kinds[r.rules[sp.rule].kind] = true
	}
	if len(want) < 150 || len(kinds) < 20 {
		t.Fatalf("only %d secrets of %d kinds in the corpus: it proves little", len(want), len(kinds))
	}
	if !slices.Equal(got, want) {
		for _, sp := range want {
			if !slices.Contains(got, sp) {
				t.Errorf("missed by the filter: %s %q", r.rules[sp.rule].kind, text[sp.start:sp.end])
			}
		}
		t.Fatalf("with the filter %d secrets found, without %d", len(got), len(want))
	}
}

// (?i) folds the Kelvin sign onto k and the long s onto s: a keyword
// spelled with them still runs its rules (it did not before), and the
// windows land on the text.
func TestKeywordsSpelledWithCharactersThatFoldOntoLettersAreFound(t *testing.T) {
	r, err := NewRedactor(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"DB_\u017fECRET=Zq7hunter99\n",
		"x\nto\u212aen: Zq7hunter99\n",
		// A name of 3-byte Kelvin signs reaches further back than ASCII.
		strings.Repeat("\u212a", 40) + "_AWS_SECRET_ACCESS_KEY: Zq7hunter99\n",
	} {
		got, n := r.RedactString(line)
		if n == 0 || strings.Contains(got, "Zq7hunter99") {
			t.Errorf("%q redacted as %q", line, got)
		}
	}
}
