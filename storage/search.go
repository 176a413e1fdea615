package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"

	"calm/model"

	bolt "go.etcd.io/bbolt"
)

// errStop ends a search early without being an error.
var errStop = errors.New("stop")

// errCaptureDone ends one capture's search (SearchQuery.PerCapture), not the whole.
var errCaptureDone = errors.New("enough lines from this capture")

// MaxLine caps how much of one line is kept for matching; a longer line is
// matched on its first MaxLine bytes.
const MaxLine = 16 << 20

// lineScanner splits a stream of chunks into numbered lines.
type lineScanner struct {
	partial []byte
	line    int64
	emit    func(line int64, text []byte) error
}

func (s *lineScanner) write(data []byte) error {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			if room := MaxLine - len(s.partial); room > 0 {
				s.partial = append(s.partial, data[:min(room, len(data))]...)
			}
			return nil
		}
		text := data[:i]
		if len(s.partial) > 0 {
			if room := MaxLine - len(s.partial); room > 0 {
				s.partial = append(s.partial, text[:min(room, len(text))]...)
			}
			text = s.partial
		}
		s.line++
		if err := s.emit(s.line, text); err != nil {
			return err
		}
		s.partial = s.partial[:0]
		data = data[i+1:]
	}
	return nil
}

func (s *lineScanner) flush() error {
	if len(s.partial) == 0 {
		return nil
	}
	s.line++
	return s.emit(s.line, s.partial)
}

// AppendMatch appends a match as one line: incident, item, line number and
// text, the first two joined by itemSep, the rest by sep.
func AppendMatch(dst []byte, m Match, itemSep, sep byte) []byte {
	return appendMatch(dst, m.Incident, m.Item, m.Line, m.Text, itemSep, sep)
}

// AppendHit is AppendMatch for a LineHit.
func AppendHit(dst []byte, h model.LineHit, itemSep, sep byte) []byte {
	return appendMatch(dst, h.Incident, h.Item, h.Line, h.Text, itemSep, sep)
}

func appendMatch[T string | []byte](dst []byte, incident, item string, line int64, text T, itemSep, sep byte) []byte {
	dst = append(dst, incident...)
	dst = append(dst, itemSep)
	dst = append(dst, item...)
	dst = append(dst, sep)
	dst = strconv.AppendInt(dst, line, 10)
	dst = append(dst, sep)
	dst = append(dst, text...)
	return append(dst, '\n')
}

// Search finds lines matching the query in every capture, in order, until
// ctx is done: the agent stops searching for a client that has hung up.
func (db *DB) Search(ctx context.Context, q SearchQuery, each func(Match) error) error {
	return db.SearchLines(ctx, q, func(h model.LineHit) error {
		return each(Match{Incident: h.Incident, Item: h.Item, Line: h.Line, Text: string(h.Text)})
	})
}

// SearchLines is Search handing out each line's text before any copy.
func (db *DB) SearchLines(ctx context.Context, q SearchQuery, each func(model.LineHit) error) error {
	p, err := planQuery(q)
	if err != nil {
		return err
	}
	var incidents []string
	var chosen [][]Capture // when q.Items names the captures: each alone, in order
	switch {
	case len(q.Items) > 0:
		for _, ref := range q.Items {
			c, err := db.Capture(ref)
			if err != nil {
				return err
			}
			incidents = append(incidents, c.Incident)
			chosen = append(chosen, []Capture{c})
		}
	case q.Incident != "":
		inc, err := db.Incident(q.Incident)
		if err != nil {
			return err
		}
		incidents = []string{inc.ID}
	default:
		all, err := db.Incidents()
		if err != nil {
			return err
		}
		for _, inc := range all {
			incidents = append(incidents, inc.ID)
		}
	}
	found := 0
	var clean []byte
	var damaged []error
	notice := q.Notice
	if notice == nil {
		notice = db.notice
	}
	for i, inc := range incidents {
		var caps []Capture
		var err error
		if chosen != nil {
			caps = chosen[i]
		} else if caps, err = db.Captures(inc); err != nil {
			return err
		}
		for _, c := range caps {
			if err := ctx.Err(); err != nil {
				return err
			}
			inCapture := 0
			hit := func(line int64, text []byte) error {
				found++
				inCapture++
				if q.NoText {
					text = nil
				}
				if err := each(model.LineHit{Incident: inc, Item: c.ID, Line: line, Text: text}); err != nil {
					return err
				}
				if q.Limit > 0 && found >= q.Limit {
					return errStop
				}
				if q.PerCapture > 0 && inCapture >= q.PerCapture {
					return errCaptureDone
				}
				return nil
			}
			room := 0
			if q.Limit > 0 {
				room = q.Limit - found
			}
			if q.PerCapture > 0 && (room == 0 || q.PerCapture < room) {
				room = q.PerCapture
			}
			err := db.searchCapture(ctx, inc, c, p, room, hit, notice, &clean)
			if errors.Is(err, errStop) {
				return nil
			}
			if errors.Is(err, errCaptureDone) {
				continue
			}
			if errors.Is(err, ErrDamaged) && ctx.Err() == nil {
				// As grep does with a file it cannot read: the others are
				// still searched, and the search ends in the error.
				damaged = append(damaged, err)
				continue
			}
			if err != nil {
				return err
			}
		}
	}
	return errors.Join(damaged...)
}

