package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"calm/model"
	"calm/scratch"
	"calm/storage"
)

// The pipe is sacred: calm tee passes every byte downstream from the first
// one, whatever else fails (a typo in a flag, no agent, a full store), and
// every capture it starts ends sealed: complete at EOF, or interrupted by a
// signal with exactly what reached stdout.

// teeBuffer is the size of one read. Storing never paces the copy: the
// store takes what tee read from its spool, as fast as it can.
const teeBuffer = 256 << 10

// signalGrace is how long after EOF tee still looks for the signal that
// ended its upstream: Ctrl-C reaches the whole pipeline at once, and a
// capture cut short by it must not be sealed as complete.
const signalGrace = 25 * time.Millisecond

// epipeGrace is the same after the downstream closed.
const epipeGrace = 250 * time.Millisecond

// teeFlushEvery is how long bytes read may wait before they go to the
// store even when they do not fill a chunk.
const teeFlushEvery = 250 * time.Millisecond

// spoolSendMax is the most tee hands the store from its spool at once.
const spoolSendMax = 8 << 20

func cmdTee(e *env, args []string) error {
	fs := e.flags("tee", "[--incident ID] [-q] [TITLE]")
	incident := fs.String("incident", "", "the incident to capture into (default: the current one)")
	quiet := fs.BoolP("quiet", "q", false, "say nothing on success")
	// A mistyped flag never gets here: Main passes the bytes through.
	if err := parse(fs, args); err != nil {
		return err
	}
	title := strings.Join(fs.Args(), " ")
	if isTerminal(e.stdin) {
		fmt.Fprintln(e.stderr, "calm tee: reading what you type (Ctrl-D ends it); to save a command's output, pipe it in: cmd | calm tee TITLE")
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE)
	defer signal.Stop(sigs)

	writer := model.ThisWriter()
	sp, spoolErr := createSpool(storage.SpoolPath(e.cfg.Store, writer))
	if spoolErr == nil {
		// Should tee leave before the store made its capture, the store
		// makes it from the spool, with this title.
		storage.WriteSpoolIntent(sp.path, storage.SpoolIntent{Title: title, Incident: *incident, Session: os.Getenv("CALM_SESSION")})
	} else {
		sp, spoolErr = createHiddenSpool()
	}
	if sp != nil {
		sp.stderr = e.stderr
	}
	var store *teeStore
	// Typed text (the pipe forgotten) makes a capture only once there is
	// some: a Ctrl-C right away leaves no empty one behind.
	startStore := func() {
		store = startTeeStore(e, *incident, model.NewCapture{Title: title, Source: "tee", Session: os.Getenv("CALM_SESSION"), Writer: writer}, sp)
	}
	startWhenTyped := isTerminal(e.stdin)
	if spoolErr != nil {
		fmt.Fprintf(e.stderr, "calm tee: not saving this output: %s\n", oneLine(spoolErr.Error()))
		startWhenTyped = false
	} else {
		if sp.named {
			sp.startGuard(e.stderr)
		}
		defer func() {
			sp.stopGuard()
			switch {
			case store == nil:
				sp.remove()
			case store.keepsSpool():
				if lost := sp.awaitHeld(); lost > 0 {
					fmt.Fprintf(e.stderr, "calm tee: the last %s read are NOT saved: the spool's disk stayed full\n", humanBytes(int64(lost)))
				}
				sp.f.Close() // the agent's now, as said
			case store.rescue:
				sp.awaitHeld() // the kept file's line says what is not
				sp.keepForAPerson(e.stderr)
			default:
				sp.remove()
			}
		}()
		if !startWhenTyped {
			startStore()
		}
	}

	// Reading runs beside the writes: a signal is seen while a read waits.
	type chunk struct {
		buf []byte
		err error
	}
	reads := make(chan chunk)
	free := make(chan []byte, 2)
	free <- make([]byte, teeBuffer)
	free <- make([]byte, teeBuffer)
	go func() {
		for {
			buf := <-free
			n, err := e.stdin.Read(buf)
			reads <- chunk{buf[:n], err}
			if err != nil {
				return
			}
		}
	}()

	var outErr, inErr error
	var caught os.Signal
	var ended time.Time // when stdin ended, or stdout closed
	// A person who quits a pager (| less, | head) still wants the rest of
	// the output kept: tee goes on saving stdin, and says so. In a script,
	// tee ends there as tee(1) does, so a pipeline on an endless stream ends.
	keepAfterPipe := isTerminal(e.stderr) && store != nil
	var downstreamGone bool // the command after tee stopped reading
	var downstreamGot int64 // what it had read by then
	lastOut := byte('\n')   // the last byte the downstream got
	outOnStderr := sameTerminal(e.stdout, e.stderr)
	var sayKeeping <-chan time.Time
	// Saving with no one reading may be an endless stream (yes | calm tee
	// x | head): tee says how much it has kept, and stops before the
	// store's disk fills.
	var keeping <-chan time.Time
	var read, roomAt int64 // bytes read from stdin; when the room was last looked at
	var roomEvery int64    // how often, in bytes read: a fraction of the reserve
	var saidKept time.Time
	diskLow := "" // why tee stopped saving with no one reading
	kept := func() int64 { return sp.written.Load() - downstreamGot }
	lowOnRoom := func() bool {
		roomAt = read
		free, reserve, ok := storeRoom(e.cfg.Store)
		if roomEvery == 0 {
			roomEvery = min(max(reserve/8, 256<<10), 16<<20)
		}
		if ok && free < reserve {
			diskLow = fmt.Sprintf("the store's disk was down to %s free, with no one reading", humanBytes(free))
			fmt.Fprintf(e.stderr, "calm tee: stopped saving after %s more with no one reading: the store's disk is down to %s free\n", humanBytes(kept()), humanBytes(free))
			return true
		}
		return false
	}
copying:
	for {
		select {
		case r := <-reads:
			if len(r.buf) > 0 && startWhenTyped {
				startWhenTyped = false
				startStore()
			}
			read += int64(len(r.buf))
			if len(r.buf) > 0 {
				// The spool first: it always holds what the downstream got.
				// The store takes it once it has reached stdout, as far as
				// it did: a downstream gone (| head) does not get the rest,
				// unless tee goes on saving without it.
				spooled := 0
				if store != nil {
					spooled = sp.write(r.buf)
				}
				passed := len(r.buf)
				if outErr == nil && !downstreamGone {
					var n int
					n, outErr = e.stdout.Write(r.buf)
					downstreamGot += int64(n)
					if n > 0 {
						lastOut = r.buf[n-1]
					}
					switch {
					case errors.Is(outErr, syscall.EPIPE) && keepAfterPipe:
						downstreamGone, outErr = true, nil
						releaseStdout(e.stdout)
						// Ctrl-C ends the downstream first: it is said only
						// if stdin goes on.
						sayKeeping = time.After(epipeGrace)
					case errors.Is(outErr, syscall.EPIPE):
						passed = n
					case outErr != nil:
						fmt.Fprintf(e.stderr, "calm tee: stdout: %s (still saving stdin)\n", oneLine(outErr.Error()))
					}
				}
				if n := min(spooled, passed); n > 0 {
					sp.publish(n)
				}
			}
			free <- r.buf[:cap(r.buf)]
			if downstreamGone && (sp.err() != nil || read-roomAt >= roomEvery && lowOnRoom()) {
				break copying // no one reads, and nothing more can be kept
			}
			if errors.Is(outErr, syscall.EPIPE) {
				ended = time.Now()
				break copying // the reader is gone: what it took is saved
			}
			if r.err != nil {
				if r.err != io.EOF {
					inErr = r.err
				}
				ended = time.Now()
				break copying
			}
		case s := <-sigs:
			if s != syscall.SIGPIPE {
				caught = s
				break copying
			}
		case <-sayKeeping:
			fmt.Fprintf(e.stderr, "calm tee: the command after tee stopped reading after %s; saving the rest of stdin all the same (Ctrl-C stops, keeping what came)\n", humanBytes(downstreamGot))
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			keeping, saidKept = tick.C, time.Now()
		case <-keeping:
			if lowOnRoom() {
				break copying
			}
			if time.Since(saidKept) >= keptSayEvery {
				saidKept = time.Now()
				fmt.Fprintf(e.stderr, "calm tee: still saving with no one reading: %s more so far (Ctrl-C stops, keeping what came)\n", humanBytes(kept()))
			}
		}
	}
	if store != nil {
		if errors.Is(outErr, syscall.EPIPE) {
			sp.cut() // what never reached stdout is not the capture's
		}
		sp.end()
	}
	if sp != nil {
		sp.read = read
	}
	releaseStdout(e.stdout)

	// The signal that ended the upstream or the downstream may arrive just
	// after the EOF or EPIPE it caused.
	if caught == nil && !ended.IsZero() {
		grace := signalGrace
		if errors.Is(outErr, syscall.EPIPE) || downstreamGone {
			// A downstream gone early is rare (head), and when Ctrl-C
			// killed it, the capture should say Ctrl-C: on a busy machine
			// tee's own SIGINT can come well after the EPIPE.
			grace = epipeGrace
		}
		caught = signalWithin(sigs, time.Until(ended.Add(grace)))
	}
	why := ""
	switch {
	case caught != nil:
		why = signalName(caught)
		go func() { // a second one: leave now, the agent seals what it has
			for s := range sigs {
				// A closing terminal hangs up twice (the kernel, then the
				// shell, to its jobs): nobody waits there, tee seals.
				if s != syscall.SIGPIPE && !(s == syscall.SIGHUP && caught == syscall.SIGHUP) {
					fmt.Fprintf(e.stderr, "calm tee: leaving at once; the agent seals what it stored as interrupted\n")
					if store != nil && sp.named {
						// The agent's seal says so, not only that tee ended.
						sp.sayWhy(fmt.Sprintf("%s, then %s: calm tee left before sealing it, and the agent sealed it", why, signalName(s)))
					}
					scratch.Exit(exitCodeFor(caught))
				}
			}
		}()
	case errors.Is(outErr, syscall.EPIPE):
		why = "stdout closed (EPIPE)"
	case diskLow != "":
		why = diskLow
	case inErr != nil:
		why = "stdin failed: " + oneLine(inErr.Error())
	}
	// What tee says starts on a line of its own: not after output that
	// ended mid-line on the same terminal, nor after the ^C it echoed.
	if (!*quiet || caught != nil) && isTerminal(e.stderr) && (caught == os.Interrupt || lastOut != '\n' && outOnStderr) {
		fmt.Fprintln(e.stderr)
	}
	var c model.Capture
	storeErr := spoolErr
	if store != nil {
		finished := make(chan struct{})
		go sp.whileStoring(e, finished, sigs, caught == nil, why == "")
		c, storeErr = store.finish(why)
		close(finished)
	}
	if startWhenTyped {
		// Nothing was typed: no capture was made.
		fmt.Fprintf(e.stderr, "calm tee: nothing was typed, so nothing was saved\n")
		if caught != nil {
			return &exitError{code: exitCodeFor(caught)}
		}
		return &exitError{code: 1}
	}
	switch {
	case storeErr != nil:
		// already said why
	case store != nil && store.spoolStopped != nil && c.Size == 0:
		fmt.Fprintf(e.stderr, "calm tee: did NOT save this output: %s; it went on to stdout only; %s/%s is an EMPTY capture, marked interrupted, where it would have been: make room and run the command again\n",
			oneLine(store.spoolStopped.Error()), c.Incident, c.ID)
	case store != nil && store.spoolStopped != nil:
		fmt.Fprintf(e.stderr, "calm tee: stopped saving at %s, output went on: %s; saved %s/%s (partial), %s\n",
			humanBytes(c.Size), oneLine(store.spoolStopped.Error()), c.Incident, c.ID, c.CopiesSummary())
	case why != "" && c.Size == 0:
		fmt.Fprintf(e.stderr, "calm: interrupted: saved %s/%s (EMPTY: nothing came on stdin before %s), %s; it ticks no checklist step\n", c.Incident, c.ID, why, c.CopiesSummary())
	case why != "":
		fmt.Fprintf(e.stderr, "calm: interrupted: saved %s/%s (%s, partial), %s\n", c.Incident, c.ID, humanBytes(c.Size), c.CopiesSummary())
	case downstreamGone:
		fmt.Fprintf(e.stderr, "calm: saved %s/%s whole, %s (the command after tee stopped reading after %s), sha256 %s, %s\n", c.Incident, c.ID, humanBytes(c.Size), humanBytes(downstreamGot), c.SHA256[:16], c.CopiesSummary())
	case c.Size == 0 && why == "":
		fmt.Fprintf(e.stderr, "calm tee: saved %s/%s, but it is EMPTY: nothing came on stdin (a command whose errors went to stderr? add 2>&1 before the pipe); it ticks no checklist step\n", c.Incident, c.ID)
	case e.typo != "":
		fmt.Fprintf(e.stderr, "calm tee: saved %s/%s all the same (%s, %s, title %q), but the command line had a typo: %s\n", c.Incident, c.ID, humanBytes(c.Size), c.CopiesSummary(), c.Title, e.typo)
	case e.configErr != "":
		fmt.Fprintf(e.stderr, "calm tee: saved %s/%s in %s with the default settings (%s, %s, title %q), as the config could not be used: %s\n", c.Incident, c.ID, e.cfg.Store, humanBytes(c.Size), c.CopiesSummary(), c.Title, e.configErr)
	case store != nil && store.misnamed != "":
		fmt.Fprintf(e.stderr, "calm tee: saved %s/%s in the current incident instead (%s, %s, title %q): %s; 'calm move %s/%s INCIDENT' moves it\n",
			c.Incident, c.ID, humanBytes(c.Size), c.CopiesSummary(), c.Title, store.misnamed, c.Incident, c.ID)
	case !*quiet || copiesFailed(c):
		fmt.Fprintf(e.stderr, "calm: saved %s/%s, %s, sha256 %s, %s\n", c.Incident, c.ID, humanBytes(c.Size), c.SHA256[:16], c.CopiesSummary())
	}
	switch {
	case caught != nil:
		return &exitError{code: exitCodeFor(caught)}
	case errors.Is(outErr, syscall.EPIPE):
		return &exitError{code: 128 + int(syscall.SIGPIPE)}
	case inErr != nil:
		return fmt.Errorf("read stdin: %w", inErr)
	case store != nil && store.misnamed != "", e.configErr != "":
		return &exitError{code: 2}
	case storeErr != nil, outErr != nil, store != nil && store.spoolStopped != nil, diskLow != "":
		return &exitError{code: 1}
	}
	return nil
}

