package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"calm/capture"
	"calm/storage"
)

// Version is set at build time with -ldflags "-X calm/cli.Version=...".
var Version = "0.1.0-dev"

const usage = `calm: a black box and a calm checklist for on-call responders

usage: calm [--store FILE] [--mirror DIR]... [--config FILE] [COMMAND [ARGS]]

  (no command)           the TUI on the current incident (in a script: the status)
  ui [INCIDENT]          the TUI: captures, viewer, checklist, copies ('?' lists its keys)
  review INCIDENT        the TUI read-only, timeline first, for the look back (or a pulled bundle)
  push INCIDENT          upload the incident's bundle to the s3:// mirror, read back and checked
  pull s3://.../X.tar.gz fetch a pushed bundle, check it, keep it for 'calm review'
  status                 the current incident and its captures' copies
  incident new [TITLE]   open an incident and make it current
  incident list          list incidents (* marks the current one)
  incident use ID        make an incident current (any unique prefix works)
  incident close [ID]    close an incident
  shell [-- CMD ARGS]    record a shell (default $SHELL) in a PTY, like script(1)
  snap [-t PANE]         save a tmux pane's whole scrollback as a capture
  split [--stop]         in tmux: save this pane's scrollback, record its output, open calm beside it
  import FILE.cast [T]   bring an asciinema recording (asciicast v2 or v3) in as a session
  clip [TITLE]           save the clipboard as a capture (clip -o ID: a capture to the clipboard)
  tee [TITLE]            copy stdin to stdout unchanged, and save it as a capture
  note TEXT              add a note to the current incident's timeline
  tick [--anyway]        tick the current checklist step (a step still waiting needs --anyway, and says so)
  show ID                print a capture (c3, or INCIDENT/c3); --raw skips sanitising
  search [-i] [-F] PAT   grep-like search of every capture (RE2; -F literal)
  verify [INCIDENT]      read back and hash every copy; exit 1 on any mismatch (or: verify BUNDLE.tar.gz)
  export INCIDENT --format txt|json|md|cast|bundle [-o FILE]   (redacted; md is the postmortem draft)
  doctor [--salvage NEW] check the store, the agent, the copies and the tools; copy out a damaged store
  agent                  run the agent (the store's owner) in the foreground
  --version, --help

The store lives in $XDG_DATA_HOME/calm (set CALM_HOME to move it); the config
in $XDG_CONFIG_HOME/calm/config.toml. Every command starts the agent if needed.
`

type globalFlags struct {
	store, config string
	mirrors       []string
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// env is what a command runs with; tests give their own.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	cfg            Config
	store          storage.Store
}

