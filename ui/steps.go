package ui

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"calm/checklist"
	"calm/model"
	"calm/report"
	"calm/scratch"
)

// stepState returns the incident's checklist state and the facts its
// requirements are checked against.
func (u *UI) stepState() (checklist.State, checklist.Facts, bool) {
	u.mu.Lock()
	events, caps := u.events, u.caps
	u.mu.Unlock()
	c, ok := checklist.Find(u.lists, checklist.Chosen(events))
	if !ok {
		return checklist.State{}, checklist.Facts{}, false
	}
	return checklist.Compute(c, events), checklist.FactsOf(caps, events), true
}

// pauseLeft is how long the current step still asks the person to wait:
// calm means not rushing, so a step with a pause cannot be ticked until it
// has been on screen that long. A step not drawn yet (the checklist is a
// tab not shown) has its whole pause ahead of it.
func (u *UI) pauseLeft(st checklist.State) time.Duration {
	if st.Current >= len(st.Steps) {
		return 0
	}
	s := st.Steps[st.Current]
	if s.Pause.Duration <= 0 {
		return 0
	}
	shown, ok := u.stepShown[u.stepKey(st)]
	if !ok {
		shown = u.now()
	}
	return st.PauseLeft(shown, u.now())
}

// stepKey names the current step of st among every incident's steps:
// another incident's step of the same checklist has a pause of its own.
func (u *UI) stepKey(st checklist.State) string {
	u.mu.Lock()
	id := u.incident.ID
	// Each time a step becomes current again (unticked, then back) it is
	// on screen anew: a key of its own, by the ticks and unticks so far.
	moves := 0
	for _, ev := range u.events {
		if ev.Kind == model.EventStep {
			moves++
		}
	}
	u.mu.Unlock()
	return id + "/" + st.Checklist.Name + "/" + st.Steps[st.Current].ID + "/" + strconv.Itoa(moves)
}

// stepDrawn is the checklist pane's draw hook: the step written there is
// on screen from now, and its pause runs from now.
func (u *UI) stepDrawn(screen tcell.Screen, x, y, width, height int) (int, int, int, int) {
	if _, ok := u.stepShown[u.stepOnScreen]; !ok && u.stepOnScreen != "" {
		u.stepShown[u.stepOnScreen] = u.now()
	}
	return x + 1, y + 1, max(width-2, 0), max(height-2, 0) // inside the border
}

func (u *UI) now() time.Time {
	if u.opts.Now != nil {
		return u.opts.Now()
	}
	return time.Now()
}

