package cli

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"calm/checklist"
	"calm/model"
	"calm/storage"
	"calm/storage/agent"
)

// Version is set at build time with -ldflags "-X calm/cli.Version=...".
var Version = "0.1.0-dev"

// Main runs calm with the given arguments and returns the exit status:
// 0, 1 when a command fails, 2 for a usage error, or the status a command
// passes on (a shell's, a signal's).
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	r := &runner{stdin: stdin, stdout: stdout, stderr: stderr}
	root := r.tree()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	piped := !isTerminal(stdin)
	word := commandWord(root, args)
	runsTee := word >= 0 && args[word] == "tee"
	if runsTee {
		// `calm -q tee x` is tee's -q, as a person reads it.
		args = teeFlagsAfterTee(root, args, false)
		root.SetArgs(args)
	}
	if word >= 0 && args[word] == "search" {
		if search, _, err := root.Find([]string{"search"}); err == nil {
			args = grepShortValues(search, args, word+1)
			root.SetArgs(args)
		}
	}
	if piped && runsTee && asksHelp(args) {
		// tee's help in a pipeline: to stderr, and the input passes on,
		// unsaved, which the exit status says if there was any.
		root.SetOut(stderr)
		root.Execute()
		n, err := io.Copy(stdout, stdin)
		if n > 0 || err != nil {
			fmt.Fprintf(stderr, "calm tee: did NOT save this output (%d bytes), only passed it on: --help only shows the help above\n", n)
			return 2
		}
		return 0
	}
	err := root.Execute()
	var fail *commandError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &fail):
		return fail.report(stderr)
	case runsTee, piped && word >= 0 && mistypedTee(args[word:word+1]):
		// The pipe is sacred: a mistyped flag costs the pipeline nothing,
		// and its output is saved all the same, the typo ignored.
		if retry, ok := r.teeDespiteTypo(args); ok && piped {
			return r.teeAllTheSame(retry, oneLine(err.Error()))
		}
		return teeCannotStart(stdin, stdout, stderr, oneLine(err.Error()), 2)
	}
	fmt.Fprintf(stderr, "calm: %s\n", oneLine(err.Error()))
	return 2
}

// runner builds calm's command tree and runs the command chosen.
type runner struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	global         globalFlags
	typo           string // what teeAllTheSame ignored, said again by tee at its end
}

// teeDespiteTypo gives the command line that runs tee with what a typo
// made of it left out: a command word one edit from tee (or its letters
// swapped) becomes tee, and each flag tee cannot take (unknown, a bad
// value, a value missing) is dropped, with its value when the flag it was
// likely meant as takes one. ok is false when that does not give a command
// line tee runs on.
func (r *runner) teeDespiteTypo(args []string) (retry []string, ok bool) {
	root := r.tree()
	retry = teeFlagsAfterTee(root, args, true)
	if at := commandWord(root, retry); at >= 0 && mistypedTee(retry[at:at+1]) {
		retry[at] = "tee"
	}
	for range 16 {
		tee, rest, err := r.tree().Find(retry)
		if err != nil || tee.Name() != "tee" {
			return nil, false
		}
		err = tee.ParseFlags(rest)
		if err == nil {
			return retry, true
		}
		if retry = dropFlag(tee, retry, err); retry == nil {
			return nil, false
		}
	}
	return nil, false
}

// commandWord is the index in args of calm's command word (a command's
// name, or tee mistyped), past the global flags and their values, and the
// value an unknown flag may have, or -1.
func commandWord(root *cobra.Command, args []string) int {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			if i+1 < len(args) {
				return i + 1
			}
			return -1
		case !strings.HasPrefix(a, "-") || a == "-":
			if c, _, err := root.Find([]string{a}); (err == nil && c != root) || mistypedTee([]string{a}) {
				return i
			}
		case takesValue(root.PersistentFlags(), a) && i+1 < len(args):
			i++
		}
	}
	return -1
}

// grepShortValues reads a short flag's value as grep does: all that
// follows the letter, an = included (-e=42 searches for "=42", and -C=1
// is refused), where pflag drops the =. It returns args with each such
// value split off as an argument of its own, from args[from] up to a --.
func grepShortValues(c *cobra.Command, args []string, from int) []string {
	out := slices.Clone(args[:from])
	for i := from; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) < 3 || a[0] != '-' || a[1] == '-' {
			out = append(out, a)
			continue
		}
		split := false
		for j := 1; j < len(a); j++ {
			f := c.Flags().ShorthandLookup(a[j : j+1])
			if f == nil || f.NoOptDefVal != "" {
				continue // a switch, or an unknown letter pflag will name
			}
			if j+1 < len(a) && a[j+1] == '=' {
				out = append(out, a[:j+1], a[j+1:])
				split = true
			}
			break
		}
		if !split {
			out = append(out, a)
		}
	}
	return out
}

// takesValue reports whether a, a flag written without "=value", is one of
// flags that takes the next argument as its value.
func takesValue(flags *pflag.FlagSet, a string) bool {
	if strings.Contains(a, "=") {
		return false
	}
	var f *pflag.Flag
	if name, long := strings.CutPrefix(a, "--"); long {
		f = flags.Lookup(name)
	} else if len(a) == 2 {
		f = flags.ShorthandLookup(a[1:])
	}
	return f != nil && f.NoOptDefVal == ""
}

