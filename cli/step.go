package cli

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"calm/checklist"
	"calm/model"
)

// cmdTick ticks the current incident's current checklist step, as space does
// in the TUI, by the same rules: a step's pause must be over, and a step
// still waiting for what it asks (a capture, a note, the team message...) is
// refused unless --anyway, and then recorded as ticked anyway, so the
// timeline never claims what did not happen. It says which step it ticked
// and which comes next, so that nothing is ticked unseen.
// readFirst is how long a step is current before a bare 'calm tick' ticks
// it, as the TUI's space waits.
const readFirst = checklist.ReadFirst

func cmdTick(e *env, args []string) error {
	fs := e.flags("tick", "[--anyway] [--incident ID] [STEP]")
	anyway := fs.Bool("anyway", false, "tick a step that still waits; the timeline and the postmortem say so")
	incident := fs.String("incident", "", "the incident (default: the current one)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usageError("tick ticks the current step: calm tick [STEP], STEP its number or id to make sure it is the one ('calm steps' lists them)")
	}
	inc, err := e.incidentToWrite(*incident, "nothing was ticked")
	if err != nil {
		return err
	}
	if !inc.IsOpen() {
		e.sayClosed(inc, *incident == "", "ticking its checklist")
	}
	lists := e.checklists(false)
	st, _, err := checklist.Progress(e.store, inc.ID, lists)
	if err != nil {
		return err
	}
	req := checklist.TickRequest{Who: whoAmI(), Anyway: *anyway}
	if fs.NArg() == 1 {
		if req.Step, err = isCurrentStep(st, fs.Arg(0)); err != nil {
			return err
		}
	} else if since := time.Since(st.CurrentSince); st.Current > 0 && st.Current < len(st.Steps) && since >= 0 && since < readFirst {
		// Up-arrow and Enter, again and again, ran through the checklist
		// unread, as a held space did in the TUI: a step is read first.
		// Naming it says it was.
		step := st.Steps[st.Current]
		return &exitError{code: 1, msg: fmt.Sprintf("step %d of %d, %q, became current a moment ago: nothing was ticked; read what it asks ('calm steps'), then tick it, or name it: calm tick %s", st.Current+1, len(st.Steps), printable(step.Title), step.ID)}
	}
	step, err := checklist.Tick(e.store, inc.ID, lists, req)
	var waiting *checklist.WaitingError
	var pause *checklist.PauseError
	switch {
	case errors.As(err, &waiting):
		return &exitError{code: 1, msg: fmt.Sprintf("step %d of %d, %q, is %s (tick it anyway with --anyway: the timeline and the postmortem will say so)", st.Current+1, len(st.Steps), waiting.Step.Title, waiting.Waiting)}
	case errors.As(err, &pause):
		return &exitError{code: 1, msg: fmt.Sprintf("step %d of %d, %q: %s ('calm steps' shows what it asks)", st.Current+1, len(st.Steps), pause.Step.Title, checklist.BreathText(pause.Left))}
	case err != nil:
		return err
	}
	// The incident is named: a TUI beside may show another one.
	where := fmt.Sprintf("step %d of %d, incident %s", st.Current+1, len(st.Steps), inc.ID)
	if step.Waited != "" {
		fmt.Fprintf(e.stdout, "ticked anyway %q at %s (%s); it was %s\n", printable(step.Title), step.At.UTC().Format("15:04:05 UTC"), where, printable(step.Waited))
	} else {
		fmt.Fprintf(e.stdout, "ticked %q at %s (%s)\n", printable(step.Title), step.At.UTC().Format("15:04:05 UTC"), where)
	}
	// What comes next, as the TUI shows it: what it asks and whether it
	// waits for anything.
	st, facts, err := checklist.Progress(e.store, inc.ID, lists)
	if err != nil {
		return err
	}
	if st.Current >= len(st.Steps) {
		fmt.Fprintf(e.stdout, "every step of %q is done\n", st.Checklist.Title)
		return nil
	}
	next := st.Steps[st.Current]
	fmt.Fprintf(e.stdout, "next: step %d of %d, %q: %s\n", st.Current+1, len(st.Steps), printable(next.Title), stepNow(st, facts, time.Now()))
	writeGuidance(e.stdout, next.Guidance, "  ")
	return nil
}

