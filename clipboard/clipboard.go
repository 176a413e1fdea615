// Package clipboard reads and writes the system clipboard: through a
// clipboard tool, or by OSC 52 to the terminal. It is apart from capture
// so that the TUI can copy without building the store.
package clipboard

import (
	"encoding/base64"
	"fmt"
	"io"

	"github.com/atotto/clipboard"
)

// osc52Limit is about what terminals accept in one OSC 52 sequence.
const osc52Limit = 100_000

// Read returns the clipboard's text, or says in one line why it
// cannot: over SSH or headless no tool can read it, and terminals do not
// answer OSC 52 reads safely.
func Read() (string, error) {
	if clipboard.Unsupported {
		return "", fmt.Errorf("no clipboard tool here (xclip, xsel or wl-copy), and calm does not ask the terminal for it: pipe the text in with 'calm tee' instead")
	}
	text, err := clipboard.ReadAll()
	if err != nil {
		return "", fmt.Errorf("read the clipboard: %v: pipe the text in with 'calm tee' instead", err)
	}
	return text, nil
}

// Write puts text on the clipboard: through a clipboard tool where
// there is one, else by OSC 52 to the terminal (tty). It says which, since a
// terminal never confirms an OSC 52 copy.
func Write(text string, tty io.Writer) (string, error) {
	if !clipboard.Unsupported {
		if err := clipboard.WriteAll(text); err == nil {
			return "copied to the clipboard", nil
		}
	}
	if tty == nil {
		return "", fmt.Errorf("no clipboard tool (xclip, xsel or wl-copy) and no terminal to send OSC 52 to")
	}
	if len(text) > osc52Limit {
		return "", fmt.Errorf("%d bytes is more than a terminal takes by OSC 52 (about %d): save it with 'calm show ID > FILE' instead", len(text), osc52Limit)
	}
	seq := "\x1b]52;c;" + base64.StdEncoding.EncodeToString([]byte(text)) + "\x07"
	if _, err := io.WriteString(tty, seq); err != nil {
		return "", fmt.Errorf("send OSC 52 to the terminal: %w", err)
	}
	return "sent to the terminal by OSC 52 (in tmux, needs 'set -g set-clipboard on'; terminals do not confirm)", nil
}