// signalWithin waits up to d for a signal other than SIGPIPE: the write
// that met EPIPE raises a SIGPIPE too, which often comes first. A signal
// already received is taken even when d is past, as it is when the machine
// was slow to get here.
func signalWithin(sigs <-chan os.Signal, d time.Duration) os.Signal {
	timer := time.NewTimer(max(d, 0))
	defer timer.Stop()
	for expired := false; ; {
		select {
		case s := <-sigs:
			if s != syscall.SIGPIPE {
				return s
			}
			continue
		default:
		}
		if expired {
			return nil
		}
		select {
		case s := <-sigs:
			if s != syscall.SIGPIPE {
				return s
			}
		case <-timer.C:
			expired = true
		}
	}
}

// releaseStdout gives the downstream its end of file as soon as the copy
// ends, not after the store has sealed the capture: standard output
// becomes /dev/null, so nothing opened later can take its place.
func releaseStdout(w io.Writer) {
	f, ok := w.(*os.File)
	if !ok {
		return
	}
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return // the downstream gets its end of file when tee exits
	}
	defer null.Close()
	unix.Dup2(int(null.Fd()), int(f.Fd()))
}

// keptSayEvery is how often tee says how much it kept with no one reading;
// it looks at the store's free space every second, and every eighth of the
// reserve read.
const keptSayEvery = 10 * time.Second

