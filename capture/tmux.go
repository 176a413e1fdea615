package capture

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"calm/model"
	"calm/terminal"
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

// tmuxServer is the socket of the tmux server to ask, when this process
// cannot find it from $TMUX: a command run by tmux pipe-pane has the
// server's environment, not the pane's.
var tmuxServer string

// UseTmuxServer makes every tmux command this process runs ask the server
// listening on socket; "" leaves tmux to find it.
func UseTmuxServer(socket string) { tmuxServer = socket }

// TmuxServer is the socket of the server of the pane this process runs
// in, from $TMUX; "" outside tmux.
func TmuxServer() string {
	socket, _, _ := strings.Cut(os.Getenv("TMUX"), ",")
	return socket
}

func tmux(args ...string) *exec.Cmd {
	if tmuxServer != "" {
		args = append([]string{"-S", tmuxServer}, args...)
	}
	return exec.Command("tmux", args...)
}

// Snap saves a pane's whole scrollback, history and screen, wrapped lines
// joined and colours kept, as a capture. A pane tmux cannot read creates no
// capture; one whose history is full is saved with a warning (Capture.Warning)
// that older lines are gone.
func Snap(s model.Store, incident, pane, title string) (model.Capture, error) {
	return SnapContext(context.Background(), s, incident, pane, title)
}

// SnapContext is Snap until ctx ends: then what arrived is sealed as
// interrupted, for context.Cause(ctx), and returned with the error.
func SnapContext(ctx context.Context, s model.Store, incident, pane, title string) (model.Capture, error) {
	if pane == "" {
		return model.Capture{}, ErrNotInTmux
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		return model.Capture{}, fmt.Errorf("tmux is not installed: install it to snap a pane")
	}
	if title == "" {
		title = "scrollback of pane " + pane
	}
	parts, note, alternate := paneParts(pane)
	warning := HistoryWarning(pane)
	if note != "" {
		warning = strings.TrimPrefix(warning+"; "+note, "; ")
	}
	var w *model.CaptureWriter
	var copyErr error
	buf := make([]byte, 256<<10)
	// The empty rows below the cursor are not output: show, search and
	// grep on the copies count the same lines. A full-screen program's
	// screen keeps its rows (the note counts them).
	var rows io.Writer
	var tail *BlankTail
	for _, part := range parts {
		cmd := tmux(append(append([]string{"capture-pane", "-p", "-e", "-J"}, part...), "-t", pane)...)
		out, err := cmd.StdoutPipe()
		if err != nil {
			copyErr = err
			break
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			copyErr = fmt.Errorf("run tmux capture-pane: %w", err)
			break
		}
		failed := func() error {
			said := strings.TrimSpace(stderr.String())
			if os.Getenv("TMUX") == "" && tmuxServer == "" && (strings.Contains(said, "no server running") || strings.Contains(said, "error connecting to")) {
				return fmt.Errorf("no tmux server answers here (outside tmux, only its default one is asked, and %s): run calm snap -t %s in a pane of that tmux session: nothing was saved", said, pane)
			}
			return fmt.Errorf("tmux capture-pane -t %s: %s: nothing was saved", pane, cmp.Or(said, "it failed"))
		}
		br := bufio.NewReaderSize(out, len(buf))
		if w == nil {
			// The first bytes, or tmux's failure, before any capture exists.
			if _, err := br.Peek(1); err != nil {
				if werr := cmd.Wait(); werr != nil {
					return model.Capture{}, failed()
				}
			}
			w, err = model.NewCaptureWriter(s, incident, model.NewCapture{Title: title, Source: "snap", Warning: warning})
			if err != nil {
				cmd.Process.Kill()
				cmd.Wait()
				return model.Capture{}, err
			}
		}
		if rows == nil {
			rows = w
			if alternate != "1" {
				tail = NewBlankTail(w)
				rows = tail
			}
		}
		stopped := context.AfterFunc(ctx, func() { cmd.Process.Kill() })
		_, copyErr = io.CopyBuffer(rows, br, buf)
		stopped()
		if cmd.ProcessState == nil {
			if err := cmd.Wait(); err != nil && copyErr == nil {
				copyErr = failed()
			}
		}
		if copyErr != nil {
			break
		}
	}
	if w == nil {
		return model.Capture{}, copyErr
	}
	if copyErr == nil && alternate != "" && alternateOn(pane) != alternate {
		// tmux reads each range at once, but not the parts together: a
		// program that started or left meanwhile moved rows between them.
		copyErr = fmt.Errorf("a full-screen program started or left in pane %s while calm read it: rows may be missing, snap it again", pane)
	}
	if copyErr == nil && tail != nil {
		copyErr = tail.Close()
	}
	if copyErr != nil && ctx.Err() == nil {
		// A Ctrl-C reaches tmux as well, and may end it before calm hears
		// of it.
		select {
		case <-ctx.Done():
		case <-time.After(25 * time.Millisecond):
		}
	}
	if ctx.Err() != nil {
		copyErr = context.Cause(ctx)
	}
	if copyErr != nil {
		// What arrived is kept, sealed as what it is: part of the pane.
		if c, err := w.CloseInterrupted(oneLine(copyErr.Error())); err == nil {
			return c, fmt.Errorf("%w; saved what arrived as %s/%s, marked interrupted", copyErr, c.Incident, c.ID)
		}
		return model.Capture{}, copyErr
	}
	return w.Close()
}

