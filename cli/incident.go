package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"calm/model"
	"calm/report"
)

// reopener is a store that can reopen an incident (the agent's and the
// file's; a pulled bundle is read-only).
type reopener interface {
	ReopenIncident(ref string) (model.Incident, error)
}

func cmdIncidentReopen(e *env, args []string) error {
	fs := e.flags("reopen", "ID")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError("usage: calm incident reopen ID (see 'calm incident list')")
	}
	r, ok := e.store.(reopener)
	if !ok {
		return fmt.Errorf("this store cannot reopen incidents")
	}
	before, err := e.store.Incident(fs.Arg(0))
	if err != nil {
		return err
	}
	inc, err := r.ReopenIncident(before.ID)
	if err != nil {
		return err
	}
	what := "reopened"
	if before.IsOpen() {
		what = "open already"
	}
	fmt.Fprintf(e.stdout, "%s  %s  (%s, now current)\n", inc.ID, printable(inc.Title), what)
	return nil
}

// captureIncident is the incident a capture goes to when none is named
// (ref ""). A closed current incident is not silently followed by a new
// one: when mayAsk and a person is at the terminal, calm asks; otherwise
// the capture goes into it, said in one line. "" leaves the choice to the
// store (no incident yet: it opens one).
func (e *env) captureIncident(ref string, mayAsk bool) (string, error) {
	if ref != "" {
		// Named: it is what was asked for, closed or not, but not in silence.
		if inc, err := e.store.Incident(ref); err == nil && !inc.IsOpen() {
			e.sayClosed(inc, false, "saving into it")
		}
		return ref, nil
	}
	cur, err := e.store.Incident("")
	if err != nil || cur.IsOpen() {
		return "", nil
	}
	name := fmt.Sprintf("%s %q", cur.ID, printable(cur.Title))
	if !mayAsk || !isTerminal(e.stdin) || !isTerminal(e.stderr) {
		e.sayClosed(cur, true, "saving into it")
		return cur.ID, nil
	}
	// Ctrl-C at the question leaves, saying so: nothing is saved yet.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	type reply struct {
		answer string
		err    error
	}
	in := bufio.NewReader(e.stdin)
	for {
		fmt.Fprintf(e.stderr, "calm: the current incident %s was closed at %s. Reopen it [r], start a new incident [n], or save into it as closed [s]? [r] ",
			name, cur.Closed.Format("15:04 UTC"))
		replies := make(chan reply, 1)
		go func() {
			answer, err := in.ReadString('\n')
			replies <- reply{answer, err}
		}()
		var answer string
		select {
		case s := <-sigs:
			fmt.Fprintln(e.stderr) // end the question's line, where the terminal echoed ^C
			return "", &exitError{code: exitCodeFor(s), msg: fmt.Sprintf("interrupted by %s at the question: nothing was saved", signalName(s))}
		case r := <-replies:
			answer, err = r.answer, r.err
		}
		switch strings.ToLower(strings.TrimSpace(answer)) {
		case "", "r", "reopen":
			if err == io.EOF && answer == "" {
				return "", &exitError{code: 1, msg: "no answer: nothing saved"}
			}
			if r, ok := e.store.(reopener); ok {
				if _, err := r.ReopenIncident(cur.ID); err != nil {
					return "", err
				}
			}
			return cur.ID, nil
		case "n", "new":
			inc, err := e.store.NewIncident("")
			if err != nil {
				return "", err
			}
			fmt.Fprintf(e.stderr, "calm: opened %s %q (now current); 'calm incident new TITLE' names the next one\n", inc.ID, printable(inc.Title))
			return inc.ID, nil
		case "s", "save":
			return cur.ID, nil
		}
		if err != nil {
			return "", &exitError{code: 1, msg: "no answer: nothing saved"}
		}
	}
}

// sayClosed says in one line that what is being done goes into a closed
// incident, and how to reopen it.
func (e *env) sayClosed(inc model.Incident, current bool, doing string) {
	which := "the incident"
	if current {
		which = "the current incident"
	}
	fmt.Fprintf(e.stderr, "calm: %s %s %q is closed: %s; 'calm incident new TITLE' starts another, 'calm incident reopen %s' reopens it\n",
		which, inc.ID, printable(inc.Title), doing, inc.ID)
}

