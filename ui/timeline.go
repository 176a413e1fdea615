package ui

import (
	"fmt"
	"strings"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"calm/model"
	"calm/report"
)

var eventColors = map[string]string{
	model.EventMarker:  "red",
	model.EventCapture: "aqua",
	model.EventCopy:    "aqua",
	model.EventStep:    "green",
	model.EventNote:    "yellow",
	model.EventMessage: "fuchsia",
	model.EventExport:  "fuchsia",
	model.EventVerify:  "aqua",
}

// fillTimeline lists every event with its UTC time. Like a log's tail, a
// selection on the newest event stays on the newest as events arrive, and a
// live incident opens on it; review opens on the oldest, to read in order.
func (u *UI) fillTimeline() {
	cur, had := u.timeline.GetCurrentItem(), u.timeline.GetItemCount()
	newest := had > 0 && cur == had-1 || had == 0 && !u.opts.ReadOnly
	u.timeline.Clear()
	u.mu.Lock()
	events := u.events
	u.mu.Unlock()
	for _, ev := range events {
		color := eventColors[ev.Kind]
		if color == "" {
			color = "white"
		}
		item := ""
		if ev.Item != "" && !strings.HasPrefix(ev.Text, ev.Item+" ") {
			item = ev.Item + " "
		}
		u.timeline.AddItem(fmt.Sprintf("[gray]%s[-] [%s]%s[-] %s%s", ev.Time.UTC().Format("15:04:05"), color, ev.Kind, tview.Escape(item), sanitizeTitle(ev.Text)))
	}
	if newest {
		cur = len(events) - 1
	}
	if cur >= 0 && cur < len(events) {
		u.timeline.SetCurrentItem(cur)
	}
}

// openEvent jumps to what an event concerns: a capture opens, a marker opens
// its session at the command it marks.
func (u *UI) openEvent(i int) {
	u.mu.Lock()
	if i < 0 || i >= len(u.events) {
		u.mu.Unlock()
		return
	}
	ev := u.events[i]
	idx := -1
	for k, c := range u.caps {
		if c.ID == ev.Item {
			idx = k
		}
	}
	u.mu.Unlock()
	if idx < 0 {
		u.setStatus(tview.Escape(ev.Time.UTC().Format("15:04:05") + " " + ev.Kind + ": " + sanitizeTitle(ev.Text)))
		return
	}
	if ev.Kind == model.EventMarker {
		u.mu.Lock()
		u.pendingAt = &ev
		u.mu.Unlock()
	}
	u.items.SetCurrentItem(idx)
	u.openItem(idx)
	u.focusViewer()
}

// Strip is the activity strip: output volume over the incident's time, and
// under it where markers, captures and steps happened. A click jumps there.
// Its data is report.Activity, which the HTML report charts too.
type Strip struct {
	*tview.Box
	u   *UI
	act *report.Activity
}

func newStrip(u *UI) *Strip { return &Strip{Box: tview.NewBox(), u: u} }

var bars = []rune(" ▁▂▃▄▅▆▇█")

// compute spreads the incident's output and events over width buckets.
func (s *Strip) compute(width int) {
	u := s.u
	u.mu.Lock()
	inc, caps, events := u.incident, u.caps, u.events
	open := u.open
	u.mu.Unlock()
	from, to := report.ActivitySpan(inc, caps, events, u.now())
	s.act = report.NewActivity(from, to, width)
	for _, c := range caps {
		// A loaded session spreads its output over the times of its lines.
		if open != nil && open.doc.Item == c.Incident+"/"+c.ID && open.doc.timed {
			d := open.doc
			d.mu.RLock()
			for i := range d.ends {
				s.act.AddOutput(d.Start.Add(time.Duration(float64(d.times[i])*float64(time.Second))), int64(len(d.line(i))))
			}
			d.mu.RUnlock()
			continue
		}
		s.act.AddOutput(c.Created, c.Size)
	}
	s.act.AddEvents(events)
}

func (s *Strip) Draw(screen tcell.Screen) {
	s.DrawForSubclass(screen, s)
	x, y, w, h := s.GetInnerRect()
	if w <= 0 || h <= 0 {
		return
	}
	s.compute(w)
	peak := s.act.Peak()
	for i, b := range s.act.Buckets {
		level := 0
		if b.Bytes > 0 && peak > 0 {
			level = 1 + int(b.Bytes*int64(len(bars)-2)/peak)
		}
		screen.SetContent(x+i, y, bars[level], nil, tcell.StyleDefault.Foreground(tcell.ColorTeal))
		if h < 2 {
			continue
		}
		r, st := ' ', tcell.StyleDefault
		switch {
		case b.Marker:
			r, st = '!', st.Foreground(tcell.ColorRed).Bold(true)
		case b.Capture:
			r, st = '●', st.Foreground(tcell.ColorAqua)
		case b.Step:
			r, st = '✓', st.Foreground(tcell.ColorGreen)
		case len(b.Events) > 0:
			r, st = '·', st.Foreground(tcell.ColorGray)
		}
		screen.SetContent(x+i, y+1, r, nil, st)
	}
}

// MouseHandler: a click on the strip selects and opens the first event in
// that moment.
func (s *Strip) MouseHandler() func(action tview.MouseAction, event *tcell.EventMouse, setFocus func(p tview.Primitive)) (bool, tview.Primitive) {
	return s.WrapMouseHandler(func(action tview.MouseAction, event *tcell.EventMouse, setFocus func(p tview.Primitive)) (bool, tview.Primitive) {
		mx, my := event.Position()
		if action != tview.MouseLeftClick || !s.InRect(mx, my) {
			return false, nil
		}
		x, _, _, _ := s.GetInnerRect()
		if i := mx - x; s.act != nil && i >= 0 && i < len(s.act.Buckets) {
			s.jump(i)
		}
		return true, nil
	})
}

// jump opens the first event at or after bucket i.
func (s *Strip) jump(i int) {
	for ; i < len(s.act.Buckets); i++ {
		if len(s.act.Buckets[i].Events) > 0 {
			ev := s.act.Buckets[i].Events[0]
			s.u.timeline.SetCurrentItem(ev)
			s.u.openEvent(ev)
			return
		}
	}
}
