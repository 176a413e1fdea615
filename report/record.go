package report

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"calm/checklist"
	"calm/model"
	"calm/sanitize"
	"calm/terminal"
)

// Record is everything the store knows of one incident.
type Record struct {
	Incident  model.Incident
	Captures  []model.Capture
	Events    []model.Event
	Checklist checklist.State
}

// Load reads an incident's record; checklists are the ones known (built in
// and the team's), to find the one the incident follows.
func Load(s model.Store, ref string, checklists []checklist.Checklist) (Record, error) {
	var r Record
	inc, err := s.Incident(ref)
	if err != nil {
		return r, err
	}
	caps, err := s.Captures(inc.ID)
	if err != nil {
		return r, err
	}
	events, err := s.Events(inc.ID)
	if err != nil {
		return r, err
	}
	// In time order: an event that came with a moved item (a marker) is
	// numbered after the ones there before it, but happened when it did.
	sort.SliceStable(events, func(i, j int) bool { return events[i].Time.Before(events[j].Time) })
	r = Record{Incident: inc, Captures: caps, Events: events}
	if c, ok := checklist.Find(checklists, checklist.Chosen(events)); ok {
		r.Checklist = checklist.Compute(c, events)
	}
	return r, nil
}

// FirstCapture is when the first capture began (zero if none).
func (r Record) FirstCapture() time.Time {
	var first time.Time
	for _, c := range r.Captures {
		if first.IsZero() || c.Created.Before(first) {
			first = c.Created
		}
	}
	return first
}

// Resolved is when the incident was closed, else when its last checklist
// step was ticked with every step done; zero while it is neither.
func (r Record) Resolved() time.Time {
	if !r.Incident.IsOpen() {
		return r.Incident.Closed
	}
	st := r.Checklist
	if len(st.Steps) == 0 || st.Current < len(st.Steps) {
		return time.Time{}
	}
	var last time.Time
	for _, s := range st.Steps {
		if s.At.After(last) {
			last = s.At
		}
	}
	return last
}

// Notes returns the notes, in order.
func (r Record) Notes() []model.Event { return r.eventsOf(model.EventNote) }

// Markers returns the destructive-command markers, in order.
func (r Record) Markers() []model.Event { return r.eventsOf(model.EventMarker) }

// MarkersAround splits the destructive commands seen at the checklist's
// first tick: before it, what broke; from it on, the response's own (a
// restore writes too), which the team must not read as the breakage.
// Nothing ticked: every one is before.
func (r Record) MarkersAround() (before, during []model.Event) {
	var began time.Time
	for _, ev := range r.Events {
		if ev.Kind == model.EventStep {
			began = ev.Time
			break
		}
	}
	for _, ev := range r.Markers() {
		if began.IsZero() || ev.Time.Before(began) {
			before = append(before, ev)
		} else {
			during = append(during, ev)
		}
	}
	return before, during
}

// stepAt names the checklist step that was current at t, as far as the
// ticks that stand say.
func (r Record) stepAt(t time.Time) string {
	for i, s := range r.Checklist.Steps {
		if !s.Done || s.At.After(t) {
			return fmt.Sprintf("during step %d, %s", i+1, s.Title)
		}
	}
	return "after every step was ticked"
}

func (r Record) eventsOf(kind string) []model.Event {
	var out []model.Event
	for _, ev := range r.Events {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

// clean makes untrusted text (titles, notes, captured lines) safe to print:
// no terminal controls, one line, nothing a carriage return wrote over lost.
func clean(s string) string { return sanitize.Line(s) }

// copyStates reads "store verified, evidence verified, mirror mismatch".
func copyStates(c model.Capture) string {
	var parts []string
	for _, cp := range c.Copies {
		parts = append(parts, cp.Kind+" "+cp.State)
	}
	switch {
	case c.State != model.CaptureSealed && c.Recording != nil:
		return "**still recording** when exported: no verified copy yet"
	case c.State != model.CaptureSealed:
		return "**UNSEALED**: no verified copy yet"
	case len(parts) == 0:
		return "none yet"
	}
	states := strings.Join(parts, ", ") + fmt.Sprintf(" (%d on %s)", c.VerifiedCopies(), model.Plural(c.Devices(), "device"))
	if c.Partial() {
		states = "**INTERRUPTED**: " + clean(c.Interrupted) + "; partial; " + states
	}
	if c.Warning != "" {
		states += "; warning: " + clean(c.Warning)
	}
	return states
}

// sizeCell is a capture's size as a report gives it: its sealed size, or,
// while it is still written or recorded, how much there is so far (the
// record's size is 0 until the seal, which read as an empty session).
func sizeCell(c model.Capture) string {
	size, journal := c.SizeSoFar()
	switch {
	case c.State == model.CaptureSealed:
		return humanBytes(size)
	case journal:
		return humanBytes(size) + " journal so far"
	}
	return humanBytes(size) + " so far"
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func duration(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%dh%02dm%02ds", h, m, s)
	}
	return fmt.Sprintf("%dm%02ds", m, s)
}

// Output writes what a capture showed: a session's output decoded from its
// asciicast stream, a capture's bytes as they are.
func Output(ctx context.Context, s model.Store, c model.Capture, w io.Writer) error {
	ref := c.Incident + "/" + c.ID
	if c.Recording == nil {
		return s.WriteContent(ctx, ref, 0, w)
	}
	out := &terminal.CastOutput{W: w}
	if err := s.WriteContent(ctx, ref, 0, out); err != nil {
		return err
	}
	return out.Close()
}
