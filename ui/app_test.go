package ui

import (
	"strings"
	"testing"

	"github.com/gdamore/tcell/v2"
)

func TestExtractAndYankAMongoDocumentFromATranscript(t *testing.T) {
	db := openStore(t)
	saveCapture(t, db, "mongo find", mongoTranscript)
	h := start(t, db, 160, 40, Options{})
	h.waitFor("mongo find")
	h.press("1", tcell.KeyEnter)
	h.waitFor(`"_id" : ObjectId("5f1d7a3e9b1e8a3c4d2f0a11")`)
	h.press("/", "5f1d7a3e", tcell.KeyEnter)
	h.waitFor("line 3")
	h.press("x")
	h.waitFor("block: lines 2–16")
	h.press("y")
	h.waitFor("copied (test clipboard)")
	want := mongoTranscript[strings.Index(mongoTranscript, "{\n\t\"_id\"") : strings.Index(mongoTranscript, "\n}\n")+2]
	if got := h.clip.last(); got != want {
		t.Fatalf("yanked\n%s\nwant\n%s", got, want)
	}
}
