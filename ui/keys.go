package ui

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"calm/model"
	"calm/sanitize"
)

func (u *UI) nextPane(dir int) {
	order := []struct {
		p   tview.Primitive
		tab string
	}{{u.incidents, "items"}, {u.items, "items"}, {u.timeline, "items"}, {u.viewer, "viewer"}, {u.steps, "side"}}
	if u.layout.isNarrow {
		order = order[1:]
	}
	cur := 0
	for i, o := range order {
		if u.app.GetFocus() == o.p {
			cur = i
		}
	}
	next := order[(cur+dir+len(order))%len(order)]
	u.focus(next.p, next.tab)
}

// ask reads one line at the bottom; done runs with what was typed when the
// person presses enter. Esc puts the prompt away but keeps what was typed
// as a draft, which comes back when the same prompt opens again: typed
// text is never lost.
func (u *UI) ask(label, initial string, done func(string)) {
	// A draft belongs to its incident: a note typed for one never comes
	// back in another's prompt.
	u.mu.Lock()
	key := u.incident.ID + "\t" + label
	u.mu.Unlock()
	if draft, ok := u.drafts[key]; ok {
		initial = draft
	}
	u.promptBack = u.app.GetFocus()
	u.promptLabel, u.promptKey, u.promptFunc = label, key, done
	u.prompt.SetLabel(label).SetText(initial)
	u.swapBottom(u.prompt)
	u.app.SetFocus(u.prompt)
}

// promptDone ends the prompt: enter runs it, anything else keeps the draft.
func (u *UI) promptDone(run bool) {
	text, done := u.prompt.GetText(), u.promptFunc
	if run {
		u.setDraft(u.promptKey, "")
	} else {
		u.setDraft(u.promptKey, text)
	}
	u.swapBottom(u.status)
	u.app.SetFocus(u.promptBack)
	if run && done != nil {
		done(text)
	}
}

// swapBottom shows the status line or the prompt in the bottom row.
func (u *UI) swapBottom(p tview.Primitive) {
	if p == u.prompt {
		u.bottom.SwitchToPage("prompt")
	} else {
		u.bottom.SwitchToPage("status")
	}
}

func (u *UI) findInItem(pattern string) {
	if pattern == "" {
		u.viewer.SetFind(nil)
		return
	}
	regex := strings.HasPrefix(pattern, "re:")
	f, err := NewFinder(strings.TrimPrefix(pattern, "re:"), regex)
	if err != nil {
		u.setStatus("[red]" + tview.Escape("bad pattern: "+err.Error()) + "[-]")
		return
	}
	u.viewer.SetFind(f)
	u.findPattern = pattern
	u.focusViewer()
	if !u.viewer.FindFirst() {
		u.setStatus(tview.Escape(fmt.Sprintf("%q: no match in this item (ctrl-f searches the incident)", pattern)))
		return
	}
	u.sayMatch("")
}

// sayMatch says which line the cursor found the pattern on: a status left
// from an earlier match, or from anything else, must not stay.
func (u *UI) sayMatch(wrapped string) {
	u.setStatus(tview.Escape(fmt.Sprintf("%q: line %d%s  (n next, N previous)", u.findPattern, u.viewer.Cursor()+1, wrapped)))
}

// search is an incident search while it runs.
type search struct {
	cancel context.CancelFunc
}

