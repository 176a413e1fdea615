package ui

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

// mongoTranscript is what a responder's scrollback looks like: a prompt, a
// find() printing a document in the legacy shell's style, an update that
// replaced it, and prose with stray brackets and apostrophes around.
const mongoTranscript = `rs0:PRIMARY> db.users.find({email: "ada@example.com"}).pretty()
{
	"_id" : ObjectId("5f1d7a3e9b1e8a3c4d2f0a11"),
	"email" : "ada@example.com",
	"name" : "Ada {the first}",
	"roles" : [
		"admin",
		"billing]"
	],
	"created" : ISODate("2020-07-26T10:12:14.512Z"),
	"logins" : NumberLong(1234567890123),
	"prefs" : {
		"theme" : "dark",
		"note" : "it's \"fine\""
	}
}
rs0:PRIMARY> db.users.replaceOne({email: "ada@example.com"}, {email: "ada@example.com"})
{ "acknowledged" : true, "matchedCount" : 1, "modifiedCount" : 1 }
rs0:PRIMARY> oops, that's not what I meant {
`

func lines(text string) (func(int) []byte, int) {
	ls := strings.Split(text, "\n")
	return func(i int) []byte { return []byte(ls[i]) }, len(ls)
}

func TestExtractFindsTheMongoDocumentAroundAnyOfItsLines(t *testing.T) {
	line, n := lines(mongoTranscript)
	want := mongoTranscript[strings.Index(mongoTranscript, "{\n\t\"_id\"") : strings.Index(mongoTranscript, "\n}\n")+2]
	for _, cursor := range []int{1, 2, 6, 7, 12, 14, 15} {
		b, ok := Extract(line, n, cursor, 0)
		if !ok {
			t.Fatalf("line %d: no block", cursor)
		}
		if got := string(BlockText(line, b)); got != want {
			t.Fatalf("line %d: extracted\n%s\nwant\n%s", cursor, got, want)
		}
	}
}

func TestExtractGoesOneLevelDeeperOnRequest(t *testing.T) {
	line, n := lines(mongoTranscript)
	b, ok := Extract(line, n, 12, 1)
	if !ok {
		t.Fatal("no inner block")
	}
	if got := string(BlockText(line, b)); got != "{\n\t\t\"theme\" : \"dark\",\n\t\t\"note\" : \"it's \\\"fine\\\"\"\n\t}" {
		t.Fatalf("inner block %q", got)
	}
	if _, ok := Extract(line, n, 12, 2); ok {
		t.Fatal("found a third level that does not exist")
	}
	// One level in is inside the block found, never the one beside it.
	line, n = lines(`{"a": {"x": 1}, "b": {"y": 2}}`)
	for depth, want := range []string{`{"a": {"x": 1}, "b": {"y": 2}}`, `{"x": 1}`} {
		if b, ok := Extract(line, n, 0, depth); !ok || string(BlockText(line, b)) != want {
			t.Fatalf("depth %d: %q, want %q", depth, BlockText(line, b), want)
		}
	}
	if b, ok := Extract(line, n, 0, 2); ok {
		t.Fatalf("depth 2 gave the block beside the last one: %q", BlockText(line, b))
	}
}

func TestExtractOnOneLineDocumentsAndPrompts(t *testing.T) {
	line, n := lines(mongoTranscript)
	// The prompt line: its first block is the query filter.
	b, _ := Extract(line, n, 0, 0)
	if got := string(BlockText(line, b)); got != `{email: "ada@example.com"}` {
		t.Fatalf("prompt line gave %q", got)
	}
	b, _ = Extract(line, n, 17, 0)
	if got := string(BlockText(line, b)); !strings.HasPrefix(got, `{ "acknowledged"`) || !strings.HasSuffix(got, "1 }") {
		t.Fatalf("result line gave %q", got)
	}
	// A stray opener that never closes yields nothing rather than garbage.
	if _, ok := Extract(line, n, 18, 0); ok {
		t.Fatal("extracted a block from an unclosed brace")
	}
}

