package checklist

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"calm/model"
)

// Default is the checklist an incident follows until one is chosen.
const Default = "overwrite"

// Chosen returns the name of the incident's checklist: the last one chosen
// on its timeline, else Default.
func Chosen(events []model.Event) string {
	name := Default
	for _, ev := range events {
		if ev.Kind == model.EventChecklist && ev.Item != "" {
			name = ev.Item
		}
	}
	return name
}

// Tick and untick are how step events read on the timeline. A step ticked
// anyway was ticked while it still waited for something: its event says so,
// and what it waited for, so the record never claims what did not happen.
const (
	Ticked       = "ticked"
	Unticked     = "unticked"
	TickedAnyway = "ticked anyway"
)

// StepText is the text of a step event.
func StepText(action, title, who string) string {
	return fmt.Sprintf("%s %q by %s", action, title, who)
}

// AnywayText is the text of a step ticked while it still waited: waiting is
// what State.WaitingFor said.
func AnywayText(title, who, waiting string) string {
	return StepText(TickedAnyway, title, who) + "; it was " + waiting
}

// parseStep reads a step event's text back: its action, who, and for a
// step ticked anyway what it waited for.
func parseStep(text string) (action, who, waited string) {
	for _, a := range []string{TickedAnyway, Unticked, Ticked} {
		if rest, ok := strings.CutPrefix(text, a+" "); ok {
			action = a
			text = rest
			break
		}
	}
	if action == "" {
		return "", "", ""
	}
	// The title is quoted, so a " by " inside it is not mistaken for the
	// person's name.
	if q, err := strconv.QuotedPrefix(text); err == nil {
		text = text[len(q):]
	}
	text = strings.TrimPrefix(text, " by ")
	who, rest, _ := strings.Cut(text, "; ")
	return action, who, strings.TrimPrefix(rest, "it was ")
}

// StepState is a step and what the timeline says about it.
type StepState struct {
	Step
	Done bool
	At   time.Time // when it was last ticked
	By   string
	// Waited is, for a step ticked anyway, what it still waited for then.
	Waited  string
	History []model.Event // every tick and untick, oldest first
}

// State is an incident's progress through its checklist.
type State struct {
	Checklist Checklist
	Steps     []StepState
	Current   int // the first step not done; len(Steps) when all are
}

// Compute replays the incident's step events over the checklist. Nothing is
// ever erased: an untick is one more event.
func Compute(c Checklist, events []model.Event) State {
	st := State{Checklist: c, Steps: make([]StepState, len(c.Steps))}
	index := map[string]int{}
	for i, s := range c.Steps {
		st.Steps[i].Step = s
		index[s.ID] = i
	}
	for _, ev := range events {
		if ev.Kind != model.EventStep {
			continue
		}
		i, ok := index[ev.Item]
		if !ok {
			continue // a step of another checklist
		}
		s := &st.Steps[i]
		s.History = append(s.History, ev)
		switch action, who, waited := parseStep(ev.Text); action {
		case Ticked, TickedAnyway:
			s.Done, s.At, s.By, s.Waited = true, ev.Time, who, waited
		case Unticked:
			s.Done, s.At, s.By, s.Waited = false, time.Time{}, "", ""
		}
	}
	st.Current = len(st.Steps)
	for i, s := range st.Steps {
		if !s.Done {
			st.Current = i
			break
		}
	}
	return st
}

// Facts are what requirements are checked against.
type Facts struct {
	Captures    int // sealed captures and sessions
	MaxVerified int // the most verified copies any capture has
	Notes       int
	// Evidence is when each kind of evidence happened, by kind: "capture"
	// (new data: not a session, an extract, a draft or a team message),
	// "session", "note", "message" (a team message) and "diff".
	Evidence map[string][]time.Time
}

// evidenceNames say what each kind of evidence is, for "waiting for", and
// how to make it.
var evidenceNames = map[string][2]string{
	"capture": {"a capture", "'| calm tee', 'calm snap'"},
	"session": {"a recorded session", "'calm shell', 'calm split'"},
	"note":    {"a note", "'calm note TEXT', n"},
	"message": {"the team message", "c, or a in this step"},
	"diff":    {"a diff of before and after", "D on one, D on the other"},
}

// derived are capture sources that hold no new data from the systems.
var derived = map[string]bool{"extract": true, "draft": true, "message": true}