// teeFlagsAfterTee moves the flags written before the tee word that are
// tee's, not calm's own (global) ones, to just after it: `calm -q tee x`
// means tee's -q. With unknownToo, a flag of nobody's moves too, for tee's
// loop to drop, when the tee word follows it (its value can then be nothing
// else), and is dropped, with the word after it, otherwise. A flag tee
// takes moves with its value.
func teeFlagsAfterTee(root *cobra.Command, args []string, unknownToo bool) []string {
	at := commandWord(root, args)
	if at < 0 {
		return slices.Clone(args)
	}
	tee, _, err := root.Find([]string{"tee"})
	if err != nil {
		return slices.Clone(args)
	}
	var kept, moved []string
	for i := 0; i < at; i++ {
		a := args[i]
		switch {
		case a == "--", !strings.HasPrefix(a, "-"):
			kept = append(kept, a) // a value: of an unknown flag before it
		case root.PersistentFlags().Lookup(strings.TrimLeft(strings.SplitN(a, "=", 2)[0], "-")) != nil && strings.HasPrefix(a, "--"),
			len(a) == 2 && root.PersistentFlags().ShorthandLookup(a[1:]) != nil:
			kept = append(kept, a)
			if takesValue(root.PersistentFlags(), a) && i+1 < at {
				kept = append(kept, args[i+1])
				i++
			}
		case takesValue(tee.Flags(), a) && i+1 < at:
			moved = append(moved, a, args[i+1])
			i++
		case knownTo(tee.Flags(), a), unknownToo && i+1 == at:
			moved = append(moved, a)
		case unknownToo && !strings.Contains(a, "=") && !strings.HasPrefix(args[i+1], "-"):
			i++ // nobody's flag, and its value: before the command word it can be nothing else
		case unknownToo:
		default:
			kept = append(kept, a)
		}
	}
	out := append(kept, args[at])
	out = append(out, moved...)
	return append(out, args[at+1:]...)
}

// knownTo reports whether flags has the flag a names.
func knownTo(flags *pflag.FlagSet, a string) bool {
	name := strings.SplitN(a, "=", 2)[0]
	if long, ok := strings.CutPrefix(name, "--"); ok {
		return flags.Lookup(long) != nil
	}
	return len(name) == 2 && flags.ShorthandLookup(name[1:]) != nil
}

// dropFlag takes out of args the flag err is about (pflag's), or gives nil.
func dropFlag(c *cobra.Command, args []string, err error) []string {
	end := slices.Index(args, "--")
	if end < 0 {
		end = len(args)
	}
	var missing *pflag.NotExistError
	var invalid *pflag.InvalidValueError
	var needs *pflag.ValueRequiredError
	switch {
	case errors.As(err, &missing) && missing.GetSpecifiedShortnames() != "":
		// pflag names the letters left in the group from the unknown one
		// on: -qa gives "a".
		left := missing.GetSpecifiedShortnames()
		for i, a := range args[:end] {
			if strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && strings.HasSuffix(a, left) {
				rest := a[:len(a)-len(left)] + left[1:]
				if rest == "-" {
					return slices.Delete(slices.Clone(args), i, i+1)
				}
				out := slices.Clone(args)
				out[i] = rest
				return out
			}
		}
	case errors.As(err, &missing):
		name := "--" + missing.GetSpecifiedName()
		for i, a := range args[:end] {
			if a == name || strings.HasPrefix(a, name+"=") {
				n := 1
				// Its value goes with it when the flag it was meant as
				// takes one (--incdient X), not when it is a switch
				// (--quite TITLE).
				if meant := c.Flags().Lookup(nearestFlag(c, missing.GetSpecifiedName())); a == name && meant != nil && meant.NoOptDefVal == "" && i+1 < end && !strings.HasPrefix(args[i+1], "-") {
					n = 2
				}
				return slices.Delete(slices.Clone(args), i, i+n)
			}
		}
	case errors.As(err, &invalid):
		f := invalid.GetFlag()
		for i, a := range args[:end] {
			if strings.HasPrefix(a, "--"+f.Name+"=") || f.Shorthand != "" && strings.HasPrefix(a, "-"+f.Shorthand+"=") {
				return slices.Delete(slices.Clone(args), i, i+1)
			}
		}
	case errors.As(err, &needs):
		if last := end - 1; last >= 0 && strings.HasPrefix(args[last], "-") {
			return slices.Delete(slices.Clone(args), last, last+1)
		}
	}
	return nil
}

// teeAllTheSame runs tee on args (its typos left out), after saying so; it
// exits 2 however the capture ends, so that a script sees the typo.
func (r *runner) teeAllTheSame(args []string, typo string) int {
	fmt.Fprintf(r.stderr, "calm tee: %s: ignored, saving the output all the same\n", typo)
	r.typo = typo
	root := r.tree()
	root.SetArgs(args)
	root.SetIn(r.stdin)
	root.SetOut(r.stdout)
	root.SetErr(r.stderr)
	err := root.Execute()
	var fail *commandError
	switch {
	case err == nil:
		return 2
	case errors.As(err, &fail):
		return max(fail.report(r.stderr), 2)
	}
	return teeCannotStart(r.stdin, r.stdout, r.stderr, oneLine(err.Error()), 2)
}

