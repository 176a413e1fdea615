package storage

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"calm/sanitize"

	bolt "go.etcd.io/bbolt"
)

// errStop ends a search early without being an error.
var errStop = errors.New("stop")

// maxLine caps how much of one line is kept for matching; a longer line is
// matched on its first maxLine bytes.
const maxLine = 16 << 20

// rareByte picks, for a case-sensitive literal, the byte of it least likely
// in shell output. Sanitising only removes bytes (and adds U+FFFD's), so a
// line whose raw bytes lack it cannot match: whole chunks are then scanned
// for that byte alone, the way grep does, and only its lines are looked at.
func (q SearchQuery) rareByte() (byte, bool) {
	if !q.Literal || q.IgnoreCase || q.Pattern == "" {
		return 0, false
	}
	rank := func(c byte) int {
		switch {
		case c == ' ':
			return 100
		case c >= 'a' && c <= 'z':
			return 40 + strings.IndexByte("zqxjkvbpygfwmucldrhsnioate", c) // rarer letters rank lower
		case c >= '0' && c <= '9':
			return 30
		case c >= 'A' && c <= 'Z':
			return 20
		case c >= 0x80:
			return 90
		}
		return 10
	}
	best, bestRank := byte(0), 1000
	for i := 0; i < len(q.Pattern); i++ {
		c := q.Pattern[i]
		if c == 0xEF || c == 0xBF || c == 0xBD {
			continue
		}
		if r := rank(c); r < bestRank {
			best, bestRank = c, r
		}
	}
	return best, bestRank < 1000
}

// rarestIn returns the byte of pattern that occurs least in sample (never one
// of U+FFFD's, which sanitising can add).
func rarestIn(pattern string, sample []byte) byte {
	var count [256]int
	for _, c := range sample {
		count[c]++
	}
	best, least := pattern[0], -1
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		if c == 0xEF || c == 0xBF || c == 0xBD {
			continue
		}
		if least < 0 || count[c] < least {
			best, least = c, count[c]
		}
	}
	return best
}

// matcher tells whether a line matches: a case-sensitive literal is a plain
// byte search, many times faster than the same pattern as a regexp.
func (q SearchQuery) matcher() (func([]byte) bool, error) {
	if q.Literal && !q.IgnoreCase {
		lit := []byte(q.Pattern)
		return func(b []byte) bool { return bytes.Contains(b, lit) }, nil
	}
	re, err := q.Regexp()
	if err != nil {
		return nil, err
	}
	return re.Match, nil
}

