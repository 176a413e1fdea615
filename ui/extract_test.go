package ui

import (
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