// matchLine sanitises a line if it must and matches it; it returns the text
// matched (in buf when sanitised).
func matchLine(text []byte, buf *[]byte, p *plan) ([]byte, bool) {
	if len(text) > MaxLine || !clean(text) {
		*buf = appendLineText((*buf)[:0], text)
		text = *buf
	}
	return text, p.all || p.exact(text, clean(text))
}

// searchChunks searches a capture on every CPU. A reader copies each
// chunk's stored (compressed) bytes out of the store; workers decode a chunk
// each and search the whole lines inside it; here, in chunk order, the lines
// cut by chunk boundaries are joined and searched, and line numbers are
// added up as matches are handed out. Memory stays a few chunks a worker.
//
// Each chunk with a CRC is checked by the worker that decodes it; trust says
// what else is checked.
func (db *DB) searchChunks(ctx context.Context, inc, id string, trust chunkTrust, p *plan, hit func(line int64, text []byte) error) error {
	type job struct {
		n          uint64   // its number
		stored     []byte   // the chunk as stored: in the store's map
		tx         *bolt.Tx // the read transaction stored is valid in
		buf        *[]byte  // where it is decoded
		data       []byte   // decoded
		err        error
		head, tail []byte // the end of the line begun before, the start of the next
		whole      bool   // the chunk has a line end
		lines      int64  // whole lines after head
		hits       *hits
		done       chan struct{}
	}
	workers := max(runtime.GOMAXPROCS(0), 1)
	jobs := make(chan *job, workers)
	order := make(chan *job, 2*workers)
	quit := make(chan struct{})
	var current *job // handed out, its buffers not yet given back
	giveBack := func(j *job) {
		if j.buf != nil {
			searchBuffers.Put(j.buf)
		}
		if j.hits != nil {
			hitBuffers.Put(j.hits)
		}
	}
	defer func() {
		close(quit)
		if current != nil {
			giveBack(current)
		}
		// A search that stopped early (-l, an error) leaves chunks on their
		// way: their buffers go back once each is done.
		go func() {
			for j := range order {
				<-j.done
				giveBack(j)
			}
		}()
	}()
	// credit bounds the chunks read and not yet handed out: all the
	// channels hold, or, for a caller with little room, one at first.
	widest := 4 * workers
	credit, granted := make(chan struct{}, widest), widest
	if trust.room > 0 {
		granted = 1
	}
	for range granted {
		credit <- struct{}{}
	}
	var readErr error
	sum := sha256.New()
	go func() {
		defer close(jobs)
		defer close(order)
		readErr = db.eachChunkInTx(inc, id, func(n uint64, v []byte, tx *bolt.Tx) error {
			select {
			case <-credit:
			case <-quit:
				return errStop
			case <-ctx.Done():
				return ctx.Err()
			}
			j := &job{n: n, stored: v, tx: tx, done: make(chan struct{})}
			select {
			case order <- j:
			case <-quit:
				return errStop
			case <-ctx.Done():
				return ctx.Err()
			}
			jobs <- j
			return nil
		})
	}()
	// The guards are picked once, by the capture's first chunk.
	var tuneOnce sync.Once
	var srcs []source
	ready := make(chan struct{})
	for range workers {
		go func() {
			var buf []byte
			var st stripped
			for j := range jobs {
				j.buf = searchBuffers.Get()
				data, err := decodeChunk(j.n, j.buf, j.stored)
				if err == nil && trust.checked && !checkedChunk(j.stored) {
					err = fmt.Errorf("%w: chunk %d has no CRC-32C, unlike the chunks before it", ErrDamaged, j.n)
				}
				if err == nil && rawChunk(j.stored) {
					data = append((*j.buf)[:0], data...) // the map is let go now
				}
				j.stored = nil
				j.tx.Rollback()
				j.data = data
				if err != nil {
					j.err = fmt.Errorf("capture %s: %w", id, err)
					close(j.done)
					continue
				}
				tuneOnce.Do(func() {
					p = p.tuned(data)
					if trust.text {
						srcs = p.textSources()
					} else {
						srcs = p.sources()
					}
					close(ready)
				})
				<-ready
				mine := append([]source(nil), srcs...)
				j.hits = hitBuffers.Get().(*hits)
				j.hits.lines, j.hits.text = j.hits.lines[:0], j.hits.text[:0]
				first := bytes.IndexByte(data, '\n')
				if first >= 0 {
					last := bytes.LastIndexByte(data, '\n')
					j.whole, j.head, j.tail = true, data[:first], data[last+1:]
					mid := data[first+1 : last+1]
					if trust.text {
						st.text, st.moves = mid, st.moves[:0] // plain text already
					} else if p.guarded {
						// Few lines hold a guard: sanitising those costs less
						// than taking the escapes out of every line.
						st.text, st.moves = mid, st.moves[:0]
					} else {
						st.strip(mid)
					}
					text := st.text
					p.setChunk(mine, &st)
					full := false // as many hits as the caller takes
					try := func(line int64, start, end int) bool {
						if trust.text {
							if t := text[start:end]; p.all || p.exact(t, clean(t)) {
								j.hits.add(line+1, t)
							}
						} else if t, known := textOf(text[start:end], st.endsRaw(end)); known && len(t) <= MaxLine {
							if p.all || p.exact(t, clean(t)) {
								j.hits.add(line+1, t)
							}
						} else if t, known = matchLine(st.raw(mid, start, end), &buf, p); known {
							j.hits.add(line+1, t)
						}
						full = trust.room > 0 && len(j.hits.lines) >= trust.room
						return !full
					}
					if p.needle != nil {
						candidates(text, mine, try)
					} else {
						var line int64
						for start := 0; start < len(text) && !full; line++ {
							end := start + bytes.IndexByte(text[start:], '\n')
							try(line, start, end)
							start = end + 1
						}
					}
					if !full {
						// The lines after this chunk's are numbered from here;
						// a full chunk holds the last line the caller takes.
						j.lines = int64(bytes.Count(text, newline))
					}
				}
				close(j.done)
			}
		}()
	}
	var carry, buf []byte
	var line, size int64
	maxCarry := MaxLine
	match := func(t []byte) ([]byte, bool) { return matchLine(t, &buf, p) }
	if trust.text {
		maxCarry = maxTextLine
		match = func(t []byte) ([]byte, bool) { return t, p.all || p.exact(t, clean(t)) }
	}
	for j := range order {
		<-j.done
		current = j
		// A chunk holding as many hits as the caller takes is the last one
		// read: no more are read ahead, to be decoded for nothing.
		last := trust.room > 0 && j.hits != nil && len(j.hits.lines) >= trust.room
		if !last {
			credit <- struct{}{}
			if granted < widest { // nothing stopped the search: read further ahead
				credit <- struct{}{}
				granted++
			}
		}
		if j.err != nil {
			return j.err
		}
		if trust.sha256 != "" {
			sum.Write(j.data)
		}
		size += int64(len(j.data))
		if !j.whole {
			if room := maxCarry - len(carry); room > 0 {
				carry = append(carry, j.data[:min(room, len(j.data))]...)
			}
			giveBack(j)
			current = nil
			continue
		}
		carry = append(carry, j.head...)
		line++
		if t, ok := match(carry); ok {
			if err := hit(line, t); err != nil {
				return err
			}
		}
		for _, h := range j.hits.lines {
			if err := hit(line+h.line, j.hits.text[h.from:h.to]); err != nil {
				return err
			}
		}
		line += j.lines
		carry = append(carry[:0], j.tail...)
		giveBack(j) // nothing refers to it now: hits are copies
		current = nil
		if last { // the caller went on after all: the reader may too
			credit <- struct{}{}
		}
	}
	if readErr != nil {
		return readErr
	}
	if trust.checked && size != trust.size {
		return fmt.Errorf("%w: the store's copy of %s/%s holds %d bytes, not the %d it was sealed with: 'calm show' reads a verified copy, 'calm verify' lists every copy", ErrDamaged, inc, itemOfBucket(id), size, trust.size)
	}
	if trust.sha256 != "" && hex.EncodeToString(sum.Sum(nil)) != trust.sha256 {
		return fmt.Errorf("%w: the store's copy of %s/%s does not match its SHA-256, so lines found in it may be wrong: 'calm show' reads a verified copy, 'calm verify' lists every copy", ErrDamaged, inc, itemOfBucket(id))
	}
	if len(carry) > 0 && !trust.growing {
		line++
		if t, ok := match(carry); ok {
			return hit(line, t)
		}
	}
	return nil
}

