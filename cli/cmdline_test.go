package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// everyCommand lists calm's commands and subcommands as typed ("incident use").
func everyCommand() []string {
	var names []string
	var walk func(c *cobra.Command, prefix string)
	walk = func(c *cobra.Command, prefix string) {
		for _, s := range c.Commands() {
			if !s.IsAvailableCommand() && s.Name() != "help" {
				continue
			}
			names = append(names, strings.TrimSpace(prefix+" "+s.Name()))
			walk(s, prefix+" "+s.Name())
		}
	}
	walk((&runner{}).tree(), "")
	return names
}

// TestHelpForEveryCommand: 'calm help CMD' and 'calm CMD --help' print the
// command's help on stdout and exit 0, for every command and subcommand,
// without starting an agent.
func TestHelpForEveryCommand(t *testing.T) {
	t.Parallel()
	slow(t)
	w := newWorld(t)
	commands := everyCommand()
	for _, want := range []string{"show", "incident use", "completion bash", "search", "tee", "shell"} {
		if !strings.Contains(strings.Join(commands, ","), want) {
			t.Fatalf("the command tree lacks %q: %v", want, commands)
		}
	}
	for _, name := range commands {
		words := strings.Fields(name)
		for _, args := range [][]string{append(append([]string{}, words...), "--help"), append([]string{"help"}, words...)} {
			out, errs, code := w.run(nil, args...)
			if name == "tee" && args[0] == "tee" {
				// stdin is a pipe here: tee's help goes to stderr, so that
				// the pipeline's data is all that reaches stdout.
				out, errs = errs, ""
			}
			if code != 0 || errs != "" || !strings.Contains(out, "Usage:") || !strings.Contains(out, "calm "+name) {
				t.Errorf("calm %s: exit %d, stderr %q, stdout %q: want its help", strings.Join(args, " "), code, errs, firstLine(out))
			}
		}
	}
	if w.agentPID() != 0 {
		t.Fatalf("help started an agent")
	}
}

// TestUsageErrorsSayOneLineAndExitTwo: a typo gets one line naming the
// nearest command or flag, and exit status 2.
func TestUsageErrorsSayOneLineAndExitTwo(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"shw", "c1"}, `did you mean "show"?`},
		// The nearest only: a tick mistyped is no tee or ui.
		{[]string{"tik"}, `did you mean "tick"? (`},
		{[]string{"stat"}, `did you mean "status"? (`},
		{[]string{"incident", "nwe"}, `"new"`},
		{[]string{"show", "c1", "--rwa"}, "did you mean --raw?"},
		{[]string{"search", "--ignore-cas", "x"}, "did you mean --ignore-case?"},
		{[]string{"--stroe", "x", "status"}, "did you mean --store?"},
		{[]string{"search", "-m", "three", "x"}, "calm search --help"},
		{[]string{"incident"}, "new"},
		{[]string{"show"}, "calm show ID"},
		{[]string{"help", "shwo"}, `did you mean "show"?`},
		{[]string{"help", "incident", "nosuch"}, `unknown command "nosuch"`},
		{[]string{"search", "("}, "use -F"}, // grep's 2 for a bad pattern, not 1 as for no match
		// Another tool's name for a flag: tmux's pane is calm's --target.
		{[]string{"snap", "--pane", "%1"}, "did you mean --target?"},
		{[]string{"export", "--file", "out.md"}, "did you mean --output?"},
		{[]string{"search", "-3", "x"}, "grep's -NUM is -C NUM here: calm search -C 3"},
		{[]string{"search", "[:digit:]"}, "a class goes inside brackets: [[:digit:]], not [:digit:]"},
		{[]string{"search", "-P", "x"}, "patterns are grep -E's"},
		{[]string{"search", "--include=*.log", "x"}, "calm searches captures, not files"},
		{[]string{"search", "[[.space.]]"}, "[.space.]: an equivalence class or collating symbol is one character here"},
	} {
		out, errs, code := w.run(nil, tc.args...)
		if code != 2 || out != "" || !strings.Contains(errs, tc.want) || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Errorf("calm %v: exit %d, stdout %q, stderr %q: want exit 2 and one line with %q", tc.args, code, out, errs, tc.want)
		}
	}
}

