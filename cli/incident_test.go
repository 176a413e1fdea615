package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestClosedCurrentIncidentIsNotSilentlyReplaced: after 'incident close',
// the next capture does not open "incident at ..." unannounced: piped, it
// goes into the closed incident and says so in one line; at a terminal,
// calm asks. 'incident reopen' opens it again.
func TestClosedCurrentIncidentIsNotSilentlyReplaced(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	id := strings.Fields(w.ok(nil, "incident", "new", "orders"))[0]
	// Closed with its checklist not done: allowed, and said.
	if _, errs, code := w.run(nil, "incident", "close"); code != 0 || !strings.Contains(errs, "closed with 0 of ") || !strings.Contains(errs, "(next: step 1, ") {
		t.Fatalf("incident close with no step done: exit %d, stderr %q", code, errs)
	}
	out, errs, code := w.run([]byte("after close\n"), "tee", "late")
	if code != 0 || out != "after close\n" || !strings.Contains(errs, "is closed: saving into it") || !strings.Contains(errs, "saved "+id+"/c1") {
		t.Fatalf("tee into a closed current incident: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if _, errs, _ := w.run(nil, "note", "found the cause"); !strings.Contains(errs, "is closed") {
		t.Fatalf("note into a closed current incident: %q", errs)
	}
	if list := w.ok(nil, "incident", "list"); strings.Count(list, "\n") != 1 {
		t.Fatalf("a capture after close opened another incident:\n%s", list)
	}
	if got := w.ok(nil, "status"); !strings.Contains(got, "closed") || !strings.Contains(got, "late") {
		t.Fatalf("status: %q", got)
	}
	if got := w.ok(nil, "incident", "reopen", id[:len(id)-1]); !strings.Contains(got, "reopened") {
		t.Fatalf("incident reopen: %q", got)
	}
	if got := w.ok(nil, "status"); !strings.Contains(got, "open since") {
		t.Fatalf("status after reopen: %q", got)
	}
	if got := w.ok(nil, "export", id, "--format", "txt"); !strings.Contains(got, "reopened") {
		t.Fatalf("the timeline does not say it was reopened:\n%s", got)
	}

	// At a terminal: calm asks, and "n" opens a new incident for the session.
	w.ok(nil, "incident", "close")
	tm := newTmux(t)
	tm.start(w.envPrefix() + calmBin + " shell -- sh -c 'echo recorded-$((6*7))'; sleep 60")
	tm.waitFor("start a new incident [n]", 10*time.Second)
	tm.typeText("n")
	tm.press("Enter")
	tm.waitFor("recorded-42", 10*time.Second)
	tm.waitFor("recording stopped", 10*time.Second)
	list := w.ok(nil, "incident", "list")
	current := ""
	for _, l := range strings.Split(list, "\n") {
		if strings.HasPrefix(l, "* ") {
			current = l
		}
	}
	if strings.Count(list, "\n") != 2 || current == "" || strings.Contains(current, id) {
		t.Fatalf("answering n did not open a new current incident:\n%s", list)
	}
	if got := w.ok(nil, "status"); !strings.Contains(got, "s1") {
		t.Fatalf("the session is not in the new incident: %q", got)
	}
}

// TestClosedIncidentIsSaidToBeClosedWhereverItIsNamed: using a closed
// incident, ticking its checklist, and capturing or noting into it by
// --incident each say in one line that it is closed, and how to reopen
// it, as a capture into a closed current incident does; an open one says
// nothing of the kind.
func TestClosedIncidentIsSaidToBeClosedWhereverItIsNamed(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	closed := strings.Fields(w.ok(nil, "incident", "new", "yesterday"))[0]
	w.ok(nil, "incident", "close")
	open := strings.Fields(w.ok(nil, "incident", "new", "today"))[0]
	w.waitBreathed(closed) // a tick asks for the first step's pause, closed or not
	says := "calm: the incident " + closed + ` "yesterday" is closed: `
	reopen := "'calm incident reopen " + closed + "' reopens it\n"
	for _, c := range []struct {
		args  []string
		stdin string
		says  string
	}{
		{[]string{"tee", "--incident", closed, "-q", "late"}, "late output\n", says + "saving into it"},
		{[]string{"note", "--incident", closed, "found it"}, "", says + "saving into it"},
		{[]string{"tick", "--incident", closed, "--anyway"}, "", says + "ticking its checklist"},
		{[]string{"incident", "use", closed}, "", "calm: the current incident " + closed + ` "yesterday" is closed: what you capture goes into it as closed`},
		{[]string{"tick", "--anyway"}, "", "calm: the current incident " + closed + ` "yesterday" is closed: ticking its checklist`},
	} {
		if c.args[0] == "tick" {
			time.Sleep(readFirst) // a bare tick right after another is refused
		}
		_, errs, code := w.run([]byte(c.stdin), c.args...)
		if code != 0 || !strings.HasPrefix(errs, c.says) || !strings.HasSuffix(errs, reopen) || strings.Count(errs, "\n") != 1 {
			t.Errorf("calm %v: exit %d, stderr %q: want one line saying %q", c.args, code, errs, c.says)
		}
	}
	if caps := w.ok(nil, "status", closed); !strings.Contains(caps, "late") {
		t.Fatalf("tee --incident did not save into the closed incident:\n%s", caps)
	}
	w.ok(nil, "incident", "use", open)
	for _, args := range [][]string{{"tick", "--anyway"}, {"note", "--incident", open, "fine"}} {
		if _, errs, _ := w.run(nil, args...); strings.Contains(errs, "closed") {
			t.Errorf("calm %v on an open incident: %q", args, errs)
		}
	}
}

// TestMoveTakesACaptureAndItsCopiesToAnotherIncident: calm move gives the
// capture the next ID in the other incident; its bytes, derived text,
// file copies and SHA256SUMS lines go along and verify; both timelines say
// so, and the store still agrees with its evidence folder.
func TestMoveTakesACaptureAndItsCopiesToAnotherIncident(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	mirror := t.TempDir()
	to := strings.Fields(w.ok(nil, "--mirror", mirror, "incident", "new", "the right one"))[0]
	w.ok([]byte("already here\n"), "--mirror", mirror, "tee", "-q", "first")
	from := strings.Fields(w.ok(nil, "--mirror", mirror, "incident", "new", "the wrong one"))[0]
	data := []byte("rows that belong elsewhere\n")
	w.ok(data, "--mirror", mirror, "tee", "-q", "misplaced")
	w.ok(nil, "--mirror", mirror, "shell", "--wait", "--", "sh", "-c", "echo session-$((6*7))")

	if out := w.ok(nil, "--mirror", mirror, "move", "c1", to[:len(to)-1]); !strings.Contains(out, to+"/c2") {
		t.Fatalf("move c1: %q", out)
	}
	if out := w.ok(nil, "--mirror", mirror, "move", from+"/s1", to); !strings.Contains(out, to+"/s1") {
		t.Fatalf("move s1: %q", out)
	}
	if got := w.ok(nil, "show", "--raw", to+"/c2"); got != string(data) {
		t.Fatalf("the moved capture holds %q", got)
	}
	if _, errs, code := w.run(nil, "show", from+"/c1"); code == 0 || !strings.Contains(errs, "not found") {
		t.Fatalf("the capture is still in its old incident: exit %d, %q", code, errs)
	}
	if got := w.ok(nil, "search", "-F", "session-42"); !strings.HasPrefix(got, to+"/s1:") {
		t.Fatalf("search finds the moved session's text at %q", got)
	}
	for _, root := range []string{mirror, filepath.Join(w.home, "evidence")} {
		if got, err := os.ReadFile(filepath.Join(root, to, "c2.txt")); err != nil || string(got) != string(data) {
			t.Fatalf("the copy under %s did not move: %v", root, err)
		}
		if _, err := os.Stat(filepath.Join(root, from, "c1.txt")); err == nil {
			t.Fatalf("the old copy under %s is still there", root)
		}
		sums := exec.Command("sha256sum", "-c", "SHA256SUMS")
		sums.Dir = filepath.Join(root, to)
		if out, err := sums.CombinedOutput(); err != nil || !strings.Contains(string(out), "c2.txt: OK") || !strings.Contains(string(out), "s1.cast: OK") {
			t.Fatalf("sha256sum -c in %s: %v\n%s", sums.Dir, err, out)
		}
		if old, _ := os.ReadFile(filepath.Join(root, from, "SHA256SUMS")); strings.Contains(string(old), "c1.txt") {
			t.Fatalf("%s's SHA256SUMS still lists c1.txt", from)
		}
	}
	if out, errs, code := w.run(nil, "--mirror", mirror, "verify"); code != 0 {
		t.Fatalf("verify after the moves: exit %d\n%s%s", code, out, errs)
	}
	if got := w.ok(nil, "export", from, "--format", "txt"); !strings.Contains(got, "moved c1 to "+to+" as c2") {
		t.Fatalf("the old incident's timeline does not say where c1 went:\n%s", got)
	}
	if out, _, _ := w.run(nil, "--mirror", mirror, "doctor"); !strings.Contains(out, "ok   the store and its evidence folder hold the same incidents") {
		t.Fatalf("doctor after the moves:\n%s", out)
	}
	if _, errs, code := w.run(nil, "--mirror", mirror, "move", to+"/c2", to); code == 0 || !strings.Contains(errs, "already") {
		t.Fatalf("a move into its own incident: exit %d, %q", code, errs)
	}
}

// TestMoveTakesTheSessionsMarkersToTheOtherIncident: a session recorded in
// the wrong incident, with a destructive command in it, moves with its
// marker: the other incident's postmortem counts and lists it, the old
// one's no longer does.
func TestMoveTakesTheSessionsMarkersToTheOtherIncident(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	to := strings.Fields(w.ok(nil, "incident", "new", "the right one"))[0]
	from := strings.Fields(w.ok(nil, "incident", "new", "the wrong one"))[0]
	gone := filepath.Join(t.TempDir(), "gone")
	w.ok([]byte("rm -rf "+gone+"\nexit\n"), "shell", "--wait", "--", "sh")
	row := "| marker | s1 | rm -rf: rm -rf " + gone
	if md := w.ok(nil, "export", from, "--format", "md"); !strings.Contains(md, row) {
		t.Fatalf("no marker recorded before the move:\n%s", md)
	}

	w.ok(nil, "note", "--incident", to, "noted after the session")
	w.ok(nil, "move", from+"/s1", to)
	md := w.ok(nil, "export", to, "--format", "md")
	if !strings.Contains(md, row) || !strings.Contains(md, "- **Destructive commands seen:** 1") {
		t.Fatalf("the new incident's postmortem lacks the moved session's marker:\n%s", md)
	}
	if strings.Index(md, row) > strings.Index(md, "| note |  | noted after the session |") {
		t.Fatalf("the marker comes after a later note in the timeline, not when it happened:\n%s", md)
	}
	if old := w.ok(nil, "export", from, "--format", "md"); strings.Contains(old, "| marker |") || strings.Contains(old, "Destructive commands seen") {
		t.Fatalf("the old incident still lists the moved session's marker:\n%s", old)
	}
}

// TestIncidentNewWantsATitle: without one it made an "incident at …" and
// made it current, one more to tell apart later.
func TestIncidentNewWantsATitle(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for _, args := range [][]string{{"incident", "new"}, {"incident", "new", "  "}} {
		out, errs, code := w.run(nil, args...)
		if code != 2 || !strings.Contains(errs, "give the incident a title") || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Fatalf("calm %q: exit %d, %q %q", args, code, out, errs)
		}
	}
	if out := w.ok(nil, "incident", "list", "--json"); strings.TrimSpace(out) != "" && strings.TrimSpace(out) != "[]" {
		t.Fatalf("an incident was made without a title:\n%s", out)
	}
}

