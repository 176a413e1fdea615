package ui

import (
	"fmt"
	"strings"
	"testing"
)

func TestFinderSmartCase(t *testing.T) {
	cases := []struct {
		pattern string
		regex   bool
		line    string
		want    [][2]int
	}{
		{"needle", false, "a NeEdle and a needle", [][2]int{{2, 8}, {15, 21}}},
		{"Needle", false, "a needle and a Needle", [][2]int{{15, 21}}},
		{"objectid(", false, `x: ObjectId("5f")`, [][2]int{{3, 12}}},
		{"été", false, "Été été", [][2]int{{0, 5}, {6, 11}}},
		{`\d+ms`, true, "done in 12ms", [][2]int{{8, 12}}},
		{"nn", false, "nnn", [][2]int{{0, 2}}},
	}
	for _, c := range cases {
		f, err := NewFinder(c.pattern, c.regex)
		if err != nil {
			t.Fatal(err)
		}
		got := f.Ranges([]byte(c.line))
		if len(got) != len(c.want) {
			t.Fatalf("%q in %q: %v, want %v", c.pattern, c.line, got, c.want)
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Fatalf("%q in %q: %v, want %v", c.pattern, c.line, got, c.want)
			}
		}
		if !f.Matches([]byte(c.line)) {
			t.Fatalf("%q does not match %q", c.pattern, c.line)
		}
	}
	if _, err := NewFinder("(", true); err == nil {
		t.Fatal("a bad regular expression compiled")
	}
}

// TestFindSaysWhatIsWrongWithThePatternAsTyped: a bad regular expression
// is reported as typed, without the (?i) that lower case adds to it.
func TestFindSaysWhatIsWrongWithThePatternAsTyped(t *testing.T) {
	_, err := NewFinder("(bad", true)
	if err == nil || strings.Contains(err.Error(), "(?i)") || !strings.Contains(err.Error(), "(bad") {
		t.Fatalf("find re:(bad: %v", err)
	}
	f, err := NewFinder("timeout|refund", true)
	if err != nil || fmt.Sprint(f.Ranges([]byte("a REFUND was made"))) != "[[2 8]]" {
		t.Fatalf("lower case finds any case: %v", err)
	}
}

// TestFindMatchesAsCalmSearchDoes: / in the viewer and calm search found
// different lines: RE2's ASCII word edges, no ı for i, [:digit:] taken.
func TestFindMatchesAsCalmSearchDoes(t *testing.T) {
	for _, c := range []struct {
		pattern string
		regex   bool
		line    string
		want    bool
	}{
		{`\bstanbul`, true, "İstanbul", false}, // İ is a letter: no word edge before s
		{`\bstanbul`, true, "«stanbul", true},
		{"istanbul", false, "ıstanbul", true}, // smart case folds ı as grep -i
		{"Istanbul", false, "ıstanbul", false},
		{`foo\<`, true, "foo bar", false}, // \< is a word's start
		{`\<bar`, true, "foo bar", true},
		{`[[:upper:]]{4}`, true, "plain last line", false}, // a class that names a case keeps it
		{`[[:upper:]]{4}`, true, "an ERROR here", true},
	} {
		f, err := NewFinder(c.pattern, c.regex)
		if err != nil {
			t.Fatalf("%q: %v", c.pattern, err)
		}
		if got := f.Matches([]byte(c.line)); got != c.want {
			t.Errorf("find %q in %q: %v, want %v", c.pattern, c.line, got, c.want)
		}
	}
	if _, err := NewFinder("[:digit:]", true); err == nil || !strings.Contains(err.Error(), "[[:digit:]]") {
		t.Errorf("find re:[:digit:]: %v, want the error calm search gives", err)
	}
}
