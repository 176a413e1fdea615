package capture

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"calm/model"
	"calm/storage"
)

// ShellOptions configure a recorded shell.
type ShellOptions struct {
	Command     []string // default: $SHELL
	Store       model.Store
	Incident    string // "" is the current one
	JournalDir  string
	Title       string
	RecordInput bool // typed input too, never while echo is off
	Wait        bool // wait until the store has sealed the session
	Marks       []Mark
	Stdin       *os.File
	Stdout      *os.File
	Stderr      io.Writer
}

// RunShell runs a command in a PTY as script(1) does, recording its output to
// a journal and the store, and returns the command's exit status. The
// terminal always gets the output first; storing happens behind the journal
// and never slows or stops the shell.
func RunShell(o ShellOptions) (int, error) {
	if len(o.Command) == 0 {
		sh := os.Getenv("SHELL")
		if sh == "" {
			sh = "/bin/sh"
		}
		o.Command = []string{sh}
	}
	interactive := term.IsTerminal(int(o.Stdin.Fd()))
	cols, rows := 80, 24
	if c, r, err := term.GetSize(int(o.Stdout.Fd())); err == nil {
		cols, rows = c, r
	} else if c, r, err := term.GetSize(int(o.Stdin.Fd())); err == nil {
		cols, rows = c, r
	}
	start := time.Now()
	host, _ := os.Hostname()
	title := o.Title
	if title == "" {
		title = commandLine(o.Command)
	}
	rec := &live{o: o, title: title, host: host, cols: cols, rows: rows}
	session := ""
	if err := rec.begin(start); err != nil {
		// The shell runs all the same: a responder on a full disk needs it.
		fmt.Fprintf(o.Stderr, "calm: NOT RECORDING: %s; the command runs unrecorded, and calm tries again every %s\r\n", oneLine(err.Error()), retryRecording)
	} else if ref := rec.cur.st.tryCreate(); ref != "" { // fast path, before the shell starts
		session = ref
	}

	cmd := exec.Command(o.Command[0], o.Command[1:]...)
	cmd.Env = append(os.Environ(), "CALM_SESSION="+session)
	var modes *unix.Termios
	if interactive {
		modes, _ = unix.IoctlGetTermios(int(o.Stdin.Fd()), unix.TCGETS)
	}
	ptmx, err := startInTerminal(cmd, &pty.Winsize{Cols: uint16(cols), Rows: uint16(rows)}, modes)
	if err == nil {
		ptmx, err = outsidePoller(ptmx)
	}
	if err != nil {
		if cur := rec.current(); cur != nil {
			cur.j.Close()
			os.Remove(cur.path)
		}
		return 127, fmt.Errorf("start %s: %w", o.Command[0], err)
	}
	defer ptmx.Close()
	if cur := rec.current(); cur != nil {
		where := cur.path
		if session != "" {
			where = session + " (journal " + cur.path + ")"
		}
		fmt.Fprintf(o.Stderr, "calm: recording %s to %s\r\n", title, where)
	}

	if interactive {
		old, err := term.MakeRaw(int(o.Stdin.Fd()))
		if err == nil {
			// Restored on every way out: return, panic, or a signal below.
			defer term.Restore(int(o.Stdin.Fd()), old)
		}
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGWINCH, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGINT)
	defer signal.Stop(sigs)
	ended := make(chan struct{}) // the terminal is closed: nobody is left on it
	ending := false
	go func() {
		for s := range sigs {
			if s == syscall.SIGWINCH {
				if interactive {
					_ = pty.InheritSize(o.Stdin, ptmx)
				}
				if ws, err := pty.GetsizeFull(ptmx); err == nil {
					rec.mu.Lock()
					rec.cols, rec.rows = int(ws.Cols), int(ws.Rows)
					if rec.cur != nil {
						rec.cur.j.Resize(int(ws.Cols), int(ws.Rows), time.Now())
					}
					rec.mu.Unlock()
				}
				continue
			}
			if cmd.Process != nil {
				cmd.Process.Signal(s) // the child decides; we stop when it exits
				if !ending {
					ending = true
					go endStubborn(cmd.Process.Pid, ptmx, s, ended, o.Stderr)
				}
			}
		}
	}()
	go copyInput(o, interactive, cmd.Process.Pid, ptmx, rec)

	buf := make([]byte, outputBuffer)
	fd := int(ptmx.Fd())
	for {
		// During a flood there is nearly always output waiting: the read
		// goes straight to the kernel (one system call where a poll first
		// made two). Only an empty terminal is waited on, in poll through
		// Go's scheduler, which lends this goroutine's P to others
		// meanwhile.
		n, err := readNow(fd, buf)
		if err == errNothingYet {
			if err = awaitTerminal(fd, unix.POLLIN); err == nil {
				continue
			}
		}
		// A terminal hands over at most 4 KiB a read. While more is
		// waiting, it joins this read: one write to the terminal and one
		// journal event for several reads (a keystroke's echo, with nothing
		// behind it, goes out at once).
		for err == nil && n <= len(buf)-ptyChunk {
			more, err2 := readNow(fd, buf[n:])
			if err2 == errNothingYet {
				break
			}
			n, err = n+more, err2
		}
		if n > 0 {
			// Kept before the terminal shows it, journaled after: the
			// terminal waits for a memory copy, not for the disk, and a
			// kill in between loses nothing it showed.
			now := time.Now()
			cur := rec.recording(now)
			if cur != nil {
				cur.j.Shown(buf[:n], now)
			}
			o.Stdout.Write(buf[:n])
			if cur != nil {
				cur.j.Output(buf[:n], now)
				if msg := cur.j.Notice(); msg != "" {
					fmt.Fprintf(o.Stderr, "\r\n%s\r\n", msg)
				}
			}
		}
		if errors.Is(err, syscall.EIO) && !exited(cmd.Process.Pid) {
			// Every descriptor of the terminal is closed, but the program
			// runs on and may open it again (/dev/tty): a terminal would
			// show what it writes then, so it is read until the program ends.
			time.Sleep(reopenPoll)
			continue
		}
		if err != nil {
			break // EIO once the child and its children have closed the terminal
		}
	}
	close(ended)
	waitErr := cmd.Wait()
	code := 0
	var ee *exec.ExitError
	if errors.As(waitErr, &ee) {
		code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
	}
	rec.stop()
	if len(rec.done) == 0 {
		fmt.Fprintf(o.Stderr, "calm: nothing was recorded: %s\r\n", oneLine(fmt.Sprint(rec.lastErr)))
	}
	for _, p := range rec.done {
		finishPart(o, p)
	}
	return code, nil
}

