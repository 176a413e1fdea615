package cli

import (
	"strings"
	"testing"
)

// TestTickRefusesAWaitingStepUnlessAnyway: 'calm tick' ticks the current
// step; one that still waits is refused in one line naming what it waits
// for, and --anyway records it as ticked anyway, in the postmortem too.
func TestTickRefusesAWaitingStepUnlessAnyway(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok(nil, "incident", "new", "users overwritten")
	if out := w.ok(nil, "tick"); !strings.HasPrefix(out, `ticked "Stop and breathe" at `) {
		t.Fatalf("first tick: %q", out)
	}
	_, errs, code := w.run(nil, "tick")
	if code != 1 || strings.Count(strings.TrimSpace(errs), "\n") != 0 || !strings.Contains(errs, `"Save the scrollback" is waiting for a capture`) || !strings.Contains(errs, "--anyway") {
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
