package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"calm/model"
	"calm/sanitize"
)

// grepCorpus is several chunks of shell output with every kind of line the
// planner treats apart: clean, coloured (a colour change inside a word),
// progress bars rewritten by \r, invalid UTF-8, C1 controls, OSC strings, a
// sequence cut by the line's end, tabs, empty lines, Unicode that folds, and
// lines longer than a chunk.
func grepCorpus() []byte {
	r := rand.New(rand.NewPCG(24, 24))
	var b bytes.Buffer
	words := []string{"timeout", "refund", "panic", "deadlock", "oom-killer", "segfault", "ECONNREFUSED", "status=503", "u12345", "shard-042"}
	for b.Len() < 5<<20 {
		switch r.IntN(24) {
		case 0:
			b.WriteString("\n")
		case 1:
			b.WriteString("conn\x1b[01;31mection\x1b[m reset by peer\n")
		case 2:
			if r.IntN(40) == 0 {
				b.Write(bytes.Repeat([]byte("x"), 1<<20+r.IntN(1<<20))) // across chunks
			}
			b.WriteString(" connection tail\n")
		case 3:
			b.WriteString("progress 10%\rconnection 100%\n")
		case 4:
			fmt.Fprintf(&b, "\x1b[31mERROR\x1b[0m worker-%d: connection reset by peer (retry %d of 5)\n", r.IntN(64), 1+r.IntN(5))
		case 5:
			fmt.Fprintf(&b, "{ _id: ObjectId(\"65f1%08x\"), user: \"u%d\", total: NumberLong(%d) }\n", r.Uint32(), r.IntN(1e5), r.IntN(1e6))
		case 6:
			fmt.Fprintf(&b, "drwxr-xr-x  %d root root\t%8d Nov 26 /var/lib/app/data/shard-%03d\n", 1+r.IntN(9), r.IntN(1e7), r.IntN(1000))
		case 7:
			fmt.Fprintf(&b, "\x1b[1;32m✔\x1b[0m step %d passed \x1b[2m(%d ms)\x1b[0m\n", r.IntN(1e4), r.IntN(5000))
		case 8:
			// Each in some chunks only: a chunk of valid UTF-8 is scanned
			// apart from one with bytes sanitising changes.
			switch {
			case b.Len() < 2<<20:
				b.WriteString("bad \xff\xfe bytes near connection\n")
			case b.Len() < 3<<20:
				b.WriteString("c1 \xc2\x9b31m control before connection\n")
			case b.Len() < 4<<20:
				b.WriteString("line\u2028separator \ufeffinside a \u202econnection\u202c \u2067reversed\u2069\n")
			default:
				b.WriteString("back\bspace and del\x7fete in a connection\n")
			}
		case 9:
			b.WriteString("✔ valid UTF-8 — “quotes” connection\n")
		case 10:
			b.WriteString("\x1b]0;title with connection\x07visible after the title\n")
		case 11:
			b.WriteString("cut short \x1b[31;1\n")
		case 12:
			if b.Len() < 3<<20 { // later chunks have no rune that folds to ASCII
				b.WriteString("Straße STRASSE strasse ſun SUN Café CAFÉ café σίσυφος ΣΊΣΥΦΟΣ DİYARBAKIR diyarbakır 5\u212A kelvin STRAẞE Ångström\n")
			} else {
				b.WriteString("Straße STRASSE strasse SUN Café CAFÉ café σίσυφος ΣΊΣΥΦΟΣ\n")
			}
		case 13:
			fmt.Fprintf(&b, "2026-11-26T15:%02d:%02d INFO api path=/v1/orders/%d status=%d took=%dms\n", r.IntN(60), r.IntN(60), r.IntN(1e6), []int{200, 404, 503}[r.IntN(3)], r.IntN(900))
		case 14:
			fmt.Fprintf(&b, "event: %s at line %d\n", words[r.IntN(len(words))], r.IntN(1e5))
		case 15:
			b.WriteString("wor\x1b[1mker-15: conn\x1b[0mection RESET by peer\n")
		case 16:
			b.WriteString("ESC then ESC: \x1b\x1b[31mstill text\n")
		case 17:
			// As many draws as the line it took the place of: the corpus
			// stays as it was otherwise.
			fmt.Fprintf(&b, "nbsp\u00a0and em\u2003space, ideographic\u3000space ½ ① Ⅻ ǅ €5 ٣ %d\nııı\n", r.IntN(1000))
		default:
			fmt.Fprintf(&b, "line %d connection ok\n", r.IntN(1000))
		}
	}
	b.WriteString("last connection without newline")
	return b.Bytes()
}