// finishPart closes a part's journal and tells the store where it ends; with
// --wait, it waits for the session to be sealed.
func finishPart(o ShellOptions, p part) {
	if err := p.j.Close(); err != nil {
		fmt.Fprintf(o.Stderr, "calm: the journal failed (%v); the session holds what was written before\r\n", err)
	}
	if msg := p.j.Notice(); msg != "" {
		fmt.Fprintf(o.Stderr, "%s\r\n", msg)
	}
	cut := p.cut
	if cut == "" {
		cut = journalCut(p.j)
	}
	c, err := p.st.finish(p.j.Size(), cut)
	if err != nil {
		fmt.Fprintf(o.Stderr, "calm: recording stopped; the store did not take it (%s); everything is in %s\r\n", err, p.path)
		return
	}
	if !o.Wait {
		fmt.Fprintf(o.Stderr, "calm: recording stopped: %s/%s saved (journal %s, %d bytes, fsynced); the store checks its copies in the background\r\n",
			c.Incident, c.ID, p.path, p.j.Size())
		return
	}
	fmt.Fprintf(o.Stderr, "calm: recording stopped: %s/%s (journal %d bytes, fsynced); waiting for the store to check its copies\r\n", c.Incident, c.ID, p.j.Size())
	ref := c.Incident + "/" + c.ID
	if c, err = storage.WaitSealed(o.Store, ref, time.Hour); err != nil || c.State != model.CaptureSealed {
		fmt.Fprintf(o.Stderr, "calm: the store has not sealed %s (%v); the journal %s has everything\r\n", ref, err, p.path)
		return
	}
	fmt.Fprintf(o.Stderr, "calm: %s/%s sealed: %d bytes, %s\r\n", c.Incident, c.ID, c.Size, c.CopiesSummary())
}

// startInTerminal starts cmd in a new session on a new terminal of size ws
// and returns the terminal's master side. The terminal gets the user's
// modes, as script(1) gives them: the erase key, flow control, IUTF8 (so
// that erasing a multi-byte character erases all of it) are the user's,
// not the kernel's defaults.
func startInTerminal(cmd *exec.Cmd, ws *pty.Winsize, modes *unix.Termios) (*os.File, error) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		return nil, err
	}
	defer tty.Close()
	if err := pty.Setsize(ptmx, ws); err != nil {
		ptmx.Close()
		return nil, err
	}
	if modes != nil {
		if err := unix.IoctlSetTermios(int(tty.Fd()), unix.TCSETS, modes); err != nil {
			ptmx.Close()
			return nil, fmt.Errorf("give the terminal your modes: %w", err)
		}
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		ptmx.Close()
		return nil, err
	}
	return ptmx, nil
}