// storeRoom reports the free space on the store's disk, and the reserve
// that saving with no one reading leaves there: a tenth of the disk, at
// most 1 GiB. A production disk filled by yes | calm tee x | head hurts
// more than the rest of an endless stream helps.
func storeRoom(store string) (free, reserve int64, ok bool) {
	var st unix.Statfs_t
	if unix.Statfs(filepath.Dir(store), &st) != nil {
		return 0, 0, false
	}
	return int64(st.Bavail) * st.Bsize, min(1<<30, int64(st.Blocks)*st.Bsize/10), true
}

// spool is the file between tee's copy and its store: the copy appends what
// it reads, the store reads it back at its own pace. If tee is killed, the
// agent finds it by the capture's writer and stores what it holds. At seal
// the agent moves it into the evidence folder as the capture's evidence
// copy, once it has read it back as the store's bytes.
type spool struct {
	f       *os.File
	path    string
	written atomic.Int64 // bytes appended and passed on: the store's to take
	ended   atomic.Bool  // nothing more will be appended
	more    chan struct{}
	// named: the agent finds the spool by the capture's writer, and takes
	// the bytes from it itself.
	named bool
	read  int64 // what tee read from stdin, said once it has stopped
	// failed is the error that stopped the appending, if any: the copy goes
	// on, the store stops where the spool does.
	mu     sync.Mutex
	failed error
	// What came while the spool's disk was full waits in held, appended by
	// a drainer once there is room: a brief full disk costs nothing.
	// published is what the copy handed over, appended what the file
	// holds; the store takes the lesser (written).
	held      []byte
	heldMax   int
	published int64
	appended  int64

	// fileMu guards f, which guard replaces when it puts a removed spool
	// back.
	fileMu    sync.Mutex
	guardStop chan struct{}
	guardDone chan struct{}
	stderr    io.Writer
}

