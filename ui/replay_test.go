package ui

import (
	"strings"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"
)

// TestSkipIdleCutsLongPausesOnly: a replay's clock jumps over an hour of
// nothing to the limit before the next line, and leaves short pauses alone.
func TestSkipIdleCutsLongPausesOnly(t *testing.T) {
	began := time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC)
	d := NewDoc("s")
	d.Start, d.timed = began, true
	for _, at := range []float64{0, 1, 3601, 3602.5} {
		d.Append([]byte("line"), at)
	}
	d.Finish(nil)
	at := func(s float64) time.Time { return began.Add(time.Duration(s * float64(time.Second))) }
	for _, c := range []struct{ now, want float64 }{
		{0.5, 0.5},       // the next line is half a second away
		{1, 3599},        // an hour of nothing: wait 2 s of it
		{1.5, 3599},      // the same gap, from inside it
		{3599.5, 3599.5}, // already within 2 s
		{3601, 3601},     // 1.5 s to the next line
		{3602.5, 3602.5}, // the end: nothing to skip to
	} {
		if got := skipIdle(d, at(c.now), 2*time.Second); !got.Equal(at(c.want)) {
			t.Fatalf("at +%gs the clock went to %v, want +%gs", c.now, got.Sub(began), c.want)
		}
	}
	if got := skipIdle(d, at(1), 10*time.Minute); !got.Equal(at(3001)) {
		t.Fatalf("a 10 min limit kept %v of the hour", at(3601).Sub(got))
	}
}

// startReplay presses g p until the replay starts: the last line shows
// before the session has finished loading, and until then p only says
// "wait until the session has loaded".
func startReplay(h *harness) {
	for tries := 0; tries < 100; tries++ {
		h.press("g", "p")
		if !strings.Contains(h.text(), "wait until the session has loaded") {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestReplaySkipsAnHourIdle: a session with an hour's pause in it replays
// to its end at 1x; without the cut it would take an hour.
func TestReplaySkipsAnHourIdle(t *testing.T) {
	db := openStore(t)
	began := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	saveSession(t, db, began, [][3]any{
		{0.0, "o", "before the pause\r\n"},
		{0.1, "o", "kubectl get pods\r\n"},
		{3600.1, "o", "after the pause\r\n"},
	})
	h := start(t, db, 160, 40, Options{ReadOnly: true, IdleLimit: 100 * time.Millisecond})
	h.waitFor("review (read-only)")
	h.press("1", tcell.KeyEnter)
	h.waitFor("after the pause")
	startReplay(h)
	h.waitFor("pauses over 100ms cut to 100ms")
	h.waitFor("replay reached the end")
}

// TestReviewStatusBarShowsOnlyKeysThatWorkThere: in review the bar hints
// no key that writes, and the messages leave such keys out too.
func TestReviewStatusBarShowsOnlyKeysThatWorkThere(t *testing.T) {
	for _, b := range hints(true) {
		if b.writes {
			t.Fatalf("review hints %q, which writes", b.keys[0])
		}
	}
	db := openStore(t)
	saveCapture(t, db, "mongo find", mongoTranscript)
	h := start(t, db, 160, 40, Options{ReadOnly: true})
	h.waitFor("review (read-only)")
	bar := row(h.text(), "? keys")
	for _, want := range []string{"/ find", "x extract", "y yank", "p replay", "q quit"} {
		if !strings.Contains(bar, want) {
			t.Fatalf("the review bar lacks %q: %q", want, bar)
		}
	}
	if strings.Contains(bar, "s save") {
		t.Fatalf("the review bar offers s save: %q", bar)
	}
	if strings.Count(bar, "q quit") != 1 {
		t.Fatalf("the bar names q quit %d times: %q", strings.Count(bar, "q quit"), bar)
	}
	h.press("1", tcell.KeyEnter)
	// Enter opens the item again: its first load may still show until the
	// key is handled, and x on a document still loading finds no block.
	h.waitUntil("enter has opened the item again and it has loaded", func() bool {
		done, _, _ := h.ui.viewer.Doc().State()
		return h.ui.app.GetFocus() == h.ui.viewer && done
	})
	h.waitFor("rs0:PRIMARY> db.users.find")
	h.press("j", "x")
	screen := h.waitFor("block: lines 2–16")
	if msg := row(screen, "block: lines"); !strings.Contains(msg, "(y yank, x one level in)") {
		t.Fatalf("the block message offers keys review refuses: %q", msg)
	}
	// A key that writes says why it does nothing.
	h.press("s")
	h.waitFor("review is read-only: s (save the block")
	// Outside review the bar offers s save and no replay.
	live := start(t, openStore(t), 160, 40, Options{})
	bar = row(live.waitFor("? keys"), "? keys")
	if !strings.Contains(bar, "s save") || strings.Contains(bar, "p replay") {
		t.Fatalf("the live bar: %q", bar)
	}
}
