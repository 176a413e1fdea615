package ui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rivo/tview"

	"calm/model"
)

func (u *UI) fillIncidents() {
	cur := u.incidents.GetCurrentItem()
	u.incidents.Clear()
	u.mu.Lock()
	all, id := u.all, u.incident.ID
	u.mu.Unlock()
	for i, inc := range all {
		mark := " "
		if !inc.IsOpen() {
			mark = "[gray]✓[-]"
		}
		u.incidents.AddItem(fmt.Sprintf("%s %s %s", mark, tview.Escape(inc.ID), sanitizeTitle(inc.Title)))
		if inc.ID == id {
			cur = i
		}
	}
	u.incidents.SetCurrentItem(cur)
	rows := 0
	for _, text := range u.incidents.entries {
		rows += len(wrapEntry(text, leftWidth-2)) // inside the border: wide, the narrowest it is drawn
	}
	rows = min(max(rows, 1), maxIncidentRows) + 2
	for _, box := range u.incidentBoxes {
		box.ResizeItem(u.incidents, rows, 0)
	}
}

// maxIncidentRows is the most rows the incidents pane takes (it scrolls);
// the sessions and captures below want the room more.
const maxIncidentRows = 6

// itemLine is how a capture or session reads in the list: its ID, what it
// is, its size and its copies at a glance.
func (u *UI) itemLine(c model.Capture) string {
	kind := c.Source
	live := ""
	if c.State == model.CaptureOpen {
		live = "[red]●[-]"
	}
	return fmt.Sprintf("%s%-3s %s %s [gray]%s %s[-]", live, c.ID, u.copyGlyph(c), sanitizeTitle(c.Title), kind, sizeOf(c))
}

// sizeOf is a capture's size, or "recording" for a session whose size
// comes when it ends ("0B" read as nothing recorded).
func sizeOf(c model.Capture) string {
	if c.State != model.CaptureSealed && c.Recording != nil {
		return "recording"
	}
	return humanBytes(c.Size)
}

// copyGlyph shows the copies' state: green when enough are verified, red
// when any failed, yellow while pending or short of the required number.
func (u *UI) copyGlyph(c model.Capture) string {
	n := c.VerifiedCopies()
	bad := false
	for _, cp := range c.Copies {
		if cp.State == model.CopyMismatch || cp.State == model.CopyMissing || cp.State == model.CopyFailed {
			bad = true
		}
	}
	switch {
	case bad:
		return fmt.Sprintf("[red]✗%d[-]", n)
	case c.State != model.CaptureSealed:
		return "[yellow]…[-] "
	case c.Partial():
		return fmt.Sprintf("[red]⚠%d[-]", n)
	case n >= u.opts.CopiesRequired:
		return fmt.Sprintf("[green]✓%d[-]", n)
	default:
		return fmt.Sprintf("[yellow]!%d[-]", n)
	}
}

func (u *UI) fillItems() {
	cur := u.items.GetCurrentItem()
	u.items.Clear()
	u.mu.Lock()
	caps := u.caps
	u.mu.Unlock()
	for _, c := range caps {
		u.items.AddItem(u.itemLine(c))
	}
	if cur < len(caps) {
		u.items.SetCurrentItem(cur)
	}
}

// pointAt moves the list's cursor to capture id, if the list holds it.
func (u *UI) pointAt(id string) {
	u.mu.Lock()
	i := slices.IndexFunc(u.caps, func(c model.Capture) bool { return c.ID == id })
	u.mu.Unlock()
	if i >= 0 {
		u.items.SetCurrentItem(i)
		u.showCopies()
	}
}

// selected returns the capture selected in the list.
func (u *UI) selected() (model.Capture, bool) {
	i := u.items.GetCurrentItem()
	u.mu.Lock()
	defer u.mu.Unlock()
	if i < 0 || i >= len(u.caps) {
		return model.Capture{}, false
	}
	return u.caps[i], true
}