// showSteps draws the checklist pane: the current step large with its
// guidance and what it waits for, the others small.
func (u *UI) showSteps() {
	st, facts, ok := u.stepState()
	if !ok {
		u.mu.Lock()
		name := checklist.Chosen(u.events)
		u.mu.Unlock()
		u.steps.SetText(tview.Escape(fmt.Sprintf("checklist %q is not known here: L chooses another", name)))
		return
	}
	var b strings.Builder
	done, anyway := st.Done()
	fmt.Fprintf(&b, "[::b]%s[::-]  [gray]%d\u00a0of\u00a0%d\u00a0done[-]", tview.Escape(st.Checklist.Title), done, len(st.Steps))
	if anyway > 0 {
		fmt.Fprintf(&b, " [yellow](%d ticked anyway)[-]", anyway)
	}
	b.WriteString("\n")
	// Review writes nothing: it shows no key that would tick, note or
	// compose, only what still works there.
	review := u.opts.ReadOnly
	u.stepOnScreen = ""
	if st.Current < len(st.Steps) {
		s := st.Steps[st.Current]
		if !review {
			u.stepOnScreen = u.stepKey(st)
		}
		fmt.Fprintf(&b, "\n[yellow::b]▶ STEP %d · %s[-::-]\n\n", st.Current+1, tview.Escape(strings.ToUpper(s.Title)))
		guidance := tview.Escape(strings.Join(strings.Fields(s.Guidance), " ")) + "\n\n"
		top := b.String()
		b.Reset()
		var left time.Duration
		if !review {
			left = u.pauseLeft(st)
		}
		if left <= 0 && strings.HasPrefix(u.message, "take a breath") {
			u.setStatus("") // the pause is over: "3s more" would be stale
		}
		switch w := st.Waiting(st.Current, facts); {
		case review && w != "":
			b.WriteString("[yellow]" + tview.Escape(st.WaitingFor(st.Current, facts)) + "[-]\n")
		case review:
			b.WriteString("[gray]not ticked[-]\n")
		case left > 0:
			// Rounded up as the status line's count is: the two agree.
			fmt.Fprintf(&b, "[aqua]take a breath… %ds[-]\n", int((left+time.Second-1)/time.Second))
		case w != "":
			b.WriteString("[yellow]" + tview.Escape(w) + "[-]\n[gray]space twice (T twice from another pane) asks whether to tick it anyway[-]\n")
		default:
			b.WriteString("[green]ready: space ticks it[-]\n")
		}
		keys := "space tick · u untick · n note · L checklist"
		if s.Action != "" {
			keys += " · a " + map[string]string{"extract": "extract", "edit": "edit a draft", "message": "compose message"}[s.Action]
		}
		if review {
			keys = "nothing can be ticked in review"
			if s.Action == "extract" {
				keys += " · a extract"
			}
		}
		b.WriteString("[gray]" + keys + "[-]\n")
		// Where the step is and its keys come first when the guidance
		// would push them out of a small pane (calm split in 80x24), in
		// which space still ticks.
		state := b.String()
		b.Reset()
		b.WriteString(top)
		if _, _, width, height := u.steps.GetInnerRect(); rowsOf(top+guidance+state, width) > height {
			b.Reset()
			b.WriteString(strings.ReplaceAll(top, "\n\n", "\n")) // no blank rows to spare
			b.WriteString(state + "\n" + guidance)
		} else {
			b.WriteString(guidance + state)
		}
	} else if review {
		b.WriteString("\n[green::b]✓ EVERY STEP IS DONE[-::-]\n")
	} else {
		b.WriteString("\n[green::b]✓ EVERY STEP IS DONE[-::-]\n[gray]c c composes the team message · u unticks[-]\n")
	}
	b.WriteString("\n")
	// What a step ticked anyway waited for is told only if every step
	// still fits: the list of steps matters more.
	_, _, width, height := u.steps.GetInnerRect()
	list := stepList(st, true)
	if rowsOf(b.String()+list, width) > height {
		list = stepList(st, false)
	}
	b.WriteString(list)
	for _, err := range u.listErrs {
		fmt.Fprintf(&b, "\n[red]%s[-]", tview.Escape(err.Error()))
	}
	u.steps.SetText(b.String())
}

// stepList is one line a step; a step ticked anyway is marked in yellow,
// unlike a real tick, with what it waited for below it when detailed.
func stepList(st checklist.State, detailed bool) string {
	var b strings.Builder
	for i, s := range st.Steps {
		switch {
		case s.Done && s.Waited != "":
			fmt.Fprintf(&b, "[yellow]![-] [gray]%s[-] %s [yellow](anyway)[-]\n", s.At.UTC().Format("15:04"), tview.Escape(s.Title))
			if detailed {
				fmt.Fprintf(&b, "  [yellow]ticked while %s[-]\n", tview.Escape(s.Waited))
			}
		case s.Done:
			fmt.Fprintf(&b, "[green]✓[-] [gray]%s[-] %s\n", s.At.UTC().Format("15:04"), tview.Escape(s.Title))
		case i == st.Current:
			fmt.Fprintf(&b, "[yellow]▶[-] [::b]%s[::-]\n", tview.Escape(s.Title))
		default:
			fmt.Fprintf(&b, "[gray]· %s[-]\n", tview.Escape(s.Title))
		}
	}
	return b.String()
}

// rowsOf is how many rows tagged text takes, word-wrapped to width.
func rowsOf(text string, width int) int {
	rows := 0
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		rows += max(len(tview.WordWrap(line, width)), 1)
	}
	return rows
}

func (u *UI) who() string {
	if u.opts.Who != "" {
		return u.opts.Who
	}
	return model.Who()
}

