package terminal

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// CastReader reads an asciicast stream as it arrives in pieces (a
// session's bytes from the store, or a journal) and calls Header once and
// Event for every event. Lines that do not parse (a journal cut by a crash,
// damage) are skipped: what can be read is shown.
//
// asciicast v3 (asciinema 3's default: the size under "term", each event's
// time counted from the one before, comment lines) is read too, and given
// to Header and Event as v2 is: Version 2, times from the start.
type CastReader struct {
	Header func(h Header)
	Event  func(at float64, kind string, data string)
	// EventBytes, when set, is called instead of Event, with the data in a
	// buffer valid only during the call: no copy for a reader that only
	// looks (deriving a session's text).
	EventBytes func(at float64, kind string, data []byte)

	// Version is the stream's asciicast version once its header is read
	// (2 or 3); 0 if its first line was no header calm reads.
	Version int
	// Skipped counts the lines that were neither the header nor an event.
	Skipped int

	partial []byte
	started bool
	scratch []byte // decoded event data, reused
	clock   int64  // v3: the time of the last event, in microseconds
}

// castHeader is the first line of asciicast v2 or v3.
type castHeader struct {
	Version   int               `json:"version"`
	Width     int               `json:"width"`
	Height    int               `json:"height"`
	Timestamp int64             `json:"timestamp"`
	Title     string            `json:"title"`
	Env       map[string]string `json:"env"`
	Term      struct {
		Cols int `json:"cols"`
		Rows int `json:"rows"`
	} `json:"term"`
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
		c.line(RepairCutEvent(c.partial))
		c.partial = nil
	}
	return nil
}

func (c *CastReader) line(line []byte) {
	if !c.started {
		c.started = true
		var h castHeader
		if json.Unmarshal(line, &h) == nil && (h.Version == 2 || h.Version == 3) {
			c.Version = h.Version
			if h.Version == 3 {
				h.Width, h.Height = h.Term.Cols, h.Term.Rows
			}
			if c.Header != nil {
				c.Header(Header{Version: 2, Width: h.Width, Height: h.Height, Timestamp: h.Timestamp, Title: h.Title, Env: h.Env})
			}
			return
		}
	}
	if c.Version == 3 {
		if t := bytes.TrimSpace(line); len(t) == 0 || t[0] == '#' {
			return // v3's blank and comment lines
		}
	}
	if at, kind, data, ok := parseEvent(line, c.scratch[:0]); ok {
		c.scratch = data[:0]
		at = c.absolute(at)
		if c.EventBytes != nil {
			c.EventBytes(at, kind, data)
			return
		}
		if c.Event != nil {
			c.Event(at, kind, string(data))
		}
		return
	}
	var ev [3]json.RawMessage
	if json.Unmarshal(line, &ev) != nil && json.Unmarshal(RepairCutEvent(line), &ev) != nil {
		c.Skipped++
		return
	}
	at, err := strconv.ParseFloat(string(ev[0]), 64)
	if err != nil || at < 0 {
		c.Skipped++
		return
	}
	var kind, data string
	if json.Unmarshal(ev[1], &kind) != nil || json.Unmarshal(ev[2], &data) != nil {
		c.Skipped++
		return
	}
	at = c.absolute(at)
	if c.EventBytes != nil {
		c.EventBytes(at, kind, []byte(data))
		return
	}
	if c.Event != nil {
		c.Event(at, kind, data)
	}
}

