package ui

import (
	"bytes"
	"context"
	"sort"
	"sync"
	"time"

	"calm/model"
	"calm/terminal"
)

// Doc is what the viewer shows: the derived lines of a capture or session
// (text with SGR sequences only), packed in blocks with their ends, so a
// million lines cost their text and eight bytes each. Blocks are never
// moved or grown: a document of hundreds of MiB is not copied again each
// time it doubles. A session's lines also carry the time they began. A
// loader appends while the viewer draws.
type Doc struct {
	mu     sync.RWMutex
	blocks [][]byte // filled in order; a line never spans two
	// Line ends count in one numbering where block k begins at base[k]
	// (after the room left at the end of the blocks before it); first[k] is
	// block k's first line.
	base  []int
	first []int
	ends  []int
	times []float32 // seconds from Start, for sessions
	// tail holds the lines still on the recorded screen (a live session's
	// last screenful), which may yet change; they follow the finished ones.
	tail      [][]byte
	tailTimes []float64 // when each tail line began: a live line has its own time

	Title string
	Item  string    // incident/item reference, empty for derived docs
	Start time.Time // when a session began; zero for captures
	timed bool

	done   bool
	err    error
	loaded int64 // raw bytes read from the store so far
	gen    int   // bumped on every change, so views know to redraw
}

// NewDoc returns an empty document; lines are added with Append.
func NewDoc(title string) *Doc { return &Doc{Title: title} }

// DocFromText builds a finished document from plain text.
func DocFromText(title string, text []byte) *Doc {
	d := NewDoc(title)
	e := terminal.NewEmulator(0, 0, func(line []byte, _ float64) { d.Append(line, 0) })
	e.Write(text)
	e.Close()
	d.Finish(nil)
	return d
}

// Len is the number of lines, the live tail included.
func (d *Doc) Len() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.ends) + len(d.tail)
}

// Line returns line i with its SGR sequences. The slice must not be kept
// past the next Append.
func (d *Doc) Line(i int) []byte {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.line(i)
}

func (d *Doc) line(i int) []byte {
	if i < 0 {
		return nil
	}
	if i >= len(d.ends) {
		if i-len(d.ends) < len(d.tail) {
			return d.tail[i-len(d.ends)]
		}
		return nil
	}
	k := sort.SearchInts(d.first, i+1) - 1 // the last block that begins at or before line i
	start := d.base[k]
	if i > d.first[k] {
		start = d.ends[i-1]
	}
	from, to := start-d.base[k], d.ends[i]-d.base[k]
	return d.blocks[k][from:to:to]
}

// Plain returns line i without styles, as a new string.
func (d *Doc) Plain(i int) string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return string(terminal.PlainText(d.line(i)))
}

// Time returns when line i began, for a session; ok is false otherwise.
func (d *Doc) Time(i int) (time.Time, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if !d.timed || i < 0 {
		return time.Time{}, false
	}
	if k := i - len(d.times); k >= 0 && k < len(d.tailTimes) {
		return d.Start.Add(time.Duration(d.tailTimes[k] * float64(time.Second))), true
	}
	if i >= len(d.times) {
		i = len(d.times) - 1
		if i < 0 {
			return d.Start, true
		}
	}
	return d.Start.Add(time.Duration(float64(d.times[i]) * float64(time.Second))), true
}

// LineAt returns the first line that began at or after t, the live tail
// included.
func (d *Doc) LineAt(t time.Time) int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	off := t.Sub(d.Start).Seconds()
	return d.lineFrom(func(at float32) bool { return at >= float32(off) }, func(at float64) bool { return at >= off })
}

// LineAfter returns the first line that began after t, the live tail
// included.
func (d *Doc) LineAfter(t time.Time) int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	off := t.Sub(d.Start).Seconds()
	return d.lineFrom(func(at float32) bool { return at > float32(off) }, func(at float64) bool { return at > off })
}

