// Package clipboard reads and writes the system clipboard: through a
// clipboard tool, or by OSC 52 to the terminal. It is apart from capture
// so that the TUI can copy without building the store.
package clipboard

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/atotto/clipboard"
)

// osc52Limit is about what terminals accept in one OSC 52 sequence.
const osc52Limit = 100_000

// ErrEmpty is a clipboard that holds no text.
var ErrEmpty = errors.New("the clipboard is empty: copy the text first, or pipe it in with 'calm tee'")

// Read returns the clipboard's text, or says in one line why it cannot and
// what to do: over SSH or headless there is no display and so no clipboard
// to read (terminals do not answer OSC 52 reads safely); with one, the
// clipboard may hold nothing.
func Read() (string, error) {
	if clipboard.Unsupported {
		return "", fmt.Errorf("no clipboard tool here (xclip, xsel or wl-clipboard): install one, or pipe the text in with 'calm tee' (calm does not ask the terminal for its clipboard)")
	}
	text, err := clipboard.ReadAll()
	if err != nil {
		return "", explainRead(err)
	}
	if text == "" {
		return "", ErrEmpty
	}
	return text, nil
}

// explainRead turns a clipboard tool's failure (its exit status, and what
// it wrote on stderr) into what is missing.
func explainRead(err error) error {
	said := ""
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		said, _, _ = strings.Cut(strings.TrimSpace(string(exit.Stderr)), "\n")
	}
	display, wayland := os.Getenv("DISPLAY"), os.Getenv("WAYLAND_DISPLAY")
	lower := strings.ToLower(said)
	switch {
	case display == "" && wayland == "":
		return fmt.Errorf("no display here (DISPLAY and WAYLAND_DISPLAY are unset: over SSH or on a server there is no desktop clipboard): pipe the text in with 'calm tee' instead")
	case strings.Contains(lower, "not available"), strings.Contains(lower, "nothing is copied"), strings.Contains(lower, "no selection"):
		return ErrEmpty
	case strings.Contains(lower, "open display"), strings.Contains(lower, "connect to"):
		where := "DISPLAY=" + display
		if display == "" {
			where = "WAYLAND_DISPLAY=" + wayland
		}
		return fmt.Errorf("cannot reach the display %s (%s): start that desktop session or set the right one, or pipe the text in with 'calm tee' instead", where, said)
	case said != "":
		return fmt.Errorf("read the clipboard: %s: pipe the text in with 'calm tee' instead", said)
	}
	return fmt.Errorf("read the clipboard: %v: pipe the text in with 'calm tee' instead", err)
}

// Write puts text on the clipboard: through a clipboard tool where
// there is one, else by OSC 52 to the terminal (tty). It says which, since a
// terminal never confirms an OSC 52 copy.
func Write(text string, tty io.Writer) (string, error) {
	var toolErr error
	if !clipboard.Unsupported {
		if toolErr = clipboard.WriteAll(text); toolErr == nil {
			return "copied to the clipboard", nil
		}
	}
	if tty == nil {
		why := "no clipboard tool (xclip, xsel or wl-copy)"
		if toolErr != nil {
			why = explainRead(toolErr).Error() // what the tool lacked, a display most often
			why, _, _ = strings.Cut(why, ": pipe the text in")
		}
		return "", fmt.Errorf("%s, and no terminal to send OSC 52 to: run it in a terminal, or save the capture with 'calm show ID > FILE'", why)
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