// absolute turns a v3 event's interval into its time from the start,
// counted in whole microseconds so that a long recording does not drift.
func (c *CastReader) absolute(at float64) float64 {
	if c.Version != 3 {
		return at
	}
	c.clock += int64(math.Round(at * 1e6))
	return float64(c.clock) / 1e6
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
// for view and search.
func DeriveText(cast io.Reader, text io.Writer) error {
	var werr error
	emu := NewSessionEmulator(0, 0, func(line []byte, _ float64) {
		if werr == nil {
			_, werr = text.Write(line)
		}
		if werr == nil {
			_, werr = text.Write(newline)
		}
	})
	r := CastReader{
		Header: func(h Header) { emu.Resize(h.Width, h.Height) },
		EventBytes: func(at float64, kind string, data []byte) {
			switch kind {
			case "o":
				emu.SetTime(at)
				emu.Write(data)
			case "r":
				if cols, rows, ok := ParseSize(string(data)); ok {
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

// parseEvent reads an event line `[1.234567, "o", "text"]` without
// encoding/json's reflection, which made reading a long session slow. It
// declines (ok false) anything unusual, and the caller falls back to
// encoding/json, so both always agree.
func parseEvent(line, buf []byte) (at float64, kind string, data []byte, ok bool) {
	if !utf8.Valid(line) {
		return 0, "", nil, false
	}
	p := bytes.TrimSpace(line)
	if len(p) < 2 || p[0] != '[' || p[len(p)-1] != ']' {
		return 0, "", nil, false
	}
	p = p[1 : len(p)-1]
	comma := bytes.IndexByte(p, ',')
	if comma < 0 {
		return 0, "", nil, false
	}
	num := bytes.TrimSpace(p[:comma])
	if !plainNumber(num) {
		return 0, "", nil, false
	}
	at, err := strconv.ParseFloat(string(num), 64)
	if err != nil || at < 0 {
		return 0, "", nil, false
	}
	p = bytes.TrimLeft(p[comma+1:], " \t\r\n")
	kindBytes, p, ok := jsonString(p, nil)
	if !ok {
		return 0, "", nil, false
	}
	p = bytes.TrimLeft(p, " \t\r\n")
	if len(p) == 0 || p[0] != ',' {
		return 0, "", nil, false
	}
	data, p, ok = jsonString(bytes.TrimLeft(p[1:], " \t\r\n"), buf)
	if !ok || len(bytes.TrimSpace(p)) != 0 {
		return 0, "", nil, false
	}
	return at, string(kindBytes), data, true
}

// plainNumber accepts what asciinema writes: digits, then a fraction
// (never a leading zero before another digit, which JSON forbids).
func plainNumber(p []byte) bool {
	dot := bytes.IndexByte(p, '.')
	whole, frac := p, []byte(nil)
	if dot >= 0 {
		whole, frac = p[:dot], p[dot+1:]
		if len(frac) == 0 {
			return false
		}
	}
	if len(whole) == 0 || (len(whole) > 1 && whole[0] == '0') {
		return false
	}
	for _, part := range [][]byte{whole, frac} {
		for _, c := range part {
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	return true
}

// jsonString decodes the JSON string at the start of p (valid UTF-8) onto
// dst and returns what follows it.
func jsonString(p, dst []byte) (s, rest []byte, ok bool) {
	if len(p) == 0 || p[0] != '"' {
		return nil, nil, false
	}
	i, start := 1, 1
	for i < len(p) {
		for i+8 <= len(p) {
			if m := stringSpecials(binary.LittleEndian.Uint64(p[i:])); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		if i >= len(p) {
			break
		}
		b := p[i]
		switch {
		case b == '"':
			return append(dst, p[start:i]...), p[i+1:], true
		case b < 0x20:
			return nil, nil, false
		case b != '\\':
			i++
			continue
		}
		dst = append(dst, p[start:i]...)
		if i+1 >= len(p) {
			return nil, nil, false
		}
		switch e := p[i+1]; e {
		case '"', '\\', '/':
			dst = append(dst, e)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, n := hexRune(p[i+2:])
			if n < 0 {
				return nil, nil, false
			}
			if utf16.IsSurrogate(r) {
				// A pair decodes to one character; anything else is
				// encoding/json's business (it writes U+FFFD).
				if len(p) < i+12 || p[i+6] != '\\' || p[i+7] != 'u' {
					return nil, nil, false
				}
				r2, n2 := hexRune(p[i+8:])
				if n2 < 0 {
					return nil, nil, false
				}
				if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
					return nil, nil, false
				}
				i += 6
			}
			dst = utf8.AppendRune(dst, r)
			i += 4
		default:
			return nil, nil, false
		}
		i += 2
		start = i
	}
	return nil, nil, false
}

// stringSpecials marks (high bit) the bytes of x that end a plain run in
// a JSON string: a quote, a backslash or a control byte. Bits above the
// lowest mark may be wrong (borrows run upwards); the lowest is exact.
func stringSpecials(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote, backslash := x^(ones*'"'), x^(ones*'\\')
	return ((x-ones*0x20)&^x | (quote-ones)&^quote | (backslash-ones)&^backslash) & highs
}

// hexRune reads four hex digits; n is -1 if they are not.
func hexRune(p []byte) (rune, int) {
	if len(p) < 4 {
		return 0, -1
	}
	var r rune
	for _, c := range p[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, -1
		}
		r = r*16 + rune(c)
	}
	return r, 4
}
