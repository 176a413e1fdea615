package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"calm/capture"
	"calm/clipboard"
	"calm/model"
	"calm/sanitize"
	"calm/storage"
	"calm/terminal"
)

func cmdShell(e *env, args []string) error {
	fs := e.flags("shell", "[--input] [--wait] [--title TITLE] [-- CMD ARGS...]")
	input := fs.Bool("input", false, "record typed input too (never while the terminal's echo is off)")
	wait := fs.Bool("wait", false, "at the end, wait until the store has taken the session and checked its copies")
	title := fs.String("title", "", "the session's title (default: the command)")
	incident := fs.String("incident", "", "the incident to record into (default: the current one)")
	// Flags end at the command: its own flags are its own (calm shell psql -h db).
	if err := parse(fs, args); err != nil {
		return err
	}
	marks, err := capture.CompileMarks(e.cfg.Marks)
	if err != nil {
		return fmt.Errorf("config %s: %w", e.cfg.file, err)
	}
	// The recorder's Go work is one read loop handing output to the
	// journal's writer, both mostly in system calls. With a second P the
	// scheduler wakes and parks spare threads at every hand-over between
	// them; with one the recorder leaves the program more of the machine
	// (BENCHMARKS.md). This process records and does nothing else; the
	// setting ends with the recording.
	if outer := os.Getenv("CALM_SESSION"); outer != "" {
		// Inside a calm shell: said, not refused (a psql of its own may be
		// worth a session of its own), as everything is recorded twice.
		if c, err := e.store.Capture(outer); err == nil && c.Recording != nil && c.State != model.CaptureSealed {
			fmt.Fprintf(e.stderr, "calm: this terminal is already recorded, as %s: this session records the same output again ('exit' ends the inner one)\n", outer)
		}
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	stdin, stdout := asFile(e.stdin, os.Stdin), asFile(e.stdout, os.Stdout)
	code, err := capture.RunShell(capture.ShellOptions{
		Command: fs.Args(), Store: e.store, Incident: *incident, Title: *title,
		JournalDir: filepath.Join(filepath.Dir(e.cfg.Store), "journal"), RecordInput: *input, Wait: *wait,
		Marks: marks, Stdin: stdin, Stdout: stdout, Stderr: e.stderr,
	})
	if err != nil {
		return err
	}
	if code != 0 {
		return &exitError{code: code} // the shell's own status, passed through
	}
	return nil
}

func asFile(v any, fallback *os.File) *os.File {
	if f, ok := v.(*os.File); ok {
		return f
	}
	return fallback
}

func cmdSnap(e *env, args []string) error {
	fs := e.flags("snap", "[-t PANE] [--incident ID] [TITLE]")
	pane := fs.StringP("target", "t", capture.CurrentPane(), "the tmux pane (default: this one)")
	incident := fs.String("incident", "", "the incident (default: the current one)")
	if err := parse(fs, args); err != nil {
		return err
	}
	var caught os.Signal
	ctx, stop := interruptible(e, func(s os.Signal) { caught = s })
	defer stop()
	c, err := capture.SnapContext(ctx, e.store, *incident, *pane, strings.Join(fs.Args(), " "))
	if err != nil && c.ID != "" && ctx.Err() != nil {
		fmt.Fprintf(e.stderr, "calm: interrupted by %s: saved %s/%s (%s, partial), %s\n", context.Cause(ctx), c.Incident, c.ID, humanBytes(c.Size), c.CopiesSummary())
		return &exitError{code: exitCodeFor(caught)}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "saved %s/%s: pane %s scrollback, %s, %s\n",
		c.Incident, c.ID, *pane, humanBytes(c.Size), c.CopiesSummary())
	warnHistory(e, c)
	return nil
}

// warnHistory says in one line that a snapped pane had already lost lines.
func warnHistory(e *env, c model.Capture) {
	if c.Warning != "" {
		fmt.Fprintf(e.stderr, "calm: WARNING: %s\n", sanitize.Text([]byte(c.Warning)))
	}
}

// shellQuote quotes words for the sh -c that tmux runs commands with.
func shellQuote(words ...string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// selfCommand is this calm, with this configuration, as a command line that
// works from tmux, whose environment is not ours.
func (e *env) selfCommand(args ...string) string {
	argv := e.cfg.agentCommand()
	argv = argv[:len(argv)-3] // drop "agent --socket SOCK"
	// tmux starts it with the server's environment: carry what the
	// person's shell says about their editor and their folders.
	vars := []string{"CALM_SOCKET=" + e.cfg.socket}
	for _, k := range []string{"EDITOR", "VISUAL", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "CALM_HOME", "CALM_NO_PROGRESS"} {
		if v, ok := os.LookupEnv(k); ok {
			vars = append(vars, k+"="+v)
		}
	}
	return "exec env " + shellQuote(vars...) + " " + shellQuote(append(argv, args...)...)
}

func cmdSplit(e *env, args []string) error {
	fs := e.flags("split", "[--stop]")
	stop := fs.Bool("stop", false, "stop recording this pane")
	if err := parse(fs, args); err != nil {
		return err
	}
	pane := capture.CurrentPane()
	if pane == "" {
		// split works on the pane it runs in, which it opens calm beside.
		return &exitError{code: 1, msg: "not inside tmux: run calm split in the tmux pane to record; outside tmux, 'calm shell' records a shell and 'calm snap -t PANE' saves a pane's scrollback"}
	}
	if *stop {
		if !capture.PanePiped(pane) {
			return &exitError{code: 1, msg: fmt.Sprintf("pane %s is not recording: nothing to stop ('calm split' starts recording it)", pane)}
		}
		if err := capture.StopPipe(pane); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "calm: stopped recording pane %s; the session is being sealed\n", pane)
		return nil
	}
	if capture.PanePiped(pane) {
		// A second pipe would replace the first and end its session.
		what := "already sends its output to a pipe"
		if inc, err := e.store.CurrentIncident(); err == nil {
			if s := liveSession(e.store, inc.ID, pane, time.Time{}); s.ID != "" {
				what = fmt.Sprintf("is already recording, as %s/%s", s.Incident, s.ID)
			}
		}
		// Run again, it is often for the TUI's pane, closed since.
		return &exitError{code: 1, msg: fmt.Sprintf("pane %s %s: 'calm split --stop' ends it; 'calm' opens the TUI again (tmux split-window calm)", pane, what)}
	}
	inc, err := e.store.CurrentIncident()
	if err != nil {
		return err
	}
	c, err := capture.Snap(e.store, inc.ID, pane, "")
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "calm: saved pane %s's scrollback as %s/%s (%s, %s)\n",
		pane, c.Incident, c.ID, humanBytes(c.Size), c.CopiesSummary())
	warnHistory(e, c)
	started := time.Now()
	pipe := []string{"pipe", "--incident", inc.ID, "--pane", pane}
	if server := capture.TmuxServer(); server != "" {
		// The recorder asks tmux for the pane's size, and tmux runs it
		// with the server's environment, which may not lead back to it
		// (a server started with -L).
		pipe = append(pipe, "--tmux-server", server)
	}
	// From here the pane records whatever calm split does: a Ctrl-C stops
	// calm split, and says the recording goes on, never silently.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if err := capture.StartPipe(pane, tmuxLiteral(e.selfCommand(pipe...))); err != nil {
		return err
	}
	// The pane opened shows the session just started, not whatever is
	// newest when it opens: wait for the recorder to make it.
	ui := []string{"ui", inc.ID}
	session := ""
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case s := <-sigs:
			fmt.Fprintf(e.stderr, "\ncalm split: stopped by %s before opening calm beside the pane; pane %s IS recording (its session is being made): 'calm split --stop' ends it, 'calm ui' shows it\n", signalName(s), pane)
			return &exitError{code: exitCodeFor(s)}
		default:
		}
		if s := liveSession(e.store, inc.ID, pane, started); s.ID != "" {
			session = s.ID
			ui = []string{"ui", "--item", s.ID, inc.ID}
			break
		}
	}
	if session == "" {
		fmt.Fprintf(e.stdout, "calm: recording pane %s until it closes or 'calm split --stop' (its session is not in the store yet)\n", pane)
	} else {
		fmt.Fprintf(e.stdout, "calm: recording pane %s as %s/%s until it closes or 'calm split --stop'\n", pane, inc.ID, session)
	}
	return capture.SplitWindow(pane, e.selfCommand(ui...))
}