// grepCases are the query classes of issue 24, each as calm takes it and as
// grep takes the same query.
var grepCases = []struct {
	q    SearchQuery
	grep []string
}{
	{SearchQuery{Pattern: "connection reset", Literal: true}, []string{"-F"}},
	{SearchQuery{Pattern: "connection reset"}, []string{"-P"}},
	{SearchQuery{Pattern: "worker-15: connection", Literal: true}, []string{"-F"}},
	{SearchQuery{Pattern: `ObjectId("65f1`, Literal: true}, []string{"-F"}},
	{SearchQuery{Pattern: "CONNECTION reset", IgnoreCase: true}, []string{"-F", "-i"}},
	{SearchQuery{Pattern: "worker-15: CONNECTION", IgnoreCase: true, Literal: true}, []string{"-F", "-i"}},
	{SearchQuery{Pattern: "strasse", IgnoreCase: true}, []string{"-F", "-i"}},
	{SearchQuery{Pattern: "café", IgnoreCase: true}, []string{"-F", "-i"}},
	{SearchQuery{Pattern: "σίσυφος", IgnoreCase: true}, []string{"-F", "-i"}},
	{SearchQuery{Pattern: "sun", IgnoreCase: true}, []string{"-F", "-i"}},        // ſ is s
	{SearchQuery{Pattern: "diyarbakir", IgnoreCase: true}, []string{"-F", "-i"}}, // ı is i, as in grep
	{SearchQuery{Pattern: "ARBAKIR DIYARBAKIR", IgnoreCase: true, Literal: true}, []string{"-F", "-i"}},
	{SearchQuery{Pattern: `d.yarbak(ı|x)r$`, IgnoreCase: true}, []string{"-E", "-i"}},
	{SearchQuery{Pattern: `ı`, IgnoreCase: true}, []string{"-E", "-i"}},
	{SearchQuery{Pattern: "III", IgnoreCase: true, Literal: true}, []string{"-F", "-i"}},
	{SearchQuery{Pattern: "5k kelvin", IgnoreCase: true, Literal: true}, []string{"-F", "-i"}}, // the Kelvin sign is not k in grep
	{SearchQuery{Pattern: "5K", IgnoreCase: true}, []string{"-E", "-i"}},
	{SearchQuery{Pattern: "straße", IgnoreCase: true}, []string{"-E", "-i"}}, // nor ẞ ß
	{SearchQuery{Pattern: "ångström", IgnoreCase: true, Literal: true}, []string{"-F", "-i"}},
	{SearchQuery{Pattern: `[a-z]+str[a-zö]m`, IgnoreCase: true}, []string{"-E", "-i"}},
	{SearchQuery{Pattern: `error.*worker-1[0-9]:`, IgnoreCase: true}, []string{"-P", "-i"}},
	{SearchQuery{Pattern: `timeout|refund`}, []string{"-P"}},
	{SearchQuery{Pattern: `timeout|refund|panic|deadlock|oom-killer|segfault|ECONNREFUSED|status=503|u12345|shard-042`}, []string{"-P"}},
	{SearchQuery{Pattern: `TIMEOUT|Refund`, IgnoreCase: true}, []string{"-P", "-i"}},
	// Lists of literals (search -f ids.txt): past manyNeedles, one scan for all.
	{SearchQuery{Pattern: `worker-1: conn|worker-2: conn|worker-3: conn|shard-042|status=503|u12345|panic|deadlock|oom-killer|ECONNREFUSED|65f1a|65f1b`}, []string{"-E"}},
	{SearchQuery{Pattern: `WORKER-1: CONN|worker-2: Conn|shard-042|STATUS=503|U12345|Panic|deadlock|diyarbakir|strasse|sun|5k kelvin|65F1A`, IgnoreCase: true}, []string{"-E", "-i"}},
	{SearchQuery{Pattern: `w(orker-1|orker-2):|st(atus=503|ep 1[0-9])`}, []string{"-E"}},
	{SearchQuery{Pattern: `^drwx`}, []string{"-P"}},
	{SearchQuery{Pattern: `passed \(\d+ ms\)$`}, []string{"-P"}},
	{SearchQuery{Pattern: `^$`}, []string{"-P"}},
	{SearchQuery{Pattern: `took=\d{3}ms`}, []string{"-P"}},
	{SearchQuery{Pattern: `\bu4\d{4}\b`}, []string{"-P"}},
	{SearchQuery{Pattern: `\<u4[0-9]{4}\>`}, []string{"-E"}},
	{SearchQuery{Pattern: `r\<|\>[0-9]`}, []string{"-E"}}, // \< \> are a word's start and end, not any edge
	{SearchQuery{Pattern: `root\s+root\s+\d`}, []string{"-P"}},
	{SearchQuery{Pattern: `[Tt]imeout`}, []string{"-P"}},
	{SearchQuery{Pattern: "zebra-quokka", Literal: true}, []string{"-F"}},
	{SearchQuery{Pattern: `zebra|quokka`}, []string{"-P"}},
	{SearchQuery{Pattern: `^`}, []string{"-P"}},
	{SearchQuery{Pattern: `x*`}, []string{"-P"}},
	{SearchQuery{Pattern: `(^|x)$`}, []string{"-P"}},
	{SearchQuery{Pattern: "[31m", Literal: true}, []string{"-F"}}, // text that only an escape held
	{SearchQuery{Pattern: "still text", Literal: true}, []string{"-F"}},
	{SearchQuery{Pattern: "\uFFFD bytes", Literal: true}, []string{"-F"}},
	{SearchQuery{Pattern: "visible after"}, []string{"-F"}},
	{SearchQuery{Pattern: "separator inside", Literal: true}, []string{"-F"}},
	{SearchQuery{Pattern: "backspace and delete", Literal: true}, []string{"-F"}},
	{SearchQuery{Pattern: "control before"}, []string{"-F"}},
	{SearchQuery{Pattern: "“quotes” CONNECTION", IgnoreCase: true}, []string{"-F", "-i"}},
	// The classes beyond ASCII, as grep's UTF-8 locale has them.
	{SearchQuery{Pattern: `nbsp[[:space:]]`}, []string{"-E"}},
	{SearchQuery{Pattern: `em\sspace`}, []string{"-E"}},
	{SearchQuery{Pattern: `ideographic[[:blank:]]\S`}, []string{"-E"}},
	{SearchQuery{Pattern: `[[:punct:]]5`}, []string{"-E"}},
	{SearchQuery{Pattern: `[[:punct:]] [[:punct:]] [[:upper:]] [[:lower:]]`}, []string{"-E"}},
	{SearchQuery{Pattern: `[[:alpha:]]{2}$`}, []string{"-E"}},
	{SearchQuery{Pattern: `٣ [[:digit:]]+$`}, []string{"-E"}},
	{SearchQuery{Pattern: `\w [[:graph:]] [[:print:]]`}, []string{"-E"}},
}

