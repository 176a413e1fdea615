package ui

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gdamore/tcell/v2"
	"github.com/mattn/go-runewidth"
	"github.com/rivo/tview"
)

// scope is where a key works. The focused pane decides which scopes are
// asked, in order: its own, then "lists" for a list, then "open item" and
// "anywhere" (see scopesNow).
type scope string

const (
	scopeAnywhere  scope = "anywhere"
	scopeItem      scope = "open item" // any pane of the main screen; acts on the item in the viewer
	scopeViewer    scope = "viewer"
	scopeLists     scope = "lists" // incidents, sessions & captures, timeline, lists in dialogs
	scopeIncidents scope = "incidents"
	scopeItems     scope = "sessions & captures"
	scopeTimeline  scope = "timeline"
	scopeChecklist scope = "checklist"
	scopeDialog    scope = "dialog list" // search results, checklists to choose from
	scopePrompt    scope = "prompt"
	scopeHelp      scope = "help"
	scopeAnyway    scope = "tick-anyway dialog"
	scopeQuit      scope = "quit dialog"
)

// scopeOrder is the order of the help page and the README list.
var scopeOrder = []scope{scopeAnywhere, scopeItem, scopeViewer, scopeLists, scopeIncidents, scopeItems,
	scopeTimeline, scopeChecklist, scopeDialog, scopePrompt, scopeHelp, scopeAnyway, scopeQuit}

// binding is one row of the key table: the help page, the status bar's
// hints, the README's key list and the dispatcher all read it, so what the
// screen promises is what the key does.
type binding struct {
	keys   []string // as keyName spells them; the first is the one hinted
	scope  scope
	help   string
	hint   string // a word for the status bar, "" for none
	writes bool   // it writes to the store: refused in review
	// ready, if set, is asked before a key that writes starts an incident
	// for it: false when there is nothing to act on (it says so).
	ready  func(u *UI) bool
	review bool // hinted only in review
	do     func(u *UI)
}

// keyTable is every key calm's TUI knows. It is filled in init: its
// actions reach back to it (the help page, hints in messages).
var keyTable []binding

// keyIndex finds a binding by scope and key name.
var keyIndex map[scope]map[string]*binding