// reopenPoll is how often the terminal is read while the program runs with
// no descriptor of it open.
const reopenPoll = 10 * time.Millisecond

// ptyChunk is the most one read of a terminal returns (Linux's line
// discipline holds 4 KiB); outputBuffer is how much output may gather
// before it goes to the terminal and the journal.
const (
	ptyChunk     = 4 << 10
	outputBuffer = 32 << 10
)

// copyInput sends typed input to the shell, watching submitted lines for
// destructive commands. Nothing typed at a password prompt is looked at or
// kept.
func copyInput(o ShellOptions, interactive bool, child int, ptmx *os.File, rec *live) {
	var watcher LineWatcher
	buf := make([]byte, 4096)
	unfinished := false // the input's last line has no newline yet
	for {
		n, err := o.Stdin.Read(buf)
		if n > 0 {
			p := buf[:n]
			unfinished = p[len(p)-1] != '\n'
			if cur := rec.current(); cur == nil {
				watcher.Reset() // not recording: nothing to mark
			} else if !secretInput(ptmx) {
				watcher.Feed(p, func(line string) {
					if name, ok := Check(o.Marks, line); ok {
						// The store's marker is at the cast's: when the
						// line was entered, as its line in the viewer is.
						cur.j.Marker(name, time.Now())
						cur.st.mark(name+": "+line, cur.j.At())
					}
				})
				if o.RecordInput {
					cur.j.Input(p, time.Now())
				}
			} else {
				watcher.Reset()
			}
			if err := writeTerminal(int(ptmx.Fd()), p); err != nil {
				return
			}
		}
		if err == io.EOF && !interactive {
			endInput(ptmx, child, unfinished)
		}
		if err != nil {
			return
		}
	}
}