// Every class of query finds exactly the lines, with exactly the numbers
// and text, that grep finds in the capture's text (each line sanitised, as
// calm shows it), and that matching line by line with the query's Matcher
// finds.
func TestSearchMatchesGrep(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: runs without -short")
	}
	if _, err := exec.LookPath("grep"); err != nil {
		t.Fatal("grep is needed: it is the reference")
	}
	db := openTestDB(t)
	corpus := grepCorpus()
	c := save(t, db, "corpus", corpus)
	var text bytes.Buffer
	lines := bytes.Split(corpus, []byte("\n"))
	for _, line := range lines {
		text.Write(sanitize.AppendSearchText(nil, line))
		text.WriteByte('\n')
	}
	file := filepath.Join(t.TempDir(), "text")
	if err := os.WriteFile(file, text.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	// The references: grep, and the query's regexp line by line.
	type reference struct{ grep, byLine []string }
	refs := make([]reference, len(grepCases))
	for i, tc := range grepCases {
		cmd := exec.Command("grep", append(append([]string{"-n"}, tc.grep...), "-e", tc.q.Pattern, file)...)
		cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
		out, err := cmd.Output()
		if err != nil && cmd.ProcessState.ExitCode() != 1 {
			t.Fatalf("grep %v %q: %v", tc.grep, tc.q.Pattern, err)
		}
		if len(out) > 0 {
			refs[i].grep = strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
		}
		re, _ := tc.q.Matcher()
		for n, line := range bytes.Split(bytes.TrimSuffix(text.Bytes(), []byte("\n")), []byte("\n")) {
			if len(line) <= MaxLine && re.Match(line) {
				refs[i].byLine = append(refs[i].byLine, strconv.Itoa(n+1)+":"+string(line))
			}
		}
	}
	// Lines that need sanitising are found either way: by the needles'
	// guards, or by a scan of every chunk; and the search lines derived
	// after seal give the same.
	waitLines(t, db, c)
	for _, mode := range []string{"guarded", "scanned", "search lines"} {
		guarded := mode == "guarded"
		guardedForTest = &guarded
		ignoreLinesForTest = mode != "search lines"
		for i, tc := range grepCases {
			name := fmt.Sprintf("%s: %s %q", mode, strings.Join(tc.grep, " "), tc.q.Pattern)
			var got []string
			err := db.Search(context.Background(), tc.q, func(m Match) error {
				if m.Item != c.ID {
					t.Fatalf("%s: match in %s", name, m.Item)
				}
				got = append(got, strconv.FormatInt(m.Line, 10)+":"+m.Text)
				return nil
			})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if d := firstDifference(got, refs[i].grep); d != "" {
				t.Errorf("%s: calm and grep differ (%d and %d lines): %s", name, len(got), len(refs[i].grep), d)
			}
			if d := firstDifference(got, refs[i].byLine); d != "" {
				t.Errorf("%s: calm and its regexp line by line differ (%d and %d lines): %s", name, len(got), len(refs[i].byLine), d)
			}
		}
	}
	guardedForTest, ignoreLinesForTest = nil, false
}

