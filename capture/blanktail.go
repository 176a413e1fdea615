package capture

import (
	"bytes"
	"io"
	"unicode/utf8"
)

// BlankTail holds back trailing blank lines: a pane's text ends with the
// empty rows below its last line, which are not output. What follows them
// goes out with them; at Close only one line end is kept.
type BlankTail struct {
	w    io.Writer
	held []byte
}

// NewBlankTail returns a BlankTail writing to w.
func NewBlankTail(w io.Writer) *BlankTail { return &BlankTail{w: w} }

func (b *BlankTail) Write(p []byte) (int, error) {
	last := bytes.LastIndexFunc(p, func(r rune) bool { return r != '\n' && r != '\r' && r != ' ' && r != '\t' })
	if last < 0 {
		b.held = append(b.held, p...)
		return len(p), nil
	}
	if len(b.held) > 0 {
		if _, err := b.w.Write(b.held); err != nil {
			return 0, err
		}
	}
	_, size := utf8.DecodeRune(p[last:]) // the whole of the last character
	if _, err := b.w.Write(p[:last+size]); err != nil {
		return 0, err
	}
	b.held = append(b.held[:0], p[last+size:]...)
	return len(p), nil
}

// Close writes the line end of the last line that had something on it.
func (b *BlankTail) Close() error {
	if bytes.IndexByte(b.held, '\n') >= 0 {
		_, err := b.w.Write([]byte{'\n'})
		return err
	}
	return nil
}