// Regexp turns a query into a regexp: RE2 syntax, or a literal with -F.
func (q SearchQuery) Regexp() (*regexp.Regexp, error) {
	pat := q.Pattern
	if q.Literal {
		pat = regexp.QuoteMeta(pat)
	}
	if q.IgnoreCase {
		pat = "(?i)" + pat
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %v (use -F to search for it literally): %w", q.Pattern, err, ErrInvalid)
	}
	return re, nil
}

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
			if room := maxLine - len(s.partial); room > 0 {
				s.partial = append(s.partial, data[:min(room, len(data))]...)
			}
			return nil
		}
		text := data[:i]
		if len(s.partial) > 0 {
			if room := maxLine - len(s.partial); room > 0 {
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
	dst = append(dst, m.Incident...)
	dst = append(dst, itemSep)
	dst = append(dst, m.Item...)
	dst = append(dst, sep)
	dst = strconv.AppendInt(dst, m.Line, 10)
	dst = append(dst, sep)
	dst = append(dst, m.Text...)
	return append(dst, '\n')
}

// Search finds lines matching the query in every capture, in order.
func (db *DB) Search(q SearchQuery, each func(Match) error) error {
	match, err := q.matcher()
	if err != nil {
		return err
	}
	var incidents []string
	if q.Incident != "" {
		inc, err := db.Incident(q.Incident)
		if err != nil {
			return err
		}
		incidents = []string{inc.ID}
	} else {
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
	for _, inc := range incidents {
		caps, err := db.Captures(inc)
		if err != nil {
			return err
		}
		for _, c := range caps {
			hit := func(line int64, text []byte) error {
				found++
				if err := each(Match{Incident: inc, Item: c.ID, Line: line, Text: string(text)}); err != nil {
					return err
				}
				if q.Limit > 0 && found >= q.Limit {
					return errStop
				}
				return nil
			}
			// A session is searched in its derived text (what a person
			// saw, line for line as the viewer shows it) when it has one.
			if c.Recording == nil || c.Text != nil {
				chunks, want := c.ID, ""
				if c.State == CaptureSealed {
					want = c.SHA256
				}
				if c.Recording != nil {
					chunks, want = textBucket(c.ID), c.Text.SHA256
				}
				err := db.searchChunks(inc, chunks, want, q, match, hit)
				if errors.Is(err, errStop) {
					return nil
				}
				if err != nil {
					return err
				}
				continue
			}
			sc := &lineScanner{emit: func(line int64, text []byte) error {
				if !sanitize.Clean(text) {
					clean = sanitize.AppendText(clean[:0], text)
					text = clean
				}
				if !match(text) {
					return nil
				}
				found++
				if err := each(Match{Incident: inc, Item: c.ID, Line: line, Text: string(text)}); err != nil {
					return err
				}
				if q.Limit > 0 && found >= q.Limit {
					return errStop
				}
				return nil
			}}
			// Sessions are asciicast: search the output they recorded.
			var feed io.Writer = writerFunc(func(p []byte) (int, error) { return len(p), sc.write(p) })
			var cast *CastOutput
			if c.Recording != nil {
				cast = &CastOutput{W: feed}
				feed = cast
			}
			err := db.eachChunk(inc, c.ID, func(_ uint64, data []byte) error {
				_, err := feed.Write(data)
				return err
			})
			if err == nil && cast != nil {
				err = cast.Close()
			}
			if err == nil {
				err = sc.flush()
			}
			if errors.Is(err, errStop) {
				return nil
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// matchLine sanitises a line if it must and matches it; it returns the text
// matched (in buf when sanitised) or nil.
func matchLine(text []byte, buf *[]byte, match func([]byte) bool) []byte {
	if len(text) > maxLine {
		text = text[:maxLine]
	}
	if !sanitize.Clean(text) {
		*buf = sanitize.AppendText((*buf)[:0], text)
		text = *buf
	}
	if match(text) {
		return text
	}
	return nil
}

// searchChunks searches a capture on every CPU. Each worker takes a chunk
// and searches the whole lines inside it; here, in chunk order, the lines
// cut by chunk boundaries are joined and searched, and line numbers are
// added up as matches are handed out.
//
// want, when set, is the SHA-256 the chunks must hash to: they are hashed
// as they are read, and a mismatch ends the search with an error (the
// lines already found in them may be wrong).
func (db *DB) searchChunks(inc, id, want string, q SearchQuery, match func([]byte) bool, hit func(line int64, text []byte) error) error {
	_, filter := q.rareByte()
	var need byte
	needSet := false
	type found struct {
		line int64 // counted from the chunk's first whole line, 1-based
		text []byte
	}
	type job struct {
		data       []byte
		need       byte   // the rare byte lines must hold (filter set)
		head, tail []byte // the end of the line begun before, the start of the next
		whole      bool   // the chunk has a line end
		lines      int64  // whole lines after head
		hits       []found
		done       chan struct{}
	}
	workers := max(runtime.GOMAXPROCS(0), 1)
	jobs := make(chan *job, 2*workers)
	order := make(chan *job, 2*workers)
	quit := make(chan struct{})
	defer close(quit)
	var readErr error
	sum := sha256.New()
	go func() {
		defer close(jobs)
		defer close(order)
		readErr = db.eachChunk(inc, id, func(_ uint64, data []byte) error {
			if want != "" {
				sum.Write(data)
			}
			buf := searchBuffers.Get().(*[]byte)
			if filter && !needSet {
				// The pattern's byte that is rarest in this capture's first chunk.
				need, needSet = rarestIn(q.Pattern, data), true
			}
			j := &job{data: append((*buf)[:0], data...), need: need, done: make(chan struct{})}
			select {
			case order <- j:
			case <-quit:
				return errStop
			}
			jobs <- j
			return nil
		})
	}()
	for range workers {
		go func() {
			var buf []byte
			for j := range jobs {
				first := bytes.IndexByte(j.data, '\n')
				if first >= 0 {
					last := bytes.LastIndexByte(j.data, '\n')
					j.whole, j.head, j.tail = true, j.data[:first], j.data[last+1:]
					mid := j.data[first+1 : last+1]
					if filter {
						// Only the lines that hold the rare byte can match.
						j.lines = int64(bytes.Count(mid, []byte{'\n'}))
						var before int64 // lines wholly before pos
						for pos := 0; ; {
							k := bytes.IndexByte(mid[pos:], j.need)
							if k < 0 {
								break
							}
							at := pos + k
							start := bytes.LastIndexByte(mid[:at], '\n') + 1
							end := at + bytes.IndexByte(mid[at:], '\n')
							before += int64(bytes.Count(mid[pos:start], []byte{'\n'}))
							if t := matchLine(mid[start:end], &buf, match); t != nil {
								j.hits = append(j.hits, found{before + 1, bytes.Clone(t)})
							}
							before++
							pos = end + 1
						}
					} else {
						for len(mid) > 0 {
							i := bytes.IndexByte(mid, '\n')
							j.lines++
							if t := matchLine(mid[:i], &buf, match); t != nil {
								j.hits = append(j.hits, found{j.lines, bytes.Clone(t)})
							}
							mid = mid[i+1:]
						}
					}
				}
				close(j.done)
			}
		}()
	}
	var carry, buf []byte
	var line int64
	for j := range order {
		<-j.done
		if !j.whole {
			if room := maxLine - len(carry); room > 0 {
				carry = append(carry, j.data[:min(room, len(j.data))]...)
			}
			continue
		}
		carry = append(carry, j.head...)
		line++
		if t := matchLine(carry, &buf, match); t != nil {
			if err := hit(line, t); err != nil {
				return err
			}
		}
		for _, h := range j.hits {
			if err := hit(line+h.line, h.text); err != nil {
				return err
			}
		}
		line += j.lines
		carry = append(carry[:0], j.tail...)
		searchBuffers.Put(&j.data) // nothing refers to it now: hits are copies
	}
	if readErr != nil {
		return readErr
	}
	if want != "" && hex.EncodeToString(sum.Sum(nil)) != want {
		return fmt.Errorf("%w: the store's copy of %s/%s does not match its SHA-256, so lines found in it may be wrong: 'calm show' reads a verified copy, 'calm verify' lists every copy", ErrDamaged, inc, strings.TrimSuffix(id, ".text"))
	}
	if len(carry) > 0 {
		line++
		if t := matchLine(carry, &buf, match); t != nil {
			return hit(line, t)
		}
	}
	return nil
}

// searchBuffers recycles chunk copies: allocating (and zeroing) a fresh MiB
// per chunk cost a fifth of a search.
var searchBuffers = sync.Pool{New: func() any { b := make([]byte, 0, ChunkSize); return &b }}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// Check runs bbolt's consistency check over the whole file.
func (db *DB) Check() (CheckReport, error) {
	rep := CheckReport{Path: db.opts.Path, Schema: SchemaVersion}
	if fi, err := os.Stat(db.opts.Path); err == nil {
		rep.Size = fi.Size()
	}
	rep.Problems = checkStore(db.bolt)
	if err := db.Damaged(); err != nil && len(rep.Problems) == 0 {
		rep.Problems = append(rep.Problems, err.Error())
	}
	for _, id := range db.LostIncidents() {
		rep.Evidence = append(rep.Evidence, fmt.Sprintf("%s holds incident %s, which the store does not have", db.opts.EvidenceDir, id))
	}
	rep.Evidence = append(rep.Evidence, db.compareTimelines()...)
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
		return b.View(func(tx *bolt.Tx) error {
			for err := range tx.Check() {
				problems = append(problems, err.Error())
				if len(problems) >= 20 {
					break
				}
			}
			return nil
		})
	})
	if err != nil {
		problems = append(problems, err.Error())
	}
	return problems
}

func walkBucket(b *bolt.Bucket) error {
	c := b.Cursor()
	var sink byte
	for k, v := c.First(); k != nil; k, v = c.Next() {
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