// tick records the current step as done, if nothing holds it back. again
// is the key that asks to tick it anyway where the person is: space in the
// checklist pages down in the viewer, T works in every pane.
func (u *UI) tick(again string) {
	if u.readOnly() {
		return
	}
	st, facts, ok := u.stepState()
	if !ok || st.Current >= len(st.Steps) {
		u.setStatus("every step is done")
		return
	}
	if left := u.pauseLeft(st); left > 0 {
		if _, shown := u.stepShown[u.stepKey(st)]; !shown {
			u.setStatus(fmt.Sprintf("take a breath: the step's %s pause starts once it is on screen; 3 shows it", left.Round(time.Second)))
			return
		}
		u.setStatus(checklist.BreathText(left))
		return
	}
	step := st.Steps[st.Current].Step
	if w := st.Waiting(st.Current, facts); w != "" {
		// The first space says what the step waits for; a second one on
		// the same step asks whether to tick it anyway.
		key := st.Checklist.Name + "/" + step.ID
		if u.anywayAsked == key {
			u.anywayAsked = ""
			u.offerTickAnyway(step, w, st.WaitingFor(st.Current, facts))
			return
		}
		u.anywayAsked = key
		u.setStatus("[yellow]" + tview.Escape(w) + "[-] " + tview.Escape("("+again+" again: tick anyway)"))
		return
	}
	if key := u.stepKey(st); u.now().Sub(u.stepShown[key]) < readFirst {
		// A space pressed again and again, or held, must not tick steps
		// unread: each one too soon starts the second again, so only a
		// space after a second's rest ticks.
		u.stepShown[key] = u.now()
		u.setStatus(fmt.Sprintf("STEP %d is new on screen: read it, then space ticks it", st.Current+1))
		return
	}
	u.tickStep(step)
}

// tickStep ticks step as the shell's 'calm tick STEP' does: the store's
// state decides, not this pane's, which may be a moment old (u then space
// at once unticked one step and ticked the next, out of order).
func (u *UI) tickStep(step checklist.Step) {
	u.mu.Lock()
	id := u.incident.ID
	u.mu.Unlock()
	who, now := u.who(), u.now()
	u.writingStep(1)
	u.inOrder(func() {
		done, err := checklist.Tick(u.store, id, u.lists, checklist.TickRequest{Who: who, Step: step.ID, Now: now})
		if err != nil {
			u.writingStep(-1)
			u.sayError(fmt.Errorf("%q NOT ticked: %w", step.Title, err))
			u.refresh()
			return
		}
		u.say("%s %q at %s UTC", checklist.Ticked, step.Title, done.At.UTC().Format("15:04:05"))
		u.refresh()
	})
}

// readFirst is how long a step is on screen before space may tick it.
const readFirst = checklist.ReadFirst

// offerTickAnyway asks before ticking a step that still waits; "Wait", the
// safe answer, is where Enter lands. Ticked anyway, the step's event says
// so and what it waited for (record: without keys and commands).
func (u *UI) offerTickAnyway(step checklist.Step, waiting, record string) {
	m := tview.NewModal().
		SetText(fmt.Sprintf("%q is %s.\n\nTick it anyway? The timeline and the postmortem will say it was ticked anyway.", step.Title, waiting)).
		AddButtons([]string{"Wait", "Tick anyway"}).
		SetDoneFunc(func(_ int, label string) {
			u.closeDialog("anyway")
			if label == "Tick anyway" {
				u.tickAnyway(step)
			}
		})
	u.pages.AddPage("anyway", m, true, true)
	u.app.SetFocus(m)
}

// tickAnyway ticks step as the store finds it when the person confirms,
// not as the dialog found it: what it waited for may have come meanwhile
// (a tee from another pane), and the record must not say it was missing.
func (u *UI) tickAnyway(step checklist.Step) {
	u.mu.Lock()
	id := u.incident.ID
	u.mu.Unlock()
	who := u.who()
	u.writingStep(1)
	u.inOrder(func() {
		done, err := checklist.Tick(u.store, id, u.lists, checklist.TickRequest{Who: who, Anyway: true, Step: step.ID})
		switch {
		case err != nil:
			u.writingStep(-1)
			u.sayError(fmt.Errorf("%q NOT ticked: %w", step.Title, err))
			return
		case done.Waited == "":
			u.say("ticked %q at %s UTC: what it waited for had come, so it is a plain tick", step.Title, done.At.UTC().Format("15:04:05"))
		default:
			u.say("%s %q at %s UTC", checklist.TickedAnyway, step.Title, done.At.UTC().Format("15:04:05"))
		}
		u.refresh()
	})
}

// untick takes back the last step done; the timeline keeps both events.
func (u *UI) untick() {
	if u.readOnly() {
		return
	}
	st, _, ok := u.stepState()
	if !ok {
		return
	}
	last := st.LastDone()
	if last < 0 {
		u.setStatus("no step is ticked")
		return
	}
	if st.Current < len(st.Steps) {
		if key := u.stepKey(st); u.now().Sub(u.stepShown[key]) < readFirst {
			// u held down, or pressed again at once, took back one tick
			// after another: one at a time, each seen first, and a u too
			// soon starts the second again.
			u.stepShown[key] = u.now()
			u.setStatus(fmt.Sprintf("STEP %d is new on screen: u in a moment takes back %q", st.Current+1, st.Steps[last].Title))
			return
		}
	}
	s := st.Steps[last].Step
	u.stepEvent(s, checklist.StepText(checklist.Unticked, s.Title, u.who()), checklist.Unticked)
}