type globalFlags struct {
	store, config string
	mirrors       []string
	// defaults: no config file is read (the agent tee starts when the
	// file could not be used, which it must not be stopped by either).
	defaults bool
}

// env is what a command runs with; tests give their own.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	cfg            Config
	store          model.Store

	cmd        *cobra.Command           // the command running, whose flags cobra has parsed
	typo       string                   // a typo in the command line that was ignored (tee)
	configErr  string                   // why the config file could not be used: tee saved with the defaults
	describing *description             // set while the tree learns a command's flags
	bar        atomic.Pointer[progress] // the bar on stderr now, taken off for a notice
}

// exitError carries an exit status with an optional message.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// commandError is what a command (or loading the config for it) returned,
// as opposed to an error cobra found in the command line.
type commandError struct {
	command string // "show", "incident use"; empty when no command ran
	err     error
}

func (e *commandError) Error() string { return e.err.Error() }

// report prints the error in one line and gives the exit status.
func (e *commandError) report(stderr io.Writer) int {
	prefix := "calm"
	if e.command != "" {
		prefix += " " + e.command
	}
	var ee *exitError
	if errors.As(e.err, &ee) {
		if ee.msg != "" {
			fmt.Fprintf(stderr, "%s: %s\n", prefix, ee.msg)
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "%s: %s\n", prefix, oneLine(e.err.Error()))
	return 1
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func usageError(format string, args ...any) error {
	return &exitError{code: 2, msg: fmt.Sprintf(format, args...)}
}

// A command's body declares its flags with e.flags and reads them with
// parse, as it did with the standard flag package. The tree learns them
// by running each body once up to its parse (describe), so the body stays
// the one place a command's flags are written, and cobra gives them help,
// completion, the man page, and flags anywhere.
type description struct {
	name, synopsis string
	flags          *pflag.FlagSet
}

var errDescribed = errors.New("described")

// flagSetOwner is the env of each flag set e.flags made, until parse
// reads it: bodies call parse(fs, args) as they always have.
var flagSetOwner sync.Map // *pflag.FlagSet → *env

// flags makes the flag set a command body declares its flags on.
func (e *env) flags(name, synopsis string) *pflag.FlagSet {
	if e.describing != nil {
		e.describing.name, e.describing.synopsis = name, synopsis
	}
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	flagSetOwner.Store(fs, e)
	return fs
}

// parse gives fs, made by e.flags, the values cobra parsed from the
// command line, and its positional arguments. While describing, it stops
// the body there.
func parse(fs *pflag.FlagSet, args []string) error {
	e, ok := flagSetOwner.LoadAndDelete(fs)
	if !ok {
		return fs.Parse(args) // not made by e.flags: parse the arguments as given
	}
	return e.(*env).parseFlags(fs, args)
}

func (e *env) parseFlags(fs *pflag.FlagSet, args []string) error {
	if e.describing != nil {
		e.describing.flags = fs
		return errDescribed
	}
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		// The command's scalar flags (bool, string, int, duration) say
		// their value again through String; a repeated flag's String is
		// "[a,b]", so its values are handed over as they are.
		given := e.cmd.Flags().Lookup(f.Name)
		if given == nil || !given.Changed || err != nil {
			return
		}
		if from, ok := given.Value.(pflag.SliceValue); ok {
			if to, ok := f.Value.(pflag.SliceValue); ok {
				err, f.Changed = to.Replace(from.GetSlice()), true
				return
			}
		}
		err = fs.Set(f.Name, given.Value.String())
	})
	if err != nil {
		return err
	}
	return fs.Parse(append([]string{"--"}, args...))
}

// describe runs a command body up to its parse to learn its name,
// synopsis and flags.
func describe(body func(*env, []string) error) description {
	d := &description{}
	if err := body(&env{describing: d}, nil); err != errDescribed || d.name == "" {
		panic(fmt.Sprintf("calm: a command body must call e.flags and then parse before anything else (got %v)", err))
	}
	return *d
}

// command makes the cobra command that runs body.
func (r *runner) command(group, short string, body func(*env, []string) error) *cobra.Command {
	d := describe(body)
	c := &cobra.Command{
		Use:     strings.TrimSpace(d.name + " " + d.synopsis),
		Short:   short,
		GroupID: group,
		// The synopsis names the flags that matter; all are listed below it.
		DisableFlagsInUseLine: true,
		RunE:                  func(c *cobra.Command, args []string) error { return r.run(c, body, args) },
	}
	c.Flags().AddFlagSet(d.flags)
	c.Flags().SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if name == "colour" {
			name = "color" // grep takes both
		}
		return pflag.NormalizedName(name)
	})
	return c
}

