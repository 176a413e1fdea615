package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExportHTMLWritesOnePrivatePageAndOpensItWhereADisplayIs(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok(nil, "incident", "new", "orders overwritten")
	w.ok([]byte("{ \"_id\": 7 }\nmongodb://app:Sup3rS3cret@db/orders\n"), "tee", "-q", "before")
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	_, errs, code := w.run(nil, "export", "--format", "html", "-o", page)
	if code != 0 || !strings.Contains(errs, "wrote "+page+": the incident as one page, ") || !strings.Contains(errs, "; open it in any browser") {
		t.Fatalf("html export: %d %q", code, errs)
	}
	data, err := os.ReadFile(page)
	if fi, _ := os.Stat(page); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the page: %v %v", fi.Mode(), err)
	}
	if !strings.HasPrefix(string(data), "<!DOCTYPE html>") || !strings.Contains(string(data), "orders overwritten") ||
		strings.Contains(string(data), "Sup3rS3cret") || !strings.Contains(string(data), "app:[REDACTED url password]@db") {
		t.Fatal("the page is not the redacted report")
	}

	// No display: --open says where the report is (written again: --force).
	_, errs, code = w.run(nil, "export", "--open", "-o", page, "--force")
	if code != 0 || !strings.Contains(errs, "no display here") || !strings.Contains(errs, page) {
		t.Fatalf("--open without a display: %d %q", code, errs)
	}
	// A display: xdg-open gets the page's absolute path.
	bin := t.TempDir()
	opened := filepath.Join(dir, "opened")
	os.WriteFile(filepath.Join(bin, "xdg-open"), []byte("#!/bin/sh\nprintf '%s' \"$1\" >"+opened+"\n"), 0o700)
	w.extra = append(w.extra, "DISPLAY=:99", "PATH="+bin+":"+os.Getenv("PATH"))
	_, errs, code = w.run(nil, "export", "--open", "-o", page, "--force")
	if code != 0 || !strings.Contains(errs, "opened "+page) {
		t.Fatalf("--open with a display: %d %q", code, errs)
	}
	var got []byte
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end) && len(got) == 0; time.Sleep(20 * time.Millisecond) {
		got, _ = os.ReadFile(opened)
	}
	if string(got) != page {
		t.Fatalf("xdg-open was given %q", got)
	}
	// --open twice without -o makes the page it named again; a file of the
	// person's own under that name is kept.
	cwd := t.TempDir()
	for i := range 2 {
		c := w.cmd("export", "--open")
		c.Dir = cwd
		if out, err := c.CombinedOutput(); err != nil || !strings.Contains(string(out), "opened ") {
			t.Fatalf("--open, time %d: %v %s", i+1, err, out)
		}
	}
	mine, _ := filepath.Glob(filepath.Join(cwd, "calm-*.html"))
	if len(mine) != 1 {
		t.Fatalf("--open wrote %v", mine)
	}
	os.WriteFile(mine[0], []byte("<html>my own notes</html>"), 0o600)
	c := w.cmd("export", "--open")
	c.Dir = cwd
	if out, err := c.CombinedOutput(); err == nil || !strings.Contains(string(out), "exists: --force overwrites it") {
		t.Fatalf("--open over a file calm did not write: %v %s", err, out)
	}
	if _, errs, code := w.run(nil, "export", "--open", "--format", "md"); code != 2 || !strings.Contains(errs, "--open opens the HTML report") {
		t.Fatalf("--open with md: %d %q", code, errs)
	}
}