// searchIncident searches every item of the incident through the store and
// lists what it found; choosing a result opens its item at its line. A
// search still running is stopped first: only the last one asked shows.
func (u *UI) searchIncident(pattern string) {
	if pattern == "" {
		return
	}
	u.stopSearch()
	regex := strings.HasPrefix(pattern, "re:")
	pattern = strings.TrimPrefix(pattern, "re:")
	u.mu.Lock()
	id := u.incident.ID
	u.mu.Unlock()
	q := model.SearchQuery{Pattern: pattern, Literal: !regex, IgnoreCase: strings.ToLower(pattern) == pattern, Incident: id, Limit: searchLimit}
	ctx, cancel := context.WithCancel(u.ctx)
	s := &search{cancel: cancel}
	u.search = s
	u.setStatus("searching…  (esc stops)")
	started := u.background(func() {
		defer cancel()
		var found []model.Match
		err := u.store.Search(ctx, q, func(m model.Match) error {
			found = append(found, m)
			return nil
		})
		u.update(func() {
			if u.search != s {
				return // stopped, or another search took its place
			}
			u.search = nil
			if err != nil {
				u.setStatus("[red]" + tview.Escape("search: "+err.Error()) + "[-]")
				return
			}
			if len(found) == 0 {
				u.setStatus(tview.Escape(fmt.Sprintf("%q: nothing in this incident", pattern)))
				return
			}
			u.setStatus(matchCount(len(found), q.Limit))
			f, _ := NewFinder(pattern, regex)
			u.viewer.SetFind(f)
			u.findPattern = pattern
			u.showMatches(found)
		})
	})
	if !started {
		u.stopSearch()
	}
}

// escSearch is Esc on a search that runs: it stops, and says so.
func (u *UI) escSearch() bool {
	if !u.stopSearch() {
		return false
	}
	u.setStatus("search stopped")
	return true
}

// stopSearch stops the incident search running now, and reports whether
// there was one.
func (u *UI) stopSearch() bool {
	if u.search == nil {
		return false
	}
	u.search.cancel()
	u.search = nil
	return true
}

// searchLimit is how many lines an incident search lists.
const searchLimit = 1000

// matchCount says how many lines a search found, or that it stopped at
// its limit.
func matchCount(n, limit int) string {
	if limit > 0 && n >= limit {
		return fmt.Sprintf("the first %d matches", n)
	}
	return model.Plural(n, "match")
}

func (u *UI) showMatches(found []model.Match) {
	list := newEntryList(" " + matchCount(len(found), searchLimit) + ": enter opens, esc closes ")
	for _, m := range found {
		list.AddItem(fmt.Sprintf("%s:%d: %s", tview.Escape(m.Item), m.Line, sanitizeTitle(m.Text)))
	}
	list.SetDoneFunc(func() { u.closeDialog("matches") })
	list.SetSelectedFunc(func(i int) {
		u.closeDialog("matches")
		u.openMatch(found[i])
	})
	u.dialog("matches", list, 100, 20)
	u.app.SetFocus(list)
}

func (u *UI) openMatch(m model.Match) {
	u.mu.Lock()
	idx := -1
	for i, c := range u.caps {
		if c.ID == m.Item {
			idx = i
		}
	}
	u.pending = &jump{line: int(m.Line) - 1, text: m.Text}
	u.mu.Unlock()
	if idx < 0 {
		return
	}
	u.items.SetCurrentItem(idx)
	u.openItem(idx)
	u.focusViewer()
}

func (u *UI) jumpToTime(s string) {
	d := u.viewer.Doc()
	start, timed := d.Time(0)
	if !timed {
		u.setStatus("this item has no times: open a session")
		return
	}
	s = strings.TrimSpace(s)
	// A rejected time comes back in the prompt to be mended, the reason in
	// its label: a message in the status bar would outlive the mistake.
	retry := func() { u.ask(timeRetryLabel, s, u.jumpToTime) }
	var at time.Time
	if rest, ok := strings.CutPrefix(s, "+"); ok {
		parts := strings.Split(rest, ":")
		secs := 0
		for i, p := range parts {
			n, err := strconv.Atoi(p)
			if err != nil || n < 0 || i > 0 && n > 59 || len(parts) > 3 {
				retry()
				return
			}
			secs = secs*60 + n
		}
		at = d.Start.Add(time.Duration(secs) * time.Second)
	} else {
		var t time.Time
		var err error
		for _, layout := range []string{"15:04:05", "15:04"} {
			if t, err = time.Parse(layout, s); err == nil {
				break
			}
		}
		if err != nil {
			retry()
			return
		}
		y, mo, dd := start.UTC().Date()
		at = time.Date(y, mo, dd, t.Hour(), t.Minute(), t.Second(), 0, time.UTC)
	}
	u.viewer.MoveTo(d.LineAt(at))
	u.focusViewer()
	end, _ := d.Time(d.Len() - 1)
	span := fmt.Sprintf("the session runs %s–%s UTC", start.UTC().Format("15:04:05"), end.UTC().Format("15:04:05"))
	switch {
	case at.Before(start):
		u.setStatus(tview.Escape(at.UTC().Format("15:04:05") + " is before the session began: at its start; " + span))
	case at.After(end.Add(time.Second)):
		u.setStatus(tview.Escape(at.UTC().Format("15:04:05") + " is after its last output: at its end; " + span))
	default:
		u.setStatus(tview.Escape("at " + at.UTC().Format("15:04:05") + " UTC"))
	}
}