// chunkTrust is what a search checks of a capture beyond each chunk's own
// CRC: the SHA-256 its chunks must hash to, in order (a mismatch ends the
// search with an error: the lines already found in them may be wrong), or,
// when every chunk is checked on its own, the size it was sealed at.
type chunkTrust struct {
	sha256  string
	checked bool // every chunk carries a CRC-32C, and the chunks hold size bytes
	size    int64
	text    bool // the chunks are search lines (lines.go): each line is its text
	// growing: the capture is still arriving, so its last line, not ended
	// yet, is left out: "DELETE FROM orders" is not yet the line, and must
	// not match 'orders$'.
	growing bool
	// room, when not 0, is the most hits the caller takes (-l, -m): the
	// search starts one chunk at a time and widens, and a chunk stops
	// collecting hits at room, so a match near the start costs little.
	room int
}

// eachChunkInTx calls f with every chunk of a capture as stored, in
// order, each in a read transaction of its own that f must roll back (or
// have rolled back) once done with v, which lies in the store's map: a
// search decodes each chunk straight from the map, on any core, and no
// transaction stays open longer than a chunk takes to decode. When f
// returns an error, the transaction is rolled back for it.
func (db *DB) eachChunkInTx(incident, capture string, f func(n uint64, v []byte, tx *bolt.Tx) error) error {
	for n := uint64(0); ; n++ {
		var v []byte
		var tx *bolt.Tx
		err := safely(func() (err error) {
			if tx, err = db.bolt.Begin(false); err != nil {
				return err
			}
			if v, err = storedChunk(tx, incident, capture, n); v == nil || err != nil {
				return err
			}
			if !knownChunk(v) {
				_, err := decodeChunk(n, new([]byte), v)
				return fmt.Errorf("capture %s chunk %d: %w", capture, n, err)
			}
			return nil
		})
		if err != nil || v == nil {
			if tx != nil {
				tx.Rollback()
			}
			return err
		}
		if err := f(n, v, tx); err != nil {
			tx.Rollback()
			return err
		}
	}
}

