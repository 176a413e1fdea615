package ui

import (
	"cmp"
	"fmt"
	"strings"
	"testing"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
)

// matchesList is a search's list of 1000 matches, some long enough to wrap.
func matchesList() *entryList {
	l := newEntryList(" the first 1000 matches ")
	for i := range 1000 {
		text := fmt.Sprintf("c%d:%d: connection reset by peer", i%7, i)
		if i%3 == 0 {
			text += strings.Repeat(" and a long tail", 8)
		}
		l.AddItem(text)
	}
	l.SetRect(0, 0, 60, 20)
	return l
}

func screenText(s tcell.SimulationScreen) string {
	cells, width, _ := s.GetContents()
	var b strings.Builder
	for i, c := range cells {
		if len(c.Runes) > 0 {
			b.WriteString(string(c.Runes))
		} else {
			b.WriteByte(' ')
		}
		if (i+1)%width == 0 {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// TestListScrollsTheSelectedEntryIntoViewFromEitherEnd: after G the last
// entry is drawn whole on the last rows, with as many entries above it as
// fit; after g the first is on top again; one step up from the end keeps
// the view where it was.
func TestListScrollsTheSelectedEntryIntoViewFromEitherEnd(t *testing.T) {
	l := matchesList()
	screen := tcell.NewSimulationScreen("UTF-8")
	screen.Init()
	screen.SetSize(60, 20)
	_, _, width, height := l.GetInnerRect()

	l.move(1 << 30)
	l.Draw(screen)
	screen.Show()
	if l.cur != 999 {
		t.Fatalf("G selected %d, want 999", l.cur)
	}
	rows := 0
	for i := l.top; i <= l.cur; i++ {
		rows += len(wrapEntry(l.entries[i], width))
	}
	if rows > height {
		t.Fatalf("entries %d..%d take %d rows, more than the %d there are", l.top, l.cur, rows, height)
	}
	if above := len(wrapEntry(l.entries[l.top-1], width)); rows+above <= height {
		t.Fatalf("entry %d (%d rows) would still fit above the %d rows drawn", l.top-1, above, rows)
	}
	if got := screenText(screen); !strings.Contains(got, "c5:999:") || strings.Contains(got, "c0:0:") {
		t.Fatalf("after G the screen shows:\n%s", got)
	}

	top := l.top
	l.move(-1)
	l.Draw(screen)
	if l.top != top {
		t.Fatalf("one up from the end moved the view from %d to %d", top, l.top)
	}

	l.move(-(1 << 30))
	l.Draw(screen)
	screen.Show()
	if l.top != 0 || l.cur != 0 || !strings.Contains(screenText(screen), "c0:0:") {
		t.Fatalf("after g: top %d, selected %d", l.top, l.cur)
	}
}

// BenchmarkListEndOfAThousandMatches is G in a search's list of 1000
// matches, and the draw that follows it.
func BenchmarkListEndOfAThousandMatches(b *testing.B) {
	l := matchesList()
	screen := tcell.NewSimulationScreen("UTF-8")
	screen.Init()
	screen.SetSize(60, 20)
	for b.Loop() {
		l.move(-(1 << 30))
		l.Draw(screen)
		l.move(1 << 30)
		l.Draw(screen)
	}
}

// TestAWrappedEntryKeepsItsEscapedBracketsWhole: a capture title with
// "[REDACTED url password]" in it showed "password[]" where the list
// wrapped it inside the brackets (fresh-eyes finding).
func TestAWrappedEntryKeepsItsEscapedBracketsWhole(t *testing.T) {
	entry := tview.Escape("c3 mysql://u:[REDACTED url password]@db/x and [REDACTED curl auth user] http://x")
	for width := 12; width <= 80; width++ {
		var shown []string
		for _, row := range wrapEntry(entry, width) {
			plain := stripTagsForTest(row)
			if strings.Contains(plain, "[]") {
				t.Fatalf("width %d: a row shows %q", width, plain)
			}
			shown = append(shown, strings.TrimSpace(plain))
		}
		// Where the bracket fits on a row, it is not cut at its spaces.
		if got := strings.Join(shown, " "); width >= 50 && !strings.Contains(got, "[REDACTED url password]@db/x") {
			t.Fatalf("width %d: the entry reads %q", width, got)
		}
	}
}

func TestAWrappedEntryBreaksBeforeAnEscapedBracketThatFitsARow(t *testing.T) {
	entry := tview.Escape("some words here [REDACTED url password] end")
	for width := 27; width <= 40; width++ { // wide enough for the bracket on a row of its own
		whole := false
		for _, row := range wrapEntry(entry, width) {
			whole = whole || strings.Contains(stripTagsForTest(row), "[REDACTED url password]")
		}
		if !whole {
			t.Fatalf("width %d: the bracket is cut at its spaces: %q", width, wrapEntry(entry, width))
		}
	}
}

// stripTagsForTest is a row as tview prints it: its escapes undone.
func stripTagsForTest(row string) string {
	screen := tcell.NewSimulationScreen("UTF-8")
	screen.Init()
	defer screen.Fini()
	screen.SetSize(200, 1)
	tview.Print(screen, row, 0, 0, 200, tview.AlignLeft, tcell.ColorWhite)
	var b strings.Builder
	for x := range 200 {
		str, _, _ := screen.Get(x, 0)
		b.WriteString(cmp.Or(str, " "))
	}
	return strings.TrimRight(b.String(), " ")
}