// spoolGuardEvery is how often tee checks that its spool is still there.
const spoolGuardEvery = 50 * time.Millisecond

// startGuard has the spool put back whenever someone removes it (rm -rf
// of the journal folder, hunting for disk space): the agent reads it by
// its name, and what tee read would be lost with tee's open file.
func (s *spool) startGuard(stderr io.Writer) {
	s.stderr = stderr
	s.guardStop, s.guardDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(s.guardDone)
		tick := time.NewTicker(spoolGuardEvery)
		defer tick.Stop()
		said := false
		for {
			select {
			case <-s.guardStop:
				return
			case <-tick.C:
			}
			if err := s.restoreIfRemoved(); err != nil && !said {
				fmt.Fprintf(stderr, "calm tee: its spool %s was deleted, and putting it back failed: %s (retrying; what tee read is still in its open file)\n", s.path, oneLine(err.Error()))
				said = true
			}
		}
	}()
}

// stopGuard stops the guard, after a last check.
func (s *spool) stopGuard() {
	if s.guardStop == nil {
		return
	}
	close(s.guardStop)
	<-s.guardDone
	s.guardStop = nil
	if err := s.restoreIfRemoved(); err != nil {
		s.keepElsewhere(err)
	}
}

// removed reports a spool whose name is gone, and not put back.
func (s *spool) removed() bool {
	s.fileMu.Lock()
	defer s.fileMu.Unlock()
	info, err := s.f.Stat()
	if err != nil {
		return false
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	return ok && st.Nlink == 0
}

// keepElsewhere keeps what a spool that could not be put back holds (its
// folder made a file, say) in a file of its own, beside the store or in the
// temp folder, and says where: the agent cannot store it from there, a
// person can.
func (s *spool) keepElsewhere(why error) {
	s.fileMu.Lock()
	defer s.fileMu.Unlock()
	info, err := s.f.Stat()
	if err != nil {
		fmt.Fprintf(s.stderr, "calm tee: its spool %s was deleted, and putting it back failed (%s); what tee read is NOT saved: %s\n", s.path, oneLine(why.Error()), oneLine(err.Error()))
		return
	}
	name := fmt.Sprintf("tee-%s-%d.txt", time.Now().UTC().Format("20060102T150405Z"), os.Getpid())
	for _, dir := range []string{filepath.Dir(filepath.Dir(s.path)), os.TempDir()} {
		kept := filepath.Join(dir, name)
		f, ferr := os.OpenFile(kept, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
		if ferr != nil {
			err = ferr
			continue
		}
		_, err = io.Copy(f, io.NewSectionReader(s.f, 0, info.Size()))
		if err == nil {
			err = f.Sync()
		}
		f.Close()
		if err != nil {
			os.Remove(kept)
			continue
		}
		fmt.Fprintf(s.stderr, "calm tee: its spool %s was deleted, and putting it back failed (%s): all %s tee read are kept in %s (0600) instead; 'calm tee TITLE < %s > /dev/null' saves them as a capture\n",
			s.path, oneLine(why.Error()), humanBytes(info.Size()), kept, kept)
		return
	}
	fmt.Fprintf(s.stderr, "calm tee: its spool %s was deleted, and putting it back failed (%s); keeping what tee read elsewhere failed too, so it is NOT saved: %s\n", s.path, oneLine(why.Error()), oneLine(err.Error()))
}

// restoreIfRemoved writes the spool again under its name from tee's open
// file, when its name is gone. A spool the agent moved into the evidence
// folder keeps a name: that is not a removal.
func (s *spool) restoreIfRemoved() error {
	s.fileMu.Lock()
	defer s.fileMu.Unlock()
	info, err := s.f.Stat()
	if err != nil {
		return err
	}
	if st, ok := info.Sys().(*syscall.Stat_t); !ok || st.Nlink > 0 {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return err
	}
	temp := s.path + ".restoring"
	os.Remove(temp)
	f, err := os.OpenFile(temp, os.O_RDWR|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, io.NewSectionReader(s.f, 0, info.Size()))
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = os.Rename(temp, s.path)
	}
	if err != nil {
		f.Close()
		os.Remove(temp)
		return err
	}
	if dir, err := os.Open(filepath.Dir(s.path)); err == nil {
		dir.Sync()
		dir.Close()
	}
	s.f.Close()
	s.f = f
	fmt.Fprintf(s.stderr, "calm tee: its spool %s was deleted; put back from tee's open file (%s), nothing lost\n", s.path, humanBytes(info.Size()))
	return nil
}

func createSpool(path string) (*spool, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("make the spool's folder: %w", err)
	}
	// Only a process of this PID and start tick before a reboot can have
	// left a file of this name.
	os.Remove(path)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create the spool: %w", err)
	}
	return &spool{f: f, path: path, more: make(chan struct{}, 1), named: true}, nil
}

// createHiddenSpool is a spool no one else can see (unlinked at once), for
// when the store's folder takes none: storing works, but a tee killed
// outright keeps only what the store had committed.
func createHiddenSpool() (*spool, error) {
	f, err := os.CreateTemp("", "calm-tee-*.spool")
	if err != nil {
		return nil, fmt.Errorf("create the spool: %w", err)
	}
	os.Remove(f.Name())
	return &spool{f: f, path: f.Name(), more: make(chan struct{}, 1)}, nil
}