// hits are the lines a worker found in a chunk: numbers counted from the
// chunk's first whole line (1-based), texts one after the other.
type hits struct {
	lines []hitLine
	text  []byte
}

type hitLine struct {
	line     int64
	from, to int // its text in hits.text
}

func (h *hits) add(line int64, text []byte) {
	h.lines = append(h.lines, hitLine{line, len(h.text), len(h.text) + len(text)})
	h.text = append(h.text, text...)
}

var hitBuffers = sync.Pool{New: func() any { return new(hits) }}

// searchBuffers recycles the buffers chunks are decoded into: allocating
// (and zeroing) a fresh MiB per chunk is a good part of a search's work.
// They are kept across garbage collections, unlike a sync.Pool's: a search
// that stops at its first line (-l) allocates nothing, and so sets off no
// collection.
var searchBuffers = newChunkBuffers()

// chunkBuffers is a free list of chunk-sized buffers, a few per CPU.
type chunkBuffers chan *[]byte

func newChunkBuffers() chunkBuffers { return make(chunkBuffers, min(4*runtime.GOMAXPROCS(0), 16)) }

func (c chunkBuffers) Get() *[]byte {
	select {
	case b := <-c:
		return b
	default:
		b := make([]byte, 0, ChunkSize)
		return &b
	}
}