// run loads the configuration, connects to the agent, and runs body.
func (r *runner) run(c *cobra.Command, body func(*env, []string) error, args []string) (err error) {
	name := strings.TrimPrefix(c.CommandPath(), c.Root().Name()+" ")
	if c == c.Root() {
		name = ""
	}
	if name == "search" {
		defer func() { err = searchStatus(err) }()
	}
	cfg, err := loadConfig(r.global)
	configErr := ""
	if err != nil {
		if name != "tee" {
			return &commandError{"", err}
		}
		// The pipe's bytes are saved all the same, with the default
		// settings, and tee says so at its end too.
		cfg, configErr = defaultConfig(r.global), oneLine(err.Error())
		fmt.Fprintf(r.stderr, "calm tee: %s: saving into %s with the default settings all the same\n", configErr, cfg.Store)
	}
	e := &env{stdin: r.stdin, stdout: r.stdout, stderr: r.stderr, cfg: cfg, cmd: c, typo: r.typo, configErr: configErr}
	if c.Parent() != nil && c.Parent().Name() == "agent" {
		return wrapCommandError(name, body(e, args)) // they talk to the agent themselves, and never start one by asking
	}
	if name != "agent" {
		if err := e.checkNamedStore(name); err != nil {
			return &commandError{name, err}
		}
		cfg = e.cfg // the store beside a mistyped one, if so
		client := agent.NewClient(cfg.socket, cfg.agentCommand(), cfg.agentLog())
		defer client.Close()
		defer func() {
			// A write refused on a damaged store said so in its own error.
			if w := client.Warning(); w != "" && !(err != nil && strings.HasPrefix(w, model.ErrDamaged.Error())) {
				fmt.Fprintf(r.stderr, "calm: WARNING: %s\n", printable(w))
			}
		}()
		said := map[string]bool{}
		var saying sync.Mutex
		client.Notice = func(n string) { // a damaged store copy and the one read instead, a stopped agent
			saying.Lock()
			defer saying.Unlock()
			if !said[n] {
				said[n] = true
				e.bar.Load().clear() // not after a spinner, on its line
				fmt.Fprintf(r.stderr, "calm: %s\n", printable(n))
			}
		}
		e.store = client
		if path := os.Getenv("CALM_CPUPROFILE"); path != "" {
			// For bench work: a CPU profile of this command.
			if f, perr := os.Create(path); perr == nil {
				pprof.StartCPUProfile(f)
				defer pprof.StopCPUProfile()
			}
		}
	}
	// A running agent started with fewer mirrors than this command asks
	// for: a capture goes on (losing it would be worse) and says so after;
	// anything else is refused, saying how to apply them.
	if err := e.chooseCaptureIncident(name); err != nil {
		return &commandError{name, err}
	}
	if name != "agent" && name != "doctor" && len(e.cfg.remotes) > 0 {
		// A mistyped bucket or endpoint: said, and nothing is refused for
		// it (the store and its other copies work).
		if _, err := e.cfg.openRemotes(); err != nil {
			fmt.Fprintf(r.stderr, "calm: WARNING: %s\n", printable(oneLine(err.Error())))
		}
	}
	switch name {
	case "agent", "doctor":
	case "tee", "shell", "snap", "split", "clip", "import", "pipe":
		defer func() {
			if lacks := e.agentLacks(); lacks != "" {
				fmt.Fprintf(r.stderr, "calm: WARNING: %s\n", lacks)
			}
		}()
	default:
		if lacks := e.agentLacks(); lacks != "" {
			return &commandError{name, &exitError{code: 1, msg: lacks}}
		}
	}
	return wrapCommandError(name, body(e, args))
}

// checkNamedStore keeps a mistyped store path from passing for an empty
// store: a command that only reads refuses one that does not exist, and
// one that records makes it and says so. The default store is made
// quietly, and one whose evidence folder holds incidents was lost, which
// the agent's warning names.
func (e *env) checkNamedStore(name string) error {
	if e.cfg.storeNote != "" {
		fmt.Fprintf(e.stderr, "calm: %s\n", printable(e.cfg.storeNote))
	}
	// A store the agent would refuse: nothing of it is written there
	// either (its log, tee's spool), and tee saves into the default store.
	if why := storage.OpenToOthers(filepath.Dir(e.cfg.Store)); why != "" && name != "doctor" {
		other := e.cfg.storeOtherwise
		if other == e.cfg.Store {
			other = absolute(dataDirStore()) // CALM_HOME named it: the store of the data folder
		}
		switch {
		case name != "tee":
			return errors.New(why)
		case other != e.cfg.Store && storage.OpenToOthers(filepath.Dir(other)) == "":
			fmt.Fprintf(e.stderr, "calm tee: %s; saving into %s instead\n", why, other)
			e.cfg = e.cfg.withStore(other)
		default:
			// No store to save into: the pipe's bytes still pass, and tee
			// says what it kept where.
			fmt.Fprintf(e.stderr, "calm tee: %s\n", why)
		}
		return nil
	}
	by := e.cfg.storeNamedBy
	if by == "" {
		return nil
	}
	if _, err := os.Lstat(e.cfg.Store); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	recording := false
	switch name {
	case "tee", "shell", "snap", "split", "clip", "import", "pipe", "note", "incident new", "pull":
		recording = true
	}
	// A store beside it: a typo of its name (calm.dv). A new store there
	// would share that one's evidence folder, and read as its loss.
	if beside := storesBeside(e.cfg.Store); len(beside) == 1 && recording {
		fmt.Fprintf(e.stderr, "calm %s: %s names %s, where there is no store; saving into %s beside it, that folder's store (a typo?)\n", name, by, printable(e.cfg.Store), printable(beside[0]))
		e.cfg = e.cfg.withStore(beside[0])
		return nil
	} else if len(beside) > 0 {
		return usageError("no store at %s, which %s names; beside it: %s (a typo?)", printable(e.cfg.Store), by, printable(strings.Join(beside, ", ")))
	}
	if entries, _ := os.ReadDir(filepath.Join(filepath.Dir(e.cfg.Store), "evidence")); len(entries) > 0 {
		return nil // the store of that evidence lost: the agent's warning says so
	}
	switch {
	case recording:
		dir := filepath.Dir(e.cfg.Store)
		err := os.MkdirAll(dir, 0o700)
		if err == nil {
			// A file made and removed: what the store will need.
			var probe *os.File
			if probe, err = os.CreateTemp(dir, ".calm-probe-*"); err == nil {
				probe.Close()
				os.Remove(probe.Name())
			}
		}
		if err != nil {
			fmt.Fprintf(e.stderr, "calm %s: %s names %s, where there is no store, and none can be made there (%s): check the path\n", name, by, printable(e.cfg.Store), oneLine(err.Error()))
			return nil // what follows says what is not saved
		}
		fmt.Fprintf(e.stderr, "calm %s: %s names %s, where there was no store: a new one is made there (if you meant an existing store, check the path)\n", name, by, printable(e.cfg.Store))
		return nil
	}
	return usageError("no store at %s, which %s names: nothing was ever recorded there, so nothing is made; check the path (without it, calm uses %s)", printable(e.cfg.Store), by, printable(e.cfg.storeOtherwise))
}