// cmdUntick takes back the last step ticked, as u does in the TUI.
func cmdUntick(e *env, args []string) error {
	fs := e.flags("untick", "[--incident ID]")
	incident := fs.String("incident", "", "the incident (default: the current one)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("untick takes no arguments: it takes back the last step ticked ('calm steps' lists them)")
	}
	inc, err := e.incidentToWrite(*incident, "nothing was unticked")
	if err != nil {
		return err
	}
	if !inc.IsOpen() {
		e.sayClosed(inc, *incident == "", "unticking its checklist")
	}
	lists := e.checklists(false)
	step, ev, err := checklist.Untick(e.store, inc.ID, lists, whoAmI())
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "unticked %q at %s (incident %s); the timeline keeps both its tick and this untick\n", printable(step.Title), ev.Time.UTC().Format("15:04:05 UTC"), inc.ID)
	// The step to do now, as tick names the next: no one should have to
	// guess where the checklist stands after taking a tick back.
	st, facts, err := checklist.Progress(e.store, inc.ID, lists)
	if err != nil || st.Current >= len(st.Steps) {
		return err
	}
	now := st.Steps[st.Current]
	fmt.Fprintf(e.stdout, "now: step %d of %d, %q: %s\n", st.Current+1, len(st.Steps), printable(now.Title), stepNow(st, facts, time.Now()))
	writeGuidance(e.stdout, now.Guidance, "  ")
	return nil
}

// cmdSteps lists the checklist as the TUI's checklist pane shows it: every
// step, when each was ticked and by whom, and the current one with its
// guidance and what it waits for.
func cmdSteps(e *env, args []string) error {
	fs := e.flags("steps", "[INCIDENT | --incident ID]")
	// --incident as tick and untick take it, beside the argument.
	incident := fs.String("incident", "", "the incident (default: the current one)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 || fs.NArg() == 1 && *incident != "" && fs.Arg(0) != *incident {
		return usageError("steps shows one incident's checklist: calm steps [INCIDENT] (default: the current one)")
	}
	if *incident == "" {
		*incident = fs.Arg(0)
	}
	inc, err := e.incidentToWrite(*incident, "no checklist to show")
	if err != nil {
		return err
	}
	st, facts, err := checklist.Progress(e.store, inc.ID, e.checklists(true))
	if err != nil {
		return err
	}
	now := time.Now()
	done, anyway := st.Done()
	fmt.Fprintf(e.stdout, "%s, incident %s: %d of %d steps done%s\n", st.Checklist.Title, inc.ID, done, len(st.Steps), anywayCount(anyway))
	width := 0
	for _, s := range st.Steps {
		width = max(width, utf8.RuneCountInString(printable(s.Title)))
	}
	for i, s := range st.Steps {
		mark, what := "-", ""
		switch {
		case s.Done && s.Waited != "":
			mark, what = "anyway", fmt.Sprintf("ticked anyway %s by %s; it was %s", clock(s.At, now), printable(s.By), printable(s.Waited))
		case s.Done:
			mark, what = "done", fmt.Sprintf("ticked %s by %s", clock(s.At, now), printable(s.By))
		case i == st.Current:
			mark, what = "NOW", stepNow(st, facts, now)
		}
		fmt.Fprintln(e.stdout, strings.TrimRight(fmt.Sprintf("%3d  %-6s  %-*s  %s", i+1, mark, width, printable(s.Title), what), " "))
		if i == st.Current {
			writeGuidance(e.stdout, s.Guidance, strings.Repeat(" ", 13))
		}
	}
	return nil
}

// stepNow is where the current step stands, for a person at a shell: its
// pause, what it waits for (commands, not the TUI's keys), or ready.
func stepNow(st checklist.State, facts checklist.Facts, now time.Time) string {
	if st.Current >= len(st.Steps) {
		return "every step is done"
	}
	if left := st.PauseLeft(time.Time{}, now); left > 0 {
		return strings.Replace(checklist.BreathText(left), "then tick", "then 'calm tick'", 1)
	}
	if w := st.WaitingInShell(st.Current, facts); w != "" {
		return w + "; 'calm tick --anyway' ticks it anyway, saying so"
	}
	return "ready: 'calm tick' ticks it"
}

