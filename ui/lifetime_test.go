package ui

import (
	"context"
	"io"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"

	"calm/model"
)

// heldStore is a real store whose long reads (a search, a verify, a
// capture's bytes) start and then hold until their context ends, as an
// agent's do on a large store: only the context stops them.
type heldStore struct {
	model.Store
	started chan string // "Search PATTERN", "Verify", "WriteContent REF", as each starts
	ended   chan string // the call and its context's error, as each returns
}

func newHeldStore(db model.Store) *heldStore {
	return &heldStore{Store: db, started: make(chan string, 16), ended: make(chan string, 16)}
}

func (s *heldStore) hold(ctx context.Context, call string) error {
	s.started <- call
	<-ctx.Done()
	s.ended <- call + ": " + ctx.Err().Error()
	return ctx.Err()
}

func (s *heldStore) Search(ctx context.Context, q model.SearchQuery, _ func(model.Match) error) error {
	return s.hold(ctx, "Search "+q.Pattern)
}

func (s *heldStore) Verify(ctx context.Context, _ string) (model.VerifyReport, error) {
	return model.VerifyReport{}, s.hold(ctx, "Verify")
}

func (s *heldStore) WriteContent(ctx context.Context, ref string, _ int64, _ io.Writer) error {
	return s.hold(ctx, "WriteContent "+ref)
}

// next returns what arrives on c, failing the test after 5 s.
func next(t *testing.T, c chan string, what string) string {
	t.Helper()
	select {
	case s := <-c:
		return s
	case <-time.After(5 * time.Second):
		t.Fatalf("no %s in 5 s", what)
		return ""
	}
}

// expect takes what arrives on c until want has, in any order, failing
// the test on anything else.
func expect(t *testing.T, c chan string, what string, want ...string) {
	t.Helper()
	left := map[string]bool{}
	for _, w := range want {
		left[w] = true
	}
	for len(left) > 0 {
		got := next(t, c, what)
		if !left[got] {
			t.Fatalf("%s: %q, want one of %q", what, got, want)
		}
		delete(left, got)
	}
}

// quit presses q and y and waits for Run to return (and leaves its result
// for the harness's cleanup).
func (h *harness) quit() {
	h.t.Helper()
	h.press("q")
	h.waitFor("Quit calm?")
	h.press("y")
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Fatal(err)
		}
		h.done <- nil
	case <-time.After(10 * time.Second):
		h.t.Fatal("the UI did not stop in 10 s")
	}
}

// TestEscStopsTheSearch: an incident search runs in the background under
// a context that Esc, the next search and quitting end, so the store (the
// agent) stops searching for it; before, it searched on to the end of the
// store for a result nobody would see.
func TestEscStopsTheSearch(t *testing.T) {
	db := openStore(t)
	saveCapture(t, db, "mongo find", mongoTranscript)
	s := newHeldStore(db)
	h := start(t, db, 160, 40, Options{Store: s})
	h.waitFor("mongo find")
	ref := next(t, s.started, "item loading") // the newest item opens, and holds

	h.press(tcell.KeyCtrlF, "objectid", tcell.KeyEnter)
	expect(t, s.started, "search", "Search objectid")
	h.waitFor("searching…  (esc stops)")
	h.press(tcell.KeyEscape)
	expect(t, s.ended, "search's end", "Search objectid: context canceled")
	h.waitFor("search stopped")

	// A second search stops the first: only the last one asked shows.
	h.press(tcell.KeyCtrlF, "first", tcell.KeyEnter)
	expect(t, s.started, "search", "Search first")
	h.press(tcell.KeyCtrlF, "second", tcell.KeyEnter)
	expect(t, s.ended, "the first search's end", "Search first: context canceled")
	expect(t, s.started, "search", "Search second")

	// Quitting stops the one running, and the item still loading.
	h.quit()
	expect(t, s.ended, "ends at quit", "Search second: context canceled", ref+": context canceled")
}

// TestNoGoroutineOutlivesTheUI: when Run returns, every goroutine the UI
// started has ended: the poller, an item loading, a search and a verify
// (each held until its context ends), a diff waiting for its item, a
// notice being shown. Before, a search or verify went on after the UI had
// gone, and the diff's wait for up to 30 s.
func TestNoGoroutineOutlivesTheUI(t *testing.T) {
	db := openStore(t)
	saveCapture(t, db, "mongo find", mongoTranscript)
	s := newHeldStore(db)
	before := uiGoroutines()
	h := start(t, db, 160, 40, Options{Store: s, Poll: 10 * time.Millisecond})
	h.waitFor("mongo find")
	load := next(t, s.started, "item loading")
	h.press("2", "D")
	h.waitFor("diff: waiting for the item to load")
	h.press(tcell.KeyCtrlF, "objectid", tcell.KeyEnter)
	h.press("V")
	expect(t, s.started, "search and verify", "Search objectid", "Verify")
	h.ui.Notice("the store's copy of c1 does not match its SHA-256")
	h.waitFor("does not match its SHA-256")

	h.quit()
	expect(t, s.ended, "ends at quit", load+": context canceled", "Search objectid: context canceled", "Verify: context canceled")
	// Run has returned; the goroutines that ran it (the test's own, and
	// Stop's) end a moment after it.
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := uiGoroutines()
		for id := range before {
			delete(left, id)
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			var stacks []string
			for _, g := range left {
				stacks = append(stacks, g)
			}
			sort.Strings(stacks)
			t.Fatalf("%d goroutines of the UI outlived it:\n\n%s", len(left), strings.Join(stacks, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// uiGoroutines returns the stack of every goroutine in package ui, or
// started by it, by goroutine ID.
func uiGoroutines() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[string]string{}
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "calm/ui.") {
			id, _, _ := strings.Cut(g, " [")
			out[id] = g
		}
	}
	return out
}