const (
	timeLabel      = "time (HH:MM[:SS] UTC, or +MM:SS from the start): "
	timeRetryLabel = "not a time; HH:MM[:SS] UTC, or +MM:SS from the start: "
)

// fleeting are the prompts whose text is kept as no draft: a time typed
// once is no note to lose, and a rejected one must not come back later.
var fleeting = map[string]bool{timeLabel: true, timeRetryLabel: true}

// markerLine is the line of the command a marker names. A line's time is
// when it began (its prompt), and a marker's is when its command was
// entered (calm split) or the output just before that (calm shell): the
// command is on the first line begun at or after the marker, or on the one
// before it, typed after its prompt.
func markerLine(d *Doc, ev model.Event) int {
	at := d.LineAt(d.Start.Add(time.Duration(ev.At * float64(time.Second))))
	if _, command, ok := strings.Cut(ev.Text, ": "); ok {
		// A long command wraps: its start is on its prompt's line.
		start := command[:min(len(command), 24)]
		for _, i := range []int{at, at - 1} {
			if i >= 0 && i < d.Len() && strings.Contains(d.Plain(i), start) {
				return i
			}
		}
	}
	return at
}

// nextMarker moves to the next (or previous) destructive-command marker in
// the open session.
func (u *UI) nextMarker(forward bool) {
	d := u.viewer.Doc()
	u.mu.Lock()
	var lines []int
	var labels []string
	for _, ev := range u.events {
		if ev.Kind == model.EventMarker && d.Item != "" && strings.HasSuffix(d.Item, "/"+ev.Item) {
			lines = append(lines, markerLine(d, ev))
			labels = append(labels, ev.Text)
		}
	}
	u.mu.Unlock()
	if len(lines) == 0 {
		u.setStatus("no markers in this item")
		return
	}
	cur := u.viewer.Cursor()
	// A marker on the cursor's line (the first line, as a session opens)
	// is next until m has been there.
	from := cur
	if forward && u.markerShown != (jump{cur, d.Item}) {
		from = cur - 1
	}
	pick := -1
	for i, l := range lines {
		if forward && l > from && (pick < 0 || l < lines[pick]) || !forward && l < cur && (pick < 0 || l > lines[pick]) {
			pick = i
		}
	}
	if pick < 0 {
		u.setStatus("no more markers that way")
		return
	}
	u.markerShown = jump{lines[pick], d.Item}
	u.viewer.MoveTo(lines[pick])
	u.setStatus("[red]marker[-] " + sanitizeTitle(labels[pick]))
}

func (u *UI) extract() {
	u.focusViewer()
	b, ok := u.viewer.Extract()
	if !ok {
		u.setStatus("no balanced {…} or […] block around this line")
		return
	}
	text := u.viewer.MarkedText()
	again := ""
	if u.viewer.wrapped {
		again = "no block inside that one: back to the outermost; "
	}
	where := fmt.Sprintf("lines %d–%d", b.StartLine+1, b.EndLine+1)
	if b.StartLine == b.EndLine {
		// Several blocks may share a line: which one, and how it begins.
		cut := min(len(text), 40)
		for cut < len(text) && cut > 0 && !utf8.RuneStart(text[cut]) {
			cut-- // not inside a character
		}
		start := text[:cut]
		if len(text) > cut {
			start = append(start[:len(start):len(start)], "…"...)
		}
		where = fmt.Sprintf("line %d, bytes %d–%d, %s", b.StartLine+1, b.StartCol+1, b.EndCol+1, plainTitle(string(start)))
	}
	u.setStatus(tview.Escape(fmt.Sprintf("%sblock: %s, %s, level %d  (%s)", again, where, humanBytes(int64(len(text))), b.Depth+1,
		u.keysHint("y", "yank", "s", "save", "e", "edit", "x", "one level in"))))
}

