package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// bashCompletion is bash-completion's library, which cobra's bash script
// uses (_get_comp_words_by_ref), as every distribution's bash loads it.
const bashCompletion = "/usr/share/bash-completion/bash_completion"

// calmOnPath is a world with calm on PATH as "calm", as the completion
// scripts call it.
func calmOnPath(t *testing.T) *world {
	t.Helper()
	w := newWorld(t)
	bin := t.TempDir()
	if err := os.Symlink(calmBin, filepath.Join(bin, "calm")); err != nil {
		t.Fatal(err)
	}
	w.extra = append(w.extra, "PATH="+bin+":"+os.Getenv("PATH"))
	return w
}

func needBashCompletion(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(bashCompletion); err != nil {
		t.Fatal("bash-completion is missing: install it (apt-get install bash-completion)")
	}
}

// completionWorld is calmOnPath with calm's bash completion script written
// out.
func completionWorld(t *testing.T) (*world, string) {
	t.Helper()
	needBashCompletion(t)
	w := calmOnPath(t)
	script := filepath.Join(t.TempDir(), "calm.bash")
	if err := os.WriteFile(script, []byte(w.ok(nil, "completion", "bash")), 0o600); err != nil {
		t.Fatal(err)
	}
	return w, script
}

// complete runs bash's completion of line (ending where TAB is pressed),
// as bash does: the completion function with COMP_WORDS set.
func complete(t *testing.T, w *world, script, line string) []string {
	t.Helper()
	words := strings.Fields(line)
	if strings.HasSuffix(line, " ") {
		words = append(words, "")
	}
	quoted := make([]string, len(words))
	for i, word := range words {
		quoted[i] = "'" + word + "'"
	}
	prog := `source ` + bashCompletion + `; source ` + script + `
COMP_WORDS=(` + strings.Join(quoted, " ") + `); COMP_CWORD=$((${#COMP_WORDS[@]}-1))
COMP_LINE='` + line + `'; COMP_POINT=${#COMP_LINE}; COMP_TYPE=9
__start_calm 2>/dev/null
printf '%s\n' "${COMPREPLY[@]}"`
	cmd := exec.Command("bash", "--norc", "--noprofile", "-c", prog)
	cmd.Env = w.env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash completing %q: %v: %s", line, err, out)
	}
	return strings.Fields(string(out))
}

// TestBashCompletesCommandsFlagsAndIds: the script 'calm completion bash'
// writes completes commands, flags, and the ids of a real store, asked of
// its agent.
func TestBashCompletesCommandsFlagsAndIds(t *testing.T) {
	t.Parallel()
	slow(t)
	w, script := completionWorld(t)
	old := strings.Fields(w.ok(nil, "incident", "new", "old outage"))[0]
	w.ok(nil, "incident", "close")
	inc := strings.Fields(w.ok(nil, "incident", "new", "disk full"))[0]
	w.ok([]byte("df -h\n"), "tee", "-q", "df")
	w.ok([]byte("du -sh\n"), "tee", "-q", "du")
	_, suffix, _ := strings.Cut(inc, "-")
	_, oldSuffix, _ := strings.Cut(old, "-")
	// The incidents a word may start: an id's beginning gives ID/; the
	// part after the date gives SUFFIX/, when it names one incident.
	incidentsFor := func(typed string) []string {
		var want []string
		for _, id := range []string{old, inc} {
			if strings.HasPrefix(id, typed) {
				want = append(want, id+"/")
			}
		}
		if strings.HasPrefix(suffix, typed) && !strings.HasPrefix(oldSuffix, typed) {
			want = append(want, suffix+"/")
		}
		return want
	}
	for _, tc := range []struct {
		line string
		want []string
	}{
		{"calm show c", []string{"c1", "c2"}},
		{"calm show c2", []string{"c2"}},
		{"calm show " + inc + "/", []string{inc + "/c1", inc + "/c2"}},
		{"calm show " + inc[:4], incidentsFor(inc[:4])},
		{"calm show " + inc[:len(inc)-1], incidentsFor(inc[:len(inc)-1])},
		{"calm show " + suffix[:3], incidentsFor(suffix[:3])},
		{"calm show " + suffix + "/", []string{suffix + "/c1", suffix + "/c2"}},
		{"calm incident use " + inc[:4], []string{old, inc}},
		{"calm incident close ", []string{inc}},
		{"calm incident reopen ", []string{old}},
		{"calm export --format m", []string{"md"}},
		{"calm search --ignore", []string{"--ignore-case"}},
		{"calm sh", []string{"shell", "show"}},
		{"calm incident c", []string{"close"}},
		// A tick offers the step it would tick, and nothing else.
		{"calm tick ", []string{"breathe"}},
		{"calm steps " + inc[:len(inc)-1], []string{inc}},
		{"calm unt", []string{"untick"}},
	} {
		got := complete(t, w, script, tc.line)
		slices.Sort(got) // incidents come in id order, not the order made here
		slices.Sort(tc.want)
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%q<TAB> offered %q, want %q", tc.line, got, tc.want)
		}
	}
	// INCIDENT/ leaves the cursor after the slash (no space), for the
	// next TAB to complete the capture in it.
	lines := strings.Split(strings.TrimSpace(w.ok(nil, "__complete", "show", inc[:len(inc)-1])), "\n")
	if last := lines[len(lines)-1]; last != ":6" {
		t.Errorf("calm __complete show %s: directive %q, want :6 (no space, no files): %q", inc[:len(inc)-1], last, lines)
	}
}

