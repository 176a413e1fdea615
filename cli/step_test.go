package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// waitBreathed waits until the first step's pause is over in incident
// (the current one when ""), as 'calm status' tells it.
func (w *world) waitBreathed(incident string) {
	w.t.Helper()
	args := []string{"status"}
	if incident != "" {
		args = append(args, incident)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		status := w.ok(nil, args...)
		if !strings.Contains(status, "take a breath") {
			return
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("the pause never ended:\n%s", status)
		}
	}
}

// TestTickRefusesAWaitingStepUnlessAnyway: 'calm tick' ticks the current
// step; one that still waits is refused in one line naming what it waits
// for, and --anyway records it as ticked anyway, in the postmortem too.
func TestTickRefusesAWaitingStepUnlessAnyway(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok(nil, "incident", "new", "users overwritten")
	w.waitBreathed("")
	if out := w.ok(nil, "tick"); !strings.HasPrefix(out, `ticked "Stop and breathe" at `) {
		t.Fatalf("first tick: %q", out)
	}
	time.Sleep(readFirst) // a bare tick right after another is refused
	_, errs, code := w.run(nil, "tick")
	if code != 1 || strings.Count(strings.TrimSpace(errs), "\n") != 0 || !strings.Contains(errs, `"Save the scrollback", is waiting for a capture`) || !strings.Contains(errs, "--anyway") {
		t.Fatalf("tick of a waiting step: exit %d: %q", code, errs)
	}
	out := w.ok(nil, "tick", "--anyway")
	if !strings.HasPrefix(out, `ticked anyway "Save the scrollback" at `) || !strings.Contains(out, "waiting for a capture") {
		t.Fatalf("tick --anyway: %q", out)
	}
	inc := strings.Fields(w.ok(nil, "status"))[1]
	md := w.ok(nil, "export", inc, "--format", "md")
	if !strings.Contains(md, `ticked anyway "Save the scrollback" by `) || !strings.Contains(md, "**ticked anyway**, waiting for a capture") {
		t.Fatalf("the postmortem does not say the step was ticked anyway:\n%s", md)
	}
}