// tmuxLiteral keeps a command as it is through tmux pipe-pane, which
// expands formats (#{...}) and then strftime sequences in it: the pane %6
// became "    %6" (a width of 6) in the recorder's arguments.
func tmuxLiteral(command string) string {
	return strings.NewReplacer("#", "##", "%", "%%").Replace(command)
}

// livePaneTitle names the session recording a pane's live output.
func livePaneTitle(pane string) string { return "live output of pane " + pane }

// liveSession is the newest session still recording the pane that began at
// or after since; the zero Capture when there is none.
func liveSession(s model.Store, incident, pane string, since time.Time) model.Capture {
	caps, err := s.Captures(incident)
	if err != nil {
		return model.Capture{}
	}
	for i := len(caps) - 1; i >= 0; i-- {
		c := caps[i]
		// Created is the agent's clock, whole-second rounding aside.
		if c.Recording != nil && c.State != model.CaptureSealed && c.Title == livePaneTitle(pane) && !c.Created.Before(since.Add(-time.Second)) {
			return c
		}
	}
	return model.Capture{}
}

// cmdPipe records a pane's output arriving from tmux pipe-pane.
func cmdPipe(e *env, args []string) error {
	fs := e.flags("pipe", "--pane PANE [--incident ID]")
	pane := fs.String("pane", "", "the pane being recorded")
	incident := fs.String("incident", "", "the incident")
	server := fs.String("tmux-server", "", "the socket of the pane's tmux server")
	if err := parse(fs, args); err != nil {
		return err
	}
	marks, err := capture.CompileMarks(e.cfg.Marks)
	if err != nil {
		return err
	}
	if *server != "" {
		capture.UseTmuxServer(*server)
	}
	size := func() (int, int) { return capture.PaneSize(*pane) }
	// Asked to stop (tmux gone, a shutdown), it closes the journal and
	// seals the session with everything the pane sent.
	ctx, stop := interruptible(e, nil)
	defer stop()
	_, err = capture.RecordPipeContext(ctx, e.store, *incident, filepath.Join(filepath.Dir(e.cfg.Store), "journal"),
		livePaneTitle(*pane), size, marks, e.stdin)
	return err
}