// storesBeside lists the bbolt files in path's folder other than path.
func storesBeside(path string) []string {
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		return nil
	}
	var stores []string
	for _, en := range entries {
		other := filepath.Join(filepath.Dir(path), en.Name())
		if !en.Type().IsRegular() || other == path {
			continue
		}
		f, err := os.Open(other)
		if err != nil {
			continue
		}
		var head [20]byte
		n, _ := io.ReadFull(f, head[:])
		f.Close()
		// A bbolt file begins with its meta page: its magic after the
		// page's 16-byte header.
		if n == len(head) && binary.LittleEndian.Uint32(head[16:]) == 0xED0CDAED {
			stores = append(stores, other)
		}
	}
	return stores
}

func wrapCommandError(name string, err error) error {
	if err == nil {
		return nil
	}
	return &commandError{name, err}
}

// cmdDefault is calm alone: the TUI in a terminal, the status in a script.
func cmdDefault(e *env, args []string) error {
	if isTerminal(e.stdout) && isTerminal(e.stdin) {
		return cmdUI(e, nil)
	}
	return cmdStatus(e, nil)
}

const (
	groupCapture  = "capture"
	groupIncident = "incident"
	groupRead     = "read"
	groupSafe     = "safe"
)

// tree is calm's command line: every command, its flags and its help.
func (r *runner) tree() *cobra.Command {
	root := &cobra.Command{
		Use:   "calm",
		Short: "a black box and a calm checklist for on-call responders",
		Long: `calm: a black box and a calm checklist for on-call responders.

calm alone opens the TUI on the current incident (in a script: the status).
The store lives in $XDG_DATA_HOME/calm (set CALM_HOME to move it); the config
in $XDG_CONFIG_HOME/calm/config.toml. Every command starts the agent if needed.`,
		Version:       fmt.Sprintf("%s (store schema %d)", Version, model.SchemaVersion),
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          unknownCommand,
		RunE:          func(c *cobra.Command, args []string) error { return r.run(c, cmdDefault, args) },
	}
	root.SetVersionTemplate("calm {{.Version}}\n")
	root.SetFlagErrorFunc(flagError)
	root.PersistentFlags().StringVar(&r.global.store, "store", "", "the bbolt store file")
	root.PersistentFlags().StringVar(&r.global.config, "config", "", "the config file")
	root.PersistentFlags().StringArrayVar(&r.global.mirrors, "mirror", nil, "a folder (or s3://) that gets a verified copy of every capture; repeat for more")
	root.PersistentFlags().BoolVar(&r.global.defaults, "default-settings", false, "read no config file")
	root.PersistentFlags().MarkHidden("default-settings")
	root.AddGroup(
		&cobra.Group{ID: groupCapture, Title: "Capture:"},
		&cobra.Group{ID: groupIncident, Title: "Incidents:"},
		&cobra.Group{ID: groupRead, Title: "Read and look back:"},
		&cobra.Group{ID: groupSafe, Title: "Keep it safe:"},
	)

	incident := &cobra.Command{
		Use:     "incident",
		Short:   "open, list, use (make current), close and reopen incidents",
		GroupID: groupIncident,
		Args:    unknownCommand,
		RunE: func(c *cobra.Command, args []string) error {
			return usageError("say what to do: %s (see 'calm incident --help')", strings.Join(subcommandNames(c), ", "))
		},
	}
	list := r.command("", "list incidents (* marks the current one)", cmdIncidentList)
	list.Aliases = []string{"ls"}
	incident.AddCommand(
		r.command("", "open an incident and make it current", cmdIncidentNew),
		list,
		r.command("", "make an incident current (any unique prefix works)", cmdIncidentUse),
		r.command("", "close an incident (default: the current one)", cmdIncidentClose),
		r.command("", "open a closed incident again and make it current", cmdIncidentReopen),
	)

	agentCmd := r.command(groupSafe, "run the agent (the store's owner) in the foreground; or see, stop or restart it", cmdAgent)
	agentCmd.Args = unknownCommand
	agentCmd.AddCommand(
		r.command("", "say whether an agent runs for this store, its pid and its mirrors", cmdAgentStatus),
		r.command("", "stop the agent (it finishes what it holds); the next command starts one", cmdAgentStop),
		r.command("", "stop the agent and start one with this command's settings (--mirror, the config)", cmdAgentRestart),
	)

	root.AddCommand(
		r.command(groupCapture, "record a shell (default $SHELL) in a PTY, like script(1)", cmdShell),
		r.command(groupCapture, "save a tmux pane's whole scrollback as a capture", cmdSnap),
		r.command(groupCapture, "in tmux: save this pane's scrollback, record its output, open calm beside it", cmdSplit),
		r.command(groupCapture, "copy stdin to stdout unchanged, and save it as a capture", cmdTee),
		r.command(groupCapture, "save the clipboard as a capture (-o ID: a capture to the clipboard)", cmdClip),
		r.command(groupCapture, "bring an asciinema recording (asciicast v2 or v3) in as a session", cmdImport),
		incident,
		r.command(groupIncident, "add a note to the current incident's timeline", cmdNote),
		r.command(groupIncident, "tick the current checklist step, and say which comes next (a step still waiting needs --anyway, and says so)", cmdTick),
		r.command(groupIncident, "take back the last step ticked (the timeline keeps both)", cmdUntick),
		r.command(groupIncident, "the checklist: every step, when it was ticked and by whom, and what the current one asks", cmdSteps),
		r.command(groupIncident, "move a capture into another incident, with its copies", cmdMove),
		r.command(groupRead, "an incident (default: the current one) and its captures' copies", cmdStatus),
		r.command(groupRead, "an incident's timeline (default: the current one), one event a line", cmdTimeline),
		r.command(groupRead, "the TUI: captures, viewer, checklist, copies ('?' lists its keys)", cmdUI),
		r.command(groupRead, "the TUI read-only, timeline first, for the look back (or a pulled bundle)", cmdReview),
		r.command(groupRead, "print a capture (c3, or INCIDENT/c3); --raw skips sanitising", cmdShow),
		r.command(groupRead, "search every capture as grep does (RE2; -F literal, -i -w -v -c -l -h -m -A -B -C)", cmdSearch),
		r.command(groupRead, "write an incident as txt, json, md (the postmortem draft), html, cast or bundle (redacted)", cmdExport),
		r.command(groupSafe, "read back and hash every copy; exit 1 on any mismatch (or: verify BUNDLE.tar.gz)", cmdVerify),
		r.command(groupSafe, "check the store, the agent, the copies and the tools; copy out a damaged store", cmdDoctor),
		r.command(groupSafe, "upload the incident's bundle to the s3:// mirror, read back and checked", cmdPush),
		r.command(groupSafe, "fetch a pushed bundle, check it, keep it for 'calm review'", cmdPull),
		agentCmd,
		r.manCommand(),
		&cobra.Command{
			Use:   "version",
			Short: "print calm's version and its store schema",
			Args:  cobra.NoArgs,
			Run:   func(c *cobra.Command, _ []string) { fmt.Fprintf(r.stdout, "calm %s\n", c.Root().Version) },
		},
	)
	pipe := r.command("", "record a pane's output arriving from tmux pipe-pane (calm split runs it)", cmdPipe)
	pipe.Hidden = true
	root.AddCommand(pipe)
	for _, c := range root.Commands() {
		if c.Name() == "shell" {
			// Flags end at the command: its own flags are its own (calm shell psql -h db).
			c.Flags().SetInterspersed(false)
		}
	}
	// Made now, not at Execute, so the man page and the tests see them.
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		switch c.Name() {
		case "completion":
			c.Short = "print the shell completion script for bash, zsh, fish or powershell (see the README)"
		case "help":
			c.Short = "help about any command: calm help COMMAND"
			c.Run = nil
			c.RunE = func(_ *cobra.Command, args []string) error {
				// A mistyped topic is a usage error with a suggestion,
				// not the whole help and exit 0.
				target := root
				for i, word := range args {
					next := subcommandNamed(target, word)
					if next == nil {
						return unknownCommand(target, args[i:])
					}
					target = next
				}
				return target.Help()
			}
		}
	}
	r.addCompletions(root)
	return root
}