// waitLines waits until c's search lines are derived and returns its record.
func waitLines(t testing.TB, db *DB, c Capture) Capture {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		got, err := db.Capture(c.Incident + "/" + c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Lines != nil {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/%s has no search lines a minute after its seal", c.Incident, c.ID)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func firstDifference(a, b []string) string {
	for i := range max(len(a), len(b)) {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return fmt.Sprintf("#%d: %.80q vs %.80q", i, x, y)
		}
	}
	return ""
}

// Case folding is grep's (model.CaseCounterparts): the Kelvin sign is
// itself only (Unicode's folding, and Go's regexp, make it a k), ſ is an s,
// ı an i. The planner's ASCII scan must lose no line that holds a match, and
// find none that does not: in the capture's output, and in its search lines.
// Each rune is alone in its chunk: no other rune makes the scan look further.
func TestFoldedSearchFindsRunesThatFoldToASCII(t *testing.T) {
	db := openTestDB(t)
	var b bytes.Buffer
	for i := range 300_000 {
		fmt.Fprintf(&b, "filler line %d\n", i)
		switch i {
		case 1000:
			b.WriteString("\u212Aelvin in a clean neighbourhood\n")
		case 150_000:
			b.WriteString("KELVIN\n")
		case 200_000:
			b.WriteString("customer: Ahmet Yıldız, city=Diyarbakır\n")
		case 250_000:
			b.WriteString("\x1b[1mkel\x1b[0mvin\n")
		case 299_999:
			b.WriteString("ſession in a clean neighbourhood\n")
		}
	}
	c := save(t, db, "kelvin", b.Bytes())
	cases := []struct {
		q    SearchQuery
		want string
	}{
		{SearchQuery{Pattern: "kelvin", IgnoreCase: true}, "[150003 250005]"},
		{SearchQuery{Pattern: "kelvin", IgnoreCase: true, Literal: true}, "[150003 250005]"},
		{SearchQuery{Pattern: "\u212Aelvin", IgnoreCase: true}, "[1002]"},
		{SearchQuery{Pattern: "\u212Aelvin", IgnoreCase: true, Literal: true}, "[1002]"},
		{SearchQuery{Pattern: "(?:k)elvin", IgnoreCase: true}, "[150003 250005]"},
		{SearchQuery{Pattern: "session", IgnoreCase: true}, "[300005]"},
		{SearchQuery{Pattern: "SESSION", IgnoreCase: true, Literal: true}, "[300005]"},
		{SearchQuery{Pattern: "yıldız", IgnoreCase: true}, "[200004]"},
		{SearchQuery{Pattern: "Yıldız", IgnoreCase: true, Literal: true}, "[200004]"},
		{SearchQuery{Pattern: "YILDIZ", IgnoreCase: true}, "[200004]"},
		{SearchQuery{Pattern: "diyarbakir", IgnoreCase: true, Literal: true}, "[200004]"},
		{SearchQuery{Pattern: "[Yy]ıldız"}, "[200004]"},
		{SearchQuery{Pattern: `IL\pLIZ\b`, IgnoreCase: true}, "[200004]"},
	}
	check := func(where string) {
		for _, c := range cases {
			var got []int64
			if err := db.Search(context.Background(), c.q, func(m Match) error { got = append(got, m.Line); return nil }); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != c.want {
				t.Errorf("%s: %+v found lines %v, want %s", where, c.q, got, c.want)
			}
		}
	}
	check("in its output")
	waitLines(t, db, c)
	check("in its search lines")
}

// The planner's choices, where they decide what is scanned for.
func TestPlanFindsRequiredLiterals(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		fold    bool
		want    string // the needles, or "all" for every line, "" for none
	}{
		{"worker-15", false, "[worker-15]"},
		{`\d{5}ms`, false, "[ms]"},
		{`\bGET\b.*" 404 `, false, `[" 404 ]`},
		{`timeout|refund`, false, "[timeout refund]"},
		{`(?:a|b)+c`, false, "[c]"},
		{`x*`, false, "all"},
		{`^`, false, "all"},
		{`^$`, false, ""},
		{`(^|x)$`, false, ""},
		{`\w+`, false, ""},
		{`ERROR|\d+`, false, ""},
		{`error`, true, "[error]"},
		{`sss`, true, ""}, // ſ is s: no byte every spelling holds
		// A set of literals is scanned for whole: a line holds one, or
		// does not match.
		{`(?:65f1aa)|(?:65f1cc)`, false, "[65f1aa 65f1cc]"},
		{`k(ab|cd)`, false, "[kab kcd]"},
		{`a(|b)`, false, "[a ab]"},
		{`TimeOut|refund`, true, "[timeout refund]"},
		{`[Kk]elvin`, false, "[kelvin]"},
	} {
		p, err := planQuery(SearchQuery{Pattern: tc.pattern, IgnoreCase: tc.fold})
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if p.all {
			got = "all"
		} else if len(p.needle) > 0 {
			var lits []string
			for _, n := range p.needle {
				lits = append(lits, string(n.lit))
			}
			got = "[" + strings.Join(lits, " ") + "]"
		}
		if got != tc.want {
			t.Errorf("%q (fold %v): needles %s, want %s", tc.pattern, tc.fold, got, tc.want)
		}
	}
}