// spoolHoldMax bounds what tee holds in memory while its spool's disk is
// full.
const spoolHoldMax = 64 << 20

// spoolHoldAfterEnd is how long tee waits for room to append what it
// holds once its input has ended: a script on a disk that stays full ends.
const spoolHoldAfterEnd = 10 * time.Second

// spoolRetryEvery is how often tee tries again to append what it holds.
const spoolRetryEvery = 100 * time.Millisecond

// write appends b, and says how much of it the spool holds (all, but on a
// disk full for longer than spoolHoldMax takes to come, or another write
// error); the store takes that once it is published.
func (s *spool) write(b []byte) int {
	if s.err() != nil {
		return 0
	}
	s.mu.Lock()
	if len(s.held) > 0 {
		defer s.mu.Unlock()
		return s.holdLocked(b)
	}
	s.mu.Unlock()
	s.fileMu.Lock()
	n, err := s.f.Write(b)
	s.fileMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appended += int64(n)
	if err == nil {
		return n
	}
	if noRoom(err) && n < len(b) {
		fmt.Fprintf(s.stderrOrDiscard(), "calm tee: the disk of its spool %s is full (%s): what comes waits in memory (up to %s) until there is room; make room now\n",
			s.path, oneLine(innermost(err).Error()), humanBytes(int64(s.holdMax())))
		go s.drain()
		return n + s.holdLocked(b[n:])
	}
	s.failLocked(s.spoolError(err))
	return n
}

func (s *spool) holdMax() int {
	if s.heldMax > 0 {
		return s.heldMax
	}
	return spoolHoldMax
}

func (s *spool) stderrOrDiscard() io.Writer {
	if s.stderr == nil {
		return io.Discard
	}
	return s.stderr
}

// holdLocked keeps b for the drainer, and says how much it took: none, once
// more than holdMax waits, and the spool has stopped.
func (s *spool) holdLocked(b []byte) int {
	if len(s.held)+len(b) > s.holdMax() {
		s.failLocked(fmt.Errorf("write the spool %s: its disk stayed full while %s more came: %w", s.path, humanBytes(int64(len(s.held)+len(b))), syscall.ENOSPC))
		s.held = nil
		return 0
	}
	s.held = append(s.held, b...)
	return len(b)
}

// drain appends what is held once the disk has room, and says so.
func (s *spool) drain() {
	tick := time.NewTicker(spoolRetryEvery)
	defer tick.Stop()
	since := time.Now()
	for range tick.C {
		// Under mu: neither cut nor a write moves held meanwhile.
		s.mu.Lock()
		if len(s.held) == 0 || s.failed != nil {
			s.mu.Unlock()
			return // cut, or given up
		}
		s.fileMu.Lock()
		n, err := s.f.Write(s.held)
		s.fileMu.Unlock()
		s.appended += int64(n)
		s.held = s.held[n:]
		if err != nil && !noRoom(err) {
			s.failLocked(s.spoolError(err))
			s.held = nil
		}
		left := len(s.held)
		if left == 0 {
			s.held = nil
		}
		s.publishedLocked()
		s.mu.Unlock()
		if left == 0 && err == nil {
			fmt.Fprintf(s.stderrOrDiscard(), "calm tee: room again on its spool's disk after %s: what waited in memory is in the spool, nothing lost\n", time.Since(since).Round(100*time.Millisecond))
			return
		}
	}
}

// awaitHeld waits, once the input has ended, for what waits in memory to
// be appended, up to spoolHoldAfterEnd, for a spool no store reads (the
// store failed, and the spool is left to the agent or a person), and says
// how much it gave up.
func (s *spool) awaitHeld() (lost int) {
	held := s.holding()
	if held == 0 {
		return 0
	}
	fmt.Fprintf(s.stderrOrDiscard(), "calm tee: its input has ended, and the last %s read wait in memory for room on the spool's disk: make room within %s, or they are NOT saved\n", humanBytes(int64(held)), spoolHoldAfterEnd)
	deadline := time.Now().Add(spoolHoldAfterEnd)
	for s.holding() > 0 && time.Now().Before(deadline) {
		time.Sleep(spoolRetryEvery)
	}
	if held := s.holding(); held > 0 {
		s.giveUpHeld(fmt.Sprintf("its disk stayed full for %s after the input ended", spoolHoldAfterEnd))
		return held
	}
	return 0
}

// giveUpHeld drops what waits for room on the spool's disk, and stops the
// spool, for the reason given.
func (s *spool) giveUpHeld(why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.held) > 0 {
		s.failLocked(fmt.Errorf("write the spool %s: %s, and the last %s read are NOT saved: %w", s.path, why, humanBytes(int64(len(s.held))), syscall.ENOSPC))
		s.held = nil
	}
}

// holding says how much waits in memory for room on the spool's disk.
func (s *spool) holding() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.held)
}

func noRoom(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

func (s *spool) spoolError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err // the path once, not twice
	}
	return fmt.Errorf("write the spool %s: %w", s.path, err)
}

// publish hands the store the next n bytes, as far as the file holds them.
func (s *spool) publish(n int) {
	s.mu.Lock()
	s.published += int64(n)
	s.publishedLocked()
	s.mu.Unlock()
}

func (s *spool) publishedLocked() {
	s.written.Store(min(s.published, s.appended))
	s.wake()
}