func init() {
	keyTable = []binding{
		{keys: []string{"?"}, scope: scopeAnywhere, help: "this help: every key, by where it works", hint: "keys", do: (*UI).showHelp},
		{keys: []string{"q"}, scope: scopeAnywhere, help: "quit (asks first, but in review; recordings and copies go on)", hint: "quit", do: (*UI).confirmQuit},
		{keys: []string{"ctrl-c"}, scope: scopeAnywhere, help: "quit, asking first as q does", do: (*UI).confirmQuit},
		{keys: []string{"tab"}, scope: scopeAnywhere, help: "next pane", hint: "panes", do: func(u *UI) { u.nextPane(1) }},
		{keys: []string{"shift-tab"}, scope: scopeAnywhere, help: "previous pane", do: func(u *UI) { u.nextPane(-1) }},
		{keys: []string{"1"}, scope: scopeAnywhere, help: "the list of sessions and captures", do: func(u *UI) { u.focus(u.items, "items") }},
		{keys: []string{"2"}, scope: scopeAnywhere, help: "the viewer", do: (*UI).focusViewer},
		{keys: []string{"3"}, scope: scopeAnywhere, help: "the checklist and the copies", do: func(u *UI) { u.focus(u.steps, "side") }},
		{keys: []string{"ctrl-f"}, scope: scopeAnywhere, help: "search every item of the incident", do: func(u *UI) { u.ask("search incident: ", "", u.searchIncident) }},
		{keys: []string{"esc"}, scope: scopeAnywhere, help: "stop the incident search while it runs", do: func(u *UI) { u.escSearch() }},
		{keys: []string{"V"}, scope: scopeAnywhere, help: "re-verify every copy now", do: (*UI).verify},
		{keys: []string{"T"}, scope: scopeAnywhere, help: "tick the checklist's current step", writes: true, do: func(u *UI) { u.tick("T") }},
		{keys: []string{"c"}, scope: scopeAnywhere, help: "twice: compose the team message in $EDITOR, then copy and post it", writes: true, do: (*UI).askCompose},
		{keys: []string{"p"}, scope: scopeAnywhere, help: "replay the open session from the cursor; again: stop", hint: "replay", review: true, do: (*UI).replay},
		{keys: []string{"+"}, scope: scopeAnywhere, help: "replay faster", do: func(u *UI) { u.replayFaster(true) }},
		{keys: []string{"-"}, scope: scopeAnywhere, help: "replay slower", do: func(u *UI) { u.replayFaster(false) }},

		{keys: []string{"/"}, scope: scopeItem, help: "find in this item (all lower case: any case; re: for a regular expression)", hint: "find", do: func(u *UI) { u.ask("find: ", "", u.findInItem) }},
		{keys: []string{"n"}, scope: scopeItem, help: "next match", do: func(u *UI) { u.findNext(true) }},
		{keys: []string{"N"}, scope: scopeItem, help: "previous match", do: func(u *UI) { u.findNext(false) }},
		{keys: []string{"t"}, scope: scopeItem, help: "jump to a time (HH:MM[:SS] UTC, or +MM:SS)", do: func(u *UI) {
			if _, timed := u.viewer.Doc().Time(0); !timed {
				u.setStatus("this item has no times: open a session (its list line says session)")
				return
			}
			u.ask(timeLabel, "", u.jumpToTime)
		}},
		{keys: []string{"m"}, scope: scopeItem, help: "next destructive-command marker", do: func(u *UI) { u.nextMarker(true) }},
		{keys: []string{"M"}, scope: scopeItem, help: "previous destructive-command marker", do: func(u *UI) { u.nextMarker(false) }},
		{keys: []string{"x"}, scope: scopeItem, help: "extract the {...} or [...] block at the cursor; again: one level in", hint: "extract", do: (*UI).extract},
		{keys: []string{"y"}, scope: scopeItem, help: "yank the block, the selection or the line to the clipboard", hint: "yank", do: (*UI).yank},
		{keys: []string{"s"}, scope: scopeItem, help: "save the block or selection as a new capture (verified copies; lines selected in a tee'd or clipped capture as it holds them, carriage returns and trailing blanks kept)", hint: "save", writes: true, ready: (*UI).somethingToSave, do: (*UI).saveMarked},
		{keys: []string{"e"}, scope: scopeItem, help: "edit the block, selection or item in $EDITOR, saved as a draft capture", writes: true, do: (*UI).editDraft},
		{keys: []string{"D"}, scope: scopeItem, help: "diff: mark this item as before, then D on another", do: (*UI).diff},

		{keys: []string{"j", "down"}, scope: scopeViewer, help: "next line", do: func(u *UI) { u.viewer.scroll(1) }},
		{keys: []string{"k", "up"}, scope: scopeViewer, help: "previous line", do: func(u *UI) { u.viewer.scroll(-1) }},
		{keys: []string{"space", "pgdn"}, scope: scopeViewer, help: "next page", do: func(u *UI) { u.viewer.page(1) }},
		{keys: []string{"pgup", "ctrl-b"}, scope: scopeViewer, help: "previous page", do: func(u *UI) { u.viewer.page(-1) }},
		{keys: []string{"g", "home"}, scope: scopeViewer, help: "first line, from its first column (h and l scroll sideways)", do: func(u *UI) { u.viewer.MoveTo(0); u.viewer.left = 0 }},
		{keys: []string{"G", "end"}, scope: scopeViewer, help: "last line (and follow a live session)", do: func(u *UI) { u.viewer.scroll(u.viewer.lines()) }},
		{keys: []string{"h", "left"}, scope: scopeViewer, help: "scroll left", do: func(u *UI) { u.viewer.sideways(-8) }},
		{keys: []string{"l", "right"}, scope: scopeViewer, help: "scroll right", do: func(u *UI) { u.viewer.sideways(8) }},
		{keys: []string{"v"}, scope: scopeViewer, help: "select lines from here; again: cancel", do: (*UI).toggleSelection},
		{keys: []string{"esc"}, scope: scopeViewer, help: "stop the incident search while it runs; else clear the selection and the block", do: func(u *UI) {
			if !u.escSearch() {
				u.viewer.ClearMarks()
				u.setStatus("")
			}
		}},

		{keys: []string{"j", "down"}, scope: scopeLists, help: "next entry", do: func(u *UI) { u.listDo((*entryList).move, 1) }},
		{keys: []string{"k", "up"}, scope: scopeLists, help: "previous entry", do: func(u *UI) { u.listDo((*entryList).move, -1) }},
		{keys: []string{"pgdn"}, scope: scopeLists, help: "next page", do: func(u *UI) { u.listDo((*entryList).page, 1) }},
		{keys: []string{"pgup"}, scope: scopeLists, help: "previous page", do: func(u *UI) { u.listDo((*entryList).page, -1) }},
		{keys: []string{"g", "home"}, scope: scopeLists, help: "first entry", do: func(u *UI) { u.listDo((*entryList).move, -1<<30) }},
		{keys: []string{"G", "end"}, scope: scopeLists, help: "last entry", do: func(u *UI) { u.listDo((*entryList).move, 1<<30) }},

		{keys: []string{"enter"}, scope: scopeIncidents, help: "switch to this incident", do: func(u *UI) { u.incidents.choose() }},
		{keys: []string{"enter"}, scope: scopeItems, help: "open in the viewer", do: func(u *UI) { u.items.choose() }},
		{keys: []string{"enter"}, scope: scopeTimeline, help: "open what the event concerns: a capture, or a session at its marker", do: func(u *UI) { u.timeline.choose() }},

		{keys: []string{"space"}, scope: scopeChecklist, help: "tick the current step (or say what it waits for)", writes: true, do: func(u *UI) { u.tick("space") }},
		// A time typed after t was refused ("15:33" and enter: 3 brought the
		// checklist up, enter ticked its step): enter ticks nothing.
		{keys: []string{"enter"}, scope: scopeChecklist, help: "nothing: space ticks, so an enter meant for a prompt ticks no step", do: func(u *UI) {
			u.setStatus("enter ticks nothing here: space ticks the step")
		}},
		{keys: []string{"u"}, scope: scopeChecklist, help: "untick the last step (recorded, never erased)", writes: true, do: (*UI).untick},
		{keys: []string{"n"}, scope: scopeChecklist, help: "write a note on the timeline", writes: true, do: (*UI).addNote},
		{keys: []string{"L"}, scope: scopeChecklist, help: "choose another checklist", writes: true, do: (*UI).chooseChecklist},
		{keys: []string{"a"}, scope: scopeChecklist, help: "run the current step's action (extract, edit a draft, team message)", do: (*UI).stepAction},

		{keys: []string{"enter"}, scope: scopeDialog, help: "choose", do: func(u *UI) { u.listDo(func(l *entryList, _ int) { l.choose() }, 0) }},
		{keys: []string{"esc"}, scope: scopeDialog, help: "close", do: func(u *UI) { u.listDo(func(l *entryList, _ int) { l.done() }, 0) }},
		{keys: []string{"q", "ctrl-c"}, scope: scopeDialog, help: "quit, asking first", hint: "quit", do: (*UI).confirmQuit},

		{keys: []string{"enter"}, scope: scopePrompt, help: "do it", do: func(u *UI) { u.promptDone(true) }},
		{keys: []string{"esc"}, scope: scopePrompt, help: "put it away; what you typed comes back next time", do: func(u *UI) { u.promptDone(false) }},
		{keys: []string{"tab"}, scope: scopePrompt, help: "a space (the prompt is one line, as a paste's tabs are)", do: func(u *UI) {
			u.prompt.InputHandler()(tcell.NewEventKey(tcell.KeyRune, ' ', tcell.ModNone), func(tview.Primitive) {})
		}},
		{keys: []string{"ctrl-c"}, scope: scopePrompt, help: "quit, asking first; what you typed is kept", do: (*UI).confirmQuit},

		{keys: []string{"esc", "?", "q"}, scope: scopeHelp, help: "close the help", do: func(u *UI) { u.closeDialog("help") }},
		{keys: []string{"ctrl-c"}, scope: scopeHelp, help: "quit, asking first", do: (*UI).confirmQuit},

		{keys: []string{"j", "down", "tab"}, scope: scopeAnyway, help: "next choice", do: func(u *UI) { u.pressButton(tcell.KeyTab) }},
		{keys: []string{"k", "up", "shift-tab"}, scope: scopeAnyway, help: "previous choice", do: func(u *UI) { u.pressButton(tcell.KeyBacktab) }},
		{keys: []string{"enter"}, scope: scopeAnyway, help: "do what the choice says (Wait, where it opens, ticks nothing)", do: func(u *UI) { u.pressButton(tcell.KeyEnter) }},
		{keys: []string{"esc"}, scope: scopeAnyway, help: "wait: tick nothing", do: func(u *UI) { u.pressButton(tcell.KeyEscape) }},
		{keys: []string{"ctrl-c"}, scope: scopeAnyway, help: "quit, asking first", do: (*UI).confirmQuit},

		{keys: []string{"y", "q", "ctrl-c"}, scope: scopeQuit, help: "quit", do: (*UI).Stop},
		{keys: []string{"n", "esc"}, scope: scopeQuit, help: "stay", do: (*UI).closeQuit},
		{keys: []string{"tab", "shift-tab", "left", "right"}, scope: scopeQuit, help: "the other choice", do: func(u *UI) { u.pressButton(tcell.KeyTab) }},
		{keys: []string{"enter"}, scope: scopeQuit, help: "do what the choice says (Stay, where it opens)", do: func(u *UI) { u.pressButton(tcell.KeyEnter) }},
	}
	keyIndex = map[scope]map[string]*binding{}
	for i := range keyTable {
		b := &keyTable[i]
		if keyIndex[b.scope] == nil {
			keyIndex[b.scope] = map[string]*binding{}
		}
		for _, k := range b.keys {
			keyIndex[b.scope][k] = b
		}
	}
}