// findNext moves to the next or previous match of the pattern from /.
func (u *UI) findNext(forward bool) {
	u.focusViewer()
	from := u.viewer.Cursor()
	if !u.viewer.FindNext(forward) {
		if u.findPattern == "" {
			u.setStatus("nothing to find: / finds in this item, ctrl-f in the incident")
			return
		}
		u.setStatus(tview.Escape(fmt.Sprintf("%q: no match in this item", u.findPattern)))
		return
	}
	wrapped := ""
	switch to := u.viewer.Cursor(); {
	case to == from:
		wrapped = ", the only line that matches"
	case forward && to < from:
		wrapped = ", wrapped past the end"
	case !forward && to > from:
		wrapped = ", wrapped past the start"
	}
	u.sayMatch(wrapped)
}

// toggleSelection starts or cancels a line selection, and says so: the
// status line then follows the cursor with the lines y would take.
func (u *UI) toggleSelection() {
	u.viewer.ToggleSelection()
	if _, _, sel := u.viewer.Selection(); !sel {
		u.setStatus("selection cancelled")
		return
	}
	u.showSelection()
}

// showSelection says which lines are selected.
func (u *UI) showSelection() {
	from, to, sel := u.viewer.Selection()
	if !sel {
		return
	}
	u.setStatus(tview.Escape(fmt.Sprintf("selected lines %s  (%s, v cancels)", lineRange(from, to), u.keysHint("y", "yank", "s", "save", "e", "edit"))))
}

// lineRange names lines from..to (0-based) as a person counts them.
func lineRange(from, to int) string {
	if from == to {
		return strconv.Itoa(from + 1)
	}
	return fmt.Sprintf("%d–%d", from+1, to+1)
}

func (u *UI) clipboard() Clipboard {
	if u.opts.Clipboard != nil {
		return u.opts.Clipboard
	}
	return defaultClipboard{}
}

func (u *UI) yank() {
	text := u.viewer.MarkedText()
	if len(text) == 0 {
		u.setStatus("nothing to yank")
		return
	}
	from, to, _ := u.viewer.Selection()
	what := "lines " + lineRange(from, to)
	if b := u.viewer.Block(); b != nil {
		what = "block, lines " + lineRange(b.StartLine, b.EndLine)
		if b.StartLine == b.EndLine {
			what = "block, line " + lineRange(b.StartLine, b.EndLine)
		}
	} else if from == to {
		what = "line " + lineRange(from, to)
	}
	how, err := u.clipboard().Copy(string(text))
	if err != nil {
		u.setStatus("[red]" + tview.Escape("yank: "+err.Error()) + "[-]")
		return
	}
	u.setStatus(tview.Escape(fmt.Sprintf("yanked %s (%s): %s", what, humanBytes(int64(len(text))), how)))
}

func (u *UI) readOnly() bool {
	if u.opts.ReadOnly {
		u.setStatus("[yellow]review is read-only[-]")
	}
	return u.opts.ReadOnly
}

// nothingToSave is what s says when no text is open or marked.
const nothingToSave = "nothing to save: open an item, v to select lines or x a block"

// nothingMarked is what s says with an item open and nothing marked.
const nothingMarked = "nothing marked to save: v selects lines, x a {…} block, then s saves them as a capture of their own (this item is kept already)"

// somethingToSave reports whether s has text to save, and says so when it
// has none: an empty capture would tick "Save the scrollback" with nothing
// kept. It is asked before a new incident's title too.
func (u *UI) somethingToSave() bool {
	// Only what was marked: the cursor's line alone is what a stray s
	// would save (y still copies it).
	_, _, selecting := u.viewer.Selection()
	if u.viewer.Block() == nil && !selecting || len(bytes.TrimSpace(u.viewer.MarkedText())) == 0 {
		if d := u.viewer.Doc(); d != nil && d.Item != "" {
			// An item is open: it is kept already; s saves a part of it.
			u.setStatus(nothingMarked)
			return false
		}
		u.setStatus(nothingToSave)
		return false
	}
	return true
}

