package report

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"

	"calm/model"
	"calm/sanitize"
	"calm/terminal"
)

// Text writes the incident as plain text: its timeline, then every capture's
// output with terminal controls removed, a session's as the text a person
// saw (what calm show gives), not its raw output, whose carriage returns
// would leave a progress line's last state as an empty line. It returns how
// many secrets it redacted.
func Text(ctx context.Context, s model.Store, r Record, w io.Writer, red *Redactor) (int, error) {
	// Free texts are redacted before they are made one line, which would
	// join a private key's lines.
	count := 0
	r = r.redacted(red, &count)
	rw := newRedactingWriter(w, red)
	inc := r.Incident
	fmt.Fprintf(rw, "Incident %s: %s\nopened %s UTC\n\nTimeline (UTC)\n", inc.ID, clean(inc.Title), utc(inc.Opened))
	for _, ev := range r.Events {
		fmt.Fprintf(rw, "  %s  %-9s %-4s %s\n", utc(ev.Time), ev.Kind, ev.Item, clean(ev.Text))
	}
	for _, c := range r.Captures {
		if c.State != model.CaptureSealed {
			// No size or SHA-256 yet: "0 bytes, sha256 ," reads as a dead,
			// empty capture; what it holds so far follows.
			fmt.Fprintf(rw, "\n==== %s: %s (%s, %s)\n", c.ID, clean(c.Title), c.Source, clean(c.StateLine()))
		} else {
			fmt.Fprintf(rw, "\n==== %s: %s (%s, %d bytes, sha256 %s, %s)\n",
				c.ID, clean(c.Title), c.Source, c.Size, c.SHA256, clean(c.StateLine()))
		}
		// The bytes are redacted as stored first (a line written over
		// itself is read as a terminal shows it only there), then
		// sanitised, then redacted again with the text around them.
		sw := &sanitizeWriter{w: rw}
		raw := newRedactingWriter(sw, red)
		if err := s.WriteText(ctx, c.Incident+"/"+c.ID, raw); err != nil {
			return count + rw.count() + raw.count(), fmt.Errorf("read %s: %w", c.ID, err)
		}
		if err := raw.Close(); err != nil {
			return count + rw.count() + raw.count(), err
		}
		count += raw.count()
		sw.Close()
		fmt.Fprintln(rw)
	}
	err := rw.Close()
	return count + rw.count(), err
}

// JSON writes the incident's record and every capture's bytes (redacted,
// base64: they may be any bytes at all).
func JSON(ctx context.Context, s model.Store, r Record, w io.Writer, red *Redactor) (int, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	count := 0
	rec := r.redacted(red, &count)
	head, _ := json.Marshal(struct {
		Incident model.Incident `json:"incident"`
		Events   []model.Event  `json:"events"`
	}{rec.Incident, rec.Events})
	bw.Write(head[:len(head)-1])
	bw.WriteString(`,"captures":[`)
	for i, c := range rec.Captures {
		if i > 0 {
			bw.WriteByte(',')
		}
		meta, _ := json.Marshal(c)
		bw.Write(meta[:len(meta)-1])
		bw.WriteString(`,"content_base64":"`)
		enc := base64.NewEncoder(base64.StdEncoding, bw)
		// size and sha256 are the capture's as captured; the content is
		// redacted: its own are said beside it, for a check of it to match.
		sum := sha256.New()
		written := &countingWriter{w: io.MultiWriter(enc, sum)}
		n, err := Content(ctx, s, r.Captures[i], written, red)
		count += n
		if err != nil {
			return count, err
		}
		enc.Close()
		fmt.Fprintf(bw, `","content_size":%d,"content_sha256":"%s","content_redactions":%d}`, written.n, hex.EncodeToString(sum.Sum(nil)), n)
	}
	bw.WriteString("]}\n")
	return count, bw.Flush()
}

