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
	// CurrentSince is when the current step became current: the incident
	// opened, the checklist was chosen, or a step was ticked or unticked.
	// A step's pause runs from then at the earliest.
	CurrentSince time.Time
}

// Done is how many steps are done, and how many of those were ticked
// anyway.
func (s State) Done() (done, anyway int) {
	for _, st := range s.Steps {
		if st.Done {
			done++
			if st.Waited != "" {
				anyway++
			}
		}
	}
	return done, anyway
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
		switch {
		case ev.Kind == model.EventOpen && st.CurrentSince.IsZero(), ev.Kind == model.EventChecklist:
			st.CurrentSince = ev.Time
			continue
		case ev.Kind != model.EventStep:
			continue
		}
		i, ok := index[ev.Item]
		if !ok {
			continue // a step of another checklist
		}
		st.CurrentSince = ev.Time
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
	Captures    int // sealed captures (with bytes in them) and sessions
	MaxVerified int // the most verified copies any capture has
	Notes       int
	// Evidence is when each kind of evidence happened, by kind: "capture"
	// (new data: not a session, an extract, a draft or a team message),
	// "session", "note", "message" (a team message) and "diff".
	Evidence map[string][]time.Time
}

// evidence is what a kind of evidence is called, for "waiting for", and how
// to make it: with the TUI's keys, and from a shell, where what only the
// TUI does is said to be there.
type evidence struct{ name, inTUI, inShell string }

var evidenceNames = map[string]evidence{
	"capture": {"a capture", "'| calm tee', 'calm snap'", "'| calm tee', 'calm snap'"},
	"session": {"a recorded session or a write command in one", "'calm shell', 'calm split'", "'calm shell', 'calm split'"},
	"note":    {"a note", "'calm note TEXT', n", "'calm note TEXT'"},
	"message": {"the team message", "c twice, or a in this step", "composed in the TUI: 'calm', then c twice"},
	"diff":    {"a diff of before and after", "D on one, D on the other", "in the TUI: D on one capture, D on the other"},
}

// derived are capture sources that hold no new data from the systems.
var derived = map[string]bool{"extract": true, "draft": true, "message": true}

