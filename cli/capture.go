package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"calm/capture"
)

func cmdShell(e *env, args []string) error {
	fs := e.flags("shell", "[--input] [--title TITLE] [-- CMD ARGS...]")
	input := fs.Bool("input", false, "record typed input too (never while the terminal's echo is off)")
	title := fs.String("title", "", "the session's title (default: the command)")
	incident := fs.String("incident", "", "the incident to record into (default: the current one)")
	if err := parse(fs, args); err != nil {
		return err
	}
	marks, err := capture.CompileMarks(e.cfg.Marks)
	if err != nil {
		return fmt.Errorf("config %s: %w", e.cfg.file, err)
	}
	stdin, stdout := asFile(e.stdin, os.Stdin), asFile(e.stdout, os.Stdout)
	code, err := capture.RunShell(capture.ShellOptions{
		Command: fs.Args(), Store: e.store, Incident: *incident, Title: *title,
		JournalDir: filepath.Join(filepath.Dir(e.cfg.Store), "journal"), RecordInput: *input,
		Marks: marks, Stdin: stdin, Stdout: stdout, Stderr: e.stderr,
	})
	if err != nil {
		return err
	}
	if code != 0 {
		return &exitError{code: code} // the shell's own status, passed through
	}
	return nil
}

func asFile(v any, fallback *os.File) *os.File {
	if f, ok := v.(*os.File); ok {
		return f
	}
	return fallback
}