// countingWriter counts what passes through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// redacted returns the record with every free text (titles, notes, event
// texts, a session's command line) redacted, counting what it replaced.
func (r Record) redacted(red *Redactor, count *int) Record {
	str := func(s string) string {
		out, n := red.RedactString(s)
		*count += n
		return out
	}
	out := r
	out.Incident.Title = str(r.Incident.Title)
	out.Events = make([]model.Event, len(r.Events))
	for i, ev := range r.Events {
		ev.Text = str(ev.Text)
		out.Events[i] = ev
	}
	out.Captures = make([]model.Capture, len(r.Captures))
	for i, c := range r.Captures {
		c.Title = str(c.Title)
		if c.Recording != nil {
			rec := *c.Recording
			rec.Command = str(rec.Command)
			c.Recording = &rec
		}
		out.Captures[i] = c
	}
	out.Checklist.Steps = nil
	for _, st := range r.Checklist.Steps {
		st.By = str(st.By)
		out.Checklist.Steps = append(out.Checklist.Steps, st)
	}
	return out
}

// Content writes a capture's bytes redacted: a session as an asciicast
// stream whose output events are redacted one by one, anything else as it
// was captured.
func Content(ctx context.Context, s model.Store, c model.Capture, w io.Writer, red *Redactor) (int, error) {
	if c.Recording != nil {
		return Cast(ctx, s, c, w, red)
	}
	rw := newRedactingWriter(w, red)
	if err := s.WriteContent(ctx, c.Incident+"/"+c.ID, 0, rw); err != nil {
		return rw.count(), err
	}
	err := rw.Close()
	return rw.count(), err
}

// Cast writes a session as asciicast v2 with its header and events
// redacted. Output, input and marker events are read as one text, so a
// secret split between two events is found.
func Cast(ctx context.Context, s model.Store, c model.Capture, w io.Writer, red *Redactor) (int, error) {
	if c.Recording == nil {
		return 0, fmt.Errorf("%s is a capture, not a recorded session: 'calm show %s' writes it (--format txt, the whole incident)", c.ID, c.ID)
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	count := 0
	type event struct {
		at         float64
		kind, data string // data: of an event that is not text
	}
	var werr error
	rs := &redactStream[event]{r: red, emit: func(ev event, data []byte) error {
		if ev.data != "" {
			return enc.Encode([]any{ev.at, ev.kind, ev.data})
		}
		return enc.Encode([]any{ev.at, ev.kind, string(data)})
	}}
	cr := &terminal.CastReader{
		Header: func(h terminal.Header) {
			var n int
			h.Title, n = red.RedactString(h.Title)
			count += n
			env := make(map[string]string, len(h.Env))
			for k, v := range h.Env {
				env[k], n = red.RedactString(v)
				count += n
			}
			if h.Env != nil {
				h.Env = env
			}
			if werr == nil {
				werr = enc.Encode(h)
			}
		},
		Event: func(at float64, kind, data string) {
			if werr != nil || kind == "b" {
				return // "b": a session's exact bytes, unredacted; its "o" event follows
			}
			switch kind {
			case "o", "i", "m":
				werr = rs.add(event{at: at, kind: kind}, []byte(data))
			default:
				werr = rs.add(event{at: at, kind: kind, data: data}, nil)
			}
		},
	}
	if err := s.WriteContent(ctx, c.Incident+"/"+c.ID, 0, cr); err != nil {
		return count + rs.count, err
	}
	cr.Close()
	if werr == nil {
		werr = rs.close()
	}
	count += rs.count
	if werr != nil {
		return count, werr
	}
	return count, bw.Flush()
}

// sanitizeWriter removes terminal controls from a stream, line by line,
// keeping the text's own spacing.
type sanitizeWriter struct {
	w    io.Writer
	line []byte
}

func (s *sanitizeWriter) Write(p []byte) (int, error) {
	s.line = append(s.line, p...)
	cut := bytes.LastIndexByte(s.line, '\n') + 1
	if cut == 0 && len(s.line) > 1<<20 {
		cut = len(s.line)
	}
	if cut > 0 {
		if _, err := s.w.Write(sanitize.Text(s.line[:cut])); err != nil {
			return 0, err
		}
		s.line = s.line[:copy(s.line, s.line[cut:])]
	}
	return len(p), nil
}

func (s *sanitizeWriter) Close() error {
	_, err := s.w.Write(sanitize.Text(s.line))
	s.line = nil
	return err
}