// keyName spells a key event as the table does: the rune itself, or a name.
func keyName(ev *tcell.EventKey) string {
	if ev.Modifiers()&(tcell.ModAlt|tcell.ModMeta) != 0 {
		return ""
	}
	switch ev.Key() {
	case tcell.KeyRune:
		if ev.Rune() == ' ' {
			return "space"
		}
		return string(ev.Rune())
	case tcell.KeyEnter:
		return "enter"
	case tcell.KeyEscape:
		return "esc"
	case tcell.KeyTab:
		return "tab"
	case tcell.KeyBacktab:
		return "shift-tab"
	case tcell.KeyUp:
		return "up"
	case tcell.KeyDown:
		return "down"
	case tcell.KeyLeft:
		return "left"
	case tcell.KeyRight:
		return "right"
	case tcell.KeyPgUp:
		return "pgup"
	case tcell.KeyPgDn:
		return "pgdn"
	case tcell.KeyHome:
		return "home"
	case tcell.KeyEnd:
		return "end"
	case tcell.KeyCtrlB:
		return "ctrl-b"
	case tcell.KeyCtrlC:
		return "ctrl-c"
	case tcell.KeyCtrlF:
		return "ctrl-f"
	}
	return ""
}

// scopesNow lists the scopes asked for a key, most specific first.
func (u *UI) scopesNow() []scope {
	switch page, _ := u.pages.GetFrontPage(); page {
	case "main":
	case "help":
		return []scope{scopeHelp}
	case "quit":
		return []scope{scopeQuit}
	case "anyway":
		return []scope{scopeAnyway}
	default:
		return []scope{scopeDialog, scopeLists}
	}
	general := []scope{scopeItem, scopeAnywhere}
	switch u.app.GetFocus() {
	case u.prompt:
		return []scope{scopePrompt}
	case u.viewer:
		return append([]scope{scopeViewer}, general...)
	case u.steps:
		return append([]scope{scopeChecklist}, general...)
	case u.incidents:
		return append([]scope{scopeIncidents, scopeLists}, general...)
	case u.items:
		return append([]scope{scopeItems, scopeLists}, general...)
	case u.timeline:
		return append([]scope{scopeTimeline, scopeLists}, general...)
	}
	return general
}