// FuzzExtract checks that whatever the text, extraction never panics and
// what it returns starts and ends with matching brackets and is balanced.
func FuzzExtract(f *testing.F) {
	f.Add(mongoTranscript, 5, 0)
	f.Add("[{]}\n'{'\n\"[\"\n{\\}", 1, 1)
	f.Fuzz(func(t *testing.T, text string, cursor, depth int) {
		line, n := lines(text)
		if depth < 0 || depth > 5 {
			depth = 0
		}
		b, ok := Extract(line, n, cursor, depth)
		if rb, rok := extractQuadratic(line, n, cursor, depth); rb != b || rok != ok {
			t.Fatalf("extract gave %+v %v, the reference %+v %v", b, ok, rb, rok)
		}
		if !ok {
			return
		}
		got := BlockText(line, b)
		if len(got) < 2 || !matches(got[0], got[len(got)-1]) {
			t.Fatalf("block %q does not start and end with a matching pair", got)
		}
		depthNow, inner := 0, false
		for _, l := range strings.Split(string(got), "\n") {
			scanBrackets([]byte(l), func(_ int, ch byte) {
				if ch == '{' || ch == '[' {
					depthNow++
				} else if depthNow > 0 {
					depthNow--
				}
				inner = true
			})
		}
		if inner && depthNow != 0 {
			t.Fatalf("block %q is not balanced (%d open)", got, depthNow)
		}
	})
}

// extractQuadratic is the extractor as it was, a closer search from every
// candidate: the reference the linear one must agree with.
func extractQuadratic(line func(i int) []byte, n, cursor, depth int) (Block, bool) {
	if cursor < 0 || cursor >= n {
		return Block{}, false
	}
	type open struct {
		line, col int
		ch        byte
	}
	var stack []open
	var candidates []open // blocks open at the start of the cursor line, outermost first, then those opened on it
	from := max(cursor-extractBack, 0)
	for i := from; i <= cursor; i++ {
		if i == cursor {
			candidates = append(candidates, stack...)
		}
		scanBrackets(line(i), func(col int, ch byte) {
			if ch == '{' || ch == '[' {
				stack = append(stack, open{i, col, ch})
				if i == cursor {
					candidates = append(candidates, open{i, col, ch})
				}
				return
			}
			if k := len(stack) - 1; k >= 0 && matches(stack[k].ch, ch) {
				stack = stack[:k]
			} else if k >= 0 {
				// A mismatched closer: drop back to the opener it closes, if any.
				for j := k; j >= 0; j-- {
					if matches(stack[j].ch, ch) {
						stack = stack[:j]
						break
					}
				}
			}
		})
	}
	// Find each candidate's closer by parsing on from it.
	found := 0
	var last *Block
	for _, c := range candidates {
		end, endCol, ok := closeOfQuadratic(line, n, c.line, c.col)
		if !ok {
			continue
		}
		if end < cursor {
			continue // closed before the cursor line: not around it
		}
		if last != nil && (c.line > last.EndLine || c.line == last.EndLine && c.col > last.EndCol) {
			continue // beside the last level's block, not inside it
		}
		last = &Block{EndLine: end, EndCol: endCol}
		if found == depth {
			return Block{StartLine: c.line, StartCol: c.col, EndLine: end, EndCol: endCol, Depth: depth}, true
		}
		found++
	}
	return Block{}, false
}

// closeOfQuadratic finds the bracket that closes the one at (l, col).
func closeOfQuadratic(line func(i int) []byte, n, l, col int) (int, int, bool) {
	var stack []byte
	endLine, endCol := -1, -1
	for i := l; i < n && i <= l+extractForward && endLine < 0; i++ {
		text := line(i)
		start := 0
		if i == l {
			start = col
		}
		scanBrackets(text[start:], func(c int, ch byte) {
			if endLine >= 0 {
				return
			}
			if ch == '{' || ch == '[' {
				stack = append(stack, ch)
				return
			}
			k := len(stack) - 1
			if k < 0 || !matches(stack[k], ch) {
				return // stray closer inside: ignore it
			}
			stack = stack[:k]
			if len(stack) == 0 {
				endLine, endCol = i, start+c
			}
		})
	}
	return endLine, endCol, endLine >= 0
}

