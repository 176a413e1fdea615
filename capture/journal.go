// Package capture turns the outside world into bytes for the store: the PTY
// recorder and its asciicast journal, tmux scrollback and live pane output,
// and destructive-command markers.
package capture

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// Journal is a recorder's own asciicast v2 file: an independent copy of the
// session that asciinema can replay, written in the same pass as the output
// reaches the terminal. The store's copy of the session is this file's bytes.
type Journal struct {
	mu      sync.Mutex
	f       *os.File
	start   time.Time
	carry   []byte // the start of a rune cut at the end of the last write
	size    int64  // bytes written so far
	lastAt  float64
	line    []byte      // reused for each event
	pending []byte      // events not yet written to the file
	timer   *time.Timer // writes pending events soon after the first
	werr    error       // the first write error
}

// Output arrives in small reads; writing each as its own event line cost
// a system call per read. Events wait at most journalDelay, or until
// journalBatch bytes are waiting, and then go out in one write.
const (
	journalDelay = 5 * time.Millisecond
	journalBatch = 128 << 10
)

// Header is the first line of an asciicast v2 file.
type Header struct {
	Version   int               `json:"version"`
	Width     int               `json:"width"`
	Height    int               `json:"height"`
	Timestamp int64             `json:"timestamp"`
	Title     string            `json:"title,omitempty"`
	Env       map[string]string `json:"env,omitempty"`
}

// CreateJournal starts a journal file (0600, in a 0700 folder).
func CreateJournal(path string, h Header, start time.Time) (*Journal, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create journal folder: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create journal: %w", err)
	}
	h.Version = 2
	h.Timestamp = start.Unix()
	line, _ := json.Marshal(h)
	j := &Journal{f: f, start: start}
	if err := j.writeLine(append(line, '\n')); err != nil {
		f.Close()
		return nil, err
	}
	return j, nil
}

func (j *Journal) writeLine(line []byte) error {
	if j.werr != nil {
		return j.werr
	}
	j.pending = append(j.pending, line...)
	if len(j.pending) >= journalBatch {
		return j.flushLocked()
	}
	if j.timer == nil {
		j.timer = time.AfterFunc(journalDelay, func() {
			j.mu.Lock()
			defer j.mu.Unlock()
			j.flushLocked()
		})
	} else {
		j.timer.Reset(journalDelay)
	}
	return nil
}

// flushLocked writes the pending events; j.mu is held.
func (j *Journal) flushLocked() error {
	if len(j.pending) == 0 || j.f == nil {
		return j.werr
	}
	n, err := j.f.Write(j.pending)
	j.size += int64(n)
	j.pending = j.pending[:0]
	if err != nil && j.werr == nil {
		j.werr = fmt.Errorf("write journal %s: %w", j.f.Name(), err)
	}
	return j.werr
}

// Path is the journal's file.
func (j *Journal) Path() string { return j.f.Name() }

// Size is how many bytes the journal holds.
func (j *Journal) Size() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.size
}

// At is the time of the last event written, in seconds since the start.
func (j *Journal) At() float64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.lastAt
}

func (j *Journal) elapsed(now time.Time) float64 {
	at := now.Sub(j.start).Seconds()
	// Rounded to microseconds like asciinema, and never going backwards.
	at, _ = strconv.ParseFloat(strconv.FormatFloat(at, 'f', 6, 64), 64)
	if at < j.lastAt {
		at = j.lastAt
	}
	j.lastAt = at
	return at
}

// Output records terminal output. A multi-byte character split between two
// reads waits for its end, so the JSON string holds whole characters; bytes
// that are not UTF-8 at all become U+FFFD, as asciicast requires text.
func (j *Journal) Output(p []byte, now time.Time) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.carry) > 0 {
		p = append(j.carry, p...)
		j.carry = nil
	}
	if cut := incompleteTail(p); cut > 0 {
		j.carry = append([]byte(nil), p[len(p)-cut:]...)
		p = p[:len(p)-cut]
	}
	if len(p) == 0 {
		return nil
	}
	return j.event(now, "o", p)
}

// Resize records a new terminal size.
func (j *Journal) Resize(cols, rows int, now time.Time) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.event(now, "r", fmt.Appendf(nil, "%dx%d", cols, rows))
}

// Marker records an asciicast marker.
func (j *Journal) Marker(label string, now time.Time) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.event(now, "m", []byte(label))
}

func (j *Journal) event(now time.Time, kind string, data []byte) error {
	at := j.elapsed(now)
	line := j.line[:0]
	line = append(line, '[')
	line = strconv.AppendFloat(line, at, 'f', 6, 64)
	line = append(line, `, "`...)
	line = append(line, kind...)
	line = append(line, `", `...)
	line = appendJSONString(line, data)
	line = append(line, "]\n"...)
	j.line = line
	return j.writeLine(line)
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as JSON, as asciinema does (no HTML escaping),
// without encoding/json's reflection: the recorder does this for every read.
func appendJSONString(dst []byte, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b >= 0x20 && b != '"' && b != '\\' && b < utf8.RuneSelf {
			i++
			continue
		}
		if b >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		dst = append(dst, s[start:i]...)
		switch b {
		case '"':
			dst = append(dst, `\"`...)
		case '\\':
			dst = append(dst, `\\`...)
		case '\n':
			dst = append(dst, `\n`...)
		case '\r':
			dst = append(dst, `\r`...)
		case '\t':
			dst = append(dst, `\t`...)
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// Close writes out a character still waiting for its end and closes the file.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.carry) > 0 {
		j.event(time.Now(), "o", j.carry)
		j.carry = nil
	}
	if j.timer != nil {
		j.timer.Stop()
	}
	if err := j.flushLocked(); err != nil {
		j.f.Close()
		return err
	}
	if err := j.f.Sync(); err != nil {
		j.f.Close()
		return err
	}
	return j.f.Close()
}

// incompleteTail is how many bytes at the end of p begin a UTF-8 character
// that is not complete yet.
func incompleteTail(p []byte) int {
	for i := 1; i <= min(utf8.UTFMax-1, len(p)); i++ {
		b := p[len(p)-i]
		if utf8.RuneStart(b) {
			if b >= 0xC0 && !utf8.FullRune(p[len(p)-i:]) {
				return i
			}
			return 0
		}
	}
	return 0
}