// key runs the binding of a key in the scopes that apply now; a key bound
// nowhere goes on to the focused primitive (text typed into a prompt).
func (u *UI) key(ev *tcell.EventKey) *tcell.EventKey {
	if u.ctx.Err() != nil {
		return nil // quitting: it only waits for what is being saved
	}
	name := keyName(ev)
	if name == "" {
		return ev
	}
	if name != "c" && u.composeAsked {
		u.composeAsked = false
		u.setStatus("") // the question is gone: it must not stay on screen
	}
	for _, s := range u.scopesNow() {
		if b := keyIndex[s][name]; b != nil {
			if b.writes && u.opts.ReadOnly {
				u.setStatus("[yellow]" + tview.Escape(fmt.Sprintf("review is read-only: %s (%s) works in the live incident", name, b.help)) + "[-]")
				return nil
			}
			if b.writes && u.noIncident() {
				if b.ready != nil && !b.ready(u) {
					return nil
				}
				u.startIncident(b.do)
				return nil
			}
			b.do(u)
			if s == scopeViewer {
				u.showSelection() // the status follows the selection as it grows
			}
			return nil
		}
	}
	if name == "ctrl-c" {
		// tview stops the application on a ctrl-c nobody took: it must
		// never quit unasked, whatever has the focus.
		u.confirmQuit()
		return nil
	}
	return ev
}