// paneParts are the capture-pane ranges that together make a pane's
// scrollback: its history and screen at once; or, while a full-screen
// program (less, vim, top) has the alternate screen up, the history, the
// normal screen that program hides (tmux keeps it, -a), then the program's
// own screen, in the order they were drawn. note says so when it is the
// second; "" otherwise. alternate is #{alternate_on} as it was read, for
// the end of the snap to compare with.
func paneParts(pane string) (parts [][]string, note, alternate string) {
	whole := [][]string{{"-S", "-", "-E", "-"}}
	out, err := tmux("display-message", "-p", "-t", pane, "#{alternate_on} #{history_size} #{pane_height}").Output()
	if err != nil {
		return whole, "", ""
	}
	var history, height int
	if n, _ := fmt.Sscan(string(out), &alternate, &history, &height); n != 3 || alternate != "1" {
		return whole, "", alternate
	}
	if history > 0 {
		parts = append(parts, []string{"-S", "-", "-E", "-1"})
	}
	// -q: a program that has left the alternate screen meanwhile leaves
	// nothing hidden, and the last part is the normal screen again.
	parts = append(parts, []string{"-a", "-q"}, nil)
	return parts, fmt.Sprintf("pane %s was showing a full-screen program (less, vim, top...): saved its scrollback and the screen that program hid, then the program's own screen as the last %d lines", pane, height), alternate
}