func cmdClip(e *env, args []string) error {
	fs := e.flags("clip", "[TITLE] | -o ID")
	out := fs.StringP("out", "o", "", "put this capture on the clipboard instead")
	raw := fs.Bool("raw", false, "with -o: keep terminal controls")
	incident := fs.String("incident", "", "the incident (default: the current one)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out != "" {
		var b bytes.Buffer
		var w io.Writer = &b
		sw := &sanitizingWriter{w: &b}
		if !*raw {
			w = sw
		}
		if _, item := storage.SplitRef(*out); strings.HasPrefix(item, "s") {
			cast := &terminal.CastOutput{W: w}
			if err := e.store.WriteContent(context.Background(), *out, 0, cast); err != nil {
				return err
			}
			cast.Close()
		} else if err := e.store.WriteContent(context.Background(), *out, 0, w); err != nil {
			return err
		}
		sw.Close()
		var tty io.Writer
		if f, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
			defer f.Close()
			tty = f
		} else if isTerminal(e.stdout) {
			tty = e.stdout
		}
		said, err := clipboard.Write(b.String(), tty)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "calm: %s (%s) %s\n", *out, humanBytes(int64(b.Len())), said)
		return nil
	}
	// A Ctrl-C while the clipboard is read leaves with nothing saved
	// (the clipboard is as it was); once it is read, it is stored whole,
	// and a second Ctrl-C leaves.
	var got atomic.Int64
	got.Store(-1)
	ctx, stop := interruptible(e, func(os.Signal) {
		if n := got.Load(); n >= 0 {
			fmt.Fprintf(e.stderr, "calm: finishing: storing the clipboard (%s); press Ctrl-C again to leave at once\n", humanBytes(n))
		}
	})
	defer stop()
	text, err := clipboard.Read()
	if ctx.Err() != nil {
		fmt.Fprintf(e.stderr, "calm: interrupted by %s while reading the clipboard: nothing was saved, and the clipboard is as it was\n", context.Cause(ctx))
		return &exitError{code: 130}
	}
	if err != nil {
		return err
	}
	got.Store(int64(len(text)))
	w, err := model.NewCaptureWriter(e.store, *incident, model.NewCapture{Title: strings.Join(fs.Args(), " "), Source: "clip"})
	if err != nil {
		return err
	}
	io.WriteString(w, text)
	c, err := w.Close()
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "saved the clipboard as %s/%s (%s, %s)\n", c.Incident, c.ID, humanBytes(c.Size), c.CopiesSummary())
	return nil
}