// cut drops what was appended or held and never published.
func (s *spool) cut() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.appended <= s.published {
		s.held = s.held[:min(int64(len(s.held)), s.published-s.appended)]
		return
	}
	s.held = nil
	s.fileMu.Lock()
	defer s.fileMu.Unlock()
	if err := s.f.Truncate(s.published); err != nil {
		s.failLocked(fmt.Errorf("cut the spool %s: %w", s.path, err))
		return
	}
	s.appended = s.published
}

func (s *spool) end() {
	s.ended.Store(true)
	s.wake()
}

func (s *spool) wake() {
	select {
	case s.more <- struct{}{}:
	default:
	}
}

func (s *spool) fail(err error) {
	s.mu.Lock()
	s.failLocked(err)
	s.mu.Unlock()
}

func (s *spool) failLocked(err error) {
	if s.failed == nil {
		s.failed = err
	}
	s.wake()
}

func (s *spool) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

// keepForAPerson keeps what the spool holds, when no store took it, under
// a name the agent's sweep of spools leaves alone, and says where.
func (s *spool) keepForAPerson(stderr io.Writer) {
	defer s.f.Close()
	st, err := s.f.Stat()
	if err == nil && st.Size() == 0 {
		os.Remove(s.path)
		if stopped := s.err(); stopped != nil {
			// "named at the end" was said: the end says it could not be.
			fmt.Fprintf(stderr, "calm tee: the store did NOT take this output, and no file could keep it either (%s): it went on to stdout only; make room and run the command again\n", oneLine(innermost(stopped).Error()))
		}
		return
	}
	if err == nil {
		err = s.f.Sync()
	}
	kept := filepath.Join(filepath.Dir(s.path), fmt.Sprintf("tee-%s-%d.txt", time.Now().UTC().Format("20060102T150405Z"), os.Getpid()))
	if err == nil {
		err = os.Rename(s.path, kept)
	}
	if err != nil {
		fmt.Fprintf(stderr, "calm tee: the store did NOT take this output, and keeping it failed: %s; what was read is in %s\n", oneLine(err.Error()), s.path)
		return
	}
	if dir, derr := os.Open(filepath.Dir(kept)); derr == nil {
		dir.Sync()
		dir.Close()
	}
	if stopped := s.err(); stopped != nil {
		// The spool is the kept file now: its old name says nothing.
		lost := ""
		if s.read > st.Size() {
			lost = fmt.Sprintf(", %s of the %s read", humanBytes(s.read-st.Size()), humanBytes(s.read))
		}
		fmt.Fprintf(stderr, "calm tee: the store did NOT take this output, and only its first %s are kept in %s (0600); the rest is NOT saved%s (writing it failed: %s); once the store is fixed ('calm doctor' says how), 'calm tee \"TITLE (partial)\" < %s > /dev/null' saves what was kept as a capture\n",
			humanBytes(st.Size()), kept, lost, oneLine(innermost(stopped).Error()), kept)
		return
	}
	fmt.Fprintf(stderr, "calm tee: the store did NOT take this output; all %s of it are kept in %s (0600): once the store is fixed ('calm doctor' says how), 'calm tee TITLE < %s > /dev/null' saves it as a capture\n",
		humanBytes(st.Size()), kept, kept)
}

// innermost is the error err wraps at its root (no space left on device),
// without the paths each layer added.
func innermost(err error) error {
	for u := errors.Unwrap(err); u != nil; u = errors.Unwrap(u) {
		err = u
	}
	return err
}

// storeSlow is how long tee waits for the store to finish, once its input
// has ended, before it says it waits.
const storeSlow = 5 * time.Second

// whileStoring watches tee wait for the store to finish with what it read
// (an agent slow or stopped can take any time): after storeSlow it says so,
// and, unless a signal already ended tee (then a second one leaves, as
// said), a signal leaves at once when the spool keeps everything read for
// the agent to store when it can.
func (s *spool) whileStoring(e *env, finished <-chan struct{}, sigs <-chan os.Signal, leaveOnSignal, whole bool) {
	slow := time.NewTimer(storeSlow)
	defer slow.Stop()
	warnedHeld := false
	if !leaveOnSignal {
		sigs = nil
	}
	for {
		select {
		case <-finished:
			return
		case <-slow.C:
			if !isTerminal(e.stderr) {
				break // a person waits at a terminal; a script's log keeps the outcome (a stopped agent is said by the client)
			}
			if held := s.holding(); held > 0 {
				fmt.Fprintf(e.stderr, "calm tee: %s read while the spool's disk was full still wait in memory for room there; make room (Ctrl-C twice leaves without them)\n", humanBytes(int64(held)))
				break
			}
			fmt.Fprintf(e.stderr, "calm tee: the store has not finished with what tee read after %s; waiting (Ctrl-C leaves: what was read is in %s, which the agent stores when it can)\n", storeSlow, s.path)
		case sig := <-sigs:
			if sig == syscall.SIGPIPE || !s.named {
				continue // a spool no one else sees: leaving would lose what the store has not taken
			}
			if held := s.holding(); held > 0 && !warnedHeld {
				warnedHeld = true
				fmt.Fprintf(e.stderr, "calm tee: %s read while the spool's disk was full wait in memory for room there, and leaving loses them: make room, or %s again to leave without them\n", humanBytes(int64(held)), signalName(sig))
				continue
			} else if held > 0 {
				fmt.Fprintf(e.stderr, "calm tee: leaving before the store finished; the last %s read are NOT saved (the spool's disk stayed full); what came before is in %s, which the agent stores when it can\n", humanBytes(int64(held)), s.path)
				s.sayWhy(fmt.Sprintf("%s twice while calm tee waited for room on its spool's disk: it left, and the last %s it read were not saved", signalName(sig), humanBytes(int64(held))))
				scratch.Exit(exitCodeFor(sig))
			}
			fmt.Fprintf(e.stderr, "calm tee: leaving before the store finished; what was read is in %s, which the agent stores when it can\n", s.path)
			s.sayWhy(fmt.Sprintf("%s while calm tee waited for the store, after its input had ended: it left, and the agent stored what it had read from its spool", signalName(sig)))
			if whole && s.err() == nil {
				// Every byte of the input is in the spool: the agent's
				// seal of them is whole.
				storage.WriteSpoolWhole(s.path, s.written.Load())
			}
			scratch.Exit(exitCodeFor(sig))
		}
	}
}

