package ui

import (
	"regexp"
	"strings"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
)

// entryList is a list whose entries wrap to the pane's width instead of
// being cut, so an incident's title or a timeline event is read whole in a
// narrow column. Its keys come from the key table (scope "lists"); it
// handles only the mouse itself.
type entryList struct {
	*tview.Box
	entries  []string // tview-tagged text, already escaped
	cur      int
	top      int // the first entry drawn
	height   int // rows at the last draw, for paging
	selected func(i int)
	changed  func(i int)
	done     func()
}

func newEntryList(title string) *entryList {
	l := &entryList{Box: tview.NewBox()}
	l.SetBorder(true).SetTitle(title)
	return l
}

// AddItem appends an entry (tagged, escaped text).
func (l *entryList) AddItem(text string) { l.entries = append(l.entries, text) }

// Clear removes every entry, as tview.List does.
func (l *entryList) Clear() { l.entries, l.cur, l.top = nil, 0, 0 }

// GetItemCount returns how many entries there are.
func (l *entryList) GetItemCount() int { return len(l.entries) }

// GetCurrentItem returns the selected entry.
func (l *entryList) GetCurrentItem() int { return l.cur }

// SetCurrentItem selects entry i (clamped), then tells the changed func,
// which may read GetCurrentItem and must see the new entry.
func (l *entryList) SetCurrentItem(i int) {
	i = min(i, len(l.entries)-1)
	i = max(i, 0)
	moved := i != l.cur
	l.cur = i
	if moved && l.changed != nil && i < len(l.entries) {
		l.changed(i)
	}
}

// SetSelectedFunc runs f when an entry is chosen (enter, a click).
func (l *entryList) SetSelectedFunc(f func(i int)) { l.selected = f }

// SetChangedFunc runs f when another entry becomes the selected one.
func (l *entryList) SetChangedFunc(f func(i int)) { l.changed = f }

// SetDoneFunc runs f when a dialog's list is put away (esc).
func (l *entryList) SetDoneFunc(f func()) { l.done = f }

func (l *entryList) move(delta int) {
	if len(l.entries) > 0 {
		l.SetCurrentItem(l.cur + delta)
	}
}

func (l *entryList) page(dir int) { l.move(dir * max(l.height-1, 1)) }

func (l *entryList) choose() {
	if l.selected != nil && l.cur < len(l.entries) {
		l.selected(l.cur)
	}
}

// wrap splits an entry into screen rows: continuation rows are indented by
// two columns so each entry's start stands out.
func wrapEntry(text string, width int) []string {
	if width <= 2 {
		return []string{text}
	}
	// An escaped bracket with spaces in it ("[REDACTED url password[]") is
	// one word: split at its spaces, each row showed a stray "[]".
	protect := !strings.Contains(text, nbsp)
	if protect {
		text = escapedBrackets.ReplaceAllStringFunc(text, func(m string) string { return strings.ReplaceAll(m, " ", nbsp) })
	}
	first := tview.WordWrap(text, width)
	var rows []string
	if len(first) <= 1 {
		rows = first
	} else {
		rest := strings.TrimLeft(text[len(first[0]):], " ")
		rows = []string{first[0]}
		for _, r := range tview.WordWrap(rest, width-2) {
			rows = append(rows, "  "+r)
		}
	}
	for i := range rows {
		if protect {
			rows[i] = strings.ReplaceAll(rows[i], nbsp, " ")
		}
		rows[i] = orphanEscapes(rows[i])
	}
	return rows
}

// orphanEscapes turns the "[]" of an escape whose "[" went to the row
// before (a word longer than the row, cut) back into the "]" it stands for.
func orphanEscapes(row string) string {
	if !strings.Contains(row, "[]") {
		return row
	}
	kept := map[int]bool{}
	for _, m := range escapedBrackets.FindAllStringIndex(row, -1) {
		kept[m[1]-2] = true
	}
	var b strings.Builder
	for i := 0; i < len(row); i++ {
		if strings.HasPrefix(row[i:], "[]") && !kept[i] {
			b.WriteByte(']')
			i++
			continue
		}
		b.WriteByte(row[i])
	}
	return b.String()
}

// escapedBrackets is text in brackets as tview.Escape leaves it.
var escapedBrackets = regexp.MustCompile(`\[[a-zA-Z0-9_,;: \-\."#]+\[*\[\]`)

const nbsp = "\u00a0"

// Draw draws the entries from top, keeping the selected one in view.
func (l *entryList) Draw(screen tcell.Screen) {
	l.DrawForSubclass(screen, l)
	x, y, width, height := l.GetInnerRect()
	l.height = height
	if width <= 0 || height <= 0 || len(l.entries) == 0 {
		return
	}
	l.cur = min(max(l.cur, 0), len(l.entries)-1)
	if l.cur < l.top {
		l.top = l.cur
	}
	// Scroll down as little as keeps the selected entry's rows in view (or
	// puts it on top): count rows up from it, never more than a screen's.
	first, rows := l.cur, 0
	for i := l.cur; i >= l.top; i-- {
		if rows += len(wrapEntry(l.entries[i], width)); rows > height {
			break
		}
		first = i
	}
	l.top = first
	row := 0
	for i := l.top; i < len(l.entries) && row < height; i++ {
		fg := tview.Styles.PrimaryTextColor
		selected := i == l.cur
		for _, text := range wrapEntry(l.entries[i], width) {
			if row >= height {
				break
			}
			if selected {
				fg = tview.Styles.PrimitiveBackgroundColor
				bg := tcell.StyleDefault.Background(tview.Styles.PrimaryTextColor)
				for c := 0; c < width; c++ {
					screen.SetContent(x+c, y+row, ' ', nil, bg)
				}
			}
			tview.Print(screen, text, x, y+row, width, tview.AlignLeft, fg)
			row++
		}
	}
}

// entryAt returns the entry drawn at screen row y, or -1.
func (l *entryList) entryAt(y int) int {
	_, top, width, height := l.GetInnerRect()
	row := top
	for i := l.top; i < len(l.entries) && row < top+height; i++ {
		n := len(wrapEntry(l.entries[i], width))
		if y >= row && y < row+n {
			return i
		}
		row += n
	}
	return -1
}

// MouseHandler: a click selects and chooses an entry, the wheel scrolls.
func (l *entryList) MouseHandler() func(action tview.MouseAction, event *tcell.EventMouse, setFocus func(p tview.Primitive)) (bool, tview.Primitive) {
	return l.WrapMouseHandler(func(action tview.MouseAction, event *tcell.EventMouse, setFocus func(p tview.Primitive)) (bool, tview.Primitive) {
		mx, my := event.Position()
		if !l.InRect(mx, my) {
			return false, nil
		}
		switch action {
		case tview.MouseLeftClick:
			setFocus(l)
			if i := l.entryAt(my); i >= 0 {
				l.SetCurrentItem(i)
				l.choose()
			}
			return true, nil
		case tview.MouseScrollUp:
			l.move(-1)
			return true, nil
		case tview.MouseScrollDown:
			l.move(1)
			return true, nil
		}
		return false, nil
	})
}
