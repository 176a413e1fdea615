package terminal

import (
	"bytes"
	"testing"
)

// CastOutput gives back a session's output: the header is no output, a "b"
// event's exact bytes stand for the "o" event after it, input, resizes and
// damage carry none, and an event cut by a kill keeps what it held. A
// journal's tail, without its header, gives back its output as well.
func TestCastOutputGivesBackTheOutput(t *testing.T) {
	header := `{"version": 2, "width": 80, "height": 24}` + "\n"
	events := `[0.1, "o", "one\r\n"]` + "\n" +
		`[0.2, "i", "typed"]` + "\n" +
		`[0.3, "r", "100x30"]` + "\n" +
		`[0.3, "o", "kil` + "\n" + // cut by a kill, the shown output after it
		`not an event` + "\n" +
		`[0.4, "b", "/w=="]` + "\n" + // 0xff: not UTF-8
		`[0.4, "o", "\ufffd"]` + "\n" +
		`[0.5, "o", "cut \u001b[3`
	want := "one\r\nkil\xffcut \x1b[3"
	for _, tc := range []struct {
		name   string
		stream string
	}{
		{"a whole session", header + events},
		{"a journal's tail", events},
	} {
		for _, piece := range []int{1, 7, len(tc.stream)} {
			var got bytes.Buffer
			c := CastOutput{W: &got}
			for p := []byte(tc.stream); len(p) > 0; p = p[min(piece, len(p)):] {
				if _, err := c.Write(p[:min(piece, len(p))]); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if got.String() != want {
				t.Errorf("%s in pieces of %d: %q, want %q", tc.name, piece, got.String(), want)
			}
		}
	}
}
