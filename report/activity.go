package report

import (
	"time"

	"calm/model"
)

// Activity is the activity strip's data, shared by the TUI's strip and the
// HTML report's chart: output volume over the incident's time, and which
// events fell in each slice of it.
type Activity struct {
	From    time.Time
	Step    time.Duration
	Buckets []ActivityBucket
}

// ActivityBucket is one slice of the incident's time.
type ActivityBucket struct {
	Bytes   int64
	Events  []int // indexes into the events given to AddEvents
	Marker  bool  // a destructive command
	Capture bool
	Step    bool // a checklist step ticked or unticked
}

// ActivitySpan is the time the strip covers: from the incident's opening to
// its last event or capture (at least a minute), or to now while it is open
// (now may be zero to leave it out).
func ActivitySpan(inc model.Incident, caps []model.Capture, events []model.Event, now time.Time) (from, to time.Time) {
	from, to = inc.Opened, inc.Opened.Add(time.Minute)
	for _, ev := range events {
		if ev.Time.After(to) {
			to = ev.Time
		}
	}
	for _, c := range caps {
		if c.Created.After(to) {
			to = c.Created
		}
	}
	if inc.IsOpen() && now.After(to) {
		to = now
	}
	return from, to
}

// NewActivity spreads [from, to] over width buckets.
func NewActivity(from, to time.Time, width int) *Activity {
	width = max(width, 1)
	return &Activity{
		From:    from,
		Step:    max(to.Sub(from)/time.Duration(width)+1, time.Millisecond),
		Buckets: make([]ActivityBucket, width),
	}
}

// At is the bucket holding t; times outside the span go to the nearest end.
func (a *Activity) At(t time.Time) *ActivityBucket {
	i := int(t.Sub(a.From) / a.Step)
	return &a.Buckets[min(max(i, 0), len(a.Buckets)-1)]
}

// AddOutput counts n bytes of output at t.
func (a *Activity) AddOutput(t time.Time, n int64) { a.At(t).Bytes += n }

// AddEvents places each event in its bucket.
func (a *Activity) AddEvents(events []model.Event) {
	for i, ev := range events {
		b := a.At(ev.Time)
		b.Events = append(b.Events, i)
		switch ev.Kind {
		case model.EventMarker:
			b.Marker = true
		case model.EventCapture:
			b.Capture = true
		case model.EventStep:
			b.Step = true
		}
	}
}

// Peak is the largest output of one bucket.
func (a *Activity) Peak() int64 {
	var peak int64
	for _, b := range a.Buckets {
		peak = max(peak, b.Bytes)
	}
	return peak
}