// sayWhy leaves beside the spool why tee is leaving before it sealed the
// capture, for the agent's seal.
func (s *spool) sayWhy(why string) {
	f, err := os.OpenFile(storage.SpoolWhyPath(s.path), os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return // the seal then says only that tee ended
	}
	f.WriteString(why + "\n")
	f.Close()
}

func (s *spool) remove() {
	s.f.Close()
	os.Remove(s.path)
	os.Remove(storage.SpoolIntentPath(s.path))
}

// teeStore stores what tee copies, from the spool, beside the copy loop:
// stdout never waits for the agent to start, for a capture to be created,
// or for a chunk to be stored.
type teeStore struct {
	e         *env
	done      chan struct{}
	w         *model.CaptureWriter
	err       error // storing failed
	sealErr   error // sealing failed
	named     bool  // the spool is one the agent can find
	spoolPath string
	// spoolStopped: the spool could not take more (its disk full); what it
	// held is stored and sealed as interrupted.
	spoolStopped error
	// misnamed says why the capture went into the current incident rather
	// than the one --incident named (a typo, or a title where its ID goes).
	misnamed string
	// rescue: no capture could be made; the spool is kept as a file.
	rescue bool
}

func startTeeStore(e *env, incident string, nc model.NewCapture, sp *spool) *teeStore {
	st := &teeStore{e: e, done: make(chan struct{}), named: sp.named, spoolPath: sp.path}
	go func() {
		defer close(st.done)
		named := incident
		if incident, st.err = e.captureIncident(incident, false); st.err == nil {
			st.w, st.err = model.NewCaptureWriter(e.store, incident, nc)
		}
		if named != "" && (errors.Is(st.err, model.ErrNotFound) || errors.Is(st.err, model.ErrAmbiguous) || errors.Is(st.err, model.ErrInvalid)) {
			// A mistyped ID must not cost the capture: the current
			// incident takes it, and the last line says where it is.
			st.misnamed = fmt.Sprintf("--incident %q: %s", printable(named), strings.TrimPrefix(oneLine(st.err.Error()), "create capture: "))
			fmt.Fprintf(e.stderr, "calm tee: %s: saving into the current incident instead\n", st.misnamed)
			if nc.Title == "" {
				// The title typed where the ID goes is the title.
				nc.Title = named
			}
			if incident, st.err = e.captureIncident("", false); st.err == nil {
				st.w, st.err = model.NewCaptureWriter(e.store, incident, nc)
			}
		}
		if st.err != nil && sp.named {
			// No capture to store into (the store damaged, no agent): the
			// spool goes on taking every byte, and is kept for a person.
			st.rescue = true
			fmt.Fprintf(e.stderr, "calm tee: the store cannot take this output: %s; every byte goes into a file kept instead (named at the end)\n", oneLine(st.err.Error()))
			return
		}
		if st.err != nil {
			fmt.Fprintf(e.stderr, "calm tee: not saving this output: %s\n", oneLine(st.err.Error()))
			sp.fail(st.err) // the copy stops filling the spool
			return
		}
		st.err = st.copyFrom(sp, sp.named && st.w.UseSpool())
		switch {
		case st.err == nil:
		case st.keepsSpool() && sp.removed():
			fmt.Fprintf(e.stderr, "calm tee: stopped saving, output goes on: %s; its spool is gone, so what it reads goes into a file named at the end\n", oneLine(st.err.Error()))
		case st.keepsSpool():
			// The spool goes on taking what tee reads (until its own disk
			// is full), and outlives tee: the agent finds it by the
			// capture's writer and stores the rest once it can.
			fmt.Fprintf(e.stderr, "calm tee: stopped saving, output goes on: %s; what it reads goes on into %s while its disk has room, for the agent to store into %s/%s once it can\n",
				oneLine(st.err.Error()), sp.path, st.w.Capture.Incident, st.w.Capture.ID)
		default:
			fmt.Fprintf(e.stderr, "calm tee: stopped saving, output goes on: %s\n", oneLine(st.err.Error()))
			sp.fail(st.err)
		}
	}()
	return st
}

// copyFrom sends the spool to the capture writer until the spool has ended
// and all of it is sent: where its bytes lie, when the store reads them
// there itself, or the bytes.
func (st *teeStore) copyFrom(sp *spool, storeReads bool) error {
	// A slow stream is sent as it comes, not a MiB at a time: the store
	// shows it live, and a hidden spool leaves the agent nothing to take
	// from a tee killed outright.
	tick := time.NewTicker(teeFlushEvery)
	defer tick.Stop()
	var off int64
	unsent := false
	var heldAfterEnd time.Time
	for {
		// Before the size: whatever it says, all is read. What waits for
		// room on the spool's disk is not read yet.
		ended := sp.ended.Load()
		if held := sp.holding(); ended && held > 0 {
			if heldAfterEnd.IsZero() {
				heldAfterEnd = time.Now()
				fmt.Fprintf(st.e.stderr, "calm tee: its input has ended, and the last %s read wait in memory for room on the spool's disk: make room within %s, or they are NOT saved\n", humanBytes(int64(held)), spoolHoldAfterEnd)
			} else if time.Since(heldAfterEnd) > spoolHoldAfterEnd {
				sp.giveUpHeld(fmt.Sprintf("its disk stayed full for %s after the input ended", spoolHoldAfterEnd))
			}
			ended = false
		}
		if written := sp.written.Load(); off < written && storeReads {
			if err := st.w.Spooled(written); err != nil {
				return err
			}
			off = written
			unsent = true
			continue
		} else if off < written {
			n, err := st.w.ReadFrom(io.NewSectionReader(sp.f, off, min(written-off, spoolSendMax)))
			off += n
			if err != nil {
				return err
			}
			unsent = true
			continue
		}
		if err := sp.err(); err != nil {
			// Its disk is full: what the spool holds is sent, and the
			// seal says where it stopped.
			st.spoolStopped = err
			return nil
		}
		if ended {
			return nil
		}
		select {
		case <-sp.more:
		case <-tick.C:
			if unsent {
				if err := st.w.Flush(); err != nil {
					return err
				}
				unsent = false
			}
		}
	}
}