// subcommandNamed is c's subcommand called (or aliased) name, or nil.
func subcommandNamed(c *cobra.Command, name string) *cobra.Command {
	for _, s := range c.Commands() {
		if s.Name() == name || s.HasAlias(name) {
			return s
		}
	}
	return nil
}

// subcommandNames lists the commands under c that a person may type.
func subcommandNames(c *cobra.Command) []string {
	var names []string
	for _, s := range c.Commands() {
		if s.IsAvailableCommand() {
			names = append(names, s.Name())
		}
	}
	return names
}

// unknownCommand refuses an argument where a command was expected, naming
// the nearest ones.
func unknownCommand(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	c.SuggestionsMinimumDistance = 2
	hint := ""
	if s := closest(args[0], c.SuggestionsFor(args[0])); len(s) > 0 {
		hint = fmt.Sprintf(": did you mean %s?", quoteAll(s, " or "))
	}
	return fmt.Errorf("unknown command %q for %q%s (see '%s --help')", args[0], c.CommandPath(), hint, c.CommandPath())
}

// closest keeps the suggestions nearest to what was typed: "tik" is a tick
// mistyped, not a tee or a ui.
func closest(typed string, suggestions []string) []string {
	best := -1
	var out []string
	for _, s := range suggestions {
		d := model.EditDistance(typed, s)
		if strings.HasPrefix(s, typed) {
			d = 0 // "stat" is status cut short
		}
		switch {
		case best < 0 || d < best:
			best, out = d, []string{s}
		case d == best:
			out = append(out, s)
		}
	}
	return out
}

