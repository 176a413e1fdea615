package capture

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"calm/terminal"
)

// Output that is not UTF-8 (Latin-1 from a database, binary) comes back
// from the journal byte for byte; the derived text shows U+FFFD for it, and
// the journal stays an asciicast stream that players read.
func TestJournalKeepsBytesThatAreNotUTF8Exactly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j", "s1.cast")
	j, err := CreateJournal(path, terminal.Header{Width: 80, Height: 24}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	now := time.Now()
	for _, piece := range [][]byte{
		[]byte("caf\xe9 cr\xe8me\r\n"), // Latin-1
		[]byte("ok \xe6\x97"),          // a character cut between two reads...
		[]byte("\xa5 whole\r\n"),       // ...and finished
		{0x00, 0xff, 0xfe, 0x80, 'x', '\r', '\n'},
		[]byte("end \xc3"), // cut, and never finished
	} {
		want = append(want, piece...)
		if err := j.Output(piece, now); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	cast, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	out := &terminal.CastOutput{W: &got}
	out.Write(cast)
	out.Close()
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("show --raw gives %q, want %q", got.Bytes(), want)
	}
	for i, line := range bytes.Split(bytes.TrimSpace(cast), []byte("\n")) {
		if !json.Valid(line) {
			t.Fatalf("journal line %d is not JSON: %q", i+1, line)
		}
	}
	var text bytes.Buffer
	if err := terminal.DeriveText(bytes.NewReader(cast), &text); err != nil {
		t.Fatal(err)
	}
	if s := text.String(); !strings.Contains(s, "caf\uFFFD cr\uFFFDme\n") || !strings.Contains(s, "ok 日 whole\n") {
		t.Fatalf("derived text %q", s)
	}
}
