package capture

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"calm/storage"
)

// ErrNotInTmux is returned outside tmux when no pane was named.
var ErrNotInTmux = errors.New("not inside tmux: run it in a tmux pane, or name a pane with -t")

// CurrentPane is the pane this process runs in, or "".
func CurrentPane() string {
	if os.Getenv("TMUX") == "" {
		return ""
	}
	return os.Getenv("TMUX_PANE")
}

func tmux(args ...string) *exec.Cmd { return exec.Command("tmux", args...) }

// Snap saves a pane's whole scrollback, history and screen, wrapped lines
// joined and colours kept, as a capture.
func Snap(s storage.Store, incident, pane, title string) (storage.Capture, error) {
	if pane == "" {
		return storage.Capture{}, ErrNotInTmux
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		return storage.Capture{}, fmt.Errorf("tmux is not installed: install it to snap a pane")
	}
	if title == "" {
		title = "scrollback of pane " + pane
	}
	cmd := tmux("capture-pane", "-p", "-e", "-J", "-S", "-", "-E", "-", "-t", pane)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return storage.Capture{}, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return storage.Capture{}, fmt.Errorf("run tmux capture-pane: %w", err)
	}
	w, err := storage.NewCaptureWriter(s, incident, storage.NewCapture{Title: title, Source: "snap"})
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return storage.Capture{}, err
	}
	_, copyErr := io.CopyBuffer(w, out, make([]byte, 256<<10))
	if err := cmd.Wait(); err != nil {
		return storage.Capture{}, fmt.Errorf("tmux capture-pane -t %s: %s", pane, strings.TrimSpace(stderr.String()))
	}
	if copyErr != nil {
		return storage.Capture{}, copyErr
	}
	return w.Close()
}

// RecordPipe records what arrives on r (a pane's output, from tmux
// pipe-pane) as a session, with a journal, until r ends.
func RecordPipe(s storage.Store, incident, journalDir, title string, cols, rows int, r io.Reader) (storage.Capture, error) {
	start := time.Now()
	journalPath := filepath.Join(journalDir, fmt.Sprintf("%s-%d.cast", start.UTC().Format("20060102T150405Z"), os.Getpid()))
	j, err := CreateJournal(journalPath, Header{Width: cols, Height: rows, Title: title,
		Env: map[string]string{"TERM": os.Getenv("TERM")}}, start)
	if err != nil {
		return storage.Capture{}, err
	}
	host, _ := os.Hostname()
	rec := &storage.Recording{Command: "tmux pipe-pane", Host: host, User: os.Getenv("USER"), Cols: cols, Rows: rows, Journal: journalPath, Recorder: os.Getpid()}
	st := newRecording(s, incident, storage.NewCapture{Title: title, Source: storage.SourceSession, Recording: rec})
	st.tryCreate()
	go st.run()
	br := bufio.NewReaderSize(r, 64<<10)
	buf := make([]byte, 32<<10)
	for {
		n, err := br.Read(buf)
		if n > 0 {
			j.Output(buf[:n], time.Now())
		}
		if err != nil {
			break
		}
	}
	if err := j.Close(); err != nil {
		return storage.Capture{}, err
	}
	return st.finish(j.Size())
}

// PaneSize is a pane's width and height.
func PaneSize(pane string) (int, int) {
	cols, rows := 80, 24
	if out, err := tmux("display-message", "-p", "-t", pane, "#{pane_width} #{pane_height}").Output(); err == nil {
		fmt.Sscan(string(out), &cols, &rows)
	}
	return cols, rows
}

// StartPipe makes tmux send the pane's live output to command (a calm that
// records it), replacing any pipe the pane had.
func StartPipe(pane, command string) error {
	if out, err := tmux("pipe-pane", "-O", "-t", pane, command).CombinedOutput(); err != nil {
		return fmt.Errorf("tmux pipe-pane: %s", strings.TrimSpace(string(out)))
	}
	return nil
}

// StopPipe ends the pane's pipe; the recorder then seals the session.
func StopPipe(pane string) error {
	if out, err := tmux("pipe-pane", "-t", pane).CombinedOutput(); err != nil {
		return fmt.Errorf("tmux pipe-pane: %s", strings.TrimSpace(string(out)))
	}
	return nil
}

// SplitWindow opens command in a new pane beside pane.
func SplitWindow(pane, command string) error {
	if out, err := tmux("split-window", "-h", "-d", "-l", "40%", "-t", pane, command).CombinedOutput(); err != nil {
		return fmt.Errorf("tmux split-window: %s", strings.TrimSpace(string(out)))
	}
	return nil
}
