package ui

import (
	"strings"

	"github.com/gdamore/tcell/v2"
	"github.com/mattn/go-runewidth"
	"github.com/rivo/tview"
)

// statusBar is the bottom line: the incident, the last message and the keys
// that work here. It lays itself out for the width it gets, so at 90
// columns nothing important is cut: a message that does not fit beside
// the rest takes a second row (rows says how many), the title shortens
// first and the hints drop from the end, "? keys" last of all.
type statusBar struct {
	*tview.Box
	mode     string // tagged: "review (read-only)", or ""
	short    string // mode in a narrow bar: "review"
	incident string // the incident's ID, plain
	title    string // its title, plain (control characters removed)
	message  string // tagged
	hints    []binding
}

func newStatusBar() *statusBar { return &statusBar{Box: tview.NewBox()} }

// minTitle is how much of the incident's title the hints leave it.
const minTitle = 12

// layout returns the bar's rows, as tagged text, for a width.
func (s *statusBar) layout(width int) []string {
	mode := s.mode
	if width < 120 && s.short != "" {
		mode = s.short
	}
	head := mode + "[::b]" + tview.Escape(s.incident) + "[::-]"
	headWidth := tview.TaggedStringWidth(head)
	// The first hint ("? keys") and the last ("q quit") stay; the others
	// fill the room between them in the table's order.
	keys := func(room int) string {
		var parts []string
		used := 0
		for i, h := range s.hints {
			part := h.keys[0] + " " + h.hint
			w := runewidth.StringWidth(part) + 2
			if i > 0 && i < len(s.hints)-1 && used+w+lastWidth(s.hints) > room {
				continue
			}
			parts = append(parts, tview.Escape(part))
			used += w
		}
		return "[gray]" + strings.Join(parts, "  ") + "[-]"
	}
	titleIn := func(room int) string {
		if room <= 1 || s.title == "" {
			return ""
		}
		return " " + tview.Escape(runewidth.Truncate(s.title, room-1, "…"))
	}
	all := keys(width)
	allWidth := tview.TaggedStringWidth(all)
	msgWidth := tview.TaggedStringWidth(s.message)
	titleWidth := 1 + runewidth.StringWidth(s.title)
	if s.message == "" || headWidth+titleWidth+2+msgWidth+2+allWidth <= width {
		if s.message == "" {
			k := keys(width - headWidth - min(titleWidth, minTitle) - 2)
			room := width - headWidth - 2 - tview.TaggedStringWidth(k)
			return []string{head + titleIn(room) + "  " + k}
		}
		return []string{head + titleIn(titleWidth) + "  " + s.message + "  " + all}
	}
	k := keys(width - headWidth - min(titleWidth, minTitle) - 2)
	room := width - headWidth - 2 - tview.TaggedStringWidth(k)
	rows := []string{head + titleIn(room) + "  " + k}
	// The message wraps, up to maxMessageRows: in a narrow pane (calm
	// split's) the end of a message is often what to do next.
	msg := tview.WordWrap(s.message, max(width, 1))
	if len(msg) > maxMessageRows {
		msg = msg[:maxMessageRows]
	}
	return append(rows, msg...)
}

// maxMessageRows is the most rows a message takes below the bar; what is
// longer ends in "…".
const maxMessageRows = 4

// rows is how many rows the bar wants at a width.
func (s *statusBar) rows(width int) int { return len(s.layout(width)) }

// Draw prints each row; a row longer than the width ends in "…".
func (s *statusBar) Draw(screen tcell.Screen) {
	s.DrawForSubclass(screen, s)
	x, y, width, height := s.GetInnerRect()
	for i, row := range s.layout(width) {
		if i >= height {
			break
		}
		if tview.TaggedStringWidth(row) > width {
			tview.Print(screen, row, x, y+i, width-1, tview.AlignLeft, tview.Styles.PrimaryTextColor)
			screen.SetContent(x+width-1, y+i, '…', nil, tcell.StyleDefault)
			continue
		}
		tview.Print(screen, row, x, y+i, width, tview.AlignLeft, tview.Styles.PrimaryTextColor)
	}
}

func lastWidth(hs []binding) int {
	if len(hs) < 2 {
		return 0
	}
	h := hs[len(hs)-1]
	return runewidth.StringWidth(h.keys[0]+" "+h.hint) + 2
}