// endInput tells the program its input has ended, as script(1) does when
// its own input is not a terminal (echo cmds | calm shell): the terminal's
// end-of-file character, once the program has read what came before (sent
// at once, it would reach a shell still busy with the last line, which turns
// it into a plain character). After an unfinished line, three: the first
// only hands the line over, the second ends the input, and a shell, which
// runs the line it got at the end and then reads again, needs the third.
func endInput(ptmx *os.File, child int, unfinished bool) {
	eof := byte(4) // ^D
	if t, err := unix.IoctlGetTermios(int(ptmx.Fd()), unix.TCGETS); err == nil && t.Cc[unix.VEOF] != 0 {
		eof = t.Cc[unix.VEOF]
	}
	// The program's side of the terminal, to see what it has not read yet.
	// Held only meanwhile: while it is open the terminal never closes.
	peer, _, errno := unix.Syscall(unix.SYS_IOCTL, ptmx.Fd(), unix.TIOCGPTPEER, unix.O_RDONLY|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC)
	if errno == 0 {
		defer unix.Close(int(peer))
	}
	eofs := 1
	if unfinished {
		eofs = 3
	}
	for range eofs {
		// What script(1) waits: up to 2 s, while the program has input to
		// read. Not once it has exited: the open peer keeps calm waiting.
		for tries := 0; errno == 0 && tries < 8; tries++ {
			if exited(child) {
				return
			}
			fds := []unix.PollFd{{Fd: int32(peer), Events: unix.POLLIN}}
			if n, _ := unix.Poll(fds, 10); n != 1 {
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
		if writeTerminal(int(ptmx.Fd()), []byte{eof}) != nil {
			return
		}
	}
}

// exited reports whether the child has exited, without reaping it.
func exited(pid int) bool {
	var info unix.Siginfo
	err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
	return err != nil || info.Signo == int32(unix.SIGCHLD)
}

// endGrace is how long the program may take to end after the signal that
// ends calm shell (SIGTERM, SIGHUP, SIGINT), and then after its terminal is
// hung up, before the next step.
const endGrace = 2 * time.Second

// endStubborn ends a program that outlives the signal calm passed on (an
// interactive shell ignores SIGTERM): as script(1) does, but first the way
// a closing terminal would, with SIGHUP to the shell and its foreground job
// (a shell saves its history then), and only then SIGKILL.
func endStubborn(pid int, ptmx *os.File, sig os.Signal, ended <-chan struct{}, stderr io.Writer) {
	for _, step := range []struct {
		signal syscall.Signal
		what   string
	}{{syscall.SIGHUP, "hanging up its terminal"}, {syscall.SIGKILL, "killing it"}} {
		select {
		case <-ended:
			return
		case <-time.After(endGrace):
		}
		select {
		case <-ended: // at the same moment: the terminal is gone, and maybe the pid too
			return
		default:
		}
		fmt.Fprintf(stderr, "calm: the shell has not ended %s after %s; %s\r\n", endGrace, unix.SignalName(sig.(syscall.Signal)), step.what)
		groups := []int{pid} // the shell leads its own session and group
		if fg, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPGRP); err == nil && fg != pid {
			groups = append(groups, fg)
		}
		for _, g := range groups {
			_ = unix.Kill(-g, step.signal)
		}
	}
}

// secretInput reports whether the terminal is reading something secret: echo
// off in canonical mode, as getpass(3), sudo, ssh and `read -s` set it. Line
// editors (readline, zle) also turn echo off, but leave canonical mode and
// echo what is typed themselves. On Linux the master side reads the
// terminal's modes. When the modes cannot be read, assume a secret.
func secretInput(ptmx *os.File) bool {
	t, err := unix.IoctlGetTermios(int(ptmx.Fd()), unix.TCGETS)
	return err != nil || (t.Lflag&unix.ECHO == 0 && t.Lflag&unix.ICANON != 0)
}

// errNothingYet: the terminal has no output waiting.
var errNothingYet = errors.New("nothing to read yet")

// readNow reads what the terminal holds (its descriptor is non-blocking)
// without a word to Go's scheduler: the call cannot block, so the scheduler
// need not hand this goroutine's P to another thread and take it back, as it
// does around a blocking system call. (A raw call that blocked would also
// hold up every stop-the-world pause.)
func readNow(fd int, buf []byte) (int, error) {
	n, _, errno := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	switch {
	case errno == syscall.EAGAIN:
		return 0, errNothingYet
	case errno == syscall.EINTR:
		return 0, nil
	case errno != 0:
		return 0, errno
	case n == 0:
		return 0, io.EOF
	}
	return int(n), nil
}

// awaitTerminal blocks until the terminal is ready for events, or hung up
// (then the next read or write says why).
func awaitTerminal(fd int, events int16) error {
	fds := []unix.PollFd{{Fd: int32(fd), Events: events}}
	for {
		_, err := unix.Poll(fds, -1)
		if err != unix.EINTR {
			return err
		}
	}
}

// writeTerminal writes all of p to the terminal's non-blocking descriptor,
// waiting while the program has not read what was typed before.
func writeTerminal(fd int, p []byte) error {
	for len(p) > 0 {
		n, err := unix.Write(fd, p)
		if n > 0 {
			p = p[n:]
		}
		switch {
		case err == unix.EAGAIN:
			if err = awaitTerminal(fd, unix.POLLOUT); err != nil {
				return err
			}
		case err == unix.EINTR:
		case err != nil:
			return err
		}
	}
	return nil
}

// outsidePoller gives f's terminal back as a file outside Go's poller, its
// descriptor non-blocking: the read loop calls read(2) itself and waits in
// poll(2) only when nothing is waiting, as script(1) does. Through the poller
// an empty read costs an EAGAIN, an epoll wait and a goroutine switch; and a
// file merely left registered with it (Fd makes it blocking, but does not
// take it out) wakes the poller's thread for every read the kernel has
// ready, uselessly. f is closed.
func outsidePoller(f *os.File) (*os.File, error) {
	defer f.Close()
	fd, err := unix.Dup(int(f.Fd())) // Fd: blocking mode, shared by the copy
	if err != nil {
		return nil, fmt.Errorf("dup the terminal: %w", err)
	}
	unix.CloseOnExec(fd)
	t := os.NewFile(uintptr(fd), f.Name()) // blocking now, so never polled
	if err := unix.SetNonblock(fd, true); err != nil {
		t.Close()
		return nil, fmt.Errorf("make the terminal non-blocking: %w", err)
	}
	return t, nil
}

// commandLine writes argv as a shell would read it back: a word with a
// space or a shell character in it is quoted ('sh -c "a; b"' must not read
// as sh -c a; b in a session's title).
func commandLine(argv []string) string {
	words := make([]string, len(argv))
	for i, w := range argv {
		plain := w != ""
		for _, r := range w {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./_-", r)) {
				plain = false
				break
			}
		}
		if plain {
			words[i] = w
		} else {
			words[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
		}
	}
	return strings.Join(words, " ")
}