// TestExtractOnAHugeLineOfBrackets: lines of 200k brackets (a minified
// document, or an attack) give the right answer; the benchmark below shows
// the time is linear.
func TestExtractOnAHugeLineOfBrackets(t *testing.T) {
	const k = 100000
	cases := []struct {
		text        string
		depth       int
		ok          bool
		start, stop int
	}{
		{strings.Repeat("{", 2*k), 0, false, 0, 0},
		{strings.Repeat("{", k) + strings.Repeat("}", k), 0, true, 0, 2*k - 1},
		{strings.Repeat("{", k) + strings.Repeat("}", k), 5, true, 5, 2*k - 6},
		{strings.Repeat("{", k) + strings.Repeat("]", k), 0, false, 0, 0},
		{"x " + strings.Repeat("[{", k/2) + strings.Repeat("}]", k/2) + " y", 0, true, 2, 2 + 2*k - 1},
	}
	for i, c := range cases {
		line, n := lines(c.text)
		b, ok := Extract(line, n, 0, c.depth)
		if ok != c.ok || ok && (b.StartCol != c.start || b.EndCol != c.stop || b.StartLine != 0 || b.EndLine != 0) {
			t.Fatalf("case %d: %+v %v", i, b, ok)
		}
	}
}

// TestExtractAgreesWithTheReference on random bracket soup over a few lines.
func TestExtractAgreesWithTheReference(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	alphabet := []string{"{", "}", "[", "]", "\n", "\"", "'", "a", " ", "\\"}
	for range 3000 {
		var b strings.Builder
		for range rng.Intn(60) {
			b.WriteString(alphabet[rng.Intn(len(alphabet))])
		}
		line, n := lines(b.String())
		for cursor := range n {
			for depth := range 3 {
				got, ok := Extract(line, n, cursor, depth)
				want, wok := extractQuadratic(line, n, cursor, depth)
				if got != want || ok != wok {
					t.Fatalf("%q line %d depth %d: %+v %v, reference %+v %v", b.String(), cursor, depth, got, ok, want, wok)
				}
			}
		}
	}
}

func BenchmarkExtractHugeLine(b *testing.B) {
	for _, size := range []int{20000, 200000} {
		line, n := lines(strings.Repeat("{", size))
		b.Run(fmt.Sprintf("linear-%d", size), func(b *testing.B) {
			for b.Loop() {
				Extract(line, n, 0, 0)
			}
		})
	}
	// The quadratic reference, on the smaller line only: the baseline.
	line, n := lines(strings.Repeat("{", 20000))
	b.Run("reference-20000", func(b *testing.B) {
		for b.Loop() {
			extractQuadratic(line, n, 0, 0)
		}
	})
}

// TestExtractPastAnApostropheOrAShellsQuotes: a quote before the document on
// its line began a string that hid every bracket after it (fresh-eyes
// finding): prose's apostrophe, and echo's quotes around what it prints.
func TestExtractPastAnApostropheOrAShellsQuotes(t *testing.T) {
	for _, c := range []struct{ line, want string }{
		{`Don't panic: { _id: 9, name: 'Zed', addr: { city: 'Galway' } }`, `{ _id: 9, name: 'Zed', addr: { city: 'Galway' } }`},
		{`$ echo '[{"_id":{"$oid":"65f1bb"},"name":"Dave"}]'`, `[{"_id":{"$oid":"65f1bb"},"name":"Dave"}]`},
		{`it's here: {"payload": "{\"a\":1}", "n": 2}`, `{"payload": "{\"a\":1}", "n": 2}`}, // a string that holds JSON is still a string
		{`{ name: "O'Brien", note: 'it\'s fine', x: "a}b" }`, `{ name: "O'Brien", note: 'it\'s fine', x: "a}b" }`},
	} {
		line, n := lines(c.line)
		b, ok := Extract(line, n, 0, 0)
		if got := string(BlockText(line, b)); !ok || got != c.want {
			t.Errorf("%s: got %q (%v), want %q", c.line, got, ok, c.want)
		}
	}
}