// The escape stripping that spares coloured lines a sanitising pass must
// give exactly the sanitised text of every line it calls clean.
func TestStrippedCleanLinesAreTheirSanitisedText(t *testing.T) {
	corpus := grepCorpus()
	corpus = corpus[:bytes.LastIndexByte(corpus, '\n')+1]
	var s stripped
	s.strip(corpus)
	raw := bytes.Split(corpus, []byte("\n"))
	got := bytes.Split(s.text, []byte("\n"))
	if len(raw) != len(got) {
		t.Fatalf("%d lines stripped, %d raw", len(got), len(raw))
	}
	start := 0
	for i := range got {
		end := start + len(got[i])
		if r := s.raw(corpus, start, end); !bytes.Equal(r, raw[i]) && !bytes.Equal(sanitize.AppendSearchText(nil, r), sanitize.AppendSearchText(nil, raw[i])) {
			t.Fatalf("line %d maps back to %q, not %q", i+1, r, raw[i])
		}
		if clean(got[i]) {
			if want := sanitize.AppendSearchText(nil, raw[i]); !bytes.Equal(got[i], want) {
				t.Fatalf("line %d stripped to %q, sanitised %q", i+1, got[i], want)
			}
		}
		if clean(got[i]) != sanitize.Clean(got[i]) {
			t.Fatalf("line %d: clean %v, sanitize.Clean %v", i+1, clean(got[i]), sanitize.Clean(got[i]))
		}
		start = end + 1
	}
}

// The word-at-a-time scans agree with the byte-at-a-time definitions on
// every byte value, at every alignment.
func TestWordScansAgreeWithBytes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20_000 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = byte(0x20 + r.IntN(0x5f)) // printable
			if r.IntN(8) == 0 {
				b[i] = byte(r.IntN(256))
			}
		}
		pos := 0
		if len(b) > 0 {
			pos = r.IntN(len(b))
		}
		for _, high := range []bool{false, true} {
			want := len(b)
			for i := pos; i < len(b); i++ {
				if c := b[i]; (c < 0x20 && c != '\t' && c != '\n') || c == 0x7f || (high && c >= 0x80) {
					want = i
					break
				}
			}
			if got := nextControl(b, pos, high); got != want {
				t.Fatalf("nextControl(%q, %d, %v) = %d, want %d", b, pos, high, got, want)
			}
		}
		line := bytes.ReplaceAll(b, []byte("\n"), []byte(" "))
		if clean(line) != sanitize.Clean(line) {
			t.Fatalf("clean(%q) = %v", line, clean(line))
		}
	}
}

