package ui

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"calm/checklist"
	"calm/model"
)

var updateREADME = flag.Bool("update-readme", false, "rewrite the README's key list from the key table")

const keysBegin, keysEnd = "<!-- keys: made from ui/keytable.go; go test ./ui -run TestREADMEKeyList -update-readme -->\n", "<!-- end of keys -->\n"

// TestREADMEKeyListIsTheKeyTable: the README lists exactly the keys the
// table has, as the help page does.
func TestREADMEKeyListIsTheKeyTable(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	i, j := strings.Index(readme, keysBegin), strings.Index(readme, keysEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md has no key list between %q and %q", keysBegin, keysEnd)
	}
	want := keysMarkdown()
	if got := readme[i+len(keysBegin) : j]; got != want {
		if *updateREADME {
			if err := os.WriteFile("../README.md", []byte(readme[:i+len(keysBegin)]+want+readme[j:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Fatalf("README.md's key list differs from the key table (go test ./ui -run TestREADMEKeyList -update-readme):\n%s", got)
	}
}

// TestKeyTableIsConsistent: no key is bound twice in one scope, every
// binding says what it does and does something, and the help page lists
// every key the issue found missing.
func TestKeyTableIsConsistent(t *testing.T) {
	seen := map[string]bool{}
	for _, b := range keyTable {
		if b.help == "" || b.do == nil || len(b.keys) == 0 {
			t.Fatalf("binding %v has no help or no action", b.keys)
		}
		known := false
		for _, s := range scopeOrder {
			known = known || s == b.scope
		}
		if !known {
			t.Fatalf("binding %v: scope %q is not in scopeOrder", b.keys, b.scope)
		}
		for _, k := range b.keys {
			id := string(b.scope) + " " + k
			if seen[id] {
				t.Fatalf("%s is bound twice", id)
			}
			seen[id] = true
		}
	}
	help := helpText(false, 0)
	for _, k := range []string{"n ", "L ", "a ", "p ", "+ ", "- ", "T ", "enter", "ctrl-c", "j down"} {
		if !strings.Contains(help, "  "+k) {
			t.Fatalf("help does not list %q:\n%s", k, help)
		}
	}
}

// keyFixture is an incident with a session that has two markers and a
// Mongo transcript (open in the viewer), and an older incident.
func keyFixture(t *testing.T, o Options) *harness {
	t.Helper()
	db := openStore(t)
	if _, err := db.NewIncident("older incident"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.NewIncident("users overwritten"); err != nil {
		t.Fatal(err)
	}
	began := time.Now().Add(-time.Hour).Truncate(time.Second)
	var events [][3]any
	for i := range 60 {
		events = append(events, [3]any{float64(i) * 0.1, "o", fmt.Sprintf("tick %d\r\n", i)})
	}
	s := saveSession(t, db, began, events)
	db.AddMarker("", s.ID, "kubectl delete", 1.0)
	db.AddMarker("", s.ID, "DROP TABLE", 4.0)
	saveCapture(t, db, "mongo find", mongoTranscript)
	if o.Editor == "" {
		o.Editor = appendingEditor(t)
	}
	h := start(t, db, 160, 50, o)
	h.waitFor("mongo find")
	h.in(func() { h.ui.items.SetCurrentItem(0); h.ui.openItem(0) })
	h.waitFor("rs0:PRIMARY> db.users.find")
	return h
}

// appendingEditor is an editor that adds a line and saves: a file left as
// calm wrote it is a cancel.
func appendingEditor(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "editor.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\necho 'written in the editor' >> \"$1\"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	return path
}

// in runs f in the event loop, where the UI's state may be read.
func (h *harness) in(f func()) { h.ui.App().QueueUpdate(f) }

// waitUntil waits for a condition on the UI's state, read in the event loop.
func (h *harness) waitUntil(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok := false
		h.in(func() { ok = cond() })
		if ok {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("never: %s\n%s", what, h.text())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// keyPress turns a table key name back into an event.
func (h *harness) pressName(name string) {
	named := map[string]tcell.Key{"enter": tcell.KeyEnter, "esc": tcell.KeyEscape, "tab": tcell.KeyTab,
		"shift-tab": tcell.KeyBacktab, "up": tcell.KeyUp, "down": tcell.KeyDown, "left": tcell.KeyLeft,
		"right": tcell.KeyRight, "pgup": tcell.KeyPgUp, "pgdn": tcell.KeyPgDn, "home": tcell.KeyHome,
		"end": tcell.KeyEnd, "ctrl-b": tcell.KeyCtrlB, "ctrl-c": tcell.KeyCtrlC, "ctrl-f": tcell.KeyCtrlF}
	switch {
	case name == "space":
		h.press(" ")
	case named[name] != 0:
		h.press(named[name])
	default:
		h.press(name)
	}
}

// TestEveryKeyDoesWhatTheTableSays presses every key of the table in its
// scope, on a fresh UI, and checks the effect its help describes. A key
// added to the table without a check here fails the test.
func TestEveryKeyDoesWhatTheTableSays(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: runs without -short")
	}
	type check struct {
		setup func(h *harness)             // puts the UI in the scope
		after func(h *harness, key string) // presses nothing; checks the effect of key
	}
	focusOn := func(pane func(u *UI) (tview.Primitive, string)) func(h *harness) {
		return func(h *harness) {
			h.in(func() { p, tab := pane(h.ui); h.ui.focus(p, tab) })
		}
	}
	viewer := focusOn(func(u *UI) (tview.Primitive, string) { return u.viewer, "viewer" })
	itemsList := focusOn(func(u *UI) (tview.Primitive, string) { return u.items, "items" })
	checklistPane := focusOn(func(u *UI) (tview.Primitive, string) { return u.steps, "side" })
	middleOfViewer := func(h *harness) {
		viewer(h)
		h.in(func() { h.ui.viewer.MoveTo(9) })
	}
	say := func(want string) func(h *harness, key string) {
		return func(h *harness, key string) { h.waitFor(want) }
	}
	openSession := func(h *harness) {
		h.in(func() { h.ui.openItem(1); h.ui.focusViewer() })
		h.waitFor("tick 5")
		// Shown is not loaded: replay waits for the whole session.
		h.waitUntil("the session loaded", func() bool { done, _, _ := h.ui.viewer.Doc().State(); return done })
	}
	cursorIs := func(want func(h *harness) int) func(h *harness, key string) {
		return func(h *harness, key string) {
			w := want(h)
			h.waitUntil(fmt.Sprintf("%s puts the cursor on line %d", key, w), func() bool { return h.ui.viewer.cur == w })
		}
	}
	listCur := func(want int) func(h *harness, key string) {
		return func(h *harness, key string) {
			h.waitUntil(fmt.Sprintf("%s selects entry %d", key, want), func() bool { return h.ui.items.GetCurrentItem() == want })
		}
	}
	focusIs := func(pane func(u *UI) tview.Primitive) func(h *harness, key string) {
		return func(h *harness, key string) {
			h.waitUntil(key+" moves the focus", func() bool { return h.ui.app.GetFocus() == pane(h.ui) })
		}
	}
	quits := func(h *harness, key string) {
		select {
		case err := <-h.done:
			if err != nil {
				t.Fatal(err)
			}
			h.done <- nil
		case <-time.After(5 * time.Second):
			t.Fatalf("%s did not quit", key)
		}
	}
	// The tick-anyway question, on a step that waits for nothing: Wait
	// has the keys as it opens.
	anywayDialog := func(h *harness) {
		h.in(func() {
			h.ui.offerTickAnyway(checklist.Step{ID: "breathe", Title: "Stop and breathe"}, "waiting for a test", "a test")
		})
		h.waitFor("Tick it anyway?")
	}
	buttonIs := func(label string) func(h *harness, key string) {
		return func(h *harness, key string) {
			h.waitUntil(fmt.Sprintf("%s puts the keys on %s", key, label), func() bool {
				b, ok := h.ui.app.GetFocus().(*tview.Button)
				return ok && b.GetLabel() == label
			})
		}
	}
	onTickAnyway := func(h *harness) { anywayDialog(h); h.press(tcell.KeyTab); buttonIs("Tick anyway")(h, "tab") }
	closedWithoutTick := func(h *harness, key string) {
		h.waitGone("Tick it anyway?")
		h.in(func() {
			for _, ev := range h.ui.events {
				if ev.Kind == model.EventStep {
					t.Errorf("%s ticked: %q", key, ev.Text)
				}
			}
		})
	}
	checklistDialog := func(h *harness) {
		checklistPane(h)
		h.press("L")
		h.waitFor("checklist: enter chooses")
	}
	// The search "anywhere esc" stops (TestEscStopsTheSearch runs real ones).
	var searchCtx context.Context
	checks := map[string]check{
		"anywhere ?":         {viewer, say("calm keys")},
		"anywhere q":         {viewer, say("Quit calm?")},
		"anywhere ctrl-c":    {itemsList, say("Quit calm?")},
		"anywhere tab":       {viewer, focusIs(func(u *UI) tview.Primitive { return u.steps })},
		"anywhere shift-tab": {viewer, focusIs(func(u *UI) tview.Primitive { return u.timeline })},
		"anywhere 1":         {viewer, focusIs(func(u *UI) tview.Primitive { return u.items })},
		"anywhere 2":         {itemsList, focusIs(func(u *UI) tview.Primitive { return u.viewer })},
		"anywhere 3":         {viewer, focusIs(func(u *UI) tview.Primitive { return u.steps })},
		"anywhere ctrl-f":    {viewer, say("search incident:")},
		"anywhere V":         {viewer, say("all match")},
		"anywhere T":         {itemsList, say("take a breath")},
		"anywhere c": {viewer, func(h *harness, key string) {
			// One c only asks ($EDITOR would take the screen); a key
			// between two c's makes the second ask again.
			h.waitFor("c again: compose the team message")
			h.press("j")
			h.waitGone("c again: compose the team message")
			h.press("c")
			h.waitFor("c again: compose the team message")
			h.press("c")
			h.waitFor("team message:")
		}},
		"anywhere p":  {openSession, say("replaying at 1x")},
		"anywhere +":  {viewer, say("replay speed 2x")},
		"anywhere -":  {func(h *harness) { h.press("+", "+") }, say("replay speed 2x")},
		"open item /": {viewer, say("find:")},
		"open item n": {func(h *harness) { viewer(h); h.in(func() { f, _ := NewFinder("ada@", false); h.ui.viewer.SetFind(f) }) },
			cursorIs(func(*harness) int { return 3 })},
		"open item N": {func(h *harness) { viewer(h); h.in(func() { f, _ := NewFinder("ada@", false); h.ui.viewer.SetFind(f) }) },
			cursorIs(func(*harness) int { return 16 })},
		"open item t": {openSession, say("time (HH:MM")},
		"open item m": {openSession, say("marker kubectl delete")},
		"open item M": {func(h *harness) { openSession(h); h.in(func() { h.ui.viewer.MoveTo(59) }) }, say("marker DROP TABLE")},
		"open item x": {middleOfViewer, say("block: lines 2–16")},
		"open item y": {middleOfViewer, func(h *harness, key string) {
			h.waitFor("yanked line 10")
			if h.clip.last() != "\t\"created\" : ISODate(\"2020-07-26T10:12:14.512Z\"),\n" {
				t.Fatalf("y yanked %q", h.clip.last())
			}
		}},
		"open item s": {func(h *harness) { middleOfViewer(h); h.press("v") }, say("saved c2")},
		"open item e": {middleOfViewer, say("saved c2")},
		"open item D": {viewer, say("marked as before")},
		"viewer j":    {middleOfViewer, cursorIs(func(*harness) int { return 10 })},
		"viewer down": {middleOfViewer, cursorIs(func(*harness) int { return 10 })},
		"viewer k":    {middleOfViewer, cursorIs(func(*harness) int { return 8 })},
		"viewer up":   {middleOfViewer, cursorIs(func(*harness) int { return 8 })},
		"viewer space": {openSession, cursorIs(func(h *harness) int {
			n := 0
			h.in(func() { n = h.ui.viewer.height - 1 })
			return n
		})},
		"viewer pgdn": {openSession, cursorIs(func(h *harness) int {
			n := 0
			h.in(func() { n = h.ui.viewer.height - 1 })
			return n
		})},
		"viewer pgup":   {func(h *harness) { openSession(h); h.in(func() { h.ui.viewer.MoveTo(59) }) }, cursorIs(func(h *harness) int { n := 0; h.in(func() { n = 59 - (h.ui.viewer.height - 1) }); return n })},
		"viewer ctrl-b": {func(h *harness) { openSession(h); h.in(func() { h.ui.viewer.MoveTo(59) }) }, cursorIs(func(h *harness) int { n := 0; h.in(func() { n = 59 - (h.ui.viewer.height - 1) }); return n })},
		// g goes back to the first column too: scrolled sideways, short
		// lines showed only their ‹, and the item looked empty.
		"viewer g": {func(h *harness) { middleOfViewer(h); h.in(func() { h.ui.viewer.left = 16 }) }, func(h *harness, key string) {
			h.waitUntil(key+" goes to the first line and column", func() bool { return h.ui.viewer.cur == 0 && h.ui.viewer.left == 0 })
		}},
		"viewer home": {func(h *harness) { middleOfViewer(h); h.in(func() { h.ui.viewer.left = 16 }) }, func(h *harness, key string) {
			h.waitUntil(key+" goes to the first line and column", func() bool { return h.ui.viewer.cur == 0 && h.ui.viewer.left == 0 })
		}},
		"viewer G":   {middleOfViewer, cursorIs(func(h *harness) int { return 18 })},
		"viewer end": {middleOfViewer, cursorIs(func(h *harness) int { return 18 })},
		"viewer h": {func(h *harness) { viewer(h); h.in(func() { h.ui.viewer.left = 16 }) }, func(h *harness, key string) {
			h.waitUntil(key+" scrolls left", func() bool { return h.ui.viewer.left == 8 })
		}},
		"viewer left": {func(h *harness) { viewer(h); h.in(func() { h.ui.viewer.left = 16 }) }, func(h *harness, key string) {
			h.waitUntil(key+" scrolls left", func() bool { return h.ui.viewer.left == 8 })
		}},
		"viewer l": {viewer, func(h *harness, key string) {
			h.waitUntil(key+" scrolls right", func() bool { return h.ui.viewer.left == 8 })
		}},
		"viewer right": {viewer, func(h *harness, key string) {
			h.waitUntil(key+" scrolls right", func() bool { return h.ui.viewer.left == 8 })
		}},
		"viewer v": {middleOfViewer, say("selected lines 10")},
		"viewer esc": {func(h *harness) { middleOfViewer(h); h.press("x") }, func(h *harness, key string) {
			h.waitUntil(key+" clears the block", func() bool { return h.ui.viewer.block == nil })
		}},
		"anywhere esc": {func(h *harness) {
			itemsList(h)
			h.in(func() {
				ctx, cancel := context.WithCancel(h.ui.ctx)
				h.ui.search = &search{cancel: cancel}
				searchCtx = ctx
			})
		}, func(h *harness, key string) {
			h.waitFor("search stopped")
			if searchCtx.Err() == nil {
				t.Fatalf("%s left the search running", key)
			}
		}},
		"lists j":    {itemsList, listCur(1)},
		"lists down": {itemsList, listCur(1)},
		"lists k":    {func(h *harness) { itemsList(h); h.in(func() { h.ui.items.SetCurrentItem(1) }) }, listCur(0)},
		"lists up":   {func(h *harness) { itemsList(h); h.in(func() { h.ui.items.SetCurrentItem(1) }) }, listCur(0)},
		"lists pgdn": {itemsList, listCur(1)},
		"lists pgup": {func(h *harness) { itemsList(h); h.in(func() { h.ui.items.SetCurrentItem(1) }) }, listCur(0)},
		"lists g":    {func(h *harness) { itemsList(h); h.in(func() { h.ui.items.SetCurrentItem(1) }) }, listCur(0)},
		"lists home": {func(h *harness) { itemsList(h); h.in(func() { h.ui.items.SetCurrentItem(1) }) }, listCur(0)},
		"lists G":    {itemsList, listCur(1)},
		"lists end":  {itemsList, listCur(1)},
		"incidents enter": {focusOn(func(u *UI) (tview.Primitive, string) { u.incidents.SetCurrentItem(0); return u.incidents, "items" }),
			say("older incident  ")},
		"sessions & captures enter": {func(h *harness) { itemsList(h); h.in(func() { h.ui.items.SetCurrentItem(1) }) }, say("tick 5")},
		"timeline enter": {focusOn(func(u *UI) (tview.Primitive, string) {
			for i, ev := range u.events {
				if ev.Text == "DROP TABLE" {
					u.timeline.SetCurrentItem(i)
				}
			}
			return u.timeline, "items"
		}), say("marker DROP TABLE")},
		"checklist space": {checklistPane, say("take a breath")},
		"checklist enter": {checklistPane, say("enter ticks nothing here: space ticks the step")},
		"checklist u":     {checklistPane, say("no step is ticked")},
		"checklist n":     {checklistPane, say("note:")},
		"checklist L":     {checklistPane, say("checklist: enter chooses")},
		"checklist a":     {checklistPane, say("this step has no action")},
		"dialog list enter": {checklistDialog, func(h *harness, key string) {
			h.waitGone("checklist: enter chooses")
			h.waitUntil("a checklist is chosen on the timeline", func() bool {
				for _, ev := range h.ui.events {
					if strings.HasPrefix(ev.Text, "following ") {
						return true
					}
				}
				return false
			})
		}},
		"dialog list esc": {checklistDialog, func(h *harness, key string) { h.waitGone("checklist: enter chooses") }},
		"prompt enter":    {func(h *harness) { viewer(h); h.press("/", "ObjectId") }, say(`"ObjectId": line 3`)},
		"prompt esc": {func(h *harness) { viewer(h); h.press("/", "ObjectId") }, func(h *harness, key string) {
			h.waitGone("find: ObjectId")
			h.press("/")
			h.waitFor("find: ObjectId")
		}},
		"prompt tab": {func(h *harness) { viewer(h); h.press("/", "Object") }, func(h *harness, key string) {
			h.waitFor("find: Object ")
			h.press("x", tcell.KeyEnter)
			h.waitFor(`"Object x": no match`)
		}},
		"prompt ctrl-c": {func(h *harness) { viewer(h); h.press("/", "ObjectId") }, func(h *harness, key string) {
			h.waitFor("Quit calm?")
			h.press("n")
			h.waitGone("Quit calm?")
			h.press("Id", tcell.KeyEnter)
			h.waitFor(`"ObjectIdId": no match`)
		}},
		"dialog list ctrl-c":           {checklistDialog, say("Quit calm?")},
		"dialog list q":                {checklistDialog, say("Quit calm?")},
		"tick-anyway dialog j":         {anywayDialog, buttonIs("Tick anyway")},
		"tick-anyway dialog down":      {anywayDialog, buttonIs("Tick anyway")},
		"tick-anyway dialog tab":       {anywayDialog, buttonIs("Tick anyway")},
		"tick-anyway dialog k":         {onTickAnyway, buttonIs("Wait")},
		"tick-anyway dialog up":        {onTickAnyway, buttonIs("Wait")},
		"tick-anyway dialog shift-tab": {onTickAnyway, buttonIs("Wait")},
		"tick-anyway dialog enter":     {anywayDialog, closedWithoutTick},
		"tick-anyway dialog esc":       {onTickAnyway, closedWithoutTick},
		"tick-anyway dialog ctrl-c":    {anywayDialog, say("Quit calm?")},
		"help ctrl-c":                  {func(h *harness) { h.press("?"); h.waitFor("calm keys") }, say("Quit calm?")},
		"quit dialog ctrl-c":           {func(h *harness) { h.press("q"); h.waitFor("Quit calm?") }, quits},
		"help esc":                     {func(h *harness) { h.press("?"); h.waitFor("calm keys") }, func(h *harness, key string) { h.waitGone("calm keys") }},
		"help ?":                       {func(h *harness) { h.press("?"); h.waitFor("calm keys") }, func(h *harness, key string) { h.waitGone("calm keys") }},
		"help q":                       {func(h *harness) { h.press("?"); h.waitFor("calm keys") }, func(h *harness, key string) { h.waitGone("calm keys") }},
		"quit dialog y":                {func(h *harness) { h.press("q"); h.waitFor("Quit calm?") }, quits},
		"quit dialog q":                {func(h *harness) { h.press("q"); h.waitFor("Quit calm?") }, quits},
		"quit dialog n":                {func(h *harness) { h.press("q"); h.waitFor("Quit calm?") }, func(h *harness, key string) { h.waitGone("Quit calm?") }},
		"quit dialog esc":              {func(h *harness) { h.press("q"); h.waitFor("Quit calm?") }, func(h *harness, key string) { h.waitGone("Quit calm?") }},
		"quit dialog enter":            {func(h *harness) { h.press("q"); h.waitFor("Quit calm?") }, func(h *harness, key string) { h.waitGone("Quit calm?") }},
		"quit dialog tab":              {func(h *harness) { h.press("q"); h.waitFor("Quit calm?") }, buttonIs("Quit")},
		"quit dialog shift-tab":        {func(h *harness) { h.press("q"); h.waitFor("Quit calm?") }, buttonIs("Quit")},
		"quit dialog left":             {func(h *harness) { h.press("q"); h.waitFor("Quit calm?") }, buttonIs("Quit")},
		"quit dialog right":            {func(h *harness) { h.press("q"); h.waitFor("Quit calm?") }, buttonIs("Quit")},
	}
	for _, b := range keyTable {
		for _, key := range b.keys {
			id := string(b.scope) + " " + key
			c, ok := checks[id]
			if !ok {
				t.Errorf("no check for %q (%s)", id, b.help)
				continue
			}
			t.Run(strings.ReplaceAll(id, " ", "_"), func(t *testing.T) {
				// Each on a UI and store of its own; failures wait out their
				// deadlines side by side.
				t.Parallel()
				h := keyFixture(t, Options{})
				c.setup(h)
				h.pressName(key)
				c.after(h, key)
			})
		}
	}
}

// TestHelpWrapsUnderEachDescription: in a pane narrower than the help, a
// long description went on at the box's left edge, under the keys, where
// it read as a key of its own.
func TestHelpWrapsUnderEachDescription(t *testing.T) {
	db := openStore(t)
	h := start(t, db, 64, 40, Options{})
	h.waitFor("? keys")
	h.press("?")
	screen := h.waitFor("calm keys")
	wrapped := 0
	for _, line := range strings.Split(screen, "\n") {
		_, inner, ok := strings.Cut(line, "║")
		if !ok {
			continue
		}
		inner, _, _ = strings.Cut(inner, "║")
		if strings.TrimSpace(inner) == "" || !strings.HasPrefix(inner, "   ") {
			continue // a scope's title, a key's first line
		}
		// Under the keys column: a description's next line.
		if n := len(inner) - len(strings.TrimLeft(inner, " ")); n != helpKeyColumn {
			t.Fatalf("a description's next line starts at column %d, not under the description (%d):\n%s", n, helpKeyColumn, screen)
		}
		wrapped++
	}
	if wrapped == 0 {
		t.Fatalf("no description wrapped in a 64-column pane:\n%s", screen)
	}
}