// showCopies fills the copies pane for the selected capture.
func (u *UI) showCopies() {
	c, ok := u.selected()
	if !ok {
		u.copies.SetText("[gray]no capture yet: pipe output in with 'calm tee', or 'calm snap' a tmux pane[-]")
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[::b]%s[::-] %s, %s\n", c.ID, sanitizeTitle(c.Title), sizeOf(c))
	if c.SHA256 != "" {
		fmt.Fprintf(&b, "sha256 [::b]%s[::-]%s\n", c.SHA256[:16], c.SHA256[16:24])
	}
	if c.State != model.CaptureSealed && c.Recording != nil {
		b.WriteString("[yellow]still recording: its journal holds what it recorded; copies are made when it ends (the agent seals it if its recorder dies)[-]\n")
	} else if c.State != model.CaptureSealed {
		b.WriteString("[yellow]UNSEALED: still arriving; copies are made when it ends (the agent seals it if its writer dies)[-]\n")
	}
	if c.Partial() {
		fmt.Fprintf(&b, "[red::b]INTERRUPTED[-::-] [red]%s: partial, it holds what was stored before that[-]\n", sanitizeTitle(c.Interrupted))
	}
	if c.Warning != "" {
		fmt.Fprintf(&b, "[red]WARNING: %s[-]\n", sanitizeTitle(c.Warning))
	}
	for _, cp := range c.Copies {
		glyph, color := "✓", "green"
		switch cp.State {
		case model.CopyPending:
			glyph, color = "…", "yellow"
		case model.CopyVerified:
		default:
			glyph, color = "✗", "red"
		}
		when := ""
		if !cp.Verified.IsZero() {
			when = cp.Verified.Local().Format("15:04:05")
		}
		sum := ""
		if len(cp.SHA256) >= 12 {
			sum = cp.SHA256[:12]
		}
		state := ""
		if cp.State != model.CopyVerified {
			state = cp.State + " "
		}
		fmt.Fprintf(&b, "[%s]%s %-8s %s[-]%s %s\n  [gray]%s[-]\n", color, glyph, cp.Kind, state, when, sum, tview.Escape(shortPath(cp.Location, 36)))
		if cp.Error != "" {
			fmt.Fprintf(&b, "  [red]%s[-]\n", tview.Escape(cp.Error))
		}
	}
	n, devices := c.VerifiedCopies(), c.Devices()
	color := "green"
	if n < u.opts.CopiesRequired || devices < u.opts.DevicesRequired {
		color = "yellow"
	}
	if n <= u.opts.CopiesRequired {
		fmt.Fprintf(&b, "[%s]%d of %d required copies verified[-]\n", color, n, u.opts.CopiesRequired)
	} else { // more than required: not "3 of 2"
		fmt.Fprintf(&b, "[%s]%s verified (%d required)[-]\n", color, model.Plural(n, "copy"), u.opts.CopiesRequired)
	}
	fmt.Fprintf(&b, "[%s]on %s (%d required)[-]\n", color, model.Plural(devices, "device"), u.opts.DevicesRequired)
	if devices == 1 && n > 1 {
		b.WriteString("[yellow]one disk holds every copy:\nadd a mirror on another disk[-]\n")
	}
	b.WriteString("[gray]V re-verifies every copy now[-]")
	u.copies.SetText(b.String())
}

// openItem shows capture i in the viewer, loading it in the background.
func (u *UI) openItem(i int) {
	u.mu.Lock()
	if i < 0 || i >= len(u.caps) {
		u.mu.Unlock()
		return
	}
	c := u.caps[i]
	l := newDocLoader(c)
	l.notify = func() { u.update(func() {}) }
	// Locked before the poller can see it: a follow taking it first would
	// wait for the event loop, which would wait here for the follow.
	l.loading.Lock()
	u.open, u.openRef = l, c.Incident+"/"+c.ID
	u.mu.Unlock()
	u.viewer.SetDoc(l.doc, c.State == model.CaptureOpen)
	started := u.background(func() {
		defer l.loading.Unlock()
		err := l.load(u.ctx, u.store, c.State == model.CaptureSealed)
		u.update(func() {
			if err != nil {
				u.setStatus("[red]" + tview.Escape(fmt.Sprintf("read %s: %v", c.ID, err)) + "[-]")
			}
			u.afterLoad(l.doc)
		})
	})
	if !started {
		l.loading.Unlock()
	}
}

// afterLoad makes a pending jump (from an incident search, or a marker on
// the timeline) once the item it points into has loaded.
func (u *UI) afterLoad(d *Doc) {
	if u.viewer.Doc() != d {
		// An earlier load that finished late: the jumps wait for the
		// document they point into.
		return
	}
	u.mu.Lock()
	j := u.pending
	u.pending = nil
	at := u.pendingAt
	u.pendingAt = nil
	u.mu.Unlock()
	if at != nil && d.timed {
		u.viewer.MoveTo(d.LineAt(d.Start.Add(time.Duration(at.At * float64(time.Second)))))
		u.setStatus("[red]marker[-] " + sanitizeTitle(at.Text))
	}
	if j == nil {
		return
	}
	u.viewer.MoveTo(nearestLine(d, j.line, j.text))
}

// nearestLine finds the line holding text closest to line want: the store's
// search counts lines of sanitised text, the viewer's emulated lines may
// differ slightly for sessions.
func nearestLine(d *Doc, want int, text string) int {
	text = strings.TrimSpace(text)
	n := d.Len()
	for k := 0; k < n; k++ {
		for _, i := range []int{want + k, want - k} {
			if i >= 0 && i < n && strings.Contains(d.Plain(i), text) {
				return i
			}
		}
		if k > 5000 {
			break
		}
	}
	return want
}

func (u *UI) switchIncident(i int) {
	u.mu.Lock()
	if i < 0 || i >= len(u.all) {
		u.mu.Unlock()
		return
	}
	u.incident = u.all[i]
	u.caps, u.events = nil, nil
	// The item shown was the other incident's: kept in the viewer, s, e and
	// y took it into this one, naming a session this one does not have.
	// The refresh opens this incident's newest item.
	u.open, u.openRef = nil, ""
	u.mu.Unlock()
	u.viewer.SetDoc(DocFromText("", nil), false)
	u.items.Clear()
	u.setStatus("")
	u.background(u.refresh)
	u.focus(u.items, "items")
}

func (u *UI) focusViewer() { u.focus(u.viewer, "viewer") }

// focus gives a pane the keys, showing its tab in the narrow layout.
func (u *UI) focus(p tview.Primitive, tab string) {
	u.layout.focus = p
	u.tabs.SwitchToPage(tab)
	u.syncTabs()
	u.app.SetFocus(p)
}

func (u *UI) syncTabs() {
	name, _ := u.tabs.GetFrontPage()
	var b strings.Builder
	for i, t := range []string{"items", "viewer", "side"} {
		label := map[string]string{"items": "list", "viewer": "viewer", "side": "checklist & copies"}[t]
		if t == name {
			fmt.Fprintf(&b, "[black:white] %d %s [-:-] ", i+1, label)
		} else {
			fmt.Fprintf(&b, "[gray] %d %s [-] ", i+1, label)
		}
	}
	u.tabBar.SetText(b.String())
}

// shortPath keeps the end of a long path, which names the file.
func shortPath(p string, width int) string {
	r := []rune(p)
	if len(r) <= width {
		return p
	}
	return "…" + string(r[len(r)-width+1:])
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1fG", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fM", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fK", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}
