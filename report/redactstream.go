package report

import (
	"bytes"
	"io"
	"slices"
	"sort"
)

// redactWindow is how much of a stream is redacted at once. A secret split
// across two of a session's output events, or across two writes, lies in
// one window; windows end at line ends, which secrets do not cross (a
// private key block's END line is waited for).
const redactWindow = 1 << 20

// redactStream redacts a stream that arrives in segments (a session's output
// events, or a capture's writes) as one text, and gives back the segments
// with their secrets replaced. A secret spanning segments is replaced in
// the segment where it begins and taken out of the others.
type redactStream[M any] struct {
	r     *Redactor
	emit  func(meta M, data []byte) error
	count int

	buf  []byte
	ends []int // where each pending segment ends in buf
	meta []M
	// splittable: a segment may be cut anywhere (the writes of a plain
	// stream), not only at its end.
	splittable bool
	nextTry    int // no cut was found: try again at this size
}

func (s *redactStream[M]) add(meta M, data []byte) error {
	s.buf = append(s.buf, data...)
	s.ends = append(s.ends, len(s.buf))
	s.meta = append(s.meta, meta)
	if len(s.buf) < max(redactWindow, s.nextTry) {
		return nil
	}
	return s.flush(false)
}

// cut picks where the pending bytes may be cut once redacted: before the
// last line (a secret on it may go on in what comes next), before a key
// block whose END has not come yet, and never inside a secret found.
// 0: nowhere yet.
func (s *redactStream[M]) cut(eds []edit) int {
	limit := bytes.LastIndexByte(s.buf, '\n') + 1
	if i := lastIndex(s.buf[:limit], []byte("-----BEGIN ")); i >= 0 && !bytes.Contains(s.buf[i:], []byte("-----END ")) {
		limit = i
	}
	inside := func(p int) int { // the start of the edit p falls inside, or -1
		k := sort.Search(len(eds), func(k int) bool { return eds[k].end > p })
		if k < len(eds) && eds[k].start < p {
			return eds[k].start
		}
		return -1
	}
	if s.splittable {
		for limit > 0 {
			st := inside(limit)
			if st < 0 {
				return limit
			}
			limit = st
		}
		return 0
	}
	for k := len(s.ends) - 1; k >= 0; k-- {
		if e := s.ends[k]; e <= limit && inside(e) < 0 {
			return e
		}
	}
	return 0
}

// lastIndex is bytes.LastIndex by forward searches, which are faster on a
// window where sep is rare (bytes.Index has a vector search, LastIndex does
// not).
func lastIndex(b, sep []byte) int {
	last := -1
	for from := 0; ; {
		i := bytes.Index(b[from:], sep)
		if i < 0 {
			return last
		}
		last = from + i
		from = last + 1
	}
}

// flush redacts the pending bytes and emits what it can: all of them at
// the end of the stream.
func (s *redactStream[M]) flush(final bool) error {
	eds := s.r.edits(s.buf)
	cut := len(s.buf)
	if !final {
		cut = s.cut(eds)
		if cut == 0 {
			if len(s.buf) < 8*redactWindow {
				s.nextTry = len(s.buf) + redactWindow/2
				return nil
			}
			cut = len(s.buf) // no place to cut at all: memory stays bounded
		}
	}
	s.nextTry = 0
	if s.splittable && cut < len(s.buf) {
		// Split the segment holding the cut.
		k := 0
		for s.ends[k] < cut {
			k++
		}
		if s.ends[k] > cut {
			s.ends = slices.Insert(s.ends, k, cut)
			s.meta = slices.Insert(s.meta, k, s.meta[k])
		}
	}
	part := s.buf[:cut]
	for len(eds) > 0 && eds[len(eds)-1].start >= cut {
		eds = eds[:len(eds)-1] // found again in the next pass
	}
	s.count += len(eds)
	start, e, n := 0, 0, 0
	var out []byte
	for n < len(s.ends) && s.ends[n] <= cut {
		end := s.ends[n]
		out = out[:0]
		pos := start
		// Edits that begin in this segment are made here, to their end;
		// one that began before takes this segment's part with it.
		for e < len(eds) && eds[e].start < end {
			ed := eds[e]
			if ed.start >= pos {
				out = append(out, part[pos:ed.start]...)
				out = append(out, ed.repl...)
			}
			pos = max(pos, ed.end)
			if ed.end > end {
				break
			}
			e++
		}
		if pos < end {
			out = append(out, part[pos:end]...)
		}
		if err := s.emit(s.meta[n], out); err != nil {
			return err
		}
		start = end
		n++
	}
	s.buf = s.buf[:copy(s.buf, s.buf[cut:])]
	s.ends = s.ends[:copy(s.ends, s.ends[n:])]
	for i := range s.ends {
		s.ends[i] -= cut
	}
	var zero M
	for i := len(s.meta) - n; i < len(s.meta); i++ {
		s.meta[i] = zero
	}
	s.meta = s.meta[:copy(s.meta, s.meta[n:])]
	return nil
}

// close redacts and emits what is left.
func (s *redactStream[M]) close() error {
	if len(s.ends) == 0 {
		return nil
	}
	return s.flush(true)
}

// redactingWriter redacts a plain stream (a capture's bytes, a text export).
type redactingWriter struct {
	s redactStream[struct{}]
}

func newRedactingWriter(w io.Writer, r *Redactor) *redactingWriter {
	return &redactingWriter{s: redactStream[struct{}]{r: r, splittable: true, emit: func(_ struct{}, p []byte) error {
		_, err := w.Write(p)
		return err
	}}}
}

func (rw *redactingWriter) Write(p []byte) (int, error) {
	if err := rw.s.add(struct{}{}, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close redacts and writes what is left.
func (rw *redactingWriter) Close() error { return rw.s.close() }

// count is how many secrets it replaced.
func (rw *redactingWriter) count() int { return rw.s.count }