// saveMarked saves the block or selection as a new capture.
func (u *UI) saveMarked() {
	if u.readOnly() || !u.somethingToSave() {
		return
	}
	text := u.viewer.MarkedText()
	source := "selection"
	if u.viewer.Block() != nil {
		source = "extract"
	}
	doc := u.viewer.Doc()
	from := itemID(doc.Item)
	title := fmt.Sprintf("%s of %s", source, from)
	if first, last, selecting := u.viewer.Selection(); selecting && u.viewer.Block() == nil && doc.Item != "" && doc.Start.IsZero() {
		// A tee'd or clipped capture's lines are saved as it holds them
		// (a carriage return, trailing blanks), not as they are shown.
		item, lines := doc.Item, doc.Len()
		u.setStatus("saving…")
		u.background(func() {
			raw, err := rawLines(u.store, item, first, last, lines)
			note := ", the captured bytes of lines " + lineRange(first, last)
			if err != nil {
				raw, note = text, "; the lines as shown, not as captured: "+err.Error()
			}
			u.save(raw, source, title, note)
		})
		return
	}
	u.save(text, source, title)
}

// rawLines reads lines first..last (0-based) of a capture as it holds them,
// line ends included, when its lines are the ones shown (lines of them).
func rawLines(s model.Store, item string, first, last, lines int) ([]byte, error) {
	cut := &lineCutter{first: first, last: last, shown: lines}
	if err := s.WriteContent(context.Background(), item, 0, cut); err != nil {
		return nil, err
	}
	if cut.partial {
		cut.line++
	}
	// The viewer leaves out blank lines at the end, as a terminal shows
	// nothing there.
	blankTail := cut.line > lines && !cut.tailTooLong && DocFromText("", cut.tail).Len() == 0
	if cut.line != lines && !blankTail {
		return nil, fmt.Errorf("its %d lines are shown as %d (output that moves the cursor between lines)", cut.line, lines)
	}
	return cut.out, nil
}

// lineCutter keeps the bytes of lines first..last of what it is given, and
// counts its lines; it also keeps the lines past the shown ones, up to a
// bound, to tell whether they are blank.
type lineCutter struct {
	first, last int
	shown       int
	line        int // the line being read
	partial     bool
	out         []byte
	tail        []byte
	tailTooLong bool
}

// maxBlankTail bounds the lines kept past the shown ones.
const maxBlankTail = 1 << 20

func (c *lineCutter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		end := len(p)
		if i >= 0 {
			end = i + 1
		}
		if c.line >= c.first && c.line <= c.last {
			c.out = append(c.out, p[:end]...)
		}
		if c.line >= c.shown && !c.tailTooLong {
			c.tail = append(c.tail, p[:end]...)
			c.tailTooLong = len(c.tail) > maxBlankTail
		}
		c.partial = i < 0
		if i >= 0 {
			c.line++
		}
		p = p[end:]
	}
	return n, nil
}

func itemID(ref string) string {
	if i := strings.LastIndexByte(ref, '/'); i >= 0 {
		return ref[i+1:]
	}
	return ref
}

