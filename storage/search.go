package storage

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"

	"calm/sanitize"

	bolt "go.etcd.io/bbolt"
)

// errStop ends a search early without being an error.
var errStop = errors.New("stop")

// maxLine caps how much of one line is kept for matching; a longer line is
// matched on its first maxLine bytes.
const maxLine = 16 << 20

// compile turns a query into a regexp: RE2 syntax, or a literal with -F.
func (q SearchQuery) compile() (*regexp.Regexp, error) {
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

// Search finds lines matching the query in every capture, in order.
func (db *DB) Search(q SearchQuery, each func(Match) error) error {
	re, err := q.compile()
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
			sc := &lineScanner{emit: func(line int64, text []byte) error {
				if !sanitize.Clean(text) {
					clean = sanitize.AppendText(clean[:0], text)
					text = clean
				}
				if !re.Match(text) {
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

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// Check runs bbolt's consistency check over the whole file.
func (db *DB) Check() (CheckReport, error) {
	rep := CheckReport{Path: db.opts.Path, Schema: SchemaVersion}
	if fi, err := os.Stat(db.opts.Path); err == nil {
		rep.Size = fi.Size()
	}
	err := db.view(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			rep.Problems = append(rep.Problems, err.Error())
		}
		return nil
	})
	if err != nil {
		rep.Problems = append(rep.Problems, err.Error())
	}
	return rep, nil
}
