package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestExportedCastPlaysTheSameOutput(t *testing.T) {
	t.Parallel()
	slow(t)
	if _, err := exec.LookPath("asciinema"); err != nil {
		t.Fatal("asciinema is missing: install it (apt-get install asciinema)")
	}
	w := newWorld(t)
	if _, errs, code := w.run(nil, "shell", "--wait", "--", "sh", "-c", `printf 'caf\303\251 \033[1;32mok\033[0m\n'; seq 1 500`); code != 0 {
		t.Fatalf("shell: %s", errs)
	}
	cast := filepath.Join(t.TempDir(), "s1.cast")
	w.ok(nil, "export", "--format", "cast", "-o", cast)
	played, err := exec.Command("script", "-q", "-c", "asciinema cat "+cast, "/dev/null").Output()
	if err != nil {
		t.Fatalf("asciinema cat %s: %v", cast, err)
	}
	raw := w.ok(nil, "show", "--raw", "s1")
	strip := func(s string) string { return strings.ReplaceAll(s, "\r", "") }
	if strip(string(played)) != strip(raw) || !strings.Contains(raw, "\x1b[1;32mok") {
		t.Fatalf("asciinema cat plays %d bytes, the session recorded %d", len(played), len(raw))
	}
	// With two sessions, the one picked for the person is named, and how
	// to get the other.
	if _, errs, code := w.run(nil, "shell", "--wait", "--", "echo", "second"); code != 0 {
		t.Fatalf("shell: %s", errs)
	}
	// The larger is picked: the main session, not the short one last.
	if _, errs, code := w.run(nil, "export", "--format", "cast", "--force", "-o", cast); code != 0 || !strings.Contains(errs, "s1 as asciicast v2 (the largest of 2 sessions; --item s2 for another)") {
		t.Fatalf("cast of the larger of two sessions: exit %d, stderr %q", code, errs)
	}
	if _, errs, code := w.run(nil, "export", "--format", "cast", "--item", "s1", "--force", "-o", cast); code != 0 || !strings.Contains(errs, "s1 as asciicast v2, ") {
		t.Fatalf("cast of a session named: exit %d, stderr %q", code, errs)
	}
	// A capture is no session.
	w.ok([]byte("x\n"), "tee", "-q", "plain")
	if _, errs, code := w.run(nil, "export", "--format", "cast", "--item", "c1"); code == 0 || !strings.Contains(errs, "not a recorded session") || !strings.Contains(errs, "'calm show c1 > FILE' writes it alone") {
		t.Fatalf("cast of a capture: %d %q", code, errs)
	}
	// --item with a format that holds the whole incident is refused, not
	// silently taken for the whole incident.
	if out, errs, code := w.run(nil, "export", "--format", "txt", "--item", "c1"); code != 2 || out != "" || !strings.Contains(errs, "--item picks the session of --format cast") || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Fatalf("--item with txt: exit %d, stdout %d bytes, stderr %q", code, len(out), errs)
	}
}