// TestTickBeforeThePauseIsRefusedWithTheTimeLeft: the first step's pause
// holds from a shell as in the TUI: 'calm tick' before it is over ticks
// nothing, says how long is left and exits 1, --anyway or not; 'calm
// status' says the same. A team's checklist with a minute's pause makes
// "too soon" certain however slow the machine.
func TestTickBeforeThePauseIsRefusedWithTheTimeLeft(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	dir := filepath.Join(w.config, "calm", "checklists")
	os.MkdirAll(dir, 0o700)
	drill := "name = \"overwrite\"\ntitle = \"Slow drill\"\n[[steps]]\nid = \"breathe\"\ntitle = \"Breathe slowly\"\npause = \"1m\"\nguidance = \"Count to sixty.\"\n[[steps]]\nid = \"act\"\ntitle = \"Act\"\n"
	if err := os.WriteFile(filepath.Join(dir, "drill.toml"), []byte(drill), 0o600); err != nil {
		t.Fatal(err)
	}
	w.ok(nil, "incident", "new", "drill")
	if status := w.ok(nil, "status"); !strings.Contains(status, `checklist "Slow drill": 0 of 2 steps done; now step 1, "Breathe slowly": take a breath: `) {
		t.Fatalf("status does not show the current step and its pause:\n%s", status)
	}
	for _, args := range [][]string{{"tick"}, {"tick", "--anyway"}, {"tick", "breathe"}} {
		out, errs, code := w.run(nil, args...)
		if code != 1 || out != "" || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, `calm tick: step 1 of 2, "Breathe slowly": take a breath: `) || !strings.Contains(errs, "s more, then tick") {
			t.Errorf("calm %v within the pause: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
	if steps := w.ok(nil, "steps"); !strings.Contains(steps, "Slow drill, incident ") || !strings.Contains(steps, "0 of 2 steps done") || !strings.Contains(rowWith(steps, "Breathe slowly"), "NOW") || !strings.Contains(steps, "Count to sixty.") {
		t.Fatalf("steps within the pause:\n%s", steps)
	}
}

// TestTickFromAShellSaysWhatItTicksAndWhatComesNext walks the built-in
// checklist from a shell: each tick names the step it ticked and the next
// one, with that step's guidance and what it waits for in commands, not in
// the TUI's keys; 'calm tick STEP' ticks only the step meant; 'calm steps'
// lists every step with its state and tick time; 'calm untick' takes the
// last tick back.
func TestTickFromAShellSaysWhatItTicksAndWhatComesNext(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	inc := strings.Fields(w.ok(nil, "incident", "new", "orders overwritten"))[0]
	w.waitBreathed("")
	out := w.ok(nil, "tick")
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[0], `ticked "Stop and breathe" at `) || !strings.HasSuffix(lines[0], "(step 1 of 11, incident "+inc+")") ||
		lines[1] != `next: step 2 of 11, "Save the scrollback": waiting for a capture ('calm snap', 'calm split' or '| calm tee'); 'calm tick --anyway' ticks it anyway, saying so` ||
		!strings.HasPrefix(lines[2], "  Keep the output that holds the original") {
		t.Fatalf("the first tick:\n%s", out)
	}
	for _, c := range []struct{ step, says string }{
		{"breathe", `step 1, "Stop and breathe", is done already: nothing was ticked; the current step is 2, "Save the scrollback"`},
		{"3", `step 3, "Check the copies", is not the current step: nothing was ticked; the current step is 2, "Save the scrollback"`},
	} {
		if _, errs, code := w.run(nil, "tick", "--anyway", c.step); code != 1 || !strings.Contains(errs, c.says) {
			t.Errorf("tick %s: exit %d, %q; want %q", c.step, code, errs, c.says)
		}
	}
	if _, errs, code := w.run(nil, "tick", "nosuch"); code != 2 || !strings.Contains(errs, `"nosuch" is not a step of "Data overwritten in production"`) {
		t.Errorf("tick nosuch: exit %d, %q", code, errs)
	}
	w.ok([]byte("{ _id: 7, total: 12 }\n"), "tee", "-q", "before")
	if out := w.ok(nil, "tick", "save"); !strings.HasPrefix(out, `ticked "Save the scrollback" at `) || !strings.Contains(out, `next: step 3 of 11, "Check the copies": ready: 'calm tick' ticks it`) {
		t.Fatalf("tick save:\n%s", out)
	}
	if status := w.ok(nil, "status"); !strings.Contains(status, `checklist "Data overwritten in production": 2 of 11 steps done; now step 3, "Check the copies": ready`) {
		t.Fatalf("status:\n%s", status)
	}
	time.Sleep(readFirst) // a bare tick right after another is refused
	w.ok(nil, "tick")
	// What each later step waits for is said for a shell.
	wants := map[string]string{
		"Rehearse on a non-production copy": `waiting for a note ('calm note TEXT') or a recorded session or a write command in one ('calm shell', 'calm split') made after "Build the fix offline"`,
		"Verify the data":                   "a diff of before and after (in the TUI: D on one capture, D on the other)",
		"Tell the team":                     "waiting for the team message (composed in the TUI: 'calm', then c twice)",
	}
	for range 7 {
		steps := w.ok(nil, "steps")
		now := rowWith(steps, "NOW")
		for title, want := range wants {
			if strings.Contains(now, "NOW     "+title) && !strings.Contains(now, want) {
				t.Errorf("steps shows %q as %q, want %q", title, now, want)
			}
		}
		if strings.Contains(now, ", n)") || strings.Contains(now, "(c,") || strings.Contains(now, "a in this step") {
			t.Errorf("a TUI key as the way to make what a step waits for, from a shell: %q", now)
		}
		w.ok(nil, "tick", "--anyway", strings.Fields(now)[0]) // named: a bare tick right after another is refused
	}
	steps := w.ok(nil, "steps")
	for _, want := range []string{
		"Data overwritten in production, incident " + inc + ": 10 of 11 steps done (",
		"  1  done    Stop and breathe ",
		"  4  anyway  Say what changed ",
		" 11  NOW     Write the summary ",
		"ready: 'calm tick' ticks it",
	} {
		if !strings.Contains(steps, want) {
			t.Errorf("steps lacks %q:\n%s", want, steps)
		}
	}
	if row := rowWith(steps, "Say what changed"); !strings.Contains(row, "ticked anyway ") || !strings.Contains(row, " UTC by ") || !strings.Contains(row, "it was waiting for a note") {
		t.Errorf("a step ticked anyway: %q", row)
	}
	out = w.ok(nil, "untick")
	if !strings.HasPrefix(out, `unticked "Tell the team" at `) || !strings.Contains(out, "(incident "+inc+")") {
		t.Fatalf("untick: %q", out)
	}
	if out := w.ok(nil, "note", "which incident?"); !strings.Contains(out, " in "+inc) {
		t.Fatalf("note: %q", out)
	}
	// steps takes --incident as tick and untick do.
	if a, b := w.ok(nil, "steps", "--incident", inc), w.ok(nil, "steps", inc); a != b || !strings.Contains(a, "incident "+inc) {
		t.Fatalf("steps --incident %s:\n%s\nsteps %s:\n%s", inc, a, inc, b)
	}
	// It names the step to do now, as tick names the next.
	if !strings.Contains(out, "\nnow: step 10 of 11, \"Tell the team\": ") {
		t.Fatalf("untick does not say which step is current now: %q", out)
	}
	if now := rowWith(w.ok(nil, "steps"), "NOW"); !strings.Contains(now, "Tell the team") {
		t.Fatalf("after untick the current step is %q", now)
	}
}

// TestCopiesStepWaitsForTheCopiesTheConfigRequires: with a mirror that
// cannot be written (3 copies required, 2 verified), "Check the copies"
// was ready, though status warned 2/3 and its guidance says to wait for all.
func TestCopiesStepWaitsForTheCopiesTheConfigRequires(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	notAFolder := filepath.Join(t.TempDir(), "mirror")
	os.WriteFile(notAFolder, []byte("a file where the mirror folder should be\n"), 0o600)
	w.extra = append(w.extra, "CALM_CONFIG="+filepath.Join(w.config, "config.toml"))
	os.WriteFile(filepath.Join(w.config, "config.toml"), []byte("mirrors = ['"+notAFolder+"']\n"), 0o600)
	w.ok(nil, "incident", "new", "copies")
	w.run([]byte("the only copy\n"), "tee", "-q", "doc") // its mirror copy fails
	w.waitBreathed("")
	w.ok(nil, "tick")
	time.Sleep(readFirst) // a bare tick right after another is refused
	w.ok(nil, "tick")     // Save the scrollback: the capture is there
	time.Sleep(readFirst)
	_, errs, code := w.run(nil, "tick")
	if code != 1 || !strings.Contains(errs, `"Check the copies", is waiting for 3 verified copies of a capture (the best has 2)`) {
		t.Fatalf("tick of Check the copies with 2 of 3 copies verified: exit %d, %q", code, errs)
	}
}

// TestTickTwiceAtOnceTicksOneStep: four 'calm tick' in a row (up-arrow and
// Enter, again and again) ticked four steps in the same second, unread
// (fresh-eyes finding). A bare tick of a step current for less than a
// second is refused; naming the step says it was read.
func TestTickTwiceAtOnceTicksOneStep(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok(nil, "incident", "new", "users overwritten")
	w.waitBreathed("")
	w.ok(nil, "tick")
	_, errs, code := w.run(nil, "tick")
	if code != 1 || !strings.Contains(errs, `step 2 of 11, "Save the scrollback", became current a moment ago: nothing was ticked`) || !strings.Contains(errs, "calm tick save") {
		t.Fatalf("a second tick at once: exit %d, %q", code, errs)
	}
	if _, errs, code := w.run(nil, "tick", "--anyway"); code != 1 || !strings.Contains(errs, "became current a moment ago") {
		t.Fatalf("a second tick --anyway at once: exit %d, %q", code, errs)
	}
	if steps := w.ok(nil, "steps"); !strings.Contains(steps, "1 of 11 steps done") {
		t.Fatalf("after the refused ticks:\n%s", steps)
	}
	if out := w.ok(nil, "tick", "--anyway", "save"); !strings.HasPrefix(out, `ticked anyway "Save the scrollback"`) {
		t.Fatalf("the step named: %q", out)
	}
}