func (c chunkBuffers) Put(b *[]byte) {
	if cap(*b) > 2*ChunkSize {
		return // grown for an unusual chunk: not worth keeping
	}
	select {
	case c <- b:
	default:
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// Check runs bbolt's consistency check over the whole file.
func (db *DB) Check() (CheckReport, error) {
	rep := CheckReport{Path: db.opts.Path, Schema: SchemaVersion, Gone: db.FileGone(), RescueFailed: db.RescueFailed()}
	if fi, err := os.Stat(db.opts.Path); err == nil && rep.Gone == "" {
		rep.Size = fi.Size()
	}
	rep.Problems = checkStore(db.bolt)
	if err := db.Damaged(); err != nil && len(rep.Problems) == 0 {
		rep.Problems = append(rep.Problems, err.Error())
	}
	for _, id := range db.LostIncidents() {
		rep.Evidence = append(rep.Evidence, fmt.Sprintf("%s holds incident %s, which the store does not have", db.opts.EvidenceDir, id))
	}
	rep.Evidence = append(rep.Evidence, db.storeLacks()...)
	rep.Strays = db.StrayRecordings()
	return rep, nil
}

// checkStore walks every bucket and key in this goroutine, where a damaged
// page is a panic that can be recovered, and only then runs bbolt's own
// check, which runs in a goroutine of its own and would crash on one.
func checkStore(b *bolt.DB) []string {
	var problems []string
	err := safely(func() error {
		return b.View(func(tx *bolt.Tx) error {
			return tx.ForEach(func(name []byte, bk *bolt.Bucket) error { return walkBucket(bk) })
		})
	})
	if err != nil {
		return []string{err.Error()}
	}
	err = safely(func() error {
		// On a read-only transaction bbolt's check reads the live freelist,
		// which a writer beside it changes (pages then look "reachable
		// freed"): a writable transaction, rolled back, keeps writers out
		// while it runs and writes nothing.
		tx, err := b.Begin(!b.IsReadOnly())
		if err != nil {
			return err
		}
		defer tx.Rollback()
		// Drained whole: the check runs on tx in a goroutine of its own,
		// which must be done before tx ends.
		for err := range tx.Check() {
			if len(problems) < 20 {
				problems = append(problems, err.Error())
			}
		}
		return nil
	})
	if err != nil {
		problems = append(problems, err.Error())
	}
	return problems
}

// walkBucket touches every value and checks that keys come in order: bbolt's
// own check, and its open for writing, panic in a goroutine of their own
// (which nothing can recover) on keys out of order.
func walkBucket(b *bolt.Bucket) error {
	c := b.Cursor()
	var sink byte
	var prev []byte
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if prev != nil && bytes.Compare(prev, k) >= 0 {
			return fmt.Errorf("%w: keys out of order (%x after %x)", ErrDamaged, k, prev)
		}
		prev = k
		if v == nil {
			if sub := b.Bucket(k); sub != nil {
				if err := walkBucket(sub); err != nil {
					return err
				}
			}
			continue
		}
		if len(v) > 0 {
			sink ^= v[0] ^ v[len(v)-1] // touch the value's pages
		}
	}
	_ = sink
	return nil
}