// checklistLine is the one line 'calm status' gives the checklist: how far
// it is, and the current step.
func checklistLine(st checklist.State, facts checklist.Facts, now time.Time) string {
	done, anyway := st.Done()
	line := fmt.Sprintf("checklist %q: %d of %d steps done%s", st.Checklist.Title, done, len(st.Steps), anywayCount(anyway))
	if st.Current >= len(st.Steps) {
		return line
	}
	return fmt.Sprintf("%s; now step %d, %q: %s ('calm steps' lists them)", line, st.Current+1, st.Steps[st.Current].Title, stepNow(st, facts, now))
}

func anywayCount(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d ticked anyway)", n)
}

// isCurrentStep checks that the step named (its number or id) is the one a
// tick would tick, and gives its id.
func isCurrentStep(st checklist.State, ref string) (string, error) {
	named := -1
	for i, s := range st.Steps {
		if s.ID == ref || strconv.Itoa(i+1) == ref {
			named = i
		}
	}
	if named < 0 {
		return "", usageError("%q is not a step of %q: name one by its number (1-%d) or id ('calm steps' lists them)", ref, st.Checklist.Title, len(st.Steps))
	}
	s := st.Steps[named]
	if named == st.Current {
		return s.ID, nil
	}
	current := "every step is done"
	if st.Current < len(st.Steps) {
		current = fmt.Sprintf("the current step is %d, %q", st.Current+1, st.Steps[st.Current].Title)
	}
	state := "is not the current step"
	if s.Done {
		state = "is done already"
	}
	return "", &exitError{code: 1, msg: fmt.Sprintf("step %d, %q, %s: nothing was ticked; %s ('calm steps' lists them)", named+1, s.Title, state, current)}
}

// writeGuidance writes a step's guidance wrapped to 76 columns, each line
// indented.
func writeGuidance(w io.Writer, guidance, indent string) {
	line := indent
	for _, word := range strings.Fields(printable(guidance)) {
		if len(line) > len(indent) && len(line)+1+len(word) > 76 {
			fmt.Fprintln(w, line)
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += word
	}
	if len(line) > len(indent) {
		fmt.Fprintln(w, line)
	}
}

// clock is a time of day in UTC, with its date when that is not today.
func clock(t, now time.Time) string {
	t = t.UTC()
	if t.Format("2006-01-02") != now.UTC().Format("2006-01-02") {
		return t.Format("2006-01-02 15:04:05 UTC")
	}
	return t.Format("15:04:05 UTC")
}

// checklists are the built-in checklists and the team's; a file that does
// not load is said on stderr when warn, as the TUI shows it in its pane.
func (e *env) checklists(warn bool) []checklist.Checklist {
	lists, errs := checklist.Load(e.cfg.checklistDirs())
	lists = checklist.WithCopiesRequired(lists, e.cfg.CopiesRequired)
	if warn {
		for _, err := range errs {
			fmt.Fprintf(e.stderr, "calm: WARNING: checklist %s (the others load)\n", printable(err.Error()))
		}
	}
	return lists
}

// incidentToWrite is the incident a command works on (ref "": the current
// one). With no incident at all it says so in one line, with what was not
// done: a note or a tick opens no incident that nobody named (the TUI asks
// for a title), unlike a capture, whose data must not wait.
func (e *env) incidentToWrite(ref, notDone string) (model.Incident, error) {
	inc, err := e.store.Incident(ref)
	if ref != "" || !errors.Is(err, model.ErrNotFound) {
		return inc, err
	}
	if all, lerr := e.store.Incidents(); lerr == nil && len(all) > 0 {
		return inc, err
	}
	return inc, &exitError{code: 1, msg: "no incident yet: " + notDone + "; start one with 'calm incident new TITLE'"}
}

// whoAmI is who ticks a step: user@host, as the TUI records it.
func whoAmI() string { return model.Who() }