// chooseCaptureIncident settles, before a command that adds to the current
// incident runs, where it goes when that incident is closed, and gives the
// command the answer as its --incident. tee settles it beside its copy
// loop, never asking: stdout must not wait, and stdin is its data.
func (e *env) chooseCaptureIncident(name string) error {
	switch name {
	case "shell", "snap", "clip", "import", "note", "split":
	default:
		return nil
	}
	flags := e.cmd.Flags()
	if f := flags.Lookup("incident"); f != nil && f.Changed {
		_, err := e.captureIncident(f.Value.String(), false) // says if it is closed
		return err
	}
	if f := flags.Lookup("out"); name == "clip" && f != nil && f.Changed {
		return nil // clip -o ID captures nothing
	}
	id, err := e.captureIncident("", name != "note")
	if err != nil || id == "" {
		return err
	}
	if name == "split" {
		// split records into the current incident: reopen it
		// unless a new one was chosen.
		if cur, _ := e.store.Incident(""); cur.ID == id && !cur.IsOpen() {
			if r, ok := e.store.(reopener); ok {
				_, err = r.ReopenIncident(id)
			}
		}
		return err
	}
	return flags.Set("incident", id)
}

// mover is a store that can move a capture between incidents.
type mover interface {
	MoveCapture(ref, toIncident string) (model.Capture, error)
}

func cmdMove(e *env, args []string) error {
	fs := e.flags("move", "CAPTURE INCIDENT")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usageError("usage: calm move CAPTURE INCIDENT (for example: calm move c3 20261126-k3fq)")
	}
	m, ok := e.store.(mover)
	if !ok {
		return fmt.Errorf("this store cannot move captures")
	}
	c, err := m.MoveCapture(fs.Arg(0), fs.Arg(1))
	if err != nil {
		return elsewhere(e, fs.Arg(0), err)
	}
	if to, err := e.store.Incident(c.Incident); err == nil && !to.IsOpen() {
		e.sayClosed(to, false, "moved into it; an export made of it before is now out of date")
	}
	fmt.Fprintf(e.stdout, "moved %s to %s/%s (%s, %s); both timelines say so\n", fs.Arg(0), c.Incident, c.ID, humanBytes(c.Size), c.CopiesSummary())
	return nil
}

// elsewhere adds to a capture not found in the current incident the other
// incidents that have one by that ID, named as the command needs them.
func elsewhere(e *env, ref string, err error) error {
	if !errors.Is(err, model.ErrNotFound) || strings.Contains(ref, "/") {
		return err
	}
	all, lerr := e.store.Incidents()
	if lerr != nil {
		return err
	}
	var found []string
	for _, inc := range all {
		if _, cerr := e.store.Capture(inc.ID + "/" + ref); cerr == nil {
			found = append(found, inc.ID+"/"+ref)
		}
	}
	if len(found) == 0 {
		return err
	}
	return fmt.Errorf("%w; did you mean %s? (another incident's capture is named INCIDENT/ID)", err, strings.Join(found, " or "))
}

// cmdTimeline prints an incident's timeline as the postmortem lists it (a
// verify run is one line), for a look back where there is no TUI.
func cmdTimeline(e *env, args []string) error {
	fs := e.flags("timeline", "[INCIDENT]")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usageError("name one incident (default: the current one)")
	}
	rec, err := report.Load(e.store, fs.Arg(0), e.checklists(false))
	if err != nil {
		return err
	}
	w := bufio.NewWriter(e.stdout)
	for _, ev := range report.TimelineRows(rec.Events) {
		item := ev.Item
		if item == "" {
			item = "-"
		}
		// Markers and notes hold what was typed: shown, never run.
		fmt.Fprintf(w, "%s UTC  %-9s %-8s %s\n", ev.Time.UTC().Format("2006-01-02 15:04:05"), ev.Kind, printable(item), printable(ev.Text))
	}
	return w.Flush()
}
