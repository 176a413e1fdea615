package checklist

import (
	"fmt"
	"strings"
	"time"

	"calm/storage"
)

// Default is the checklist an incident follows until one is chosen.
const Default = "overwrite"

// Chosen returns the name of the incident's checklist: the last one chosen
// on its timeline, else Default.
func Chosen(events []storage.Event) string {
	name := Default
	for _, ev := range events {
		if ev.Kind == storage.EventChecklist && ev.Item != "" {
			name = ev.Item
		}
	}
	return name
}

// Tick and untick are how step events read on the timeline.
const (
	Ticked   = "ticked"
	Unticked = "unticked"
)

// StepText is the text of a step event.
func StepText(action, title, who string) string {
	return fmt.Sprintf("%s %q by %s", action, title, who)
}

// StepState is a step and what the timeline says about it.
type StepState struct {
	Step
	Done    bool
	At      time.Time // when it was last ticked
	By      string
	History []storage.Event // every tick and untick, oldest first
}

// State is an incident's progress through its checklist.
type State struct {
	Checklist Checklist
	Steps     []StepState
	Current   int // the first step not done; len(Steps) when all are
}

// Compute replays the incident's step events over the checklist. Nothing is
// ever erased: an untick is one more event.
func Compute(c Checklist, events []storage.Event) State {
	st := State{Checklist: c, Steps: make([]StepState, len(c.Steps))}
	index := map[string]int{}
	for i, s := range c.Steps {
		st.Steps[i].Step = s
		index[s.ID] = i
	}
	for _, ev := range events {
		if ev.Kind != storage.EventStep {
			continue
		}
		i, ok := index[ev.Item]
		if !ok {
			continue // a step of another checklist
		}
		s := &st.Steps[i]
		s.History = append(s.History, ev)
		switch {
		case strings.HasPrefix(ev.Text, Ticked):
			s.Done, s.At, s.By = true, ev.Time, by(ev.Text)
		case strings.HasPrefix(ev.Text, Unticked):
			s.Done, s.At, s.By = false, time.Time{}, ""
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

func by(text string) string {
	if i := strings.LastIndex(text, " by "); i >= 0 {
		return text[i+4:]
	}
	return ""
}

// Facts are what requirements are checked against.
type Facts struct {
	Captures    int // sealed captures and sessions
	MaxVerified int // the most verified copies any capture has
	Notes       int
}

// FactsOf gathers the facts from an incident's captures and timeline.
func FactsOf(caps []storage.Capture, events []storage.Event) Facts {
	var f Facts
	for _, c := range caps {
		if c.State == storage.CaptureSealed {
			f.Captures++
		}
		f.MaxVerified = max(f.MaxVerified, c.VerifiedCopies())
	}
	for _, ev := range events {
		if ev.Kind == storage.EventNote {
			f.Notes++
		}
	}
	return f
}

// Waiting says what step i waits for before it can be ticked, or "" when
// it can be.
func (s State) Waiting(i int, f Facts) string {
	if i < 0 || i >= len(s.Steps) {
		return "there is no such step"
	}
	r := s.Steps[i].Requires
	var wait []string
	if r.After != "" {
		for _, o := range s.Steps {
			if o.ID == r.After && !o.Done {
				wait = append(wait, fmt.Sprintf("step %q done first", o.Title))
			}
		}
	}
	if r.Capture && f.Captures == 0 {
		wait = append(wait, "a capture: 'calm snap', 'calm split' or '| calm tee'")
	}
	if r.Copies > 0 && f.MaxVerified < r.Copies {
		wait = append(wait, fmt.Sprintf("%d verified copies of a capture (the best has %d)", r.Copies, f.MaxVerified))
	}
	if r.Note && f.Notes == 0 {
		wait = append(wait, "a note: 'calm note TEXT' or n in the checklist")
	}
	if len(wait) == 0 {
		return ""
	}
	return "waiting for " + strings.Join(wait, "; ")
}
