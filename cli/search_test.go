package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestSearchAnswersAsGrepDoes: calm search with grep's flags gives, byte
// for byte, what grep -H -n gives on files named as the captures and
// holding the same text.
func TestSearchAnswersAsGrepDoes(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok(nil, "incident", "new", "other") // its capture must not be searched
	w.ok([]byte("error elsewhere\n"), "tee", "-q", "elsewhere")
	w.ok(nil, "incident", "new", "grep")
	texts := []string{
		"error: disk full on db1\nok db\nwarn mydb is slow\nERROR two\ndb.users updated\n\nlast error\nthe a.b file\naxb\nline ten\nline eleven error\n",
		"nothing here\nerror here\nDB_x db-y\n",
		"quiet\ncalm\n",
	}
	dir := t.TempDir()
	inc := strings.Fields(w.ok(nil, "status"))[1]
	os.Mkdir(filepath.Join(dir, inc), 0o700)
	var files []string
	for i, text := range texts {
		w.ok([]byte(text), "tee", "-q", "t")
		name := filepath.Join(inc, "c"+string(rune('1'+i)))
		os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600)
		files = append(files, name)
	}
	for _, args := range [][]string{
		{"error"},
		{"-i", "error"},
		{"-w", "db"},
		{"-w", "-i", "DB"},
		{"-F", "a.b"},
		{"a.b"},
		{"-F", "-w", "db-y"},
		{"-v", "e"},
		{"-v", "-c", "error"},
		{"-c", "error"},
		{"-l", "db"},
		{"-l", "-v", "quiet"},
		{"-m", "2", "error"},
		{"-m", "0", "error"},
		{"-A", "1", "error"},
		{"-B", "2", "error"},
		{"-C", "1", "error"},
		{"-C", "1", "-A", "0", "error"},
		{"-m", "1", "-A", "2", "error"},
		{"-v", "-C", "1", "[a-z]"},
		{"-c", "-m", "1", "e"},
		{"-c", "-l", "db"},
		{"-iw", "error|ok"},
		{"^$"},
	} {
		grepArgs := append([]string{"-H", "-n"}, args[:len(args)-1]...)
		if !strings.Contains(strings.Join(args, " "), "-F") {
			grepArgs = append(grepArgs, "-E")
		}
		grepArgs = append(grepArgs, "--", args[len(args)-1])
		grep := exec.Command("grep", append(grepArgs, files...)...)
		grep.Dir = dir
		var want bytes.Buffer
		grep.Stdout = &want
		grep.Run()
		grepCode := grep.ProcessState.ExitCode()
		got, errs, code := w.run(nil, append([]string{"search", "--incident", inc}, args...)...)
		if got != want.String() || code != grepCode {
			t.Errorf("calm search %v: exit %d, stderr %q, gave\n%s\ngrep gave (exit %d)\n%s", args, code, errs, got, grepCode, want.String())
		}
	}
}

// TestSearchJSONIsOneObjectALine: --json gives the same lines as objects.
func TestSearchJSONIsOneObjectALine(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok([]byte("a\nneedle 1\nb\nneedle \x1b[31m2\x1b[0m\n"), "tee", "-q", "t")
	plain := strings.Split(strings.TrimSpace(w.ok(nil, "search", "-B", "1", "needle")), "\n")
	lines := strings.Split(strings.TrimSpace(w.ok(nil, "search", "--json", "-B", "1", "needle")), "\n")
	if len(lines) != 4 || len(plain) != 4 {
		t.Fatalf("search --json -B 1 gave %q (plain: %q)", lines, plain)
	}
	for i, l := range lines {
		var m struct {
			Incident, Item, Text string
			Line                 int64
			Context              bool
		}
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d %q: %v", i, l, err)
		}
		sep := ":"
		if m.Context {
			sep = "-"
		}
		if want := m.Incident + "/" + m.Item + sep + strconv.FormatInt(m.Line, 10) + sep + m.Text; want != plain[i] {
			t.Errorf("json line %q says %q, the plain line is %q", l, want, plain[i])
		}
	}
	if got := w.ok(nil, "search", "--json", "-c", "needle"); !strings.Contains(got, `"count":2`) {
		t.Errorf("search --json -c gave %q", got)
	}
}
