// Package ui is calm's terminal interface: the companion pane beside the
// production shell. It holds no storage logic: it reads and writes through
// the model.Store it is given, and renders.
package ui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"calm/checklist"
	"calm/clipboard"
	"calm/model"
	"calm/scratch"
)

// Clipboard puts text where the person can paste it, and says how (a
// terminal never confirms an OSC 52 copy, so "sent" is not "copied").
type Clipboard interface {
	Copy(text string) (how string, err error)
}

// Options is everything the UI takes from outside; tests pass a simulation
// screen, a bbolt store and a recording clipboard.
type Options struct {
	Store          model.Store
	Screen         tcell.Screen // nil: the real terminal
	Clipboard      Clipboard    // nil: a clipboard tool, else OSC 52 to the tty
	Incident       string       // "" opens the current incident
	Item           string       // the item shown first (calm split's session); "": the newest
	ReadOnly       bool         // review: nothing is written
	Poll           time.Duration
	Editor         string // the command to edit a draft; "" is $EDITOR, then vi
	CopiesRequired int
	// DevicesRequired is how many devices must hold a verified copy.
	DevicesRequired int
	Checklists      []string // checklist folders (a team's own)
	Redact          []string // redaction patterns added to the built-in ones
	Webhook         string   // a Slack-compatible incoming webhook for the team message
	Who             string   // who ticks steps; "" is $USER@host
	Now             func() time.Time
	// IdleLimit is the longest pause a replay keeps (asciinema's
	// idle_time_limit); 0 is 2 s.
	IdleLimit time.Duration
	// DraftsFile keeps what was typed in a prompt and not sent, across
	// runs (drafts.go); "" keeps drafts only while calm runs.
	DraftsFile string
}

// narrowWidth is the width below which panes become tabs.
const narrowWidth = 100

// leftWidth is the width of the wide layout's left column.
const leftWidth = 36

// UI is the running interface.
type UI struct {
	opts  Options
	store model.Store
	app   *tview.Application

	incidents *entryList
	// incidentBoxes hold the incidents pane (wide and narrow): it is as
	// tall as the incidents it lists, up to maxIncidentRows.
	incidentBoxes []*tview.Flex
	items         *entryList
	timeline      *entryList
	strip         *Strip
	viewer        *Viewer
	side          *tview.Flex
	copies        *tview.TextView
	steps         *tview.TextView
	status        *statusBar
	prompt        *tview.InputField
	bottom        *tview.Pages
	pages         *tview.Pages
	main          *tview.Flex
	tabs          *tview.Pages
	tabBar        *tview.TextView
	layout        *responsive
	noticeBar     *tview.TextView // see notice.go
	noticed       []string        // notices shown, in the event loop only

	mu       sync.Mutex // guards what the poller and actions share
	incident model.Incident
	all      []model.Incident
	caps     []model.Capture
	events   []model.Event
	open     *docLoader // the item in the viewer
	openRef  string
	diffBase *Doc
	// anywayAsked is the step a space was refused for: a second space on
	// it asks whether to tick it anyway.
	anywayAsked string
	// composeAsked: the last key was a c, which asked before $EDITOR takes
	// the screen; a second c composes.
	composeAsked bool
	// ownSteps counts the step events this pane is writing and has not
	// yet seen come back from the store (under mu).
	ownSteps int
	// stepsWritten is closed once the last checklist write asked is done
	// (under mu): the next waits for it.
	stepsWritten chan struct{}
	pending      *jump        // where to go once the open item has loaded
	pendingAt    *model.Event // a marker to show once its session has loaded
	markerShown  jump         // the marker m last went to: its line, and its session
	findPattern  string       // what n and N look for, as typed at / or ctrl-f
	message      string
	lists        []checklist.Checklist
	listErrs     []error
	stepShown    map[string]time.Time // when each step first showed as current
	// stepOnScreen is the step the checklist pane holds, shown from the
	// pane's next draw.
	stepOnScreen string

	// The prompt's state: what it was asked for, where the keys go back,
	// and the drafts kept by Esc, by prompt label.
	promptLabel string
	promptKey   string // the prompt's draft: its incident and label
	promptFunc  func(string)
	promptBack  tview.Primitive
	drafts      map[string]string
	quitBack    tview.Primitive // what had the keys before the quit dialog

	// draftsTouched are the prompts whose drafts this run changed: only
	// those are written over the drafts file. draftsErr is the last save's.
	draftsTouched map[string]bool
	draftsErr     error

	replayStop  chan struct{}
	replaySpeed int
	// search is the incident search running now, nil when none: Esc, the
	// next search and quitting end it. In the event loop only.
	search *search

	// ctx ends when the UI stops: the store's long reads (a search, a
	// verify, an item loading) stop with it, and no background work
	// starts after. quit ends it.
	ctx  context.Context
	quit context.CancelFunc
	// work is every goroutine the UI started (see background); workMu
	// keeps one from starting while Stop waits for them.
	work     sync.WaitGroup
	workMu   sync.Mutex
	loopDone chan struct{} // closed once the event loop has returned
	stopOnce sync.Once
	stopped  chan struct{} // closed once Stop has stopped the event loop
}