// FactsOf gathers the facts from an incident's captures and timeline.
func FactsOf(caps []model.Capture, events []model.Event) Facts {
	f := Facts{Evidence: map[string][]time.Time{}}
	for _, c := range caps {
		if c.State == model.CaptureSealed {
			f.Captures++
		}
		f.MaxVerified = max(f.MaxVerified, c.VerifiedCopies())
		switch {
		case c.Source == model.SourceSession:
			// A session counts from its start: a rehearsal recorded now.
			f.Evidence["session"] = append(f.Evidence["session"], c.Created)
		case c.State == model.CaptureSealed && !derived[c.Source]:
			f.Evidence["capture"] = append(f.Evidence["capture"], c.Created)
		}
	}
	for _, ev := range events {
		switch ev.Kind {
		case model.EventNote:
			f.Notes++
			f.Evidence["note"] = append(f.Evidence["note"], ev.Time)
		case model.EventMessage:
			f.Evidence["message"] = append(f.Evidence["message"], ev.Time)
		case model.EventDiff:
			f.Evidence["diff"] = append(f.Evidence["diff"], ev.Time)
		}
	}
	return f
}

// happenedSince reports whether evidence of one of kinds is at or after t.
func (f Facts) happenedSince(kinds []string, t time.Time) bool {
	for _, k := range kinds {
		for _, at := range f.Evidence[k] {
			if !at.Before(t) {
				return true
			}
		}
	}
	return false
}

// Waiting says what step i waits for before it can be ticked, and how to
// make it, or "" when it can be.
func (s State) Waiting(i int, f Facts) string { return s.waiting(i, f, true) }

// WaitingFor is what Waiting says without the commands and keys that help a
// person at the keyboard: what the timeline and the postmortem keep.
func (s State) WaitingFor(i int, f Facts) string { return s.waiting(i, f, false) }

func (s State) waiting(i int, f Facts, hints bool) string {
	if i < 0 || i >= len(s.Steps) {
		return "there is no such step"
	}
	say := func(what, hint string) string {
		if hints {
			return what + " (" + hint + ")"
		}
		return what
	}
	r := s.Steps[i].Requires
	var wait []string
	var since time.Time // evidence must be newer than the step before
	after := ""
	if r.After != "" {
		for _, o := range s.Steps {
			if o.ID == r.After {
				since, after = o.At, o.Title
				if !o.Done {
					wait = append(wait, fmt.Sprintf("step %q done first", o.Title))
				}
			}
		}
	}
	if len(r.Evidence) > 0 && !f.happenedSince(r.Evidence, since) {
		var names []string
		for _, k := range r.Evidence {
			names = append(names, say(evidenceNames[k][0], evidenceNames[k][1]))
		}
		w := strings.Join(names, " or ")
		if after != "" {
			w += fmt.Sprintf(" made after %q", after)
		}
		wait = append(wait, w)
	}
	if r.Capture && f.Captures == 0 {
		wait = append(wait, say("a capture", "'calm snap', 'calm split' or '| calm tee'"))
	}
	if r.Copies > 0 && f.MaxVerified < r.Copies {
		wait = append(wait, fmt.Sprintf("%d verified copies of a capture (the best has %d)", r.Copies, f.MaxVerified))
	}
	if r.Note && f.Notes == 0 {
		wait = append(wait, say("a note", "'calm note TEXT', or n in the checklist"))
	}
	if len(wait) == 0 {
		return ""
	}
	return "waiting for " + strings.Join(wait, "; ")
}

// WaitingError is a step that could not be ticked because it still waits.
type WaitingError struct {
	Step    Step
	Waiting string
}

func (e *WaitingError) Error() string {
	return fmt.Sprintf("step %q is %s (tick it anyway with --anyway: the timeline and the postmortem will say so)", e.Step.Title, e.Waiting)
}

// Tick records the incident's current step as done by who. A step that still
// waits is refused with a *WaitingError unless anyway, and is then recorded
// as ticked anyway with what it waited for.
func Tick(s model.Store, incident string, lists []Checklist, who string, anyway bool) (StepState, error) {
	events, err := s.Events(incident)
	if err != nil {
		return StepState{}, err
	}
	caps, err := s.Captures(incident)
	if err != nil {
		return StepState{}, err
	}
	name := Chosen(events)
	c, ok := Find(lists, name)
	if !ok {
		return StepState{}, fmt.Errorf("the incident follows checklist %q, which is not known here: add its file to the checklists folder", name)
	}
	st := Compute(c, events)
	if st.Current >= len(st.Steps) {
		return StepState{}, fmt.Errorf("every step of %q is done already", c.Title)
	}
	step := st.Steps[st.Current]
	text := StepText(Ticked, step.Title, who)
	facts := FactsOf(caps, events)
	if w := st.Waiting(st.Current, facts); w != "" {
		if !anyway {
			return step, &WaitingError{Step: step.Step, Waiting: w}
		}
		text = AnywayText(step.Title, who, st.WaitingFor(st.Current, facts))
	}
	ev, err := s.AddEvent(incident, model.EventStep, step.ID, text)
	if err != nil {
		return step, fmt.Errorf("tick %q: %w", step.Title, err)
	}
	_, who, step.Waited = parseStep(ev.Text)
	step.Done, step.At, step.By = true, ev.Time, who
	return step, nil
}
