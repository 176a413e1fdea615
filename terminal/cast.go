package terminal

import (
	"encoding/base64"
	"encoding/json"
	"io"
)

// CastOutput turns an asciicast stream (a session's bytes, or a journal's
// tail after its header) into the output it recorded: it writes the data of
// every "o" event to W, in order. Where the output was not UTF-8, calm's
// journal wrote a "b" event (the bytes exactly, base64) just before the "o"
// event (its text, with U+FFFD): the bytes are written, and that "o" event
// is not. It reads the stream with a CastReader, so damage is skipped as
// everywhere else.
type CastOutput struct {
	W io.Writer

	r     CastReader
	exact bool // the last event was a "b": its "o" is skipped
	err   error
}

func (c *CastOutput) Write(p []byte) (int, error) {
	if c.r.EventBytes == nil {
		c.r.EventBytes = c.event
	}
	if c.err == nil {
		c.r.Write(p)
	}
	if c.err != nil {
		return 0, c.err
	}
	return len(p), nil
}

func (c *CastOutput) event(_ float64, kind string, data []byte) {
	if c.err != nil {
		return
	}
	switch kind {
	case "b":
		exact := make([]byte, base64.StdEncoding.DecodedLen(len(data)))
		n, err := base64.StdEncoding.Decode(exact, data)
		if err != nil {
			return // damage carries no output
		}
		c.exact = true
		_, c.err = c.W.Write(exact[:n])
	case "o":
		if c.exact {
			c.exact = false
			return
		}
		_, c.err = c.W.Write(data)
	}
	// Resize, input and marker events carry no output.
}

// Close handles a last line without a newline.
func (c *CastOutput) Close() error {
	if c.err == nil {
		c.r.EventBytes = c.event
		c.r.Close()
	}
	return c.err
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