// alternateOn is tmux's #{alternate_on} for pane: "1" while a full-screen
// program has the alternate screen up, "0" otherwise, "" when tmux cannot
// say.
func alternateOn(pane string) string {
	out, err := tmux("display-message", "-p", "-t", pane, "#{alternate_on}").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// HistoryWarning says, when a pane's history is full (tmux's history-limit
// reached), that its oldest lines are already gone and what to do; "" when
// it is not full or tmux cannot say.
func HistoryWarning(pane string) string {
	out, err := tmux("display-message", "-p", "-t", pane, "#{history_size} #{history_limit}").Output()
	if err != nil {
		return ""
	}
	var size, limit int
	n, _ := fmt.Sscan(string(out), &size, &limit)
	if n == 2 && limit == 0 {
		return fmt.Sprintf("pane %s keeps no history (tmux's history-limit is 0): what scrolled off its screen is gone; "+
			"set -g history-limit 200000 in ~/.tmux.conf for new panes, and re-run the query through 'calm tee' to keep all of it", pane)
	}
	// A full history loses its oldest tenth at once, so a pane that has
	// dropped lines holds between 90% and 100% of its limit.
	if n != 2 || size < limit-limit/10 {
		return ""
	}
	return fmt.Sprintf("pane %s's history is full (%d of %d lines, tmux's history-limit): older output is likely gone already; "+
		"raise it for new panes (set -g history-limit 200000 in ~/.tmux.conf), and re-run the query through 'calm tee' to keep all of it", pane, size, limit)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// paneTerm is the TERM that programs in a pane see, tmux's
// default-terminal: the recorder itself runs under the tmux server, whose
// TERM is the terminal tmux was started in. TERM when tmux does not say.
func paneTerm() string {
	if out, err := tmux("show-options", "-gv", "default-terminal").Output(); err == nil {
		if term := strings.TrimSpace(string(out)); term != "" {
			return term
		}
	}
	return os.Getenv("TERM")
}

// RecordPipe records what arrives on r (a pane's output, from tmux
// pipe-pane) as a session, with a journal, until r ends. Command lines the
// output shows after a prompt are checked against marks, as calm shell
// checks what is typed. size is the pane's size: asked at the start, and
// again when output comes a second or more after it was last asked, so
// that a resize is recorded before the output drawn for it.
func RecordPipe(s model.Store, incident, journalDir, title string, size func() (cols, rows int), marks []Mark, r io.Reader) (model.Capture, error) {
	return RecordPipeContext(context.Background(), s, incident, journalDir, title, size, marks, r)
}

// sizeCheckEvery bounds how often a recorded pane's size is asked: each
// ask runs tmux.
const sizeCheckEvery = time.Second

// RecordPipeContext is RecordPipe until r ends or ctx does.
func RecordPipeContext(ctx context.Context, s model.Store, incident, journalDir, title string, size func() (cols, rows int), marks []Mark, r io.Reader) (model.Capture, error) {
	cols, rows := size()
	start := time.Now()
	sizeAsked := start
	journalPath := filepath.Join(journalDir, fmt.Sprintf("%s-%d.cast", start.UTC().Format("20060102T150405Z"), os.Getpid()))
	j, err := CreateJournal(journalPath, terminal.Header{Width: cols, Height: rows, Title: title,
		Env: map[string]string{"TERM": paneTerm()}}, start)
	if err != nil {
		return model.Capture{}, err
	}
	host, _ := os.Hostname()
	rec := &model.Recording{Command: "tmux pipe-pane", Host: host, User: os.Getenv("USER"), Cols: cols, Rows: rows, Journal: journalPath, Recorder: os.Getpid(), Start: start}
	st := newRecording(s, incident, model.NewCapture{Title: title, Source: model.SourceSession, Recording: rec})
	st.tryCreate()
	go st.run()
	// Read on its own goroutine, so that ctx can end the recording while
	// a read waits.
	reads, free := make(chan []byte), make(chan []byte, 2)
	free <- make([]byte, 32<<10)
	free <- make([]byte, 32<<10)
	go func() {
		defer close(reads)
		for buf := range free {
			n, err := r.Read(buf)
			if n > 0 {
				reads <- buf[:n]
			} else {
				free <- buf
			}
			if err != nil {
				return
			}
		}
	}()
	var commands PromptWatcher
	// calm split starts recording, then splits the window, which resizes
	// the pane: the size is asked again a few times in the first seconds,
	// output or not, so the journal has the resize when it happened.
	early := []time.Duration{200 * time.Millisecond, time.Second, 3 * time.Second}
	askSize := func(now time.Time) {
		if c, r := size(); c != cols || r != rows {
			cols, rows = c, r
			j.Resize(cols, rows, now)
		}
		sizeAsked = time.Now()
	}
	recheck := time.NewTimer(early[0])
	defer recheck.Stop()
reading:
	for {
		select {
		case <-recheck.C:
			now := time.Now()
			askSize(now)
			for len(early) > 0 && now.Sub(start) >= early[0] {
				early = early[1:]
			}
			if len(early) > 0 {
				recheck.Reset(early[0] - now.Sub(start))
			}
		case p, ok := <-reads:
			if !ok {
				break reading
			}
			now := time.Now()
			if now.Sub(sizeAsked) >= sizeCheckEvery {
				askSize(now)
			}
			// A command's marker is when its line was entered: the output
			// that ends the echoed line, the Enter. The store's marker
			// takes the journal's stamp of it, so that both agree.
			commands.Feed(p, func(command string) {
				if name, ok := Check(marks, command); ok {
					j.Marker(name, now)
					st.mark(name+": "+command, j.At())
				}
			})
			j.Output(p, now)
			free <- p[:cap(p)]
		case <-ctx.Done():
			break reading
		}
	}
	if err := j.Close(); err != nil {
		return model.Capture{}, err
	}
	return st.finish(j.Size(), journalCut(j))
}

// PaneSize is a pane's width and height; 80x24 when tmux cannot say.
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

// PanePiped reports whether the pane already sends its output to a pipe
// (a calm split recording it).
func PanePiped(pane string) bool {
	out, err := tmux("display-message", "-p", "-t", pane, "#{pane_pipe}").Output()
	return err == nil && strings.TrimSpace(string(out)) == "1"
}

// besideWidth is the narrowest pane split beside: calm then gets 40%, 64
// columns, and the pane keeps 96. A narrower one is split below.
const besideWidth = 160

// SplitWindow opens command in a new pane beside pane, or below it when
// the pane is too narrow to share its width.
func SplitWindow(pane, command string) error {
	cols, _ := PaneSize(pane)
	how := []string{"-h", "-l", "40%"}
	if cols < besideWidth {
		how = []string{"-v", "-l", "50%"}
	}
	args := append(append([]string{"split-window"}, how...), "-d", "-t", pane, command)
	if out, err := tmux(args...).CombinedOutput(); err != nil {
		return fmt.Errorf("tmux split-window: %s", strings.TrimSpace(string(out)))
	}
	return nil
}
