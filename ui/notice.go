package ui

import (
	"fmt"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
)

// noticeRows is the notice bar's height once it shows something: room for
// a notice that names a copy's full path on a narrow screen.
const noticeRows = 3

func (u *UI) buildNoticeBar() *tview.TextView {
	u.noticeBar = tview.NewTextView().SetDynamicColors(true).SetWrap(true).SetWordWrap(true)
	u.noticeBar.SetBackgroundColor(tcell.ColorDarkRed)
	return u.noticeBar
}

// Notice shows what the store said beside a read, inside the UI and until
// it ends: today, that the store's copy of an item is damaged and which
// verified copy was read instead. A bar above the status line holds it,
// so it takes no focus and no later message hides it. Safe from any
// goroutine, the event loop's included.
func (u *UI) Notice(msg string) {
	u.background(func() {
		u.update(func() {
			for _, n := range u.noticed {
				if n == msg {
					return
				}
			}
			u.noticed = append(u.noticed, msg)
			text := "[::b]" + sanitizeTitle(msg) + "[::-]"
			if more := len(u.noticed) - 1; more > 0 {
				text += fmt.Sprintf("  [::d](and %d earlier: 'calm verify' lists every copy)[::-]", more)
			}
			u.noticeBar.SetText(text)
			u.main.ResizeItem(u.noticeBar, noticeRows, 0)
		})
	})
}
