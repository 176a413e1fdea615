package capture

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
)

// CastReader reads an asciicast v2 stream as it arrives in pieces (a
// session's bytes from the store, or a journal) and calls Header once and
// Event for every event. Lines that do not parse (a journal cut by a crash,
// damage) are skipped: what can be read is shown.
type CastReader struct {
	Header func(h Header)
	Event  func(at float64, kind string, data string)

	partial []byte
	started bool
}

func (c *CastReader) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			c.partial = append(c.partial, p...)
			break
		}
		line := p[:i]
		if len(c.partial) > 0 {
			c.partial = append(c.partial, line...)
			line = c.partial
		}
		c.line(line)
		c.partial = c.partial[:0]
		p = p[i+1:]
	}
	return n, nil
}

// Close reads a last line that has no newline.
func (c *CastReader) Close() error {
	if len(c.partial) > 0 {
		c.line(c.partial)
		c.partial = nil
	}
	return nil
}

func (c *CastReader) line(line []byte) {
	if !c.started {
		c.started = true
		var h Header
		if json.Unmarshal(line, &h) == nil && h.Version == 2 {
			if c.Header != nil {
				c.Header(h)
			}
			return
		}
	}
	var ev [3]json.RawMessage
	if json.Unmarshal(line, &ev) != nil {
		return
	}
	at, err := strconv.ParseFloat(string(ev[0]), 64)
	if err != nil || at < 0 {
		return
	}
	var kind, data string
	if json.Unmarshal(ev[1], &kind) != nil || json.Unmarshal(ev[2], &data) != nil {
		return
	}
	if c.Event != nil {
		c.Event(at, kind, data)
	}
}

// ParseSize reads a resize event's "COLSxROWS".
func ParseSize(data string) (cols, rows int, ok bool) {
	i := bytes.IndexByte([]byte(data), 'x')
	if i < 0 {
		return 0, 0, false
	}
	cols, err1 := strconv.Atoi(data[:i])
	rows, err2 := strconv.Atoi(data[i+1:])
	return cols, rows, err1 == nil && err2 == nil && cols > 0 && rows > 0
}

var newline = []byte{'\n'}

// DeriveText reads a session's asciicast stream and writes what a person saw
// of it: its output through the emulator, one line per line, colours kept
// as SGR sequences and every other control resolved. The store keeps this
// for view and search (storage.Options.Derive).
func DeriveText(cast io.Reader, text io.Writer) error {
	var werr error
	emu := NewEmulator(0, 0, func(line []byte, _ float64) {
		if werr == nil {
			_, werr = text.Write(line)
		}
		if werr == nil {
			_, werr = text.Write(newline)
		}
	})
	r := CastReader{
		Header: func(h Header) { emu.Resize(h.Width, h.Height) },
		Event: func(at float64, kind, data string) {
			switch kind {
			case "o":
				emu.SetTime(at)
				emu.Write([]byte(data))
			case "r":
				if cols, rows, ok := ParseSize(data); ok {
					emu.Resize(cols, rows)
				}
			}
		},
	}
	buf := make([]byte, 256<<10)
	for werr == nil {
		n, err := cast.Read(buf)
		r.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	r.Close()
	emu.Close()
	return werr
}
