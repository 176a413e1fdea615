package capture

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"calm/model"
	"calm/terminal"
)

// The shell always runs. When its journal cannot be written (a full disk, a
// read-only folder), calm shell goes on without recording, says so in one
// line, and tries again every retryRecording: once a journal can be made, a
// new session starts there. A journal that fails midway is closed and its
// session sealed with what it holds; nothing calm could not record is
// claimed as recorded.

// retryRecording is how often a shell that is not recording tries again.
const retryRecording = 5 * time.Second

// part is one journal and its session in the store.
type part struct {
	j    *Journal
	st   *recording
	path string
	cut  string // why the journal ended before the shell did
}

// journalCut says why a journal that failed ended early; "" if it did not.
func journalCut(j *Journal) string {
	if !j.Failed() {
		return ""
	}
	return fmt.Sprintf("the journal could not be written (%s); output after that is not in this session", oneLine(j.Err().Error()))
}

// live is the recording a shell makes: the part it records into now, if
// any. The read loop owns cur; copyInput and the signal handler read it
// under mu.
type live struct {
	o          ShellOptions
	title      string
	host       string
	cols, rows int

	mu      sync.Mutex
	cur     *part
	done    []part // parts ended, to be finished
	lastTry time.Time
	lastErr error
	// unrecordedFrom is when output stopped being recorded (no journal
	// could be made, or one failed), and why: the session that records
	// again carries the gap as its warning.
	unrecordedFrom time.Time
	unrecordedWhy  string
}

// begin makes a journal and its session, or says why it could not.
func (l *live) begin(now time.Time) error {
	l.lastTry = now
	l.mu.Lock()
	cols, rows := l.cols, l.rows
	l.mu.Unlock()
	path := filepath.Join(l.o.JournalDir, fmt.Sprintf("%s-%d.cast", now.UTC().Format("20060102T150405Z"), os.Getpid()))
	j, err := CreateShownJournal(path, terminal.Header{Width: cols, Height: rows, Title: l.title,
		Env: map[string]string{"SHELL": os.Getenv("SHELL"), "TERM": os.Getenv("TERM")}}, now)
	if err == nil && j.ShownErr() != nil {
		fmt.Fprintf(l.o.Stderr, "calm: if calm is killed, the last output it showed may be missing from the session: %s\r\n", oneLine(j.ShownErr().Error()))
	}
	if err != nil {
		if !errors.Is(err, fs.ErrExist) {
			os.Remove(path) // a header cut short by a full disk
		}
		l.lastErr = err
		if l.unrecordedFrom.IsZero() {
			l.unrecordedFrom, l.unrecordedWhy = now, oneLine(err.Error())
		}
		return err
	}
	rec := &model.Recording{Command: strings.Join(l.o.Command, " "), Host: l.host, User: os.Getenv("USER"), Cols: cols, Rows: rows, Journal: path, Recorder: os.Getpid(), Start: now}
	nc := model.NewCapture{Title: l.title, Source: model.SourceSession, Recording: rec}
	if !l.unrecordedFrom.IsZero() {
		// The session alone would look like the whole of the shell's output.
		nc.Warning = fmt.Sprintf("the shell's output from %s to %s UTC, before this session, was NOT recorded (%s)",
			l.unrecordedFrom.UTC().Format("15:04:05"), now.UTC().Format("15:04:05"), l.unrecordedWhy)
		l.unrecordedFrom, l.unrecordedWhy = time.Time{}, ""
	}
	st := newRecording(l.o.Store, l.o.Incident, nc)
	go st.run() // makes the session in the store, however long the agent takes
	l.mu.Lock()
	l.cur = &part{j: j, st: st, path: path}
	l.mu.Unlock()
	l.lastErr = nil
	return nil
}

// current is the part being recorded into, or nil.
func (l *live) current() *part {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cur
}

// recording is the part that output at now goes to, if any: it notices a
// failed journal and, while not recording, tries again now and then. Only
// the read loop calls it.
func (l *live) recording(now time.Time) *part {
	cur := l.cur
	if cur != nil && cur.j.Failed() {
		fmt.Fprintf(l.o.Stderr, "\r\ncalm: NOT RECORDING from %s: the journal failed (%s); the session keeps what was written before; trying again every %s\r\n",
			now.Format("15:04:05"), oneLine(cur.j.Err().Error()), retryRecording)
		cur.cut = fmt.Sprintf("the journal could not be written from %s (%s); output after that is not in this session", now.Format("15:04:05"), oneLine(cur.j.Err().Error()))
		l.unrecordedFrom, l.unrecordedWhy = now, oneLine(cur.j.Err().Error())
		l.stop()
		l.lastTry = now
		cur = nil
	}
	if cur == nil {
		if now.Sub(l.lastTry) < retryRecording || l.begin(now) != nil {
			return nil
		}
		cur = l.cur
		fmt.Fprintf(l.o.Stderr, "\r\ncalm: recording again from %s into a new session (journal %s); the output before it was not recorded\r\n", now.Format("15:04:05"), cur.path)
	}
	return cur
}

// stop ends the current part, if any, for finishing later.
func (l *live) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cur != nil {
		l.done = append(l.done, *l.cur)
		l.cur = nil
	}
}