func (u *UI) stepEvent(s checklist.Step, text, action string) {
	u.mu.Lock()
	id := u.incident.ID
	u.mu.Unlock()
	u.writingStep(1)
	u.inOrder(func() {
		if _, err := u.store.AddEvent(id, model.EventStep, s.ID, text); err != nil {
			u.writingStep(-1)
			u.sayError(fmt.Errorf("%q NOT %s: %w", s.Title, action, err))
			return
		}
		u.say("%s %q at %s UTC", action, s.Title, u.now().UTC().Format("15:04:05"))
		u.refresh()
	})
}

// inOrder runs f in the background once every checklist write asked
// before it is done: u then space is an untick, then a tick, as pressed,
// not whichever reaches the store first.
func (u *UI) inOrder(f func()) {
	u.mu.Lock()
	before := u.stepsWritten
	done := make(chan struct{})
	u.stepsWritten = done
	u.mu.Unlock()
	started := u.background(func() {
		defer close(done)
		if before != nil {
			<-before
		}
		f()
	})
	if !started {
		close(done)
	}
}

// writingStep counts a step event this pane writes (n 1), or one it did
// not after all (n -1): refresh tells the others on the status line.
func (u *UI) writingStep(n int) {
	u.mu.Lock()
	u.ownSteps = max(u.ownSteps+n, 0)
	u.mu.Unlock()
}

// chooseChecklist lets the person pick the incident's checklist.
func (u *UI) chooseChecklist() {
	if u.readOnly() {
		return
	}
	list := newEntryList(" checklist: enter chooses, esc closes ")
	for _, c := range u.lists {
		list.AddItem(tview.Escape(c.Title) + "[gray]" + tview.Escape(fmt.Sprintf(" · %s, %s, %s", c.Name, model.Plural(len(c.Steps), "step"), c.Source)) + "[-]")
	}
	list.SetDoneFunc(func() { u.closeDialog("checklists") })
	list.SetSelectedFunc(func(i int) {
		u.closeDialog("checklists")
		c := u.lists[i]
		u.mu.Lock()
		id := u.incident.ID
		u.mu.Unlock()
		u.background(func() {
			if _, err := u.store.AddEvent(id, model.EventChecklist, c.Name, "following "+c.Title); err != nil {
				u.sayError(err)
				return
			}
			u.refresh()
		})
	})
	u.dialog("checklists", list, 70, 2*len(u.lists)+2)
	u.app.SetFocus(list)
}

func (u *UI) addNote() {
	if u.readOnly() {
		return
	}
	u.ask("note: ", "", func(text string) {
		if strings.TrimSpace(text) == "" {
			return
		}
		u.mu.Lock()
		id, open := u.incident.ID, u.incident.IsOpen()
		u.mu.Unlock()
		u.background(func() {
			if _, err := u.store.AddNote(id, text); err != nil {
				u.sayError(err)
				return
			}
			if open {
				u.say("noted")
			} else {
				// As the shell's note says: it went where it was asked, into
				// an incident someone closed.
				u.say("noted in %s, which is CLOSED: 'calm incident reopen %s' reopens it", id, id)
			}
			u.refresh()
		})
	})
}

// stepAction runs the current step's action.
func (u *UI) stepAction() {
	st, _, ok := u.stepState()
	if !ok || st.Current >= len(st.Steps) {
		return
	}
	switch st.Steps[st.Current].Action {
	case "extract":
		u.extract()
	case "edit":
		u.editDraft()
	case "message":
		u.composeMessage()
	default:
		u.setStatus("this step has no action")
	}
}

// askCompose composes the team message at a second c: $EDITOR takes the
// whole screen, and a stray key must not open it.
func (u *UI) askCompose() {
	if u.readOnly() {
		return
	}
	if !u.composeAsked {
		u.composeAsked = true
		u.setStatus("c again: compose the team message in $EDITOR (any other key: not now)")
		return
	}
	u.composeAsked = false
	u.composeMessage()
}

