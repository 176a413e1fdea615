package ui

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// A document's lines read back as appended, whatever blocks they landed in:
// small ones, lines that do not fit the room left in a block, an empty
// line, and lines longer than a whole block.
func TestDocLinesReadBackAcrossBlocks(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	d := NewDoc("blocks")
	var want [][]byte
	for i := range 3000 {
		var n int
		switch {
		case i == 1000 || i == 2000:
			n = docBlock + 1 + r.IntN(docBlock) // longer than any block
		case i%7 == 0:
			n = 0
		default:
			n = r.IntN(40 << 10)
		}
		line := bytes.Repeat([]byte{byte('a' + i%26)}, n)
		if n > 0 {
			line[0], line[n-1] = '<', '>'
		}
		d.Append(line, 0)
		want = append(want, line)
	}
	if d.Len() != len(want) {
		t.Fatalf("%d lines, appended %d", d.Len(), len(want))
	}
	if len(d.blocks) < 10 {
		t.Fatalf("only %d blocks: the test does not cross blocks", len(d.blocks))
	}
	for i, w := range want {
		if got := d.Line(i); !bytes.Equal(got, w) {
			t.Fatalf("line %d: %d bytes %.20q, appended %d bytes %.20q", i, len(got), got, len(w), w)
		}
	}
	if got, w := d.Text(998, 1002), bytes.Join(append(want[998:1003:1003], nil), []byte("\n")); !bytes.Equal(got, w) {
		t.Fatalf("Text(998, 1002): %d bytes, want %d", len(got), len(w))
	}
	for _, b := range d.blocks[:len(d.blocks)-1] {
		if cap(b) > docBlock && len(b) != cap(b) {
			t.Fatalf("a block for one long line has room left: %d of %d", len(b), cap(b))
		}
	}
}
