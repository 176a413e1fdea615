package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStoreDeletedIsSalvagedFromEvidenceWithItsRecords: an incident with a
// titled capture, a snap whose pane had lost lines (a warning), a tee
// interrupted by a signal and a recorded shell; the store file is deleted.
// Salvaged from the evidence folder alone, every item shows, is found,
// verifies and is listed by status as the original was: its title, source,
// interrupted reason, warning and bytes.
func TestStoreDeletedIsSalvagedFromEvidenceWithItsRecords(t *testing.T) {
	t.Parallel()
	slow(t)
	w := newWorld(t)
	w.ok(nil, "incident", "new", "orders table overwritten")
	w.ok([]byte("{ \"_id\": 1, \"status\": \"paid\" }\n"), "tee", "-q", "orders before the update")

	tm := newTmux(t)
	conf := filepath.Join(t.TempDir(), "tmux.conf")
	os.WriteFile(conf, []byte("set -g history-limit 2000\nset -g remain-on-exit on\n"), 0o600)
	tm.run("-f", conf, "new-session", "-d", "-s", "t", "-x", "120", "-y", "40", "bash --norc --noprofile")
	tm.typeText("seq 1 5000; " + w.envPrefix() + calmBin + " snap 'the pane at 3am'; echo snapped-$((40+2))")
	tm.press("Enter")
	tm.waitFor("snapped-42", 20*time.Second)

	// A tee ended by a signal seals what it passed on, as interrupted.
	cmd := w.cmd("tee", "the flood")
	in, _ := cmd.StdinPipe()
	var passed bytes.Buffer
	cmd.Stdout = &passed
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	in.Write([]byte("flood line one\nflood line two\n"))
	for deadline := time.Now().Add(10 * time.Second); passed.Len() == 0 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	in.Close()

	if _, errs, code := w.run(nil, "shell", "--wait", "--", "sh", "-c", `printf 'session word zeta\n'; seq 1 20`); code != 0 {
		t.Fatalf("shell: %s", errs)
	}
	items := []string{"c1", "c2", "c3", "s1"}
	words := map[string]string{"c1": "paid", "c2": "4999", "c3": "flood line two", "s1": "session word zeta"}
	type item struct {
		record     map[string]any
		shown, raw string
		found      string
		statusLine string
	}
	statusLines := func(w *world) map[string]string {
		lines := map[string]string{}
		for _, l := range strings.Split(w.ok(nil, "status"), "\n") {
			if f := strings.Fields(l); len(f) > 0 && strings.Contains(l, " sha256 ") {
				lines[f[0]] = l
			}
		}
		return lines
	}
	look := func(w *world) map[string]item {
		got := map[string]item{}
		status := statusLines(w)
		for _, id := range items {
			it := item{record: w.captureRecord(id), shown: w.ok(nil, "show", id), raw: w.ok(nil, "show", "--raw", id), statusLine: status[id]}
			for _, l := range strings.Split(w.ok(nil, "search", "-F", words[id]), "\n") {
				if strings.Contains(l, "/"+id+":") {
					it.found += l + "\n"
				}
			}
			got[id] = it
		}
		return got
	}
	before := look(w)
	if !strings.Contains(fmt.Sprint(before["c2"].record["warning"]), "history is full") || before["c3"].record["interrupted"] == nil {
		t.Fatalf("the world lacks a warning or an interrupted capture: %v / %v", before["c2"].record, before["c3"].record)
	}
	w.stopAgent()
	if err := os.Remove(w.storePath()); err != nil {
		t.Fatal(err)
	}

	salvaged := filepath.Join(filepath.Dir(w.home), "salvaged", "calm.db")
	out, errs, _ := w.run(nil, "doctor", "--salvage", salvaged)
	if !strings.Contains(out, "salvaged 1 incident, 4 captures") || !strings.Contains(out, "use it: CALM_HOME="+filepath.Dir(salvaged)+" calm") {
		t.Fatalf("salvage of a deleted store: %s%s", out, errs)
	}
	s := w.withStore(salvaged)
	defer s.stopAgent()
	after := look(s)
	for _, id := range items {
		b, a := before[id], after[id]
		for _, field := range []string{"title", "source", "interrupted", "warning", "sha256", "size", "created", "sealed"} {
			if fmt.Sprint(a.record[field]) != fmt.Sprint(b.record[field]) {
				t.Errorf("%s's %s after salvage: %v, want %v", id, field, a.record[field], b.record[field])
			}
		}
		if a.shown != b.shown || a.raw != b.raw {
			t.Errorf("%s shows %d (raw %d) bytes after salvage, %d (%d) before", id, len(a.shown), len(a.raw), len(b.shown), len(b.raw))
		}
		if a.found == "" || a.found != b.found {
			t.Errorf("search %q after salvage: %q, before: %q", words[id], a.found, b.found)
		}
		if a.statusLine == "" || a.statusLine != b.statusLine {
			t.Errorf("status of %s after salvage:\n%s\nbefore:\n%s", id, a.statusLine, b.statusLine)
		}
	}
	if inc := s.ok(nil, "status"); !strings.Contains(inc, "orders table overwritten") {
		t.Errorf("the incident's title is lost:\n%s", inc)
	}
	if v, errs, code := s.run(nil, "verify"); code != 0 || !strings.Contains(v, "ok: 8 copies of 4 captures") {
		t.Fatalf("verify after salvage: exit %d %s %s", code, v, errs)
	}
}