// TestFlagsEndAtDoubleDashAndCombine: "--" ends the flags, short flags
// combine (-iF), and long flags take "=".
func TestFlagsEndAtDoubleDashAndCombine(t *testing.T) {
	t.Parallel()
	slow(t)
	w := newWorld(t)
	w.ok([]byte("-q is a line\nNeedle.Star*\n"), "tee", "--quiet", "--", "-q title")
	if rec := w.captureRecord("c1"); rec["title"] != "-q title" {
		t.Fatalf("tee -- -q title: the title is %q", rec["title"])
	}
	if got := w.ok(nil, "search", "--", "-q is"); !strings.Contains(got, "-q is a line") {
		t.Fatalf("search -- -q: %q", got)
	}
	if got := w.ok(nil, "search", "-iF", "needle.star*"); !strings.Contains(got, "Needle.Star*") {
		t.Fatalf("search -iF: %q", got)
	}
	if got := w.ok(nil, "search", "-rn", "Needle", "."); !strings.Contains(got, "Needle.Star*") {
		t.Fatalf("search -rn PATTERN . (grep's habit): %q", got)
	}
	if got := w.ok(nil, "search", "--colour=always", "Needle"); !strings.Contains(got, "\x1b[01;31m\x1b[KNeedle") {
		t.Fatalf("search --colour=always (grep's other spelling): %q", got)
	}
	if got := w.ok(nil, "show", "--raw=true", "c1"); !strings.Contains(got, "Needle") {
		t.Fatalf("show --raw=true: %q", got)
	}
	if got := w.ok(nil, "--version"); !strings.HasPrefix(got, "calm ") {
		t.Fatalf("--version: %q", got)
	}
	// calm alone, not on a terminal, is the status.
	if got := w.ok(nil); !strings.Contains(got, "-q title") {
		t.Fatalf("calm alone in a script: %q", got)
	}
}

// TestStatusOfAnIncidentAndIncidentListJSON: calm status ID shows that
// incident, not the current one; incident list --json is one object a line.
func TestStatusOfAnIncidentAndIncidentListJSON(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	first := strings.Fields(w.ok(nil, "incident", "new", "first"))[0]
	w.ok([]byte("x\n"), "tee", "-q", "in the first")
	second := strings.Fields(w.ok(nil, "incident", "new", "second"))[0]
	if got := w.ok(nil, "status", first[:len(first)-1]); !strings.Contains(got, "in the first") || strings.Contains(got, second) {
		t.Fatalf("status %s gave %q", first, got)
	}
	if got := w.ok(nil, "status"); !strings.Contains(got, second) {
		t.Fatalf("status gave %q, want the current incident %s", got, second)
	}
	lines := strings.Split(strings.TrimSpace(w.ok(nil, "incident", "list", "--json")), "\n")
	if len(lines) != 2 {
		t.Fatalf("incident list --json gave %q", lines)
	}
	for _, l := range lines {
		var inc struct {
			ID, Title string
			Current   bool
		}
		if err := json.Unmarshal([]byte(l), &inc); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		if inc.Current != (inc.ID == second) || (inc.Title != "first" && inc.Title != "second") {
			t.Errorf("incident list --json line %q", l)
		}
	}
}

