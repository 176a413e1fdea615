package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// bashCompletion is bash-completion's library, which cobra's bash script
// uses (_get_comp_words_by_ref), as every distribution's bash loads it.
const bashCompletion = "/usr/share/bash-completion/bash_completion"

// completionWorld is a world with calm on PATH as "calm", and its bash
// completion script written out.
func completionWorld(t *testing.T) (*world, string) {
	t.Helper()
	if _, err := os.Stat(bashCompletion); err != nil {
		t.Fatal("bash-completion is missing: install it (apt-get install bash-completion)")
	}
	w := newWorld(t)
	bin := t.TempDir()
	if err := os.Symlink(calmBin, filepath.Join(bin, "calm")); err != nil {
		t.Fatal(err)
	}
	w.extra = append(w.extra, "PATH="+bin+":"+os.Getenv("PATH"))
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
	w, script := completionWorld(t)
	w.ok(nil, "incident", "new", "disk full")
	w.ok([]byte("df -h\n"), "tee", "-q", "df")
	w.ok([]byte("du -sh\n"), "tee", "-q", "du")
	inc := strings.Fields(w.ok(nil, "incident", "list"))[1]
	for _, tc := range []struct {
		line string
		want []string
	}{
		{"calm show c", []string{"c1", "c2"}},
		{"calm show c2", []string{"c2"}},
		{"calm show " + inc + "/", []string{inc + "/c1", inc + "/c2"}},
		{"calm incident use " + inc[:4], []string{inc}},
		{"calm export --format m", []string{"md"}},
		{"calm search --ignore", []string{"--ignore-case"}},
		{"calm sh", []string{"shell", "show"}},
		{"calm incident c", []string{"close"}},
	} {
		got := complete(t, w, script, tc.line)
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%q<TAB> offered %q, want %q", tc.line, got, tc.want)
		}
	}
	for _, shell := range []string{"zsh", "fish"} {
		if out := w.ok(nil, "completion", shell); !strings.Contains(out, "__complete") {
			t.Errorf("calm completion %s wrote no script that asks calm: %q", shell, firstLine(out))
		}
	}
}

// TestTabCompletesACaptureIdInBash: in an interactive bash in tmux, with
// the script sourced, "calm show c" and TAB completes the one capture id.
func TestTabCompletesACaptureIdInBash(t *testing.T) {
	w, script := completionWorld(t)
	w.ok([]byte("uptime\n"), "tee", "-q", "load")
	rc := filepath.Join(t.TempDir(), "bashrc")
	os.WriteFile(rc, []byte("PS1='$ '\nsource "+bashCompletion+"\nsource "+script+"\n"), 0o600)
	tm := newTmux(t)
	tm.start(w.envPrefix() + "bash --rcfile " + rc + " -i")
	tm.waitFor("$ ", 10*time.Second)
	tm.typeText("calm show c")
	tm.press("Tab")
	tm.waitFor("$ calm show c1 ", 10*time.Second)
}
