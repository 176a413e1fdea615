package ui

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"

	"calm/model"
	"calm/storage"
)

// harness runs the UI on a simulation screen over a real bbolt store, as
// gdu's tests do, but synchronised on draws rather than sleeps.
type harness struct {
	t      *testing.T
	db     *storage.DB
	ui     *UI
	screen tcell.SimulationScreen
	clip   *recordingClipboard
	drawn  chan struct{}
	done   chan error
	// handled hears the barrier key (see press); nil where a test built
	// the harness by hand.
	handled chan struct{}
}

// barrierKey is a key no binding has: press sends it after the keys it was
// given and waits for the UI to take it, so every key before it has been
// handled. The screen's events reach the event loop in order; a queued
// update does not wait for them.
const barrierKey = tcell.KeyF64

type recordingClipboard struct {
	mu   sync.Mutex
	text []string
}

func (c *recordingClipboard) Copy(text string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.text = append(c.text, text)
	return "copied (test clipboard)", nil
}

func (c *recordingClipboard) last() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.text) == 0 {
		return ""
	}
	return c.text[len(c.text)-1]
}

func openStore(t *testing.T) *storage.DB {
	t.Helper()
	dir := t.TempDir()
	db, err := storage.Open(storage.Options{Path: filepath.Join(dir, "calm.db"), StrictMode: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// saveCapture stores text as a capture of the current incident.
func saveCapture(t *testing.T, s model.Store, title, text string) model.Capture {
	t.Helper()
	w, err := model.NewCaptureWriter(s, "", model.NewCapture{Title: title, Source: "tee"})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(text))
	c, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func start(t *testing.T, db *storage.DB, width, height int, o Options) *harness {
	t.Helper()
	screen := tcell.NewSimulationScreen("UTF-8")
	if err := screen.Init(); err != nil {
		t.Fatal(err)
	}
	clip := &recordingClipboard{}
	if o.Store == nil {
		o.Store = db // else a test's store over db
	}
	o.Screen, o.Clipboard = screen, clip
	if o.Poll == 0 {
		o.Poll = 50 * time.Millisecond
	}
	u, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, db: db, ui: u, screen: screen, clip: clip, drawn: make(chan struct{}, 1), done: make(chan error, 1), handled: make(chan struct{}, 1)}
	u.App().SetInputCapture(func(ev *tcell.EventKey) *tcell.EventKey {
		if ev.Key() == barrierKey {
			select {
			case h.handled <- struct{}{}:
			default:
			}
			return nil
		}
		return u.key(ev)
	})
	u.App().SetAfterDrawFunc(func(tcell.Screen) {
		select {
		case h.drawn <- struct{}{}:
		default:
		}
	})
	go func() { h.done <- u.Run() }()
	// SetScreen's Init resets a simulation screen to 80x25: size it after.
	h.waitDraw()
	screen.SetSize(width, height)
	u.App().QueueUpdateDraw(func() {})
	t.Cleanup(func() {
		u.Stop()
		select {
		case <-h.done:
		case <-time.After(5 * time.Second):
			t.Error("the UI did not stop")
		}
	})
	return h
}

func (h *harness) waitDraw() {
	select {
	case <-h.drawn:
	case <-time.After(5 * time.Second):
		h.t.Fatal("no draw in 5 s")
	}
}

// text returns the screen as lines, read inside the event loop.
func (h *harness) text() string {
	var out string
	h.ui.App().QueueUpdate(func() {
		cells, w, _ := h.screen.GetContents()
		var b strings.Builder
		for i, c := range cells {
			if len(c.Runes) > 0 {
				b.WriteString(string(c.Runes)) // combining marks too
			} else {
				b.WriteByte(' ')
			}
			if (i+1)%w == 0 {
				b.WriteByte('\n')
			}
		}
		out = b.String()
	})
	return out
}

// waitFor waits until the screen shows want.
func (h *harness) waitFor(want string) string {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := h.text()
		if strings.Contains(s, want) {
			return s
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("screen never showed %q:\n%s", want, s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (h *harness) waitGone(unwanted string) string {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := h.text()
		if !strings.Contains(s, unwanted) {
			return s
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("screen still shows %q:\n%s", unwanted, s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// press sends keys: a string's runes, or named keys.
func (h *harness) press(keys ...any) {
	h.t.Helper()
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			for _, r := range k {
				h.screen.InjectKey(tcell.KeyRune, r, tcell.ModNone)
			}
		case tcell.Key:
			h.screen.InjectKey(k, 0, tcell.ModNone)
		default:
			panic(fmt.Sprintf("press %T", k))
		}
	}
	if h.handled == nil {
		time.Sleep(5 * time.Millisecond)
		h.ui.update(func() {})
		return
	}
	h.screen.InjectKey(barrierKey, 0, tcell.ModNone)
	select {
	case <-h.handled:
	case err := <-h.done: // a key quit: nothing takes keys any more
		h.done <- err
	case <-time.After(5 * time.Second):
		pprof.Lookup("goroutine").WriteTo(os.Stderr, 2)
		h.t.Fatal("the UI took no key in 5 s")
	}
}

// row returns the screen line that contains s.
func row(screen, s string) string {
	for _, l := range strings.Split(screen, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

// cellAt returns the style of the first cell of text on the screen.
func (h *harness) cellAt(screen, text string) tcell.Style {
	h.t.Helper()
	for y, l := range strings.Split(screen, "\n") {
		if i := strings.Index(l, text); i >= 0 {
			x := len([]rune(l[:i]))
			var st tcell.Style
			h.ui.App().QueueUpdate(func() {
				cells, w, _ := h.screen.GetContents()
				st = cells[y*w+x].Style
			})
			return st
		}
	}
	h.t.Fatalf("%q is not on the screen", text)
	return tcell.StyleDefault
}

// TestClosedCurrentIncidentOpensAsItIs: opening calm on a closed current
// incident shows it and says it is closed, instead of making a new one.
func TestClosedCurrentIncidentOpensAsItIs(t *testing.T) {
	db := openStore(t)
	inc, err := db.NewIncident("users overwritten")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CloseIncident(""); err != nil {
		t.Fatal(err)
	}
	h := start(t, db, 160, 40, Options{})
	h.waitFor("is closed")
	h.waitFor("users overwritten")
	all, _ := db.Incidents()
	if len(all) != 1 || all[0].ID != inc.ID {
		t.Fatalf("opening the TUI made incidents: %v", all)
	}
}