// exitError carries an exit status with an optional message.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// Main runs calm with the given arguments and returns the exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var g globalFlags
	fs := flag.NewFlagSet("calm", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&g.store, "store", "", "the bbolt store file")
	fs.StringVar(&g.config, "config", "", "the config file")
	fs.Var((*multiFlag)(&g.mirrors), "mirror", "a folder that gets a verified copy of every capture")
	help := fs.Bool("help", false, "")
	fs.BoolVar(help, "h", false, "")
	version := fs.Bool("version", false, "")
	if err := fs.Parse(args); err != nil {
		if invokesTee(args) {
			return teeCannotStart(stdin, stdout, stderr, fmt.Sprintf("%v (see 'calm --help')", err), 2)
		}
		fmt.Fprintf(stderr, "calm: %v (see 'calm --help')\n", err)
		return 2
	}
	rest := fs.Args()
	switch {
	case *help || (len(rest) > 0 && rest[0] == "help"):
		fmt.Fprint(stdout, usage)
		return 0
	case *version || (len(rest) > 0 && rest[0] == "version"):
		fmt.Fprintf(stdout, "calm %s (store schema %d)\n", Version, storage.SchemaVersion)
		return 0
	}
	cfg, err := loadConfig(g)
	if err != nil {
		if len(rest) > 0 && rest[0] == "tee" {
			return teeCannotStart(stdin, stdout, stderr, oneLine(err.Error()), 1)
		}
		fmt.Fprintf(stderr, "calm: %v\n", err)
		return 1
	}
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, cfg: cfg}
	if len(rest) == 0 {
		// calm alone is the TUI in a terminal, and the status in a script.
		rest = []string{"status"}
		if isTerminal(stdout) && isTerminal(stdin) {
			rest = []string{"ui"}
		}
	}
	cmd, cmdArgs := rest[0], rest[1:]
	run, ok := commands[cmd]
	if !ok {
		fmt.Fprintf(stderr, "calm: unknown command %q (see 'calm --help')\n", cmd)
		return 2
	}
	if cmd != "agent" {
		client := storage.NewClient(cfg.socket, cfg.agentCommand(), cfg.agentLog())
		defer client.Close()
		defer func() {
			if w := client.Warning(); w != "" {
				fmt.Fprintf(stderr, "calm: WARNING: %s\n", printable(w))
			}
		}()
		said := map[string]bool{}
		client.Notice = func(n string) { // a damaged store copy, and the one read instead
			if !said[n] {
				said[n] = true
				fmt.Fprintf(stderr, "calm: %s\n", printable(n))
			}
		}
		e.store = client
	}
	if path := os.Getenv("CALM_CPUPROFILE"); path != "" && cmd != "agent" {
		// For bench work: a CPU profile of this command.
		if f, perr := os.Create(path); perr == nil {
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	err = run(e, cmdArgs)
	var ee *exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ee.msg != "" {
			fmt.Fprintf(stderr, "calm %s: %s\n", cmd, ee.msg)
		}
		return ee.code
	case errors.Is(err, flag.ErrHelp):
		return 0
	}
	fmt.Fprintf(stderr, "calm %s: %s\n", cmd, oneLine(err.Error()))
	return 1
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

var commands map[string]func(*env, []string) error

func init() {
	commands = map[string]func(*env, []string) error{
		"status":   cmdStatus,
		"agent":    cmdAgent,
		"incident": cmdIncident,
		"tee":      cmdTee,
		"note":     cmdNote,
		"tick":     cmdTick,
		"show":     cmdShow,
		"search":   cmdSearch,
		"verify":   cmdVerify,
		"export":   cmdExport,
		"doctor":   cmdDoctor,
		"shell":    cmdShell,
		"snap":     cmdSnap,
		"split":    cmdSplit,
		"pipe":     cmdPipe,
		"clip":     cmdClip,
		"ui":       cmdUI,
		"push":     cmdPush,
		"pull":     cmdPull,
		"review":   cmdReview,
		"import":   cmdImport,
	}
}

// flags makes a FlagSet whose errors come back as usage errors.
func (e *env) flags(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: calm %s %s\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := parseAnywhere(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &exitError{code: 2}
	}
	return nil
}

// parseAnywhere parses flags wherever they stand among the arguments, as GNU
// tools do (calm show s1 --raw, calm tee "title" -q); "--" ends the flags.
// fs.Args() are then the arguments that are not flags, in order.
func parseAnywhere(fs *flag.FlagSet, args []string) error {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		rest := fs.Args()
		if used := len(args) - len(rest); len(rest) == 0 || (used > 0 && args[used-1] == "--") {
			positional = append(positional, rest...)
			break
		}
		positional, args = append(positional, rest[0]), rest[1:]
	}
	return fs.Parse(append([]string{"--"}, positional...))
}

func usageError(format string, args ...any) error {
	return &exitError{code: 2, msg: fmt.Sprintf(format, args...)}
}