type jump struct {
	line int
	text string
}

// New builds the UI on the incident to show.
func New(o Options) (*UI, error) {
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.CopiesRequired <= 0 {
		o.CopiesRequired = 2
	}
	if o.DevicesRequired <= 0 {
		o.DevicesRequired = 1
	}
	u := &UI{opts: o, store: o.Store, app: tview.NewApplication(), stepShown: map[string]time.Time{}, drafts: map[string]string{}, draftsTouched: map[string]bool{},
		loopDone: make(chan struct{}), stopped: make(chan struct{})}
	u.ctx, u.quit = context.WithCancel(context.Background())
	u.lists, u.listErrs = checklist.Load(o.Checklists)
	u.lists = checklist.WithCopiesRequired(u.lists, o.CopiesRequired)
	var inc model.Incident
	var err error
	if o.Incident != "" {
		inc, err = o.Store.Incident(o.Incident)
	} else if o.ReadOnly {
		inc, err = o.Store.Incident("")
	} else if inc, err = o.Store.Incident(""); errors.Is(err, model.ErrNotFound) {
		// Looking makes nothing: with no current incident the UI waits for
		// one, and the first key that writes asks for its title. A closed
		// current incident is shown as it is.
		inc, err = model.Incident{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open incident: %w", err)
	}
	u.incident = inc
	draftsErr := u.loadDrafts()
	u.build()
	if !inc.IsOpen() && !o.ReadOnly {
		u.setStatus("[yellow]incident " + tview.Escape(inc.ID) + " is closed: what you save goes into it; 'calm incident reopen' or 'calm incident new' to go on[-]")
	}
	if draftsErr != nil {
		u.setStatus("[red]" + tview.Escape(draftsErr.Error()) + "[-]")
	}
	u.read()()
	if o.Screen != nil {
		u.app.SetScreen(o.Screen)
	}
	u.app.EnableMouse(true)
	return u, nil
}

// App returns the tview application, for tests to synchronise on.
func (u *UI) App() *tview.Application { return u.app }

// finishFor is how long quitting waits for the UI's background work: reads
// stop at once, but what is being written (a note, a save, the team
// message) is let finish, unless the store does not answer.
const finishFor = 15 * time.Second

// Run shows the UI until the person quits. When it returns, every
// goroutine the UI started has ended (unless a write outlasted finishFor).
func (u *UI) Run() error {
	// QueueUpdate waits for the event loop: never call it from here.
	u.background(u.poll)
	// SIGTERM, SIGHUP or a kill -INT ends calm (scratch removes its temp
	// data and leaves): the terminal gets its screen, mouse and cursor
	// back first.
	stopSignals := scratch.OnSignal(func(os.Signal) {
		restored := make(chan struct{})
		go func() { u.app.Stop(); close(restored) }()
		select {
		case <-restored:
		case <-time.After(time.Second):
		}
	})
	defer stopSignals()
	err := u.app.Run()
	close(u.loopDone)
	u.stopWork()
	u.finishWork()
	u.stopOnce.Do(func() { close(u.stopped) }) // the loop ended by itself (a terminal error)
	<-u.stopped
	return err
}

// background runs f in a goroutine that Run waits for. Once the UI is
// stopping it starts nothing and returns false.
func (u *UI) background(f func()) bool {
	u.workMu.Lock()
	defer u.workMu.Unlock()
	if u.ctx.Err() != nil {
		return false
	}
	u.work.Add(1)
	go func() {
		defer u.work.Done()
		f()
	}()
	return true
}

// stopWork ends u.ctx: reads stop, and background starts nothing more.
func (u *UI) stopWork() {
	u.workMu.Lock()
	u.quit()
	u.workMu.Unlock()
}

// finishWork waits for the background work, at most finishFor.
func (u *UI) finishWork() {
	done := make(chan struct{})
	go func() {
		u.work.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(finishFor):
	}
}

// update runs f in the event loop and redraws, from a background goroutine
// (never the event loop: it would wait for itself). Once the UI is
// stopping it does nothing; and it never blocks after the event loop has
// returned, so background work always ends.
func (u *UI) update(f func()) {
	if u.ctx.Err() != nil {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		u.app.QueueUpdateDraw(f)
	}()
	select {
	case <-done:
	case <-u.loopDone:
	}
}

// Stop ends Run: the background work is stopped, or let finish if it
// writes, while the event loop still runs (what it queued must be run for
// it to end), and then the event loop stops. Safe from any goroutine.
func (u *UI) Stop() {
	u.stopWork()
	u.stopOnce.Do(func() {
		go func() {
			defer close(u.stopped)
			u.finishWork()
			u.app.Stop()
		}()
	})
}

func (u *UI) build() {
	u.incidents = newEntryList(" incidents ")
	u.incidents.SetSelectedFunc(u.switchIncident)

	u.items = newEntryList(" sessions & captures ")
	u.items.SetChangedFunc(func(int) { u.showCopies() })
	u.items.SetSelectedFunc(func(i int) {
		u.openItem(i)
		u.focusViewer()
	})

	u.timeline = newEntryList(" timeline (UTC) ")
	u.timeline.SetSelectedFunc(u.openEvent)
	u.strip = newStrip(u)

	u.viewer = NewViewer()
	u.viewer.guide = firstScreenGuide
	if u.incident.ID == "" {
		u.viewer.guide = noIncidentGuide
	}
	if u.opts.ReadOnly {
		u.viewer.guide = "[gray]Nothing was captured in this incident: its timeline is on the left (enter opens an event).[-]"
	}
	u.steps = tview.NewTextView().SetDynamicColors(true).SetWrap(true).SetWordWrap(true)
	u.steps.SetBorder(true).SetTitle(" checklist ")
	u.steps.SetDrawFunc(u.stepDrawn)
	u.copies = tview.NewTextView().SetDynamicColors(true).SetWrap(true).SetWordWrap(true)
	u.copies.SetBorder(true).SetTitle(" copies ")
	u.side = tview.NewFlex().SetDirection(tview.FlexRow).
		AddItem(u.steps, 0, 3, false).
		AddItem(u.copies, 0, 2, false)

	u.status = newStatusBar()
	u.prompt = tview.NewInputField().SetFieldBackgroundColor(tcell.ColorDefault)
	u.prompt.SetChangedFunc(func(text string) {
		if u.promptOpen() {
			u.setDraft(u.promptKey, text) // kept as it is typed
		}
	})

	left := tview.NewFlex().SetDirection(tview.FlexRow).
		AddItem(u.incidents, 3, 0, false).
		AddItem(u.items, 0, 1, true).
		AddItem(u.timeline, 0, 1, false)
	centre := tview.NewFlex().SetDirection(tview.FlexRow).
		AddItem(u.strip, 2, 0, false).
		AddItem(u.viewer, 0, 1, true)
	wide := tview.NewFlex().
		AddItem(left, leftWidth, 0, false).
		AddItem(centre, 0, 1, true).
		AddItem(u.side, 40, 0, false)

	// Narrow: the same panes, one at a time, behind tabs.
	leftNarrow := tview.NewFlex().SetDirection(tview.FlexRow).
		AddItem(u.incidents, 3, 0, false).
		AddItem(u.items, 0, 1, true).
		AddItem(u.timeline, 0, 1, false)
	centreNarrow := tview.NewFlex().SetDirection(tview.FlexRow).
		AddItem(u.strip, 2, 0, false).
		AddItem(u.viewer, 0, 1, true)
	u.incidentBoxes = []*tview.Flex{left, leftNarrow}
	u.tabs = tview.NewPages().
		AddPage("items", leftNarrow, true, false).
		AddPage("viewer", centreNarrow, true, true).
		AddPage("side", u.side, true, false)
	u.tabBar = tview.NewTextView().SetDynamicColors(true)
	narrow := tview.NewFlex().SetDirection(tview.FlexRow).
		AddItem(u.tabBar, 1, 0, false).
		AddItem(u.tabs, 0, 1, true)

	u.layout = &responsive{Box: tview.NewBox(), wide: wide, narrow: narrow, focus: u.viewer}
	u.layout.onSwitch = func(isNarrow bool) { u.syncTabs() }
	u.bottom = tview.NewPages().
		AddPage("prompt", u.prompt, true, false).
		AddPage("status", u.status, true, true)
	u.main = tview.NewFlex().SetDirection(tview.FlexRow).
		AddItem(u.layout, 0, 1, true).
		AddItem(u.buildNoticeBar(), 0, 0, false). // notice.go: shown once there is one
		AddItem(u.bottom, 1, 0, false)
	u.pages = tview.NewPages().AddPage("main", u.main, true, true)
	u.app.SetBeforeDrawFunc(func(screen tcell.Screen) bool {
		// A long message takes a second row rather than being cut.
		w, _ := screen.Size()
		u.main.ResizeItem(u.bottom, u.status.rows(w), 0)
		return false
	})
	u.app.EnablePaste(true).SetRoot(pasteGuard{u.pages, u}, true).SetFocus(u.viewer)
	if u.opts.ReadOnly {
		// Review starts from the timeline: what happened, in order.
		u.layout.focus = u.timeline
		u.tabs.SwitchToPage("items")
		u.app.SetFocus(u.timeline)
	}
	u.app.SetInputCapture(u.key)
	u.setStatus("")
}

// noIncidentGuide is what the viewer says on a store with no current
// incident, until one is started here or elsewhere.
const noIncidentGuide = `[::b]No incident yet.[::-] Start one, in another pane:

  [yellow]calm incident new "what happened"[-]

or press [yellow]3[-] then [yellow]n[-] to write a first note: calm asks for the incident's title first. A capture
([yellow]calm snap[-], [yellow]calm split[-], [yellow]cmd | calm tee[-]) starts one too. [yellow]?[-] lists every key.`

// firstScreenGuide is what the viewer says before anything is captured:
// the next step, not "(empty)".
const firstScreenGuide = `[::b]Nothing captured in this incident yet.[::-] What to do next, in another pane:

  [yellow]calm snap[-]                in tmux: keep this pane's scrollback as a capture
  [yellow]calm split[-]               in tmux: snap, record the shell from now on, calm beside it
  [yellow]cmd | calm tee "title"[-]   keep a command's output (it still reaches your terminal)

Captures appear here as they arrive, and their verified copies on the right. [yellow]?[-] lists every key.`

// responsive draws the wide layout, or the narrow one in a narrow pane.
type responsive struct {
	*tview.Box
	wide, narrow tview.Primitive
	focus        tview.Primitive
	isNarrow     bool
	onSwitch     func(bool)
}

func (r *responsive) current() tview.Primitive {
	if r.isNarrow {
		return r.narrow
	}
	return r.wide
}

func (r *responsive) Draw(screen tcell.Screen) {
	x, y, w, h := r.GetRect()
	if n := w < narrowWidth; n != r.isNarrow {
		r.isNarrow = n
		if r.onSwitch != nil {
			r.onSwitch(n)
		}
	}
	p := r.current()
	p.SetRect(x, y, w, h)
	p.Draw(screen)
}

func (r *responsive) Focus(delegate func(p tview.Primitive)) { delegate(r.focus) }
func (r *responsive) HasFocus() bool                         { return r.current().HasFocus() }
func (r *responsive) InputHandler() func(event *tcell.EventKey, setFocus func(p tview.Primitive)) {
	return r.current().InputHandler()
}
func (r *responsive) MouseHandler() func(action tview.MouseAction, event *tcell.EventMouse, setFocus func(p tview.Primitive)) (bool, tview.Primitive) {
	return r.current().MouseHandler()
}

// poll keeps the panes current: new captures, copy results, markers and a
// live session's output appear without a refresh key.
func (u *UI) poll() {
	t := time.NewTicker(u.opts.Poll)
	defer t.Stop()
	for {
		select {
		case <-u.ctx.Done():
			return
		case <-t.C:
		}
		u.refresh()
		u.followLive()
	}
}

// useIncident shows an incident that began after the UI opened on none.
func (u *UI) useIncident(inc model.Incident) {
	u.mu.Lock()
	u.incident = inc
	u.mu.Unlock()
	u.viewer.guide = firstScreenGuide
	u.setStatus(u.message)
	u.read()()
}

func (u *UI) noIncident() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.incident.ID == ""
}