// pressButton gives a key to the focused button of a dialog (tview's
// Modal): tab and backtab move between its buttons, enter presses one.
func (u *UI) pressButton(key tcell.Key) {
	focused := u.app.GetFocus()
	if focused == nil {
		return
	}
	if h := focused.InputHandler(); h != nil {
		h(tcell.NewEventKey(key, 0, tcell.ModNone), func(p tview.Primitive) { u.app.SetFocus(p) })
	}
}

// listDo applies f to the focused list.
func (u *UI) listDo(f func(l *entryList, n int), n int) {
	if l, ok := u.app.GetFocus().(*entryList); ok {
		f(l, n)
	}
}

// hints are the status bar's keys: those with a hint word that work in
// this mode, in the table's order.
func hints(review bool) []binding {
	var out []binding
	shown := map[string]bool{}
	for _, b := range keyTable {
		if b.hint == "" || review && b.writes || !review && b.review || shown[b.keys[0]+" "+b.hint] {
			continue // a key bound alike in a dialog is one hint ("q quit" once)
		}
		shown[b.keys[0]+" "+b.hint] = true
		out = append(out, b)
	}
	// "? keys" leads and "q quit" ends the bar: the two a stranger needs;
	// the pane keys come just before quitting.
	slices.SortStableFunc(out, func(a, b binding) int { return hintRank(a) - hintRank(b) })
	return out
}

func hintRank(b binding) int {
	switch b.keys[0] {
	case "?":
		return 0
	case "tab":
		return 2
	case "q":
		return 3
	}
	return 1
}