// save stores text as a capture in the background; the status line says
// when its copies are verified.
func (u *UI) save(text []byte, source, title string, note ...string) {
	u.mu.Lock()
	id, session := u.incident.ID, ""
	d := u.viewer.Doc()
	if d.Start != (time.Time{}) {
		session = itemID(d.Item)
	}
	u.mu.Unlock()
	if from, _, ok := strings.Cut(d.Item, "/"); ok && from != id {
		// What is shown belongs to another incident: saved here, it would
		// name a session this one does not hold.
		u.setStatus("[red]" + tview.Escape(fmt.Sprintf("not saved: what is shown is from incident %s, not %s; open one of this incident's items (enter in the list)", from, id)) + "[-]")
		return
	}
	u.setStatus("saving…")
	u.background(func() {
		w, err := model.NewCaptureWriter(u.store, id, model.NewCapture{Title: title, Source: source, Session: session})
		if err != nil {
			u.sayError(fmt.Errorf("save: %w", err))
			return
		}
		w.RetryFor = 10 * time.Second
		if _, err := w.Write(text); err != nil {
			u.sayError(fmt.Errorf("save: %w", err))
			return
		}
		c, err := w.Close()
		if err != nil {
			u.sayError(fmt.Errorf("save: %w", err))
			return
		}
		u.say("saved %s (%s): %s verified%s", c.ID, humanBytes(c.Size), model.Plural(c.VerifiedCopies(), "copy"), strings.Join(note, ""))
		u.refresh()
		// The list points at what was saved, so the copies pane shows its
		// copies; the viewer keeps what was saved from.
		u.update(func() { u.pointAt(c.ID) })
	})
}

// editDraft opens the marked text (or the whole item) in $EDITOR and saves
// what the person wrote as a draft capture: the restore command is built
// offline, from the verified copy, never typed into production from memory.
func (u *UI) editDraft() {
	if u.readOnly() {
		return
	}
	text := u.viewer.MarkedText()
	if _, _, sel := u.viewer.Selection(); !sel && u.viewer.Block() == nil {
		d := u.viewer.Doc()
		text = d.Text(0, d.Len()-1)
	}
	edited, ok := u.edit(text, "draft.txt", "draft unchanged in the editor: cancelled, nothing saved")
	if !ok {
		return
	}
	u.save(edited, "draft", draftTitle(u.viewer.Doc()))
}

// draftTitle names what a draft was made from: its item, or what the
// viewer shows when that is no item (a diff), never a bare "draft from".
func draftTitle(d *Doc) string {
	if d.Item != "" {
		return "draft from " + itemID(d.Item)
	}
	if t := strings.TrimSpace(d.Title); t != "" {
		return "draft from " + t
	}
	return "draft"
}

// diff marks the open item as "before", or compares it with the one marked.
func (u *UI) diff() {
	d := u.viewer.Doc()
	if d.Item == "" && d.Len() == 0 {
		u.setStatus("nothing to mark as before: open an item (1, then enter), then D")
		return
	}
	if done, _, _ := d.State(); !done {
		// Do it once the item has loaded.
		u.setStatus("diff: waiting for the item to load…")
		u.background(func() {
			t := time.NewTicker(10 * time.Millisecond)
			defer t.Stop()
			for range 3000 {
				if done, _, _ := d.State(); done {
					u.update(u.diff)
					return
				}
				select {
				case <-u.ctx.Done():
					return
				case <-t.C:
				}
			}
		})
		return
	}
	u.mu.Lock()
	base := u.diffBase
	u.mu.Unlock()
	if base == nil || base == d {
		u.mu.Lock()
		u.diffBase = d
		u.mu.Unlock()
		u.setStatus(tview.Escape(itemID(d.Item) + " marked as before: open the after item and press D"))
		return
	}
	before := strings.Split(strings.TrimSuffix(string(base.Text(0, base.Len()-1)), "\n"), "\n")
	after := strings.Split(strings.TrimSuffix(string(d.Text(0, d.Len()-1)), "\n"), "\n")
	ops := Diff(before, after)
	out := NewDoc(fmt.Sprintf("diff %s → %s", itemID(base.Item), itemID(d.Item)))
	added, removed := 0, 0
	for _, op := range ops {
		var line []byte
		switch op.Kind {
		case '-':
			removed++
			line = append([]byte("\x1b[0;38;5;1m- "), op.Text...)
			line = append(line, "\x1b[0m"...)
		case '+':
			added++
			line = append([]byte("\x1b[0;38;5;2m+ "), op.Text...)
			line = append(line, "\x1b[0m"...)
		default:
			line = append([]byte("  "), op.Text...)
		}
		out.Append(line, 0)
	}
	out.Finish(nil)
	u.mu.Lock()
	u.diffBase = nil
	u.mu.Unlock()
	u.viewer.SetDoc(out, false)
	u.focusViewer()
	u.setStatus(fmt.Sprintf("diff: %s removed, %d added", model.Plural(removed, "line"), added))
	if !u.opts.ReadOnly && base.Item != "" && d.Item != "" {
		// On the timeline, so "Verify the data" can see it was compared.
		u.mu.Lock()
		id := u.incident.ID
		u.mu.Unlock()
		text := fmt.Sprintf("compared %s with %s: %s removed, %d added", itemID(base.Item), itemID(d.Item), model.Plural(removed, "line"), added)
		u.background(func() {
			if _, err := u.store.AddEvent(id, model.EventDiff, itemID(d.Item), text); err == nil {
				u.refresh()
			}
		})
	}
}