// TestARecordingSessionIsNotAFailure: while calm shell records, verify and
// doctor said FAIL and "not safe until sealed" and status said 0 B: all
// read as "nothing is recorded" mid-incident. A session whose recorder is
// alive is recording, not failing; its journal says how much it holds.
func TestARecordingSessionIsNotAFailure(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok(nil, "incident", "new", "recording")
	w.ok([]byte("a tee'd line\n"), "tee", "-q", "before")
	stop := filepath.Join(t.TempDir(), "stop")
	shell := w.cmd("shell", "--", "sh", "-c", "seq 1 2000; while [ ! -e "+stop+" ]; do sleep 0.1; done")
	if err := shell.Start(); err != nil {
		t.Fatal(err)
	}
	defer os.WriteFile(stop, nil, 0o600) // the shell under the killed recorder ends too
	deadline := time.Now().Add(20 * time.Second)
	for status := w.ok(nil, "status"); !strings.Contains(status, "still recording"); status = w.ok(nil, "status") {
		if time.Now().After(deadline) {
			t.Fatalf("the session never showed as recording:\n%s", status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The agent follows the journal: the size it holds shows.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		line := rowWith(w.ok(nil, "status"), "still recording")
		if !strings.Contains(line, " 0 B ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a recording session shows 0 B:\n%s", line)
		}
	}
	out, errs, code := w.run(nil, "verify")
	if code != 0 || !strings.Contains(out, "recording ") || strings.Contains(out, "UNSEALED") || strings.Contains(out, "FAIL") {
		t.Fatalf("verify while a session records: exit %d\n%s%s", code, out, errs)
	}
	if out, errs, code := w.run(nil, "doctor"); strings.Contains(out, "not sealed") {
		t.Fatalf("doctor while a session records: exit %d\n%s%s", code, out, errs)
	}
	// Killed, it is not recording any more, even before the agent notices.
	shell.Process.Kill()
	shell.Wait()
	if out, _, _ := w.run(nil, "verify"); strings.Contains(out, "recording ") {
		t.Fatalf("verify right after the recorder was killed says it records:\n%s", out)
	}
}

func rowWith(text, s string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

// TestMoveNamesWhereACaptureIsAndWarnsOfAClosedIncident: "capture c5: not
// found" left the person to guess that c5 is another incident's, and a
// move into a closed incident said nothing.
// TestAStreamingTeeIsNotAFailure: verify said "UNSEALED ... not safe
// until sealed" and exited 1 for a capture calm tee was still writing, and
// doctor's "not sealed" line hid any copy that had failed. A tee that runs
// is streaming, as a recording session is; doctor names both lists.
func TestAStreamingTeeIsNotAFailure(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok(nil, "incident", "new", "streaming")
	w.ok([]byte("a finished line\n"), "tee", "-q", "before")
	tee := w.cmd("tee", "-q", "still coming")
	stdin, err := tee.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := tee.Start(); err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdin.Write([]byte("the first line of many\n"))
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(w.ok(nil, "status"), "still coming"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the tee's capture never showed in status")
		}
	}
	if line := rowWith(w.ok(nil, "status"), "still coming"); !strings.Contains(line, "STREAMING") || strings.Contains(line, "UNSEALED") {
		t.Fatalf("status of a capture calm tee is writing: %q", line)
	}
	// Its size so far, not 0 B, beside "STREAMING".
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(rowWith(w.ok(nil, "status"), "still coming"), " 23 B "); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("status of a streaming capture that has read 23 bytes: %q", rowWith(w.ok(nil, "status"), "still coming"))
		}
	}
	out, errs, code := w.run(nil, "verify")
	if code != 0 || !strings.Contains(out, "streaming ") || !strings.Contains(out, "/c2: calm tee is still writing it") || strings.Contains(out, "UNSEALED") {
		t.Fatalf("verify while a tee streams: exit %d\n%s%s", code, out, errs)
	}
	// A failed copy of the finished capture is said even while the other
	// streams.
	files, _ := filepath.Glob(filepath.Join(w.home, "evidence", "*", "c1.txt"))
	if len(files) != 1 {
		t.Fatalf("evidence copies of c1: %v", files)
	}
	os.WriteFile(files[0], []byte("not what was captured\n"), 0o600)
	out, _, _ = w.run(nil, "doctor")
	if !strings.Contains(out, "copies: 1 of") || strings.Contains(out, "not sealed") {
		t.Fatalf("doctor with a failed copy while a tee streams:\n%s", out)
	}
	stdin.Close()
	if err := tee.Wait(); err != nil {
		t.Fatalf("calm tee: %v", err)
	}
}