// A worker that takes a chunk without escapes and then one with them must
// not strip the second into the first's memory, which the search still
// reads (the line it ends) or another worker already decodes into.
func TestChunksWithAndWithoutEscapesAlternate(t *testing.T) {
	db := openTestDB(t)
	var b bytes.Buffer
	var want []string
	line := 0
	for k := 0; b.Len() < 12<<20; k++ {
		for b.Len() < (k+1)<<20 {
			line++
			if k%2 == 0 {
				fmt.Fprintf(&b, "plain line %d with a needle at its end\n", line)
				want = append(want, fmt.Sprintf("%d:plain line %d with a needle at its end", line, line))
			} else {
				fmt.Fprintf(&b, "\x1b[1mcoloured\x1b[0m line %d with a nee\x1b[31mdle\n", line)
				want = append(want, fmt.Sprintf("%d:coloured line %d with a needle", line, line))
			}
		}
	}
	save(t, db, "alternating", b.Bytes())
	for _, guarded := range []bool{true, false} {
		guardedForTest = &guarded
		var got []string
		if err := db.Search(context.Background(), SearchQuery{Pattern: "needle", Literal: true}, func(m Match) error {
			got = append(got, strconv.FormatInt(m.Line, 10)+":"+m.Text)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if d := firstDifference(got, want); d != "" {
			t.Errorf("guarded %v: %d lines found, want %d: %s", guarded, len(got), len(want), d)
		}
	}
	guardedForTest = nil
}

// Whatever a line holds, the text the scan takes for it without sanitising
// (escapes stripped, then a printable line or a progress bar's last
// rewrite) is exactly its sanitised text.
func TestTextKnownWithoutSanitisingIsTheSanitisedText(t *testing.T) {
	pieces := []string{"a", "b", " ", "\t", "\x1b", "[", "3", "1", "m", ";", "\r", "\x7f", "\x07", "]", "\\",
		"\xc2", "\x9b", "\xc2\x9b", "é", "✔", "\u2028", "\ufeff", "\u202e", "\u2066", "\u2069", "\xff", "\xe2\x9c", "\x1b[0m", "\x1b[31;1m", "\x1b]0;t\x07"}
	r := rand.New(rand.NewPCG(3, 4))
	var chunk bytes.Buffer
	var lines [][]byte
	for range 50_000 {
		var line []byte
		for range r.IntN(12) {
			line = append(line, pieces[r.IntN(len(pieces))]...)
		}
		lines = append(lines, line)
		chunk.Write(line)
		chunk.WriteByte('\n')
	}
	var s stripped
	s.strip(chunk.Bytes())
	start, known := 0, 0
	for i, line := range lines {
		end := bytes.IndexByte(s.text[start:], '\n') + start
		want := sanitize.AppendSearchText(nil, line)
		if got := sanitize.AppendSearchText(nil, s.raw(chunk.Bytes(), start, end)); !bytes.Equal(got, want) {
			t.Fatalf("line %d %q maps back to a line sanitised to %q, not %q", i, line, got, want)
		}
		if text, ok := textOf(s.text[start:end], s.endsRaw(end)); ok {
			known++
			if !bytes.Equal(text, want) {
				t.Fatalf("line %q: text %q taken without sanitising, sanitised %q", line, text, want)
			}
		}
		start = end + 1
	}
	if known < len(lines)/10 {
		t.Fatalf("only %d of %d lines known without sanitising: the test lost its point", known, len(lines))
	}
}

// TestSearchPerCaptureStopsEachCaptureAsGrepMDoes: PerCapture gives the
// first lines of each capture, as grep -m does per file, and Limit still
// bounds the whole.
func TestSearchPerCaptureStopsEachCaptureAsGrepMDoes(t *testing.T) {
	db := openTestDB(t)
	var text strings.Builder
	for i := 1; i <= 5000; i++ {
		fmt.Fprintf(&text, "line %d %s\n", i, map[bool]string{true: "hit", false: "miss"}[i%3 == 0])
	}
	for _, title := range []string{"one", "two", "three"} {
		save(t, db, title, []byte(text.String()))
	}
	var got []string
	err := db.Search(context.Background(), SearchQuery{Pattern: "hit", Literal: true, PerCapture: 2}, func(m Match) error {
		got = append(got, fmt.Sprintf("%s:%d", m.Item, m.Line))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "c1:3 c1:6 c2:3 c2:6 c3:3 c3:6"; strings.Join(got, " ") != want {
		t.Fatalf("per capture 2: %v, want %s", got, want)
	}
	got = nil
	db.Search(context.Background(), SearchQuery{Pattern: "hit", Literal: true, PerCapture: 2, Limit: 3}, func(m Match) error {
		got = append(got, fmt.Sprintf("%s:%d", m.Item, m.Line))
		return nil
	})
	if want := "c1:3 c1:6 c2:3"; strings.Join(got, " ") != want {
		t.Fatalf("per capture 2, limit 3: %v, want %s", got, want)
	}
}

// TestSearchStopsWhenItsContextEnds: the agent searches for a client until
// the client hangs up (its request's context), not to the end of the store.
func TestSearchStopsWhenItsContextEnds(t *testing.T) {
	db := openTestDB(t)
	var text strings.Builder
	for i := range 300_000 { // several chunks a capture
		fmt.Fprintf(&text, "line %d token\n", i)
	}
	for i := range 3 {
		save(t, db, fmt.Sprintf("capture %d", i), []byte(text.String()))
	}
	ctx, cancel := context.WithCancel(context.Background())
	seen := map[string]int{}
	err := db.Search(ctx, SearchQuery{Pattern: "token", Literal: true}, func(m Match) error {
		seen[m.Item]++
		if seen[m.Item] == 1 && m.Item == "c1" {
			cancel() // the client hangs up after its first line
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("search after its context ended: %v, want context.Canceled", err)
	}
	if seen["c2"] > 0 || seen["c3"] > 0 {
		t.Fatalf("search went on into later captures after the hang-up: %v", seen)
	}
	// And one that is never started does nothing.
	if err := db.Search(ctx, SearchQuery{Pattern: "token", Literal: true}, func(Match) error {
		t.Fatal("a search with an ended context found a line")
		return nil
	}); !errors.Is(err, context.Canceled) {
		t.Fatalf("search with an ended context: %v", err)
	}
}

// TestVerifyStopsWhenItsContextEnds: the same for reading copies back.
func TestVerifyStopsWhenItsContextEnds(t *testing.T) {
	db := openTestDB(t)
	save(t, db, "one", []byte("a\n"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := db.Verify(ctx, ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("verify with an ended context: %v", err)
	}
	if rep, err := db.Verify(context.Background(), ""); err != nil || rep.Captures != 1 {
		t.Fatalf("verify: %+v, %v", rep, err)
	}
}

// endsAfter is a context that has ended once it was asked that n times.
type endsAfter struct {
	context.Context
	left atomic.Int64
}

func (c *endsAfter) Err() error {
	if c.left.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

// TestVerifyStopsInsideACapture: a capture's copies stop being read back
// once the context ends, in the middle of them, and nothing of that half
// reading is recorded.
func TestVerifyStopsInsideACapture(t *testing.T) {
	db := openTestDB(t)
	c := save(t, db, "long", bytes.Repeat([]byte("a line of a long capture\n"), 400_000)) // ten chunks
	verifies := func() int {
		events, err := db.Events(c.Incident)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, ev := range events {
			if ev.Kind == EventVerify {
				n++
			}
		}
		return n
	}
	before := verifies()
	ctx := &endsAfter{Context: context.Background()}
	ctx.left.Store(3) // the check before the capture, then a chunk or a MiB of each copy
	if _, err := db.Verify(ctx, ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("verify whose context ended inside a capture: %v", err)
	}
	if got := verifies(); got != before {
		t.Fatalf("a verify stopped halfway recorded %d results", got-before)
	}
	if rep, err := db.Verify(context.Background(), ""); err != nil || rep.Captures != 1 || len(rep.Problems) != 0 || verifies() != before+1 {
		t.Fatalf("verify after it: %+v, %v", rep, err)
	}
}

// TestReadsStopWhenTheirContextEnds: a capture's bytes and a session's
// text stop between two writes once the reader's context ends; the agent
// reads them under the request's, so a viewer that moved on or quit stops
// the agent reading for it.
func TestReadsStopWhenTheirContextEnds(t *testing.T) {
	db := openTestDB(t)
	data := []byte(strings.Repeat("a line of a long capture\n", 200_000)) // several chunks
	c := save(t, db, "long", data)
	ref := c.Incident + "/" + c.ID
	for name, read := range map[string]func(ctx context.Context, w io.Writer) error{
		"WriteContent": func(ctx context.Context, w io.Writer) error { return db.WriteContent(ctx, ref, 0, w) },
		"WriteText":    func(ctx context.Context, w io.Writer) error { return db.WriteText(ctx, ref, w) },
	} {
		ctx, cancel := context.WithCancel(context.Background())
		writes := 0
		err := read(ctx, writerFunc(func(p []byte) (int, error) {
			writes++
			cancel() // the reader goes after the first write
			return len(p), nil
		}))
		if !errors.Is(err, context.Canceled) || writes != 1 {
			t.Fatalf("%s after its context ended: %v after %d writes, want context.Canceled after 1", name, err, writes)
		}
		var all bytes.Buffer
		if err := read(context.Background(), &all); err != nil || !bytes.Equal(all.Bytes(), data) {
			t.Fatalf("%s: %d bytes, %v; want all %d", name, all.Len(), err, len(data))
		}
	}
}

// TestSearchStopsEarlyWithTheFirstHits: -m and -l searches read a capture
// a chunk at a time at first, and a chunk keeps only as many hits as the
// caller takes; the hits are still the first ones, in order, whether they
// sit in one chunk or are spread over several, in search lines or output.
func TestSearchStopsEarlyWithTheFirstHits(t *testing.T) {
	for _, view := range []string{"search lines", "output"} {
		t.Run(view, func(t *testing.T) {
			if view == "output" {
				searchOutputOnly(t)
			}
			db := openTestDB(t)
			var text strings.Builder
			var want []string
			for i := 1; i <= 160_000; i++ { // 4.6 MiB: five chunks
				hit := i == 3 || (i > 40_000 && i%9_000 == 0) || (i > 150_000 && i%7 == 0)
				fmt.Fprintf(&text, "line %06d %s\n", i, map[bool]string{true: "needle", false: "hay"}[hit])
				if hit {
					want = append(want, fmt.Sprintf("c1:%d", i))
				}
			}
			c := save(t, db, "spread", []byte(text.String()))
			if view == "search lines" {
				waitLines(t, db, c)
			}
			for _, limit := range []int{1, 2, 5, 14, 40} {
				for _, perCapture := range []bool{false, true} {
					q := SearchQuery{Pattern: "needle", Literal: true, Limit: limit}
					if perCapture {
						q = SearchQuery{Pattern: "needle", Literal: true, PerCapture: limit}
					}
					var got []string
					if err := db.Search(context.Background(), q, func(m Match) error {
						got = append(got, fmt.Sprintf("%s:%d", m.Item, m.Line))
						return nil
					}); err != nil {
						t.Fatal(err)
					}
					if strings.Join(got, " ") != strings.Join(want[:limit], " ") {
						t.Fatalf("%+v: %v, want %v", q, got, want[:limit])
					}
				}
			}
		})
	}
}

// TestSearchLetsGoOfTheStore: a search decodes each chunk straight from the
// store's map, in a read transaction of its own. Every one ends with its
// chunk, a search that stops at its first line (-l) or is cancelled
// included, and a writer that grows the file (bbolt maps it again, which
// waits for every read transaction) goes on while searches run.
func TestSearchLetsGoOfTheStore(t *testing.T) {
	db := openTestDB(t)
	var text strings.Builder
	for i := range 300_000 { // several chunks
		fmt.Fprintf(&text, "line %d token\n", i)
	}
	save(t, db, "first", []byte(text.String()))
	openTxs := func() int { return db.bolt.Stats().OpenTxN }
	settled := func(what string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); openTxs() > 0; {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d read transactions still open", what, openTxs())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	count := func(ctx context.Context, q SearchQuery) (int, error) {
		n := 0
		err := db.Search(ctx, q, func(Match) error { n++; return nil })
		return n, err
	}
	if n, err := count(context.Background(), SearchQuery{Pattern: "token", Literal: true}); err != nil || n != 300_000 {
		t.Fatalf("search: %d lines, %v; want 300000", n, err)
	}
	settled("a whole search")
	if n, err := count(context.Background(), SearchQuery{Pattern: "token", Literal: true, Limit: 1}); err != nil || n != 1 {
		t.Fatalf("search -m 1: %d lines, %v", n, err)
	}
	settled("a search stopped at its first line")
	ctx, cancel := context.WithCancel(context.Background())
	_ = db.Search(ctx, SearchQuery{Pattern: "token", Literal: true}, func(Match) error { cancel(); return nil })
	settled("a cancelled search")

	// Searches in a loop while another capture grows the file by several
	// times its size: neither waits for the other for good.
	done := make(chan error, 1)
	go func() {
		w, err := model.NewCaptureWriter(db, "", NewCapture{Title: "second", Source: "test"})
		if err != nil {
			done <- err
			return
		}
		rnd := rand.New(rand.NewPCG(1, 2))
		block := make([]byte, 256<<10) // random: S2 leaves it as it is
		for range 64 {
			for i := range block {
				block[i] = byte(rnd.Uint32())
			}
			if _, err := w.Write(block); err != nil {
				done <- err
				return
			}
		}
		_, err = w.Close()
		done <- err
	}()
	for searching := true; searching; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			searching = false
		case <-time.After(time.Minute):
			t.Fatal("the writer did not finish while searches ran: a read transaction held it")
		default:
			if n, err := count(context.Background(), SearchQuery{Pattern: "line 299999 token", Literal: true}); err != nil || n != 1 {
				t.Fatalf("search while the store grows: %d lines, %v", n, err)
			}
		}
	}
	settled("searches while the store grew")
}
