// Package scratch keeps calm's temporary files and folders: a bundle being
// staged, a bundle unpacked for review, an export not yet renamed into
// place, a note in the editor. They hold captured output, so they are
// private (0700 folders, 0600 files) while they exist, and removed when calm
// is done with them: on success, on error, and when SIGINT, SIGTERM or
// SIGHUP stops calm, which Go's default action for those signals would not
// do.
//
// While anything is held (or a hook waits to say something), this package
// catches those three signals: it runs the hooks, removes what is held and
// leaves with 128+the signal's number. A signal the process was started
// with ignored (nohup's SIGHUP, SIGINT for a shell script's background job)
// stays ignored. Commands that stop gracefully on a signal (tee, snap, clip)
// hold nothing here.
package scratch

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"calm/model"
)

// Path is a temporary file or folder that a signal removes until Remove or
// Keep lets it go.
type Path struct {
	name string
}

// Name is the path of the file or folder.
func (p *Path) Name() string { return p.name }

var (
	mu       sync.Mutex
	held     = map[*Path]bool{}
	hooks    = map[*int]func(os.Signal){}
	signals  chan os.Signal
	watching bool
)

// caught are the signals that would end calm without a word and without
// its deferred cleanup, less those it was started with ignored: read
// before anything asks for a signal, which would make it no longer ignored.
var caught = notIgnored(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)

func notIgnored(signals ...os.Signal) []os.Signal {
	var out []os.Signal
	for _, s := range signals {
		if !signal.Ignored(s) {
			out = append(out, s)
		}
	}
	return out
}

// MkdirTemp makes a private folder (0700) in dir, as os.MkdirTemp does (dir
// "" is the temp folder, TMPDIR), held from before it exists.
func MkdirTemp(dir, pattern string) (*Path, error) {
	mu.Lock()
	defer mu.Unlock()
	// Held under the lock: a signal waits for the folder to have a name,
	// so none comes between its making and its holding.
	name, err := os.MkdirTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(name, 0o700); err != nil {
		os.Remove(name)
		return nil, err
	}
	return holdLocked(name), nil
}

// MkdirTempSwept is MkdirTemp for a folder named prefix, this process's
// pid and a random tail, made after removing the folders of that prefix
// whose process has ended: what a calm killed with SIGKILL (which no
// handler sees) left behind goes at the next run that makes one.
func MkdirTempSwept(dir, prefix string) (*Path, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, prefix+"p*-*"))
	for _, left := range leftovers {
		pidText, _, ok := strings.Cut(strings.TrimPrefix(filepath.Base(left), prefix+"p"), "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid <= 0 {
			continue
		}
		// Gone, or a zombie its parent has not reaped yet: it runs no more.
		if _, alive := model.ProcessStart(pid); !alive {
			os.RemoveAll(left)
		}
	}
	return MkdirTemp(dir, fmt.Sprintf("%sp%d-", prefix, os.Getpid()))
}

// CreateTemp makes a private file (0600) in dir, as os.CreateTemp does
// (dir "" is the temp folder), held from before it exists.
func CreateTemp(dir, pattern string) (*os.File, *Path, error) {
	mu.Lock()
	defer mu.Unlock()
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, nil, err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, nil, err
	}
	return f, holdLocked(f.Name()), nil
}

// Hold makes a signal remove name, a file or folder the caller made, until
// Remove or Keep.
func Hold(name string) *Path {
	mu.Lock()
	defer mu.Unlock()
	return holdLocked(name)
}

func holdLocked(name string) *Path {
	p := &Path{name: name}
	held[p] = true
	watchLocked()
	return p
}

// Remove removes the file or folder with all it holds, and lets it go.
// Removing what is already gone is not an error.
func (p *Path) Remove() error {
	if p == nil {
		return nil
	}
	mu.Lock()
	defer mu.Unlock()
	// Under the lock: a signal meanwhile waits, then finds it gone.
	err := os.RemoveAll(p.name)
	delete(held, p)
	unwatchLocked()
	return err
}

// Keep lets the path go without removing it: it was renamed into place,
// or it is kept on purpose.
func (p *Path) Keep() {
	if p == nil {
		return
	}
	mu.Lock()
	defer mu.Unlock()
	delete(held, p)
	unwatchLocked()
}

// OnSignal runs say (to clear a progress bar and say what stopped) when one
// of the signals comes, before what is held is removed and calm leaves.
// stop takes it back. say must not call this package.
func OnSignal(say func(os.Signal)) (stop func()) {
	mu.Lock()
	defer mu.Unlock()
	key := new(int)
	hooks[key] = say
	watchLocked()
	var once sync.Once
	return func() {
		once.Do(func() {
			mu.Lock()
			defer mu.Unlock()
			delete(hooks, key)
			unwatchLocked()
		})
	}
}

// Exit removes everything held and leaves with code: for the places that
// leave at once on a signal of their own.
func Exit(code int) {
	mu.Lock()
	removeLocked()
	os.Exit(code)
}

func removeLocked() {
	for p := range held {
		os.RemoveAll(p.name)
		delete(held, p)
	}
}

func watchLocked() {
	if watching {
		return
	}
	watching = true
	signals = make(chan os.Signal, 1)
	if len(caught) == 0 {
		return
	}
	signal.Notify(signals, caught...)
	go leaveOn(signals)
}

func unwatchLocked() {
	if !watching || len(held) > 0 || len(hooks) > 0 {
		return
	}
	watching = false
	signal.Stop(signals)
	close(signals)
}

// leaveOn waits for a signal on c until c is closed.
func leaveOn(c chan os.Signal) {
	s, ok := <-c
	if !ok {
		return
	}
	// The lock is kept to the end: nothing new is made, and nothing held
	// is let go half-removed, once calm is leaving.
	mu.Lock()
	for _, say := range hooks {
		say(s)
	}
	removeLocked()
	code := 1
	if n, ok := s.(syscall.Signal); ok {
		code = 128 + int(n)
	}
	os.Exit(code)
}