// keepsSpool says whether the spool outlives tee: storing failed after the
// capture was made, and the agent can find the spool by the capture's
// writer and take from it what the store lacks.
func (st *teeStore) keepsSpool() bool {
	return (st.err != nil || st.sealErr != nil) && st.w != nil && st.named
}

// finish waits for everything copied to be stored, then seals the capture:
// complete, or interrupted for the reason given.
func (st *teeStore) finish(interrupted string) (model.Capture, error) {
	<-st.done
	if st.err != nil {
		return model.Capture{}, st.err
	}
	if st.spoolStopped != nil {
		interrupted = "its spool could not take more (" + oneLine(st.spoolStopped.Error()) + ")"
	}
	c, err := st.w.CloseInterrupted(interrupted)
	if err != nil {
		st.sealErr = err
		switch {
		case st.keepsSpool() && st.spoolStopped != nil:
			fmt.Fprintf(st.e.stderr, "calm tee: %s; the first %s it read stay in %s, for the agent to store into %s/%s once it can; the rest is NOT saved (%s)\n",
				oneLine(err.Error()), humanBytes(st.w.Size()), st.spoolPath, st.w.Capture.Incident, st.w.Capture.ID, oneLine(innermost(st.spoolStopped).Error()))
		case st.keepsSpool():
			fmt.Fprintf(st.e.stderr, "calm tee: %s; what it read stays in %s, for the agent to store into %s/%s once it can\n",
				oneLine(err.Error()), st.spoolPath, st.w.Capture.Incident, st.w.Capture.ID)
		default:
			fmt.Fprintf(st.e.stderr, "calm tee: %s\n", oneLine(err.Error()))
		}
	}
	return c, err
}

// passThrough copies stdin to stdout when tee cannot even start (a typo in a
// flag): the pipeline loses nothing, and the status says it was not saved.
func passThrough(e *env, why string, code int) error {
	line := fmt.Sprintf("calm tee: not saving this output, only passing it on: %s\n", why)
	fmt.Fprint(e.stderr, line)
	if isTerminal(e.stdin) {
		return &exitError{code: code} // nothing piped in: nothing to pass on
	}
	signal.Ignore(syscall.SIGPIPE)
	if n, _ := io.Copy(e.stdout, e.stdin); n > 0 {
		fmt.Fprint(e.stderr, strings.Replace(line, "not saving", "did NOT save", 1)) // again, below the output
	}
	return &exitError{code: code}
}

// teeCannotStart is passThrough for failures before any command runs (a
// global flag, the config file).
func teeCannotStart(stdin io.Reader, stdout, stderr io.Writer, why string, code int) int {
	err := passThrough(&env{stdin: stdin, stdout: stdout, stderr: stderr}, why, code)
	return err.(*exitError).code
}

// asksHelp reports whether args ask for help before a "--".
func asksHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "--help":
			return true
		}
	}
	return false
}

// mistypedTee reports whether calm's command word is one edit away from
// tee (tea, Tee, tree) or its letters swapped (ete, eet): in a pipeline,
// the input then passes on.
func mistypedTee(args []string) bool {
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			word := strings.ToLower(a)
			letters := []byte(word)
			slices.Sort(letters)
			return a != "tee" && (model.EditDistance(word, "tee") <= 1 || string(letters) == "eet")
		}
	}
	return false
}

// copiesFailed reports a copy that could not be made: said even under -q.
func copiesFailed(c model.Capture) bool {
	for _, cp := range c.Copies {
		if cp.State != model.CopyVerified && cp.State != model.CopyPending {
			return true
		}
	}
	return false
}

func signalName(s os.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT (Ctrl-C)"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP (terminal closed)"
	}
	return s.String()
}

func exitCodeFor(s os.Signal) int {
	if n, ok := s.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return 1
}

// interruptible is a context that the first SIGINT, SIGTERM or SIGHUP
// cancels, its cause naming the signal, after first calling onFirst; a
// second signal leaves at once (the agent seals what was stored as
// interrupted). stop ends it.
func interruptible(e *env, onFirst func(os.Signal)) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		var first os.Signal
		for {
			select {
			case s := <-sigs:
				if first != nil {
					fmt.Fprintf(e.stderr, "calm: leaving at once; the agent seals what it stored as interrupted\n")
					scratch.Exit(exitCodeFor(first))
				}
				first = s
				if onFirst != nil {
					onFirst(s)
				}
				cancel(errors.New(signalName(s)))
			case <-done:
				return
			}
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel(nil)
	}
}

// sameTerminal reports whether a and b are the same terminal device.
func sameTerminal(a, b io.Writer) bool {
	fa, ok1 := a.(*os.File)
	fb, ok2 := b.(*os.File)
	if !ok1 || !ok2 || !isTerminal(fa) {
		return false
	}
	var sa, sb unix.Stat_t
	return unix.Fstat(int(fa.Fd()), &sa) == nil && unix.Fstat(int(fb.Fd()), &sb) == nil && sa.Rdev == sb.Rdev
}