// FactsOf gathers the facts from an incident's captures and timeline.
func FactsOf(caps []model.Capture, events []model.Event) Facts {
	f := Facts{Evidence: map[string][]time.Time{}}
	sessions := map[string]bool{}
	for _, c := range caps {
		if c.Size == 0 && c.Source != model.SourceSession {
			continue // a query that failed into stderr saved nothing to check or copy
		}
		if c.State == model.CaptureSealed {
			f.Captures++
		}
		f.MaxVerified = max(f.MaxVerified, c.VerifiedCopies())
		switch {
		case c.Source == model.SourceSession:
			// A session counts from its start (a rehearsal recorded now)
			// and from its end: one that recorded all along (a pane calm
			// split records) was used until then.
			sessions[c.ID] = true
			f.Evidence["session"] = append(f.Evidence["session"], c.Created)
			if c.State == model.CaptureSealed && !c.Sealed.IsZero() {
				f.Evidence["session"] = append(f.Evidence["session"], c.Sealed)
			}
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
		case model.EventMarker:
			// A write run in a session still recording: the restore
			// rehearsed there, in the pane that records all along.
			if sessions[ev.Item] {
				f.Evidence["session"] = append(f.Evidence["session"], ev.Time)
			}
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
// make it with the TUI's keys or calm's commands, or "" when it can be.
func (s State) Waiting(i int, f Facts) string { return s.waiting(i, f, inTUI) }

// WaitingInShell is Waiting for a person at a shell: commands only, and
// what only the TUI does is said to be there.
func (s State) WaitingInShell(i int, f Facts) string { return s.waiting(i, f, inShell) }

// WaitingFor is what Waiting says without the commands and keys that help a
// person at the keyboard: what the timeline and the postmortem keep.
func (s State) WaitingFor(i int, f Facts) string { return s.waiting(i, f, forTheRecord) }

// audience is who "waiting for" is said to, and so which hints it carries.
type audience int

const (
	forTheRecord audience = iota // no hints
	inTUI
	inShell
)

func (s State) waiting(i int, f Facts, to audience) string {
	if i < 0 || i >= len(s.Steps) {
		return "there is no such step"
	}
	say := func(what, tuiHint, shellHint string) string {
		switch to {
		case inTUI:
			return what + " (" + tuiHint + ")"
		case inShell:
			return what + " (" + shellHint + ")"
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
			e := evidenceNames[k]
			names = append(names, say(e.name, e.inTUI, e.inShell))
		}
		w := strings.Join(names, " or ")
		if after != "" {
			w += fmt.Sprintf(" made after %q", after)
		}
		wait = append(wait, w)
	}
	if r.Capture && f.Captures == 0 {
		wait = append(wait, say("a capture", "'calm snap', 'calm split' or '| calm tee'", "'calm snap', 'calm split' or '| calm tee'"))
	}
	if r.Copies > 0 && f.MaxVerified < r.Copies {
		wait = append(wait, fmt.Sprintf("%s of a capture (the best has %d)", model.Plural(r.Copies, "verified copy"), f.MaxVerified))
	}
	if r.Note && f.Notes == 0 {
		wait = append(wait, say("a note", "'calm note TEXT', or n in the checklist", "'calm note TEXT'"))
	}
	if len(wait) == 0 {
		return ""
	}
	return "waiting for " + strings.Join(wait, "; ")
}

// PauseLeft is how long the current step still asks to wait before it can
// be ticked: calm means not rushing. Its pause runs from when it became
// current or, later, from when it was first shown (zero: not known).
func (s State) PauseLeft(shown, now time.Time) time.Duration {
	if s.Current >= len(s.Steps) {
		return 0
	}
	pause := s.Steps[s.Current].Pause.Duration
	if pause <= 0 {
		return 0
	}
	from := s.CurrentSince
	if shown.After(from) {
		from = shown
	}
	return max(from.Add(pause).Sub(now), 0)
}

// BreathText says how long is left of a step's pause, in whole seconds
// rounded up: "1s more" for the last few hundred milliseconds, never "0s".
func BreathText(left time.Duration) string {
	return fmt.Sprintf("take a breath: %ds more, then tick", int((left+time.Second-1)/time.Second))
}

// WaitingError is a step that could not be ticked because it still waits.
type WaitingError struct {
	Step    Step
	Waiting string
}

func (e *WaitingError) Error() string {
	return fmt.Sprintf("step %q is %s (tick it anyway with --anyway: the timeline and the postmortem will say so)", e.Step.Title, e.Waiting)
}

// PauseError is a step ticked before its pause was over.
type PauseError struct {
	Step Step
	Left time.Duration
}

func (e *PauseError) Error() string {
	return fmt.Sprintf("step %q: %s", e.Step.Title, BreathText(e.Left))
}

// Progress is an incident's checklist state and the facts its steps'
// requirements are checked against, read from the store.
func Progress(s model.Store, incident string, lists []Checklist) (State, Facts, error) {
	events, err := s.Events(incident)
	if err != nil {
		return State{}, Facts{}, err
	}
	caps, err := s.Captures(incident)
	if err != nil {
		return State{}, Facts{}, err
	}
	name := Chosen(events)
	c, ok := Find(lists, name)
	if !ok {
		return State{}, Facts{}, fmt.Errorf("the incident follows checklist %q, which is not known here: add its file to the checklists folder", name)
	}
	return Compute(c, events), FactsOf(caps, events), nil
}

// TickRequest is one tick asked for.
type TickRequest struct {
	Who    string // user@host, as the timeline records it
	Anyway bool   // tick a step that still waits, saying so
	// Now is when the tick is asked (zero: the clock's now); a step's
	// pause is measured to it.
	Now time.Time
	// Step, when set, is the id of the step the person means to tick: if
	// another is current by then, nothing is ticked.
	Step string
}

// ReadFirst is how long a step is current before a tick that does not name
// it (the TUI's space, a bare 'calm tick') ticks it: a held key or a
// repeated command must not run through steps unread.
const ReadFirst = time.Second

// Tick records the incident's current step as done. A step whose pause is
// not over is refused with a *PauseError, anyway or not. A step that still
// waits is refused with a *WaitingError (saying, for a shell, how to make
// what it waits for) unless Anyway, and is then recorded as ticked anyway
// with what it waited for.
func Tick(s model.Store, incident string, lists []Checklist, req TickRequest) (StepState, error) {
	st, facts, err := Progress(s, incident, lists)
	if err != nil {
		return StepState{}, err
	}
	if st.Current >= len(st.Steps) {
		return StepState{}, fmt.Errorf("every step of %q is done already", st.Checklist.Title)
	}
	step := st.Steps[st.Current]
	if req.Step != "" && req.Step != step.ID {
		for _, asked := range st.Steps {
			if asked.ID == req.Step && asked.Done {
				// A second press, or a tick from another pane first.
				return step, fmt.Errorf("it is ticked already (at %s UTC); the current step is now %q: nothing more was ticked", asked.At.UTC().Format("15:04:05"), step.Title)
			}
		}
		return step, fmt.Errorf("the current step is %q, not %q: nothing was ticked", step.Title, req.Step)
	}
	if req.Now.IsZero() {
		req.Now = time.Now()
	}
	if left := st.PauseLeft(time.Time{}, req.Now); left > 0 {
		return step, &PauseError{Step: step.Step, Left: left}
	}
	text := StepText(Ticked, step.Title, req.Who)
	if w := st.WaitingInShell(st.Current, facts); w != "" {
		if !req.Anyway {
			return step, &WaitingError{Step: step.Step, Waiting: w}
		}
		text = AnywayText(step.Title, req.Who, st.WaitingFor(st.Current, facts))
	}
	ev, err := s.AddEvent(incident, model.EventStep, step.ID, text)
	if err != nil {
		return step, fmt.Errorf("tick %q: %w", step.Title, err)
	}
	_, who, waited := parseStep(ev.Text)
	step.Done, step.At, step.By, step.Waited = true, ev.Time, who, waited
	return step, nil
}

// LastDone is the index of the last step done, or -1 when none is.
func (s State) LastDone() int {
	last := -1
	for i, st := range s.Steps {
		if st.Done {
			last = i
		}
	}
	return last
}

// Untick takes back the last step done, as one more event on the timeline
// (the event returned): the tick it takes back stays there.
func Untick(s model.Store, incident string, lists []Checklist, who string) (Step, model.Event, error) {
	st, _, err := Progress(s, incident, lists)
	if err != nil {
		return Step{}, model.Event{}, err
	}
	last := st.LastDone()
	if last < 0 {
		return Step{}, model.Event{}, fmt.Errorf("no step of %q is ticked", st.Checklist.Title)
	}
	step := st.Steps[last].Step
	ev, err := s.AddEvent(incident, model.EventStep, step.ID, StepText(Unticked, step.Title, who))
	if err != nil {
		return step, ev, fmt.Errorf("untick %q: %w", step.Title, err)
	}
	return step, ev, nil
}
