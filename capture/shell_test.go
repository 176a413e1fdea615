package capture

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestCommandLineReadsBackAsItsWords: a session's title is its command as
// a shell reads it back, word for word, and plain words stay unquoted.
func TestCommandLineReadsBackAsItsWords(t *testing.T) {
	for _, argv := range [][]string{
		{"sh", "-c", "echo inner; exit 3"},
		{"mongosh", "--eval", `db.orders.find({_id: ObjectId("65f1")})`},
		{"printf", `it's $HOME\n`, ""},
		{"cat", "/var/log/app.log"},
	} {
		line := commandLine(argv)
		got, err := exec.Command("sh", "-c", "printf '%s\\0' "+line).Output()
		if err != nil {
			t.Fatal(err)
		}
		words := strings.Split(strings.TrimSuffix(string(got), "\x00"), "\x00")
		if !slices.Equal(words, argv) {
			t.Errorf("%q: a shell reads %q back as %q", argv, line, words)
		}
	}
	if got := commandLine([]string{"cat", "/var/log/app.log"}); got != "cat /var/log/app.log" {
		t.Errorf("plain words: %q, want them unquoted", got)
	}
}
