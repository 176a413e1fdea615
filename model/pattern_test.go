package model

import (
	"math/rand"
	"strings"
	"testing"
)

// TestWordEdgeSearchAgreesWithRE2OnASCII runs the matcher's own search on
// ASCII lines, where RE2's word edges are grep's: every answer must be
// RE2's.
func TestWordEdgeSearchAgreesWithRE2OnASCII(t *testing.T) {
	patterns := []string{`\bdb\b`, `\Bb`, `a\b`, `\b`, `\B`, `^\bx`, `x\b$`, `(ab|a)\bc`, `\b(foo|foobar)\b`,
		`\ba*\b`, `x*\By`, `(?i)\bDB`, `\b\w+\b\s\b\d`, `[a-c]+\b[ -]\b[a-c]+`, `\b.{2}\b`, `(\ba)+b`}
	rnd := rand.New(rand.NewSource(1))
	alphabet := "ab c-xyDd_1\t"
	for _, pat := range patterns {
		m, err := SearchQuery{Pattern: pat}.Matcher()
		if err != nil {
			t.Fatal(err)
		}
		if m.prog == nil {
			t.Fatalf("%s: no program for a pattern with a word edge", pat)
		}
		for range 2000 {
			var b strings.Builder
			for range rnd.Intn(9) {
				b.WriteByte(alphabet[rnd.Intn(len(alphabet))])
			}
			text := []byte(b.String())
			if got, want := m.matchWords(text), m.re.Match(text); got != want {
				t.Fatalf("%s on %q: %v, RE2 says %v", pat, text, got, want)
			}
		}
	}
}

// TestWordEdgesTakeEveryScript: a letter of any script is a word character
// at \b and \B, as in grep's UTF-8 locales.
func TestWordEdgesTakeEveryScript(t *testing.T) {
	for _, c := range []struct {
		pat, text string
		want      bool
	}{
		{`\bÉcole\b`, "École école", true},
		{`\bcole`, "École", false},
		{`café\b`, "cafés", false},
		{`café\b`, "un café.", true},
		{`\bïve`, "naïve", false},
		{`\Bïve`, "naïve", true},
		{`\Bve`, "naïve", true},
		{`\bİ`, "İstanbul", true},
		{`\bΑθ`, "Αθήνα", true},
		{`θ\b`, "Αθήνα", false},
		{`\<École\>`, "École", true},
		{`\w+é\b`, "le café", true},
		{`[[:upper:]]`, "école", false},
		{`(?i)[[:upper:]]`, "école", true},
		{`^[[:alpha:]]+$`, "naïve", true},
		{`[[:lower:]]`, "ÉÇ", false},
	} {
		m, err := SearchQuery{Pattern: c.pat}.Matcher()
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Match([]byte(c.text)); got != c.want {
			t.Errorf("%s on %q: %v, want %v", c.pat, c.text, got, c.want)
		}
	}
}

// TestGNUPatternLeavesWhatItGaveAndBracketsAlone: the translation is done
// by the client and again by the agent, so the second must change nothing;
// an escape inside brackets other than \w stays as typed.
func TestGNUPatternLeavesWhatItGaveAndBracketsAlone(t *testing.T) {
	for in, want := range map[string]string{
		`\<a\>`:           `\b` + wordStartMark + `a\b` + wordEndMark,
		`\w\W`:            "[" + WordChars() + "][^" + WordChars() + "]",
		`[\w.]`:           "[" + WordChars() + ".]",
		`[[:alpha:]x]`:    "[" + unicodeClasses()["alpha"] + "x]",
		`[^[:upper:]]`:    "[^" + unicodeClasses()["upper"] + "]",
		`[]<]\<`:          `[]<]\b` + wordStartMark,
		`[[:digit:]]`:     `[[:digit:]]`,
		`[:alpha:]`:       `[:alpha:]`, // not in brackets: a class of its letters, as grep reads it too
		`a\\<`:            `a\\<`,
		`\[[:alpha:]`:     `\[[:alpha:]`,
		`x[[:xdigit:]]\d`: `x[[:xdigit:]]\d`,
		`*abc`:            `abc`, // grep drops a repetition of nothing
		`a|+b`:            `a|b`,
		`(*a)`:            `(a)`,
		`^*a`:             `^a`,
		`(?i)a`:           `(?i)a`, // RE2's flags stay
		`(?:a)?`:          `(?:a)?`,
		`a**`:             `a*`, // a run of repetitions is the one it makes
		`a++`:             `a+`,
		`a+?`:             `a*`,
		`a?+`:             `a*`,
		`a??`:             `a?`,
		`x)`:              `x\)`, // a ) that closes nothing is itself
		`(a)b)`:           `(a)b\)`,
		`[)*+]`:           `[)*+]`,
		`\**`:             `\**`,
	} {
		got := GNUPattern(in)
		if got != want {
			t.Errorf("GNUPattern(%q) = %q, want %q", in, got, want)
		}
		if again := GNUPattern(got); again != got {
			t.Errorf("GNUPattern(%q) changed its own %q into %q", in, got, again)
		}
	}
}

// TestBackReferenceIsNamed: RE2 has none; the error says so rather than
// "invalid escape".
func TestBackReferenceIsNamed(t *testing.T) {
	_, err := SearchQuery{Pattern: `(abc)\1`}.Regexp()
	if err == nil || !strings.Contains(err.Error(), "back-references") {
		t.Fatalf("a back-reference: %v", err)
	}
	_, err = SearchQuery{Pattern: `a\q`}.Regexp()
	if err == nil || strings.Contains(err.Error(), "back-references") {
		t.Fatalf("another bad escape: %v", err)
	}
}

// A pattern that does not compile is named as typed, with what is wrong in
// its own words: never the translation RE2 was given (\w and [[:alpha:]]
// are kilobytes of Unicode ranges), nor Go's doubled backslashes.
func TestPatternErrorsQuoteOnlyWhatWasTyped(t *testing.T) {
	for _, c := range []struct{ pattern, want string }{
		{`[[:alpha:]`, `pattern '[[:alpha:]': missing closing ]`},
		{`\w+(`, `pattern '\w+(': missing closing )`},
		{`x{2,1}`, `pattern 'x{2,1}': invalid repeat count: '{2,1}'`},
		{`it's(`, `pattern "it's(": missing closing ) (`},
	} {
		_, err := SearchQuery{Pattern: c.pattern}.Regexp()
		if err == nil || !strings.HasPrefix(err.Error(), c.want) || len(err.Error()) > 120 {
			t.Errorf("pattern %s: error %v, want it to start %q and be short", c.pattern, err, c.want)
		}
	}
}
