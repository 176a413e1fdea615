package storage

import (
	"bytes"
	"encoding/json"
	"io"
)

// CastOutput turns an asciicast v2 stream (a session's bytes) into the output
// it recorded: it writes the data of every "o" event to W, in order.
type CastOutput struct {
	W       io.Writer
	partial []byte
	header  bool
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
	if !c.header {
		c.header = true // the first line is the header
		return nil
	}
	var ev [3]json.RawMessage
	if json.Unmarshal(line, &ev) != nil || string(ev[1]) != `"o"` {
		return nil // resize, input, marker events and damage carry no output
	}
	var data string
	if json.Unmarshal(ev[2], &data) != nil {
		return nil
	}
	_, err := io.WriteString(c.W, data)
	return err
}

// Close handles a last line without a newline.
func (c *CastOutput) Close() error {
	if len(c.partial) == 0 {
		return nil
	}
	err := c.line(c.partial)
	c.partial = nil
	return err
}