func TestBundleAndMarkdownExportsAreRedactedAndVerified(t *testing.T) {
	t.Parallel()
	slow(t)
	w := newWorld(t)
	w.ok(nil, "incident", "new", "orders overwritten")
	w.ok([]byte("{ \"_id\": 7, \"total\": 12 }\nmongodb://app:Sup3rS3cret@db/orders\n"), "tee", "-q", "before")
	w.ok(nil, "note", "replaceOne hit order 7; AKIAIOSFODNN7EXAMPLE was in the env")
	md, errs, code := w.run(nil, "export", "--format", "md")
	if code != 0 || !strings.Contains(errs, "redacted 3 secrets") {
		t.Fatalf("md export: %d %q", code, errs)
	}
	for _, want := range []string{"# Postmortem draft: orders overwritten", "## Timeline", "## Checklist: Data overwritten in production", "| 1 | Stop and breathe | not done |", "## Captures", "[REDACTED aws access key]"} {
		if !strings.Contains(md, want) {
			t.Fatalf("md lacks %q:\n%s", want, md)
		}
	}
	dir := t.TempDir()
	bundle := filepath.Join(dir, "b.tar.gz")
	w.ok(nil, "export", "--format", "bundle", "-o", bundle)
	if fi, _ := os.Stat(bundle); fi.Mode().Perm() != 0o600 {
		t.Fatalf("bundle mode %v", fi.Mode())
	}
	if out := w.ok(nil, "verify", bundle); !strings.Contains(out, "ok: 4 files") {
		t.Fatalf("verify bundle: %q", out)
	}
	// A bundle renamed (mail, a ticket's attachment) is still a file, not
	// an incident's ID.
	renamed := filepath.Join(dir, "incident.bundle")
	if err := os.Link(bundle, renamed); err != nil {
		t.Fatal(err)
	}
	if out := w.ok(nil, "verify", renamed); !strings.Contains(out, "ok: 4 files") {
		t.Fatalf("verify of a renamed bundle: %q", out)
	}
	os.Remove(renamed)
	if out, err := exec.Command("tar", "-xzf", bundle, "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	roots, _ := filepath.Glob(filepath.Join(dir, "calm-*"))
	check := exec.Command("sha256sum", "-c", "SHA256SUMS")
	check.Dir = roots[0]
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("sha256sum -c: %v %s", err, out)
	}
	capture, _ := os.ReadFile(filepath.Join(roots[0], "captures", "c1.txt"))
	if strings.Contains(string(capture), "Sup3rS3cret") || !strings.Contains(string(capture), "app:[REDACTED url password]@db") {
		t.Fatalf("bundle capture not redacted: %q", capture)
	}
	if orig := w.ok(nil, "show", "c1"); !strings.Contains(orig, "Sup3rS3cret") {
		t.Fatal("the store lost the original")
	}
	// One byte changed: both checks fail, naming the file.
	capture[0] ^= 1
	os.WriteFile(filepath.Join(roots[0], "captures", "c1.txt"), capture, 0o600)
	check = exec.Command("sha256sum", "-c", "SHA256SUMS")
	check.Dir = roots[0]
	if out, err := check.CombinedOutput(); err == nil || !strings.Contains(string(out), "captures/c1.txt: FAILED") {
		t.Fatalf("sha256sum -c after a change: %s", out)
	}
	changed := filepath.Join(dir, "changed.tar.gz")
	exec.Command("tar", "-czf", changed, "-C", dir, filepath.Base(roots[0])).Run()
	out, errs, code := w.run(nil, "verify", changed)
	if code != 1 || !strings.Contains(out, "FAIL captures/c1.txt: differs") || !strings.Contains(errs, "do not trust them") {
		t.Fatalf("verify changed bundle: %d %q %q", code, out, errs)
	}
	// The exports are on the timeline.
	if txt := w.ok(nil, "export", "--format", "txt"); !strings.Contains(txt, "exported as bundle") {
		t.Fatal("the export is not on the timeline")
	}
}

// TestTextExportGivesTheTextCalmShowGives: a progress line redrawn with
// carriage returns ends as its last state in calm show; the txt export's
// copy of the session is that same text, not the raw output's empty line.
func TestTextExportGivesTheTextCalmShowGives(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	if _, errs, code := w.run(nil, "shell", "--wait", "--", "sh", "-c",
		`printf 'progress 10%%\r'; printf 'progress 20%%\r'; printf 'progress 30%%\r'; echo; echo done`); code != 0 {
		t.Fatalf("shell: %s", errs)
	}
	shown := w.ok(nil, "show", "s1")
	if !strings.Contains(shown, "progress 30%\ndone\n") {
		t.Fatalf("calm show gives %q, want the progress line's last state", shown)
	}
	txt := w.ok(nil, "export", "--format", "txt")
	_, section, ok := strings.Cut(txt, "\n==== s1: ")
	if !ok {
		t.Fatalf("the txt export has no section for s1:\n%s", txt)
	}
	_, section, _ = strings.Cut(section, ")\n") // the section's heading
	if section != shown+"\n" {
		t.Fatalf("the txt export gives the session as %q; calm show gives %q", section, shown)
	}
}

// TestCastOfAnIncidentWithoutASessionIsNotFound: asking for a session an
// incident does not have is "not found" (exit 1), as a missing item is,
// not a usage error (2).
func TestCastOfAnIncidentWithoutASessionIsNotFound(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok([]byte("only a tee\n"), "tee", "-q", "t")
	out, errs, code := w.run(nil, "export", "--format", "cast")
	if code != 1 || out != "" || !strings.Contains(errs, "has no recorded session") || !strings.Contains(errs, "calm shell") {
		t.Fatalf("cast of an incident with no session: exit %d, stdout %q, stderr %q; want 1 and what to do", code, out, errs)
	}
}