func TestMoveNamesWhereACaptureIsAndWarnsOfAClosedIncident(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	first := strings.Fields(w.ok(nil, "incident", "new", "first"))[0]
	w.ok([]byte("x\n"), "tee", "-q", "one")
	w.ok([]byte("y\n"), "tee", "-q", "two")
	w.ok(nil, "incident", "close")
	w.ok(nil, "incident", "new", "second") // current now: c2 is not in it
	_, errs, code := w.run(nil, "move", "c2", first)
	if code == 0 || !strings.Contains(errs, "did you mean "+first+"/c2?") || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Fatalf("move of another incident's capture: exit %d %q", code, errs)
	}
	w.ok([]byte("z\n"), "tee", "-q", "three")
	out, errs, code := w.run(nil, "move", "c1", first)
	if code != 0 || !strings.Contains(errs, "is closed: moved into it") || !strings.Contains(out, "moved c1 to "+first+"/c3") {
		t.Fatalf("move into a closed incident: exit %d %q %q", code, out, errs)
	}
}

// TestTimelinePrintsTheIncidentsEvents: with no TUI at hand (ssh, a
// script), the timeline was only in an export; calm timeline prints it, a
// verify run as one line, and what was typed never as escapes.
func TestTimelinePrintsTheIncidentsEvents(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	inc := strings.Fields(w.ok(nil, "incident", "new", "orders overwritten"))[0]
	w.ok([]byte("before\n"), "tee", "-q", "orders before")
	w.ok([]byte("after\n"), "tee", "-q", "orders after")
	w.ok(nil, "note", "restored \x1b]0;evil title\x07from c1")
	w.ok(nil, "verify")
	out := w.ok(nil, "timeline")
	for _, want := range []string{" UTC  open ", "opened: orders overwritten", "c1 saved: \"orders before\"", "c2 saved: \"orders after\"", "restored", "from c1"} {
		if !strings.Contains(out, want) {
			t.Fatalf("timeline lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b") || strings.Count(out, " verify ") != 1 {
		t.Fatalf("timeline holds an escape, or its verify run is not one line:\n%q", out)
	}
	if other := w.ok(nil, "timeline", inc); other != out {
		t.Fatalf("timeline %s differs from the current incident's:\n%s", inc, other)
	}
	if _, errs, code := w.run(nil, "timeline", "nosuch"); code != 1 || !strings.Contains(errs, `no incident matches "nosuch"`) {
		t.Fatalf("timeline of a typo: exit %d, %q", code, errs)
	}
}
