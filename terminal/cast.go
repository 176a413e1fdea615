package terminal

import (
	"bytes"
	"encoding/json"
	"io"
)

// CastOutput turns an asciicast v2 stream (a session's bytes) into the output
// it recorded: it writes the data of every "o" event to W, in order. Where
// the output was not UTF-8, calm's journal wrote a "b" event (the bytes
// exactly, base64) just before the "o" event (its text, with U+FFFD): the
// bytes are written, and that "o" event is not.
type CastOutput struct {
	W io.Writer
	// NoHeader: the stream starts after its header (a journal's tail), so
	// its first line is an event.
	NoHeader bool
	partial  []byte
	header   bool
	exact    bool // the last event was a "b": its "o" is skipped
}

func (c *CastOutput) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			c.partial = append(c.partial, p...)
			break
		}
		line := p[:i]
		if len(c.partial) > 0 {
			line = append(c.partial, line...)
		}
		if err := c.line(line); err != nil {
			return 0, err
		}
		c.partial = c.partial[:0]
		p = p[i+1:]
	}
	return n, nil
}

func (c *CastOutput) line(line []byte) error {
	if !c.header && !c.NoHeader {
		c.header = true // the first line is the header
		return nil
	}
	var ev [3]json.RawMessage
	if json.Unmarshal(line, &ev) != nil && json.Unmarshal(RepairCutEvent(line), &ev) != nil {
		return nil // damage carries no output
	}
	var data string
	switch string(ev[1]) {
	case `"b"`:
		var exact []byte // encoding/json decodes base64 into []byte
		if json.Unmarshal(ev[2], &exact) != nil {
			return nil
		}
		c.exact = true
		_, err := c.W.Write(exact)
		return err
	case `"o"`:
		if c.exact {
			c.exact = false
			return nil
		}
		if json.Unmarshal(ev[2], &data) != nil {
			return nil
		}
		_, err := io.WriteString(c.W, data)
		return err
	}
	return nil // resize, input and marker events carry no output
}

// Close handles a last line without a newline.
func (c *CastOutput) Close() error {
	if len(c.partial) == 0 {
		return nil
	}
	err := c.line(RepairCutEvent(c.partial))
	c.partial = nil
	return err
}

// RepairCutEvent closes a journal's line cut inside an output event (its
// recorder killed between two writes, the machine stopped; the agent then
// appends what the terminal showed after it, see storage.RecoverShown):
// the output up to the cut is what the user saw. Any other line comes back
// as it is.
func RepairCutEvent(line []byte) []byte {
	if json.Valid(line) {
		return line
	}
	// Cut inside an escape (\, \u00, \u001) at worst: up to 5 bytes go.
	for cut := 0; cut <= 5 && cut < len(line); cut++ {
		closed := append(line[:len(line)-cut:len(line)-cut], `"]`...)
		var ev [3]json.RawMessage
		var data string
		if json.Unmarshal(closed, &ev) == nil && string(ev[1]) == `"o"` && json.Unmarshal(ev[2], &data) == nil {
			return closed
		}
	}
	return line
}