// composeMessage drafts the team message from the incident, lets the person
// edit it, then copies it, posts it to the webhook if one is configured, and
// keeps it as a capture whatever happens.
func (u *UI) composeMessage() {
	if u.readOnly() {
		return
	}
	u.mu.Lock()
	id := u.incident.ID
	u.mu.Unlock()
	rec, err := report.Load(u.store, id, u.lists)
	if err != nil {
		u.setStatus("[red]" + tview.Escape("message: "+err.Error()) + "[-]")
		return
	}
	red, err := report.NewRedactor(u.opts.Redact)
	if err != nil {
		u.setStatus("[red]" + tview.Escape(err.Error()) + "[-]")
		return
	}
	draft, redacted := report.TeamMessage(rec, red)
	msg, ok := u.edit(draft, "message.txt", "team message unchanged in the editor: cancelled, nothing sent, copied or kept")
	if !ok {
		return
	}
	var outcome []string
	if redacted > 0 {
		outcome = append(outcome, model.Plural(redacted, "secret")+" redacted")
	}
	if how, err := u.clipboard().Copy(string(msg)); err != nil {
		outcome = append(outcome, "not copied: "+err.Error())
	} else {
		outcome = append(outcome, how)
	}
	u.setStatus("sending…")
	u.background(func() {
		if u.opts.Webhook != "" {
			if err := report.PostWebhook(u.opts.Webhook, msg); err != nil {
				outcome = append(outcome, "NOT posted: "+err.Error()+"; the message is kept as a capture")
			} else {
				outcome = append(outcome, "posted to the webhook")
			}
		}
		summary := strings.Join(outcome, "; ")
		u.store.AddEvent(id, model.EventMessage, "", "team message: "+summary)
		u.saveQuietly(msg, "message", "team message")
		u.say("team message: %s", summary)
		u.refresh()
	})
}

// edit opens text in the editor and returns what was saved; ok is false
// when the editor failed, the result is empty, or the file was never
// written: quitting without writing (vi's :q!) exits 0 and must cancel, so
// unchanged says so on the status line. Written as it was (vi's :wq on the
// draft as drafted) is a yes.
func (u *UI) edit(text []byte, name, unchanged string) ([]byte, bool) {
	dir, err := scratch.MkdirTemp("", "calm-edit-")
	if err != nil {
		u.setStatus("[red]" + tview.Escape("edit: "+err.Error()) + "[-]")
		return nil, false
	}
	// It holds production data: private, and removed afterwards (a signal
	// too removes it), unless the editor failed: then what the person
	// typed may be only there.
	keep := false
	defer func() {
		if keep {
			dir.Keep()
		} else {
			dir.Remove()
		}
	}()
	path := filepath.Join(dir.Name(), name)
	if err := os.WriteFile(path, text, 0o600); err != nil {
		u.setStatus("[red]" + tview.Escape("edit: "+err.Error()) + "[-]")
		return nil, false
	}
	// An hour back, so that any write by the editor shows in the
	// modification time, whatever the file system's clock granularity.
	written := time.Now().Add(-time.Hour)
	os.Chtimes(path, written, written)
	editor := u.opts.Editor
	for _, env := range []string{"VISUAL", "EDITOR"} {
		if editor == "" {
			editor = os.Getenv(env)
		}
	}
	if editor == "" {
		editor = "vi"
	}
	var runErr error
	u.app.Suspend(func() {
		cmd := exec.Command("sh", "-c", editor+` "$1"`, "editor", path)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		runErr = cmd.Run()
	})
	if runErr != nil {
		keep = true
		u.setStatus("[red]" + tview.Escape(fmt.Sprintf("editor %q: %v: nothing saved; your text is kept in %s", editor, runErr, path)) + "[-]")
		return nil, false
	}
	edited, err := os.ReadFile(path)
	if err != nil || len(strings.TrimSpace(string(edited))) == 0 {
		u.setStatus("empty: nothing saved")
		return nil, false
	}
	if fi, err := os.Stat(path); err == nil && fi.ModTime().Equal(written) && bytes.Equal(edited, text) {
		u.setStatus(unchanged)
		return nil, false
	}
	return edited, true
}

// saveQuietly stores text as a capture from a background goroutine.
func (u *UI) saveQuietly(text []byte, source, title string) {
	u.mu.Lock()
	id := u.incident.ID
	u.mu.Unlock()
	w, err := model.NewCaptureWriter(u.store, id, model.NewCapture{Title: title, Source: source})
	if err != nil {
		u.sayError(fmt.Errorf("keep the %s: %w", title, err))
		return
	}
	w.RetryFor = 10 * time.Second
	w.Write(text)
	if _, err := w.Close(); err != nil {
		u.sayError(fmt.Errorf("keep the %s: %w", title, err))
	}
}