func quoteAll(words []string, sep string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = strconv.Quote(w)
	}
	return strings.Join(q, sep)
}

// flagError makes a flag cobra could not parse one line that says where
// help is, and names the nearest flag for a typo. For a command taking
// free text, a word like -5 was more likely text than a flag.
func flagError(c *cobra.Command, err error) error {
	hint := ""
	var invalid *pflag.InvalidValueError
	var number *strconv.NumError
	if errors.As(err, &invalid) && errors.As(err, &number) {
		// Not strconv's words: "-m abc" wants a number, and says which.
		f := invalid.GetFlag()
		name := "--" + f.Name
		if f.Shorthand != "" {
			name = "-" + f.Shorthand + "/" + name
		}
		want := "a whole number"
		switch {
		case f.Value.Type() == "bool":
			want = "true or false"
		case errors.Is(number.Err, strconv.ErrRange):
			want = "a smaller number"
		}
		return fmt.Errorf("%s %q: %s is wanted (see '%s --help')", name, invalid.GetValue(), want, c.CommandPath())
	}
	var missing *pflag.NotExistError
	if errors.As(err, &missing) {
		if group := missing.GetSpecifiedShortnames(); c.Flags().Lookup("context") != nil && group != "" && strings.Trim(group, "0123456789") == "" {
			return fmt.Errorf("%w: grep's -NUM is -C NUM here: %s -C %s ... (see '%s --help')", err, c.CommandPath(), group, c.CommandPath())
		}
		if c.Name() == "search" {
			if habit, ok := grepHabits[cmp.Or(missing.GetSpecifiedName(), missing.GetSpecifiedShortnames())]; ok {
				return fmt.Errorf("%w: %s (see '%s --help')", err, habit, c.CommandPath())
			}
		}
		if near := nearestFlag(c, missing.GetSpecifiedName()); near != "" {
			hint = fmt.Sprintf(": did you mean --%s?", near)
		} else if takesText(c) {
			return fmt.Errorf("%w (text starting with '-'? put -- before it: %s -- %s ...; see '%s --help')", err, c.CommandPath(), dashWord(missing), c.CommandPath())
		}
	}
	return fmt.Errorf("%w%s (see '%s --help')", err, hint, c.CommandPath())
}

// takesText reports whether c's arguments are words of free text: a note,
// a title.
func takesText(c *cobra.Command) bool {
	switch strings.TrimPrefix(c.CommandPath(), c.Root().Name()+" ") {
	case "note", "tee", "incident new", "snap", "clip":
		return true
	}
	return false
}

// dashWord is the word on the command line that was taken for a flag.
func dashWord(missing *pflag.NotExistError) string {
	if w := missing.GetSpecifiedShortnames(); w != "" {
		return "-" + w
	}
	return "--" + missing.GetSpecifiedName()
}

// flagHabits are flag names other tools taught people, each with the
// flags of calm's that mean the same (tmux's -t names a pane).
// grepHabits say why a grep flag calm search does not take is not needed.
var grepHabits = map[string]string{
	"P":            "patterns are grep -E's, with RE2's \\d \\w \\s (?i) on top, and no look-around: drop -P",
	"perl-regexp":  "patterns are grep -E's, with RE2's \\d \\w \\s (?i) on top, and no look-around: drop -P",
	"include":      "calm searches captures, not files: name them after the pattern (c3 INCIDENT/c4), or one incident's with --incident ID",
	"exclude":      "calm searches captures, not files: name them after the pattern (c3 INCIDENT/c4), or one incident's with --incident ID",
	"G":            "patterns are read as grep -E reads them (a|b, a+, (a)), not as grep -G does (a\\|b): drop -G",
	"basic-regexp": "patterns are read as grep -E reads them (a|b, a+, (a)), not as grep -G does (a\\|b): drop -G",
}

var flagHabits = map[string][]string{
	"pane":        {"target"},
	"target-pane": {"target"},
	"window":      {"target"},
	"file":        {"output", "out"},
	"out":         {"output"},
	"output":      {"out"},
	"session":     {"item"},
	"capture":     {"item"},
	"id":          {"item", "incident"},
}