// The README's setup lines, run here as a user would run them;
// TestReadmeGivesTheTestedCompletionSetup keeps the README saying so.
const (
	bashInstall = `mkdir -p ~/.local/share/bash-completion/completions && calm completion bash > ~/.local/share/bash-completion/completions/calm`
	zshrcLine   = `fpath=(~/.zfunc $fpath); autoload -U compinit; compinit`
	zshInstall  = `mkdir -p ~/.zfunc && calm completion zsh > ~/.zfunc/_calm`
	fishInstall = `mkdir -p $__fish_config_dir/completions && calm completion fish > $__fish_config_dir/completions/calm.fish`
)

// TestReadmeGivesTheTestedCompletionSetup: the README tells bash, zsh and
// fish users exactly the lines the tmux tests below run.
func TestReadmeGivesTheTestedCompletionSetup(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{bashInstall, zshrcLine, zshInstall, fishInstall} {
		if !strings.Contains(string(readme), line) {
			t.Errorf("the README does not say %q, the setup the completion tests run", line)
		}
	}
}

// shellCompletionWorld is a completion world with two captures in a new
// incident, and an empty folder to start the shell in (so that no file
// name there competes with a capture id).
func shellCompletionWorld(t *testing.T, shell string) (w *world, inc, dir string) {
	t.Helper()
	if _, err := exec.LookPath(shell); err != nil {
		t.Fatalf("%s is missing: install it (apt-get install %s)", shell, shell)
	}
	w = calmOnPath(t)
	w.ok(nil, "incident", "new", "disk full")
	w.ok([]byte("df -h\n"), "tee", "-q", "df")
	w.ok([]byte("du -sh\n"), "tee", "-q", "du sh")
	inc = strings.Fields(w.ok(nil, "incident", "list"))[1]
	return w, inc, t.TempDir()
}

// tabStep types text (onto what is already on the command line), presses
// TAB, and waits for the pane to show each of shows; last clears the line.
type tabStep struct {
	typed string
	shows []string
	last  bool
}

func tabThrough(tm *tmux, steps []tabStep) {
	tm.t.Helper()
	for _, s := range steps {
		if s.typed != "" {
			tm.typeText(s.typed)
		}
		tm.press("Tab")
		for _, want := range s.shows {
			tm.waitFor(want, 10*time.Second)
		}
		if s.last {
			tm.press("C-u")
		}
	}
}

// completionSteps are the same TABs in every shell; only the way a shell
// lists the capture ids with their titles differs (list), and bash lists
// them on the second TAB, where zsh and fish list on the first.
func completionSteps(prompt, inc string, secondTabLists bool, list ...string) []tabStep {
	steps := []tabStep{
		{typed: "calm sta", shows: []string{prompt + "calm status "}, last: true},
		{typed: "calm search --inc", shows: []string{prompt + "calm search --incident "}},
		{shows: []string{prompt + "calm search --incident " + inc + " "}, last: true},
		{typed: "calm show c", shows: list},
		{typed: "2", shows: []string{prompt + "calm show c2 "}, last: true},
		{typed: "calm show " + inc + "/c1", shows: []string{prompt + "calm show " + inc + "/c1 "}, last: true},
	}
	if secondTabLists {
		steps = slices.Insert(steps, 3, tabStep{typed: "calm show c"})
		steps[4].typed = ""
	}
	return steps
}