func cmdAgent(e *env, args []string) error {
	fs := e.flags("agent", "[--idle DURATION]")
	idle := fs.Duration("idle", 10*time.Minute, "exit after this long with no client (0: never)")
	socket := fs.String("socket", e.cfg.socket, "the Unix socket to serve on")
	readyFD := fs.Int("ready-fd", 0, "write ok or the reason for failing to this fd")
	if err := parse(fs, args); err != nil {
		return err
	}
	if v := os.Getenv("CALM_AGENT_IDLE"); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			*idle = d
		}
	}
	report := func(string) {}
	if *readyFD > 0 {
		f := os.NewFile(uintptr(*readyFD), "ready")
		report = func(s string) {
			fmt.Fprintln(f, oneLine(s))
			f.Close()
			report = func(string) {}
		}
	}
	remotes, err := e.cfg.openRemotes()
	if err != nil {
		report(err.Error())
		return err
	}
	logf := func(format string, args ...any) {
		fmt.Fprintf(e.stderr, "%s calm agent[%d]: %s\n", time.Now().UTC().Format(time.RFC3339), os.Getpid(), fmt.Sprintf(format, args...))
	}
	db, err := storage.Open(storage.Options{Path: e.cfg.Store, Mirrors: e.cfg.Mirrors, Remotes: remotes, Derive: capture.DeriveText, Logf: logf})
	if err != nil {
		report(err.Error())
		return err
	}
	defer db.Close()
	a := &storage.Agent{DB: db, Socket: *socket, Idle: *idle, Logf: logf}
	l, err := a.Listen()
	if err != nil {
		report(err.Error())
		return err
	}
	logf("serving %s on %s", e.cfg.Store, *socket)
	if path := os.Getenv("CALM_AGENT_CPUPROFILE"); path != "" {
		// For bench work: a CPU profile of the agent's whole life.
		if f, err := os.Create(path); err == nil {
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	report("ok")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return a.Serve(ctx, l)
}

func cmdStatus(e *env, args []string) error {
	fs := e.flags("status", "")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("status takes no arguments: it shows the current incident ('calm incident use ID' picks another)")
	}
	inc, err := e.store.Incident("")
	if errors.Is(err, storage.ErrNotFound) {
		if c, ok := e.store.(*storage.Client); ok && c.Warning() != "" {
			fmt.Fprintln(e.stdout, "No incident in this store, but its evidence folder holds incidents: the store was lost (see the WARNING).")
			return &exitError{code: 1}
		}
		fmt.Fprintln(e.stdout, "No incident yet. Start one with 'calm incident new TITLE', or just capture: 'cmd | calm tee'.")
		return nil
	}
	if err != nil {
		return err
	}
	caps, err := e.store.Captures(inc.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "incident %s  %s  (%s)\n", printable(inc.ID), printable(inc.Title), incidentState(inc))
	printCaptures(e.stdout, caps, e.cfg.CopiesRequired, e.cfg.DevicesRequired)
	return nil
}

func incidentState(inc storage.Incident) string {
	if inc.IsOpen() {
		return "open since " + inc.Opened.Format("2006-01-02 15:04:05 UTC")
	}
	return "closed " + inc.Closed.Format("2006-01-02 15:04:05 UTC")
}

func printCaptures(w io.Writer, caps []storage.Capture, copiesRequired, devicesRequired int) {
	for _, c := range caps {
		sum := "-"
		if len(c.SHA256) >= 12 {
			sum = c.SHA256[:12]
		}
		copies := fmt.Sprintf("%d/%d copies verified on %s", c.VerifiedCopies(), len(c.Copies), plural(c.Devices(), "device"))
		if c.State == storage.CaptureSealed && (c.VerifiedCopies() < copiesRequired || c.Devices() < devicesRequired) {
			copies += fmt.Sprintf(" (WARNING: %s on %s required)", plural(copiesRequired, "copy"), plural(devicesRequired, "device"))
		}
		if c.Partial() {
			copies = "INTERRUPTED (" + c.Interrupted + "), partial; " + copies
		}
		if c.State != storage.CaptureSealed {
			copies = "UNSEALED: still being written; its size and copies come when it ends (sealed by the agent if its writer dies)"
			if c.Recording != nil {
				copies = "still recording"
			}
			if c.Recording != nil && c.Recording.JournalSize > 0 {
				copies = fmt.Sprintf("recorded (%s journal), being stored and checked", humanBytes(c.Recording.JournalSize))
			}
		}
		if c.Warning != "" {
			copies += "; WARNING: " + c.Warning
		}
		fmt.Fprintf(w, "  %-5s %-8s %10s  sha256 %s  %s  %s\n", c.ID, printable(c.Source), humanBytes(c.Size), sum, printable(copies), printable(c.Title))
	}
}

// plural says "1 device" or "3 devices".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if base, ok := strings.CutSuffix(noun, "y"); ok {
		return strconv.Itoa(n) + " " + base + "ies"
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return strconv.FormatFloat(float64(n)/(1<<30), 'f', 1, 64) + " GiB"
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " B"
}