// startIncident asks for a title, starts the incident (it becomes current)
// and then does what needed one.
func (u *UI) startIncident(then func(*UI)) {
	u.ask("no incident yet; its title: ", "", func(title string) {
		inc, err := u.store.NewIncident(title)
		if err != nil {
			u.setStatus("[red]" + tview.Escape("start an incident: "+err.Error()) + "[-]")
			return
		}
		u.useIncident(inc)
		u.setStatus("started incident " + tview.Escape(inc.ID) + ", now current")
		then(u)
	})
}

// refresh reads the incident's state from the store and redraws.
func (u *UI) refresh() { u.update(u.read()) }

// read reads the incident's state from the store and returns what shows
// it, to run in the event loop; New runs the first before the loop starts,
// so that keys typed ahead land on a filled list.
func (u *UI) read() func() {
	u.mu.Lock()
	id := u.incident.ID
	u.mu.Unlock()
	if id == "" {
		inc, err := u.store.Incident("")
		if err != nil {
			return func() {} // still none: the guide says how to start one
		}
		return func() { u.useIncident(inc) }
	}
	all, err1 := u.store.Incidents()
	caps, err2 := u.store.Captures(id)
	events, err3 := u.store.Events(id)
	if err := firstError(err1, err2, err3); err != nil {
		return func() { u.setStatus("[red]store: " + tview.Escape(err.Error())) }
	}
	return func() {
		// The list's cursor stays on its capture, not on its row: a capture
		// listed before it moved it onto another's copies.
		pointed, hadOne := u.selected()
		u.mu.Lock()
		changed := !slices.EqualFunc(caps, u.caps, sameCapture) || len(all) != len(u.all) || len(events) != len(u.events)
		before := len(u.events)
		u.all, u.caps, u.events = all, caps, events
		same := pointed.Incident == u.incident.ID
		var others *model.Event // the last step event this pane did not write
		if before > 0 && len(events) > before {
			steps := 0
			for i := before; i < len(events); i++ {
				if events[i].Kind == model.EventStep {
					steps++
					others = &events[i]
				}
			}
			own := min(steps, u.ownSteps)
			u.ownSteps -= own
			if steps == own {
				others = nil
			}
		}
		u.mu.Unlock()
		if others != nil {
			// A tick from a shell or another pane: the status line says it,
			// not what this pane last did to the checklist.
			u.setStatus(tview.Escape(others.Text))
		}
		if changed {
			u.fillIncidents()
			u.fillItems()
			if hadOne && same {
				u.pointAt(pointed.ID)
			}
			if u.open == nil && len(caps) > 0 {
				// Show the newest item at once: usually what was just
				// captured; or the one named, whatever came after it.
				show := len(caps) - 1
				for i, c := range caps {
					if c.ID == u.opts.Item {
						show = i
					}
				}
				u.items.SetCurrentItem(show)
				u.openItem(show)
			}
			u.showCopies()
			u.fillTimeline()
		}
		u.showSteps() // every poll: a pause counts down
	}
}

