package cli

import (
	"errors"
	"fmt"
	"os"

	"calm/checklist"
)

// cmdTick ticks the current incident's current checklist step, as space does
// in the TUI. A step still waiting for what it asks (a capture, a note, the
// team message...) is refused unless --anyway, and then recorded as ticked
// anyway, so the timeline never claims what did not happen.
func cmdTick(e *env, args []string) error {
	fs := e.flags("tick", "[--anyway] [--incident ID]")
	anyway := fs.Bool("anyway", false, "tick a step that still waits; the timeline and the postmortem say so")
	incident := fs.String("incident", "", "the incident (default: the current one)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("tick takes no arguments: it ticks the current step ('calm status' shows the incident)")
	}
	inc, err := e.store.Incident(*incident)
	if err != nil {
		return fmt.Errorf("find the incident: %w ('calm incident list' lists them)", err)
	}
	if !inc.IsOpen() {
		e.sayClosed(inc, *incident == "", "ticking its checklist")
	}
	lists, _ := checklist.Load(e.cfg.checklistDirs())
	step, err := checklist.Tick(e.store, inc.ID, lists, whoAmI(), *anyway)
	var we *checklist.WaitingError
	if errors.As(err, &we) {
		return &exitError{code: 1, msg: we.Error()}
	}
	if err != nil {
		return err
	}
	if step.Waited != "" {
		fmt.Fprintf(e.stdout, "ticked anyway %q at %s; it was %s\n", step.Title, step.At.Format("15:04:05 UTC"), step.Waited)
		return nil
	}
	fmt.Fprintf(e.stdout, "ticked %q at %s\n", step.Title, step.At.Format("15:04:05 UTC"))
	return nil
}

// whoAmI is who ticks a step: user@host, as the TUI records it.
func whoAmI() string {
	name := os.Getenv("USER")
	if name == "" {
		name = "someone"
	}
	host, _ := os.Hostname()
	return name + "@" + host
}