// TestTextStartingWithADashAndMistypedIdsGetAHint: text taken for a flag
// (calm note -5 degrees) is refused with the way to write it, which then
// works; a capture id typed as C1 or 1 is refused naming c1, when it
// exists.
func TestTextStartingWithADashAndMistypedIdsGetAHint(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	inc := strings.Fields(w.ok(nil, "incident", "new", "cold room"))[0]
	for _, args := range [][]string{
		{"note", "-5", "degrees"},
		{"incident", "new", "-5", "degrees"},
		{"tee", "-5", "degrees"},
	} {
		_, errs, code := w.run([]byte("x\n"), args...)
		if code != 2 || !strings.Contains(errs, "(text starting with '-'? put -- before it") || !strings.Contains(errs, "-- -5") {
			t.Errorf("calm %v: exit %d, %q: want exit 2 and the hint to put -- before the text", args, code, errs)
		}
	}
	if _, errs, _ := w.run(nil, "note", "--inciden", inc, "x"); !strings.Contains(errs, "did you mean --incident?") || strings.Contains(errs, "text starting") {
		t.Errorf("a mistyped flag of note: %q", errs)
	}
	w.ok(nil, "note", "--", "-5", "degrees")
	if txt := w.ok(nil, "export", "--format", "txt"); !strings.Contains(txt, "-5 degrees") {
		t.Fatalf("the note written with -- is not on the timeline:\n%s", txt)
	}

	w.ok([]byte("first\n"), "tee", "-q", "one")
	for _, c := range []struct{ typed, want string }{
		{"1", "did you mean c1? ('calm show c1')"},
		{"C1", "did you mean c1? ('calm show c1')"},
		{inc + "/C1", "did you mean " + inc + "/c1?"},
		{"cl", "did you mean c1? ('calm show c1')"},
	} {
		out, errs, code := w.run(nil, "show", c.typed)
		if code != 1 || out != "" || !strings.Contains(errs, c.want) || strings.Count(errs, "\n") != 1 {
			t.Errorf("calm show %s: exit %d, %q: want one line with %q", c.typed, code, errs, c.want)
		}
	}
	if _, errs, code := w.run(nil, "show", "9"); code != 1 || strings.Contains(errs, "did you mean") {
		t.Errorf("calm show 9, with no c9 or s9: exit %d, %q", code, errs)
	}
	// A capture's ID where an incident's belongs says which is which.
	for _, command := range []string{"verify", "status"} {
		if _, errs, code := w.run(nil, command, "c1"); code == 0 || !strings.Contains(errs, "that is a capture's ID, and this takes an incident's") || !strings.Contains(errs, "'calm show c1'") {
			t.Errorf("calm %s c1: exit %d, %q", command, code, errs)
		}
	}
}

// TestExportAndVerifyTakeWhatATiredPersonTypes: --format=MD and markdown
// are md, a mistyped incident ID names the one meant, and verify of a
// bundle's file that is not there says so rather than "no incident".
func TestExportAndVerifyTakeWhatATiredPersonTypes(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	inc := strings.Fields(w.ok(nil, "incident", "new", "typed tired"))[0]
	w.ok([]byte("doc\n"), "tee", "-q", "doc")
	for _, f := range []string{"--format=MD", "--format=markdown", "--format=Md"} {
		if out := w.ok(nil, "export", f); !strings.HasPrefix(out, "# Postmortem draft") {
			t.Fatalf("export %s: %q", f, out)
		}
	}
	typo := inc[:len(inc)-1] + string("abcdefghijklmnopqrstuvwxyz0123456789"[(strings.IndexByte("abcdefghijklmnopqrstuvwxyz0123456789", inc[len(inc)-1])+1)%36])
	if _, errs, code := w.run(nil, "export", typo); code == 0 || !strings.Contains(errs, "did you mean "+inc+"?") {
		t.Fatalf("export %s (a typo of %s): exit %d, %q", typo, inc, code, errs)
	}
	if _, errs, code := w.run(nil, "verify", "inc.tar"); code == 0 || !strings.Contains(errs, "inc.tar: no such file") || strings.Contains(errs, "no incident") {
		t.Fatalf("verify inc.tar (no such file): exit %d, %q", code, errs)
	}
}