// TestExportToDashIsStdout: -o - wrote a file named "-", and a missing
// folder was named through the temp file's name.
func TestExportToDashIsStdout(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	id := strings.Fields(w.ok(nil, "incident", "new", "dash"))[0]
	w.ok([]byte("a line\n"), "tee", "-q", "t")
	dir := t.TempDir()
	run := func(args ...string) (string, string, error) {
		cmd := w.cmd(args...)
		cmd.Dir = dir
		var out, errs bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errs
		err := cmd.Run()
		return out.String(), errs.String(), err
	}
	out, errs, err := run("export", id, "--format", "md", "-o", "-")
	if err != nil || !strings.Contains(out, "dash") {
		t.Fatalf("export -o -: %v, stdout %q, stderr %q", err, out, errs)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("export -o - left %v in its folder", left)
	}
	_, errs, err = run("export", id, "--format", "md", "-o", filepath.Join("nodir", "x.md"))
	if err == nil || !strings.Contains(errs, "its folder nodir does not exist") || strings.Contains(errs, ".calm-") || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Fatalf("export into a missing folder: %v, %q", err, errs)
	}
}

// TestExportNeverWritesOverCalmsOwnFiles: -o --force aimed at the store, an
// evidence copy or a mirror's copy (a path pasted from calm status) used to
// replace it with the export; the store was then gone until a salvage.
func TestExportNeverWritesOverCalmsOwnFiles(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	mirror := t.TempDir()
	w.extra = append(w.extra, "CALM_CONFIG="+filepath.Join(w.config, "config.toml"))
	os.WriteFile(filepath.Join(w.config, "config.toml"), []byte("mirrors = ['"+mirror+"']\n"), 0o600)
	inc := strings.Fields(w.ok(nil, "incident", "new", "own files"))[0]
	w.ok([]byte("the only copy\n"), "tee", "-q", "doc")
	evidence := filepath.Join(w.home, "evidence", inc, "c1.txt")
	mirrored, _ := filepath.Glob(filepath.Join(mirror, "*", "*", "c1.txt"))
	if len(mirrored) != 1 {
		mirrored, _ = filepath.Glob(filepath.Join(mirror, "*", "c1.txt"))
	}
	if len(mirrored) != 1 {
		t.Fatalf("no mirror copy of c1 under %s", mirror)
	}
	for _, target := range []string{filepath.Join(w.home, "calm.db"), evidence, mirrored[0], filepath.Join(w.home, "journal", "x.txt"), filepath.Join(w.home, "agent.log")} {
		before, _ := os.ReadFile(target)
		_, errs, code := w.run(nil, "export", "--format", "txt", "--force", "-o", target)
		if code == 0 || !strings.Contains(errs, "choose a file outside") || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Fatalf("export -o %s --force: exit %d, %q: want it refused in one line", target, code, errs)
		}
		// The agent writes the store on its own (search lines): it is
		// still the store if it is no smaller and not the export's text.
		after, _ := os.ReadFile(target)
		if filepath.Base(target) == "calm.db" && (len(after) < len(before) || bytes.HasPrefix(after, []byte("Incident "))) ||
			filepath.Base(target) != "calm.db" && !bytes.Equal(before, after) {
			t.Fatalf("export -o %s changed it", target)
		}
	}
	if out := w.ok(nil, "verify"); !strings.Contains(out, "ok") {
		t.Fatalf("verify after the refused exports: %q", out)
	}
	// Beside the store, a file of the person's own is written as ever.
	w.ok(nil, "export", "--format", "txt", "-o", filepath.Join(w.home, "postmortem.txt"))
}

// TestOutputRefusalsNameTheFolder: a target calm cannot create says what is
// wrong with its folder, never the name of the temp file it tried.
func TestOutputRefusalsNameTheFolder(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "plain")
	os.WriteFile(file, nil, 0o600)
	for target, want := range map[string]string{
		"/proc/x.md":                       "calm cannot write in /proc (it takes no new files): choose another folder",
		dir:                                dir + " is a folder: name a file in it",
		filepath.Join(file, "x.md"):        file + " is not a folder",
		filepath.Join(dir, "none", "x.md"): "its folder " + filepath.Join(dir, "none") + " does not exist",
	} {
		o, err := createOutput(target, true)
		if err == nil {
			o.abort()
			t.Fatalf("%s: created", target)
		}
		if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), ".calm-") {
			t.Fatalf("%s: %q, want %q", target, err, want)
		}
	}
}

// TestReviewTakesABundleByAnyName: a bundle exported with -o x.bundle
// was not taken by review, which said no incident matched.
func TestReviewTakesABundleByAnyName(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok([]byte("prod\n"), "tee", "-q", "x")
	inc := strings.Fields(w.ok(nil, "incident", "list"))[1]
	bundle := filepath.Join(t.TempDir(), "x.bundle")
	w.ok(nil, "export", inc, "--format", "bundle", "-o", bundle)
	_, errs, code := w.run(nil, "review", bundle)
	if code == 0 || !strings.Contains(errs, "needs a terminal") || strings.Contains(errs, "no incident matches") {
		t.Fatalf("review of a bundle named x.bundle: exit %d, %q", code, errs)
	}
}