// verify re-reads every copy of the incident now.
func (u *UI) verify() {
	u.mu.Lock()
	id := u.incident.ID
	u.mu.Unlock()
	if id == "" {
		// The store's Verify("") would read every incident's copies.
		u.setStatus("nothing to verify yet: no incident has started")
		return
	}
	u.setStatus("verifying every copy…")
	u.background(func() {
		rep, err := u.store.Verify(u.ctx, id)
		if err != nil {
			u.sayError(fmt.Errorf("verify: %w", err))
			return
		}
		u.refresh()
		u.update(func() { u.setStatus(verifyMessage(rep)) })
	})
}

// verifyMessage says what a verify found as the CLI's verify does: never
// "all match" while a copy, a manifest, a timeline copy or an unsealed
// capture says otherwise.
func verifyMessage(rep model.VerifyReport) string {
	var failed []string
	for _, p := range rep.Problems {
		failed = append(failed, p.Capture+" "+p.Copy.Kind+" "+p.Copy.State)
	}
	for _, m := range rep.Manifests {
		failed = append(failed, "SHA256SUMS in "+m.Copy.Location+" "+m.Copy.State)
	}
	for _, t := range rep.Timelines {
		failed = append(failed, "the timeline copy "+t.Copy.Location+" "+t.Copy.State)
	}
	if rep.Bundle != "" {
		// A bundle under review: its files are checked, not copies.
		if len(rep.Problems) > 0 {
			return "[red]" + tview.Escape(fmt.Sprintf("verify FAILED: %s: %s; do not trust it: pull it again", rep.Bundle, rep.Problems[0].Copy.Error)) + "[-]"
		}
		verb := "match"
		if rep.Copies == 1 {
			verb = "matches"
		}
		return tview.Escape(fmt.Sprintf("the bundle's %s %s its SHA256SUMS (the origin's copies are not checked from here)", model.Plural(rep.Copies, "file"), verb))
	}
	if len(failed) > 0 {
		return "[red]" + tview.Escape(fmt.Sprintf("verify FAILED: %s; 'calm verify --repair' writes them again from a verified copy", strings.Join(failed, ", "))) + "[-]"
	}
	if rep.Captures == 0 && len(rep.Unsealed) == 0 && len(rep.Recording) == 0 && len(rep.Streaming) == 0 {
		return "nothing to verify yet: no capture in this incident"
	}
	msg := fmt.Sprintf("verified %s of %s: all match", model.Plural(rep.Copies-rep.Pending, "copy"), model.Plural(rep.Captures, "capture"))
	if rep.Devices > 0 { // a bundle under review is on no device of this store's
		msg += ", on " + model.Plural(rep.Devices, "device")
	}
	if rep.Pending > 0 {
		msg += fmt.Sprintf("; %s not uploaded yet", model.Plural(rep.Pending, "S3 copy"))
	}
	if len(rep.Interrupted) > 0 {
		msg += fmt.Sprintf("; %s partial (interrupted)", model.IsAre(len(rep.Interrupted), "capture"))
	}
	if live := append(rep.Recording, rep.Streaming...); len(live) > 0 {
		msg += fmt.Sprintf("; still recording or streaming, copies when each ends: %s", strings.Join(live, ", "))
	}
	if len(rep.Unsealed) > 0 {
		return "[yellow]" + tview.Escape(string(sanitize.Text([]byte(fmt.Sprintf("%s; but %s not sealed (%s): not safe until sealed", msg, model.IsAre(len(rep.Unsealed), "capture"), strings.Join(rep.Unsealed, "; ")))))) + "[-]"
	}
	return tview.Escape(msg)
}

