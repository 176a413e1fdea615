package model

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// TestClassesAreGrepsInUTF8: each POSIX class, \w, \s and their
// complements take exactly the characters GNU grep's do in C.UTF-8, over
// every code point both know: grep, given a file of one code point a line,
// is the reference.
func TestClassesAreGrepsInUTF8(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: runs without -short")
	}
	runes := newCodePoints(t)
	for _, pattern := range []string{
		`[[:alpha:]]`, `[[:alnum:]]`, `[[:upper:]]`, `[[:lower:]]`, `[[:digit:]]`, `[[:xdigit:]]`,
		`[[:space:]]`, `[[:blank:]]`, `[[:cntrl:]]`, `[[:punct:]]`, `[[:graph:]]`, `[[:print:]]`,
		`[^[:punct:]]`, `\w`, `\W`, `\s`, `\S`,
	} {
		runes.compare(t, SearchQuery{Pattern: pattern})
	}
}

// TestFoldedClassesAreGreps: under -i a bracket expression takes what
// grep -i's does, over every code point: the characters whose upper case
// is in the class written upper-cased, [:upper:] and [:lower:] read as
// [:alpha:]; not RE2's folding (the Kelvin sign with [a-z]).
func TestFoldedClassesAreGreps(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: runs without -short")
	}
	runes := newCodePoints(t)
	for _, pattern := range []string{
		`[a-z]`, `[^a-z]`, `[A-Z]`, `[0-9a-f]`, `[0-z]`, `[A-_]`, `[k]`, `[^k]`, `[iİ]`, `[ß]`, `[µ]`, `[ǅ]`,
		`[[:upper:]]`, `[[:lower:]]`, `[^[:upper:]]`, `[[:punct:]]`, `[[:digit:]k]`, `[[=k=]]`, `[[.s.]-u]`,
	} {
		runes.compare(t, SearchQuery{Pattern: pattern, IgnoreCase: true})
	}
	// grep -i upper-cases a range's ends: these run backwards then.
	for _, pattern := range []string{`[_-z]`, `[Z-a]`} {
		if _, err := (SearchQuery{Pattern: pattern, IgnoreCase: true}).Matcher(); err == nil || !strings.Contains(err.Error(), "Invalid range end") {
			t.Errorf("-i %s: %v, want grep's refusal", pattern, err)
		}
		if _, err := (SearchQuery{Pattern: pattern}).Matcher(); err != nil {
			t.Errorf("%s without -i: %v", pattern, err)
		}
	}
}

// codePoints is a file of every code point, one a line (a line number is
// the code point's plus one), and the ones both grep and Go know.
type codePoints struct {
	file  string
	known func(rune) bool
}

func newCodePoints(t *testing.T) codePoints {
	t.Helper()
	if _, err := exec.LookPath("grep"); err != nil {
		t.Fatal("grep is needed: it is the reference")
	}
	var all bytes.Buffer
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if r != '\n' && (r < 0xD800 || r > 0xDFFF) {
			all.WriteRune(r)
		}
		all.WriteByte('\n')
	}
	cp := codePoints{file: filepath.Join(t.TempDir(), "runes")}
	if err := os.WriteFile(cp.file, all.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	// Code points both know: assigned in Go's Unicode tables and in the
	// C library's (which puts each in print, cntrl or space).
	printable, cntrl, space := cp.grep(t, `[[:print:]]`, false), cp.grep(t, `[[:cntrl:]]`, false), cp.grep(t, `[[:space:]]`, false)
	// Characters whose properties changed between the Unicode versions of
	// Go's tables and Debian 12's C library (alphabetic marks, modifier
	// letters made lowercase).
	newer := map[rune]bool{0x0C04: true, 0x0F82: true, 0x0F83: true, 0x11080: true, 0x11081: true, 0x10FC: true, 0xA7F2: true, 0xA7F3: true, 0xA7F4: true, 0xAB69: true}
	cp.known = func(r rune) bool {
		// ␍ stands for a carriage return in the text searched.
		return (printable[r] || cntrl[r] || space[r]) && !newer[r] && r != '\n' && r != 0x240D &&
			unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z, unicode.C)
	}
	return cp
}

// grep returns the code points grep -x takes for pattern.
func (cp codePoints) grep(t *testing.T, pattern string, ignoreCase bool) map[rune]bool {
	t.Helper()
	args := []string{"-anxE", "-e", pattern, cp.file}
	if ignoreCase {
		args = append([]string{"-i"}, args...)
	}
	cmd := exec.Command("grep", args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	out, err := cmd.Output()
	if err != nil && cmd.ProcessState.ExitCode() != 1 {
		t.Fatalf("grep %q: %v", pattern, err)
	}
	set := map[rune]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line, _, _ := bytes.Cut(sc.Bytes(), []byte(":"))
		n, _ := strconv.Atoi(string(line))
		set[rune(n-1)] = true
	}
	return set
}

// compare checks that q, as a whole line, takes the code points grep does.
func (cp codePoints) compare(t *testing.T, q SearchQuery) {
	t.Helper()
	want := cp.grep(t, q.Pattern, q.IgnoreCase)
	whole := q
	whole.Pattern = "^" + q.Pattern + "$"
	m, err := whole.Matcher()
	if err != nil {
		t.Fatalf("%s: %v", q.Pattern, err)
	}
	var extra, missing []string
	var buf [4]byte
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !cp.known(r) {
			continue
		}
		got := m.Match(buf[:utf8.EncodeRune(buf[:], r)])
		switch {
		case got && !want[r]:
			extra = append(extra, fmt.Sprintf("%U", r))
		case !got && want[r]:
			missing = append(missing, fmt.Sprintf("%U", r))
		}
	}
	if len(extra)+len(missing) > 0 {
		t.Errorf("%s (-i %v): %d characters grep does not take (%v), %d it takes missed (%v)", q.Pattern, q.IgnoreCase, len(extra), extra[:min(len(extra), 10)], len(missing), missing[:min(len(missing), 10)])
	}
}

// TestCaseFoldingIsGreps: -i takes for each character what grep -i does,
// not Unicode's whole folding orbit (the Kelvin sign with k, ẞ with ß)
// and no less (ı with i): grep is the reference, over the characters where
// the two differ and their orbits.
func TestCaseFoldingIsGreps(t *testing.T) {
	if _, err := exec.LookPath("grep"); err != nil {
		t.Fatal("grep is needed: it is the reference")
	}
	chars := []rune("kKKåÅÅßẞθΘϑϴωΩΩiIıİſsSвВᲀσςΣµΜμǅǄǆ")
	var all bytes.Buffer
	for _, r := range chars {
		all.WriteString(string(r) + "\n")
	}
	file := filepath.Join(t.TempDir(), "chars")
	if err := os.WriteFile(file, all.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range chars {
		cmd := exec.Command("grep", "-i", "-x", "-F", "-e", string(c), file)
		cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
		out, err := cmd.Output()
		if err != nil && cmd.ProcessState.ExitCode() != 1 {
			t.Fatalf("grep -i %q: %v", string(c), err)
		}
		want := strings.ReplaceAll(string(out), "\n", "")
		for _, literal := range []bool{true, false} {
			m, err := SearchQuery{Pattern: string(c), IgnoreCase: true, Literal: literal}.Matcher()
			if err != nil {
				t.Fatal(err)
			}
			var got strings.Builder
			for _, r := range chars {
				if m.Match([]byte(string(r))) {
					got.WriteRune(r)
				}
			}
			if got.String() != want {
				t.Errorf("-i %q (literal %v) takes %q, grep -i takes %q", string(c), literal, got.String(), want)
			}
		}
	}
}
