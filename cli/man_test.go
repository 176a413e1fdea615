package cli

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"calm/ui"
)

// TestManPageRendersEveryCommand: 'calm man' is a man page groff renders
// without a warning, and it documents every command with its flags.
func TestManPageRendersEveryCommand(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	page := w.ok(nil, "man")
	groff := exec.Command("groff", "-man", "-Tutf8", "-ww", "-P-cbou")
	groff.Stdin = strings.NewReader(page)
	var out, errs bytes.Buffer
	groff.Stdout, groff.Stderr = &out, &errs
	if err := groff.Run(); err != nil || errs.Len() > 0 {
		t.Fatalf("groff: %v: %s", err, errs.String())
	}
	text := strings.Join(strings.Fields(out.String()), " ") // undo the justification
	text = strings.NewReplacer("’", "'", "‐", "-", "−", "-").Replace(text)
	for _, name := range everyCommand() {
		if name != "help" && !strings.Contains(text, "calm "+name) {
			t.Errorf("the man page does not document 'calm %s'", name)
		}
	}
	// Every TUI key, as the key table gives it.
	for _, k := range ui.Keys() {
		if want := strings.Join(strings.Fields(strings.Join(k.Keys, ", ")+" "+k.What), " "); !strings.Contains(text, want) {
			t.Errorf("the man page lacks the key line %q", want)
		}
	}
	for _, want := range []string{"NAME calm - a black box", "-i, --ignore-case", "--store string", "CALM_HOME", "EXIT STATUS", "KEYS"} {
		if !strings.Contains(text, want) {
			t.Errorf("the man page lacks %q", want)
		}
	}
	if _, err := exec.LookPath("man"); err == nil {
		man := exec.Command("man", "-l", "-")
		man.Stdin = strings.NewReader(page)
		man.Env = append(w.env(), "MANPAGER=cat", "MANWIDTH=80")
		if got, err := man.CombinedOutput(); err != nil || !strings.Contains(string(got), "SYNOPSIS") {
			t.Fatalf("man -l: %v: %s", err, got)
		}
	}
}