func sameCapture(a, b model.Capture) bool {
	return a.ID == b.ID && a.State == b.State && a.Size == b.Size && a.Title == b.Title &&
		slices.EqualFunc(a.Copies, b.Copies, func(x, y model.Copy) bool { return x == y })
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// followLive reads what a recording session (or a capture still arriving)
// added since the last look.
func (u *UI) followLive() {
	u.mu.Lock()
	l, ref := u.open, u.openRef
	var c model.Capture
	found := false
	for _, x := range u.caps {
		if x.Incident+"/"+x.ID == ref {
			c, found = x, true
		}
	}
	u.mu.Unlock()
	if l == nil || !found {
		return
	}
	if done, _, _ := l.doc.State(); done {
		return
	}
	if !l.loading.TryLock() {
		return // the first load is still running
	}
	defer l.loading.Unlock()
	_ = l.load(u.ctx, u.store, c.State == model.CaptureSealed)
	u.update(func() {})
}

func (u *UI) setStatus(msg string) {
	u.message = msg
	u.mu.Lock()
	inc := u.incident
	u.mu.Unlock()
	u.status.mode, u.status.short = "", ""
	if u.opts.ReadOnly {
		u.status.mode, u.status.short = "[yellow]review (read-only)[-]  ", "[yellow]review[-]  "
	}
	u.status.incident = inc.ID
	u.status.title = strings.TrimSpace(plainTitle(inc.Title))
	u.status.message = msg
	u.status.hints = hints(u.opts.ReadOnly)
}

// say shows a message from any goroutine.
func (u *UI) say(format string, args ...any) {
	msg := tview.Escape(fmt.Sprintf(format, args...))
	u.update(func() { u.setStatus(msg) })
}

func (u *UI) sayError(err error) {
	msg := "[red]" + tview.Escape(err.Error()) + "[-]"
	u.update(func() { u.setStatus(msg) })
}

// defaultClipboard uses a clipboard tool where one works, else sends OSC 52
// to the controlling terminal (tmux passes it on with set-clipboard on).
type defaultClipboard struct{}

func (defaultClipboard) Copy(text string) (string, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0)
	if err != nil {
		return clipboard.Write(text, nil)
	}
	defer tty.Close()
	return clipboard.Write(text, tty)
}