// keysHint names keys for a status message ("y yank, s save"), leaving
// out those that do not work in this mode.
func (u *UI) keysHint(pairs ...string) string {
	var out []string
	for i := 0; i+1 < len(pairs); i += 2 {
		b := keyIndex[scopeItem][pairs[i]]
		if b == nil {
			b = keyIndex[scopeAnywhere][pairs[i]]
		}
		if b != nil && b.writes && u.opts.ReadOnly {
			continue
		}
		out = append(out, pairs[i]+" "+pairs[i+1])
	}
	return strings.Join(out, ", ")
}

// helpText is the help page, grouped by scope; review marks the keys that
// do not work there.
// helpKeyColumn is how wide the keys are in the help, with their indent:
// a description wrapped goes on under its own first line.
const helpKeyColumn = 19

// helpText is the key help for a view width columns wide: each description
// wraps under itself (0: no wrapping of its own, the view wraps).
func helpText(review bool, width int) string {
	var b strings.Builder
	b.WriteString("[::b]calm keys[::-]")
	if review {
		b.WriteString("  [yellow](review: keys in gray write, and do not work here)[-]")
	}
	b.WriteString("\n")
	for _, s := range scopeOrder {
		fmt.Fprintf(&b, "\n[::b]%s[::-]\n", tview.Escape(scopeTitle(s)))
		for _, k := range keyTable {
			if k.scope != s {
				continue
			}
			line := fmt.Sprintf("  %-16s %s", strings.Join(k.keys, " "), hangingWrap(k.help, width-helpKeyColumn, helpKeyColumn))
			if review && k.writes {
				fmt.Fprintf(&b, "[gray]%s[-]\n", tview.Escape(line))
			} else {
				b.WriteString(tview.Escape(line) + "\n")
			}
		}
	}
	b.WriteString("\nesc, ? or q closes this help; j k scroll it.")
	return b.String()
}

// hangingWrap wraps text at width columns between words, each line after
// the first indented by indent spaces. A width too small to read leaves
// text as it is.
func hangingWrap(text string, width, indent int) string {
	if width < 20 || runewidth.StringWidth(text) <= width {
		return text
	}
	var b strings.Builder
	col := 0
	for i, word := range strings.Fields(text) {
		w := runewidth.StringWidth(word)
		switch {
		case i == 0:
		case col+1+w > width:
			b.WriteString("\n" + strings.Repeat(" ", indent))
			col = 0
		default:
			b.WriteByte(' ')
			col++
		}
		b.WriteString(word)
		col += w
	}
	return b.String()
}

func scopeTitle(s scope) string {
	switch s {
	case scopeItem:
		return "open item (from any pane)"
	case scopeLists:
		return "lists (incidents, sessions & captures, timeline, dialogs)"
	}
	return string(s)
}

// keysMarkdown is the README's key list, made from the table.
func keysMarkdown() string {
	var b strings.Builder
	b.WriteString("| key | where | what |\n|---|---|---|\n")
	for _, s := range scopeOrder {
		for _, k := range keyTable {
			if k.scope != s {
				continue
			}
			keys := make([]string, len(k.keys))
			for i, name := range k.keys {
				keys[i] = "`" + name + "`"
			}
			what := k.help
			if k.writes {
				what += " (not in review)"
			}
			fmt.Fprintf(&b, "| %s | %s | %s |\n", strings.Join(keys, " "), scopeTitle(s), strings.ReplaceAll(what, "|", `\|`))
		}
	}
	return b.String()
}

// KeyHelp is one line of the key list: its keys, where they work, what
// they do. The man page prints the list.
type KeyHelp struct {
	Keys        []string
	Where, What string
}

// Keys is the TUI's key list, in the order of the help page.
func Keys() []KeyHelp {
	var out []KeyHelp
	for _, s := range scopeOrder {
		for _, k := range keyTable {
			if k.scope != s {
				continue
			}
			what := k.help
			if k.writes {
				what += " (not in review)"
			}
			out = append(out, KeyHelp{Keys: k.keys, Where: scopeTitle(s), What: what})
		}
	}
	return out
}