// nearestFlag is the flag of c whose name is within two edits of typed, or
// that typed is another tool's name for.
func nearestFlag(c *cobra.Command, typed string) string {
	best, bestDistance := "", 3
	if typed == "" {
		return ""
	}
	for _, name := range flagHabits[typed] {
		if f := c.Flags().Lookup(name); f != nil && !f.Hidden {
			return name
		}
	}
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if d := model.EditDistance(typed, f.Name); d < bestDistance && !f.Hidden {
			best, bestDistance = f.Name, d
		}
	})
	return best
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
	logf := func(format string, args ...any) {
		fmt.Fprintf(e.stderr, "%s calm agent[%d]: %s\n", time.Now().UTC().Format(time.RFC3339), os.Getpid(), fmt.Sprintf(format, args...))
	}
	// A bucket mistyped in the config must not stop the store in the middle
	// of an incident: the agent starts without it, and every command says
	// why (agentLacks).
	remotes, err := e.cfg.openRemotes()
	if err != nil {
		logf("%v", err)
	}
	db, err := storage.Open(storage.Options{Path: e.cfg.Store, Mirrors: e.cfg.Mirrors, Remotes: remotes, Logf: logf})
	if err != nil {
		report(err.Error())
		return err
	}
	defer db.Close()
	a := &agent.Server{DB: db, Socket: *socket, Idle: *idle, Logf: logf, Settings: e.cfg.agentSettings()}
	l, err := a.Listen()
	if err != nil {
		report(err.Error())
		return err
	}
	logf("serving %s on %s", e.cfg.Store, *socket)
	if unname, err := agent.NameSocket(e.cfg.Store, *socket); err != nil {
		logf("clients in another runtime folder will not find this agent: %v", err)
	} else {
		defer unname()
	}
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
	fs := e.flags("status", "[INCIDENT]")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usageError("status shows one incident: calm status [INCIDENT] (default: the current one)")
	}
	inc, err := e.store.Incident(fs.Arg(0))
	if errors.Is(err, model.ErrNotFound) && fs.NArg() == 0 {
		if c, ok := e.store.(*agent.Client); ok && c.Warning() != "" {
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
	if st, facts, err := checklist.Progress(e.store, inc.ID, e.checklists(false)); err == nil {
		fmt.Fprintln(e.stdout, checklistLine(st, facts, time.Now()))
	} else {
		fmt.Fprintf(e.stdout, "checklist: %s\n", oneLine(err.Error()))
	}
	printCaptures(e.stdout, caps, e.cfg.CopiesRequired, e.cfg.DevicesRequired)
	return nil
}

func incidentState(inc model.Incident) string {
	if inc.IsOpen() {
		return "open since " + inc.Opened.Format("2006-01-02 15:04:05 UTC")
	}
	return "closed " + inc.Closed.Format("2006-01-02 15:04:05 UTC")
}

func printCaptures(w io.Writer, caps []model.Capture, copiesRequired, devicesRequired int) {
	for _, c := range caps {
		sum := "-"
		if len(c.SHA256) >= 12 {
			sum = c.SHA256[:12]
		}
		copies := fmt.Sprintf("%d/%d copies verified on %s", c.VerifiedCopies(), len(c.Copies), plural(c.Devices(), "device"))
		if c.State == model.CaptureSealed && (c.VerifiedCopies() < copiesRequired || c.Devices() < devicesRequired) {
			var short []string
			if c.VerifiedCopies() < copiesRequired {
				short = append(short, fmt.Sprintf("%d verified of the %d copies required", c.VerifiedCopies(), copiesRequired))
			}
			if c.Devices() < devicesRequired {
				short = append(short, fmt.Sprintf("on %d of the %d devices required", c.Devices(), devicesRequired))
			}
			copies += fmt.Sprintf(" (WARNING: %s: 'calm verify' names what failed)", strings.Join(short, ", "))
		}
		if c.Partial() {
			copies = "INTERRUPTED: " + c.Interrupted + "; partial; " + copies
		}
		if c.State != model.CaptureSealed {
			copies = "UNSEALED: still being written; its size and copies come when it ends (sealed by the agent if its writer dies)"
			if c.Waiting != "" {
				copies = "UNSEALED: " + c.Waiting
			}
			if c.Streaming {
				copies = "STREAMING: calm tee is still writing it; its size and copies come when it ends"
				if c.SoFar > 0 {
					copies = "STREAMING: calm tee is still writing it (its size so far); its copies are made when it ends"
				}
			}
			if c.Recording != nil {
				copies = "still recording: its journal holds what it recorded; copies when it ends"
			}
			if c.Recording != nil && c.Recording.JournalSize > 0 {
				copies = fmt.Sprintf("recorded (%s journal), being stored and checked", humanBytes(c.Recording.JournalSize))
			}
		}
		if c.Warning != "" {
			copies += "; WARNING: " + c.Warning
		}
		n, _ := c.SizeSoFar() // its size comes at the seal
		size := humanBytes(n)
		fmt.Fprintf(w, "  %-5s %-8s %10s  sha256 %s  %s  %s\n", c.ID, printable(c.Source), size, sum, printable(copies), printable(c.Title))
	}
}

// plural says "1 device" or "3 devices".
func plural(n int, noun string) string { return model.Plural(n, noun) }

// isAre says "1 capture is" or "3 captures are".
func isAre(n int, noun string) string { return model.IsAre(n, noun) }

// doDoes says "1 file does" or "3 files do".
func doDoes(n int, noun string) string {
	if n == 1 {
		return plural(n, noun) + " does"
	}
	return plural(n, noun) + " do"
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
