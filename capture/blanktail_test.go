package capture

import (
	"bytes"
	"strings"
	"testing"
)

// TestBlankTailDropsOnlyTheEmptyRowsAtTheEnd writes each case cut at every
// place: empty rows between rows with something on them stay, however the
// writes fall.
func TestBlankTailDropsOnlyTheEmptyRowsAtTheEnd(t *testing.T) {
	for in, want := range map[string]string{
		"a\nb\n\n\n":                         "a\nb\n",
		"a\n\n\nb\n":                         "a\n\n\nb\n",
		"a\n\n\nb\n\n":                       "a\n\n\nb\n",
		"\n\n\n":                             "\n",
		"a":                                  "a",
		"":                                   "",
		"\x1b[31mr\x1b[0m\n\n":               "\x1b[31mr\x1b[0m\n",
		strings.Repeat("\n", 5000) + "x\n\n": strings.Repeat("\n", 5000) + "x\n",
	} {
		for cut := 0; cut <= len(in); cut += max(1, len(in)/50) {
			var out bytes.Buffer
			tail := NewBlankTail(&out)
			tail.Write([]byte(in[:cut]))
			tail.Write([]byte(in[cut:]))
			tail.Close()
			if out.String() != want {
				t.Fatalf("%q cut at %d: %q, want %q", in, cut, out.String(), want)
			}
		}
	}
}