// TestTabCompletesInBash: an interactive bash that loads bash-completion
// (as a distribution's /etc/bash.bashrc does), with the script where the
// README puts it, completes a command, a flag, its value, the capture ids
// of the current incident with their titles, and INCIDENT/c1, on TAB.
func TestTabCompletesInBash(t *testing.T) {
	t.Parallel()
	slow(t)
	needBashCompletion(t)
	w, inc, dir := shellCompletionWorld(t, "bash")
	// bash-completion looks for calm's script in $XDG_DATA_HOME, by default
	// ~/.local/share, when calm is first completed.
	w.extra = append(w.extra, "XDG_DATA_HOME="+filepath.Join(w.config, ".local", "share"))
	rc := filepath.Join(t.TempDir(), "bashrc")
	if err := os.WriteFile(rc, []byte("PS1='bash> '\nsource "+bashCompletion+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := w.envPrefix()
	tm := newTmux(t)
	tm.start("cd " + dir + " && " + env + "bash --norc --noprofile -c '" + bashInstall + "' && exec " + env + "bash --rcfile " + rc + " -i")
	tm.waitFor("bash> ", 10*time.Second)
	tabThrough(tm, completionSteps("bash> ", inc, true, "c1  (df)", "c2  (du sh)"))
	// The part of the incident's id after its date completes to SUFFIX/,
	// and the next TABs to its captures (three letters: no capture id
	// begins so).
	_, suffix, _ := strings.Cut(inc, "-")
	tabThrough(tm, []tabStep{
		{typed: "calm show " + suffix[:3], shows: []string{"bash> calm show " + suffix + "/"}},
		{shows: []string{"bash> calm show " + suffix + "/c"}},
		{typed: "1", shows: []string{"bash> calm show " + suffix + "/c1 "}, last: true},
	})
}

// TestTabCompletesInZsh: a clean zsh set up as the README says (its line in
// ~/.zshrc, the script in ~/.zfunc) completes a command, a flag, its value,
// the capture ids of the current incident with their titles, and
// INCIDENT/c1, on TAB.
func TestTabCompletesInZsh(t *testing.T) {
	t.Parallel()
	slow(t)
	w, inc, dir := shellCompletionWorld(t, "zsh")
	// Emacs keys whatever $EDITOR says, so C-u clears the line.
	zshrc := "PS1='zsh> '\nbindkey -e\n" + zshrcLine + "\n"
	if err := os.WriteFile(filepath.Join(w.config, ".zshrc"), []byte(zshrc), 0o600); err != nil {
		t.Fatal(err)
	}
	// ZDOTDIR is HOME, so no rc file of the user running the test is read;
	// -d skips the machine's /etc/zsh/zshrc.
	env := w.envPrefix() + "ZDOTDIR=" + w.config + " "
	tm := newTmux(t)
	tm.start("cd " + dir + " && " + env + "zsh -d -c '" + zshInstall + "' && exec " + env + "zsh -d -i")
	// compinit's first run reads every completion function zsh has.
	tm.waitFor("zsh> ", 30*time.Second)
	tabThrough(tm, completionSteps("zsh> ", inc, false, "c1  -- df", "c2  -- du sh"))
}

// TestTabCompletesInFish: a clean fish set up as the README says (the
// script in its completions folder) completes a command, a flag, its value,
// the capture ids of the current incident with their titles, and
// INCIDENT/c1, on TAB.
func TestTabCompletesInFish(t *testing.T) {
	t.Parallel()
	slow(t)
	w, inc, dir := shellCompletionWorld(t, "fish")
	data := filepath.Join(w.config, ".local", "share")
	w.extra = append(w.extra, "XDG_DATA_HOME="+data)
	// fish makes completions from every man page in the background on its
	// first start unless this folder exists.
	if err := os.MkdirAll(filepath.Join(data, "fish", "generated_completions"), 0o700); err != nil {
		t.Fatal(err)
	}
	// A plain prompt, and no autosuggestion: capture-pane drops colours, so
	// fish's grey suggestion would read as typed text.
	config := "set -g fish_greeting\nfunction fish_prompt; echo -n 'fish> '; end\nset -g fish_autosuggestion_enabled 0\n"
	if err := os.MkdirAll(filepath.Join(w.config, "fish"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.config, "fish", "config.fish"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	env := w.envPrefix()
	tm := newTmux(t)
	tm.start("cd " + dir + " && " + env + "fish -c '" + fishInstall + "' && exec " + env + "fish -i")
	tm.waitFor("fish> ", 10*time.Second)
	tabThrough(tm, completionSteps("fish> ", inc, false, "c1  (df)  c2  (du sh)"))
}