// lineFrom is the first line whose time is past (finished lines are in time
// order, kept as float32 and compared so, tail lines as float64); d.mu is
// held. The live tail, one screen at most, is searched line by line: a
// cursor move can have begun its lines out of order.
func (d *Doc) lineFrom(past func(at float32) bool, tailPast func(at float64) bool) int {
	lo, hi := 0, len(d.times)
	for lo < hi {
		m := (lo + hi) / 2
		if !past(d.times[m]) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(d.times) {
		return lo
	}
	for k, at := range d.tailTimes {
		if tailPast(at) {
			return len(d.times) + k
		}
	}
	return len(d.times) + len(d.tailTimes)
}

// Append adds a finished line.
func (d *Doc) Append(line []byte, at float64) {
	d.mu.Lock()
	d.appendLocked(line, at)
	d.mu.Unlock()
}

// Blocks begin small (most documents are) and double up to docBlock; a
// longer line has a block of its own size.
const (
	firstDocBlock = 64 << 10
	docBlock      = 4 << 20
)

func (d *Doc) appendLocked(line []byte, at float64) {
	k := len(d.blocks) - 1
	if k < 0 || len(d.blocks[k])+len(line) > cap(d.blocks[k]) {
		size, base := firstDocBlock, 0
		if k >= 0 {
			size = min(2*cap(d.blocks[k]), docBlock)
			base = d.base[k] + cap(d.blocks[k])
		}
		d.blocks = append(d.blocks, make([]byte, 0, max(size, len(line))))
		d.base = append(d.base, base)
		d.first = append(d.first, len(d.ends))
		k++
	}
	d.blocks[k] = append(d.blocks[k], line...)
	d.ends = append(d.ends, d.base[k]+len(d.blocks[k]))
	if d.timed {
		d.times = append(d.times, float32(at))
	}
	d.gen++
}

// Finish marks the document complete (or failed).
func (d *Doc) Finish(err error) {
	d.mu.Lock()
	d.done, d.err = true, err
	d.gen++
	d.mu.Unlock()
}

// State reports whether loading has ended, a generation number that
// changes whenever the document does, and the loading error.
func (d *Doc) State() (done bool, gen int, err error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.done, d.gen, d.err
}

// Text returns lines [from, to] as plain text, one per line.
func (d *Doc) Text(from, to int) []byte {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var b bytes.Buffer
	for i := from; i <= to && i < len(d.ends)+len(d.tail); i++ {
		b.Write(terminal.PlainText(d.line(i)))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// docLoader feeds a capture's bytes from the store through the emulator into
// a Doc, in batches, and can be asked again later for what is new (a live
// session).
type docLoader struct {
	loading  sync.Mutex // one load at a time
	notify   func()     // asks for a redraw as lines arrive
	lastNote time.Time
	doc      *Doc
	emu      *terminal.Emulator
	cast     *terminal.CastReader // nil for captures
	// batch collects lines outside the lock, so drawing never waits long.
	batch      []byte
	batchEnds  []int
	batchTimes []float64
}

func newDocLoader(c model.Capture) *docLoader {
	title := c.ID + "  " + c.Title
	if c.Partial() {
		title += "  (INTERRUPTED: partial)" // the viewer says it, not only the copies pane
	}
	d := NewDoc(title)
	d.Item = c.Incident + "/" + c.ID
	l := &docLoader{doc: d}
	cols, rows := 0, 0
	if c.Recording != nil {
		cols, rows = c.Recording.Cols, c.Recording.Rows
		d.Start, d.timed = c.Created, true
	}
	precise := c.Recording != nil && !c.Recording.Start.IsZero()
	if precise {
		d.Start = c.Recording.Start // the header has whole seconds only
	}
	l.emu = terminal.NewEmulator(cols, rows, l.collect)
	if c.Recording != nil {
		l.emu = terminal.NewSessionEmulator(cols, rows, l.collect) // a line feed is only a line feed
		l.cast = &terminal.CastReader{
			Header: func(h terminal.Header) {
				if h.Timestamp > 0 && !precise {
					d.Start = time.Unix(h.Timestamp, 0)
				}
				l.emu.Resize(h.Width, h.Height)
			},
			EventBytes: func(at float64, kind string, data []byte) {
				switch kind {
				case "o":
					l.emu.SetTime(at)
					l.emu.Write(data)
				case "r":
					if cols, rows, ok := terminal.ParseSize(string(data)); ok {
						l.emu.Resize(cols, rows)
					}
				}
			},
		}
	}
	return l
}

func (l *docLoader) collect(line []byte, at float64) {
	l.batch = append(l.batch, line...)
	l.batchEnds = append(l.batchEnds, len(l.batch))
	l.batchTimes = append(l.batchTimes, at)
	if len(l.batch) >= 1<<20 || len(l.batchEnds) >= 4096 {
		l.publish()
	}
}

// publish moves the batch into the document.
func (l *docLoader) publish() {
	d := l.doc
	d.mu.Lock()
	start := 0
	for i, end := range l.batchEnds {
		d.appendLocked(l.batch[start:end], l.batchTimes[i])
		start = end
	}
	d.mu.Unlock()
	l.batch, l.batchEnds, l.batchTimes = l.batch[:0], l.batchEnds[:0], l.batchTimes[:0]
	if l.notify != nil && time.Since(l.lastNote) > 50*time.Millisecond {
		l.lastNote = time.Now()
		l.notify()
	}
}

// Write takes raw bytes from the store.
func (l *docLoader) Write(p []byte) (int, error) {
	if l.cast != nil {
		l.cast.Write(p)
	} else {
		l.emu.Write(p)
	}
	l.doc.mu.Lock()
	l.doc.loaded += int64(len(p))
	l.doc.mu.Unlock()
	return len(p), nil
}

// load reads what the store has beyond what was read before. When final,
// the emulator's screen is flushed into finished lines; otherwise it is
// shown as the document's tail.
func (l *docLoader) load(ctx context.Context, s model.Store, final bool) error {
	l.doc.mu.RLock()
	from := l.doc.loaded
	l.doc.mu.RUnlock()
	err := s.WriteContent(ctx, l.doc.Item, from, l)
	if final {
		if l.cast != nil {
			l.cast.Close()
		}
		l.emu.Close()
		l.publish()
		l.doc.mu.Lock()
		l.doc.tail, l.doc.tailTimes = nil, nil
		l.doc.mu.Unlock()
		l.doc.Finish(err)
		return err
	}
	l.publish()
	var tail [][]byte
	var times []float64
	l.emu.Screen(func(line []byte, at float64) {
		tail = append(tail, bytes.Clone(line))
		times = append(times, at)
	})
	l.doc.mu.Lock()
	l.doc.tail, l.doc.tailTimes = tail, times
	l.doc.gen++
	l.doc.mu.Unlock()
	return err
}