func (u *UI) dialog(name string, p tview.Primitive, width, height int) {
	grid := tview.NewGrid().SetColumns(0, width, 0).SetRows(0, height, 0).AddItem(p, 1, 1, 1, 1, 0, 0, true)
	u.pages.AddPage(name, grid, true, true)
}

func (u *UI) closeDialog(name string) {
	u.pages.RemovePage(name)
	u.app.SetFocus(u.layout.focus)
}

func (u *UI) showHelp() {
	hv := &helpView{TextView: tview.NewTextView().SetDynamicColors(true), review: u.opts.ReadOnly}
	hv.SetBorder(true).SetTitle(" keys: esc closes, j k scroll ")
	u.dialog("help", hv, 100, 40)
	u.app.SetFocus(hv)
}

// helpView is the key help, wrapped for the width it is drawn at.
type helpView struct {
	*tview.TextView
	review bool
	width  int
}

func (h *helpView) Draw(screen tcell.Screen) {
	if _, _, w, _ := h.GetInnerRect(); w != h.width {
		h.width = w
		h.SetText(helpText(h.review, w))
	}
	h.TextView.Draw(screen)
}

// confirmQuit asks first: quitting under stress by a stray key must not
// happen, and the person should know recording goes on. Stay comes first,
// where enter lands: a stray q and enter stay. Staying gives the keys back
// to what had them, a prompt with its text included.
//
// Review writes nothing and records nothing: q there quits at once, and
// what the person types next reaches their shell, not a dialog.
func (u *UI) confirmQuit() {
	if u.opts.ReadOnly {
		u.Stop()
		return
	}
	if name, _ := u.pages.GetFrontPage(); name == "quit" {
		return
	}
	u.quitBack = u.app.GetFocus()
	text := "Quit calm?\n\nRecordings and copies go on in the background."
	if kept := u.draftsKept(); kept != "" {
		text += "\n\n" + kept
	}
	m := tview.NewModal().
		SetText(text).
		AddButtons([]string{"Stay", "Quit"}).
		SetDoneFunc(func(_ int, label string) {
			if label == "Quit" {
				u.Stop()
				return
			}
			u.closeQuit()
		})
	u.pages.AddPage("quit", m, true, true)
	u.app.SetFocus(m)
}

func (u *UI) closeQuit() {
	u.pages.RemovePage("quit")
	if u.quitBack != nil {
		u.app.SetFocus(u.quitBack)
		return
	}
	u.app.SetFocus(u.layout.focus)
}

// pasteGuard makes a paste text, never keys. tview gathers a bracketed
// paste into one event (EnablePaste), which reaches the root: the open
// prompt takes it as one line, and with no prompt open it does nothing but
// say so. Without it each pasted character was a key: a pasted line break
// ran the prompt, and the rest ran as commands (a t ticked a step).
type pasteGuard struct {
	tview.Primitive
	u *UI
}

func (g pasteGuard) PasteHandler() func(string, func(tview.Primitive)) {
	return func(text string, setFocus func(tview.Primitive)) { g.u.paste(text, setFocus) }
}

func (u *UI) paste(text string, setFocus func(tview.Primitive)) {
	if !u.promptOpen() || u.app.GetFocus() != u.prompt {
		u.setStatus("[yellow]pasted text is not keys: nothing was done. Paste into a prompt: / to find, n in the checklist for a note[-]")
		return
	}
	u.prompt.PasteHandler()(pastedLine(text), setFocus)
}

// pastedLine is pasted text as a prompt's one line: escape sequences and
// control characters out, line breaks (and tabs) as spaces, the line break
// a copied line ends with dropped.
func pastedLine(text string) string {
	clean := string(sanitize.Text([]byte(text)))
	clean = strings.TrimRight(clean, "\n")
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return ' '
		}
		return r
	}, clean)
}
