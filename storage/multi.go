package storage

import (
	"bytes"
	"encoding/binary"
)

// manyNeedles is how many needles make one multi-literal source instead of
// a scan each: a pattern list (search -f ids.txt) of thousands of ObjectIds
// would scan each chunk once per needle.
const manyNeedles = 8

// multiLiteral finds where any of many needles starts. Every window of the
// text as long as the shortest needle (at most 8 bytes) is hashed, with
// ASCII letters in one case, into a bit set that holds the needles' own
// first windows: a window whose bit is clear starts none, and the others
// are looked up and compared. One pass over the text, whatever the number
// of needles.
type multiLiteral struct {
	width  int    // bytes of a window
	mask   uint64 // those bytes of a little-endian word
	seen   [1 << 16 / 64]uint64
	starts map[uint64][]*needle
}

// newMultiLiteral makes the finder of needles, or nil when one is shorter
// than two bytes (a window that short would pass on most of the text).
func newMultiLiteral(needles []*needle) *multiLiteral {
	width := 8
	for _, n := range needles {
		width = min(width, len(n.lit))
	}
	if width < 2 {
		return nil
	}
	m := &multiLiteral{width: width, mask: ^uint64(0) >> (64 - 8*width), starts: map[uint64][]*needle{}}
	for _, n := range needles {
		w := m.window(n.lit)
		m.seen[windowHash(w)/64] |= 1 << (windowHash(w) % 64)
		m.starts[w] = append(m.starts[w], n)
	}
	return m
}

// caseless sets the bit that ASCII letters differ by in case: the same
// for 'A' and 'a', and for any one byte always the same, so that windows
// equal ignoring case hash alike.
const caseless = 0x2020202020202020

func (m *multiLiteral) window(b []byte) uint64 {
	var w [8]byte
	copy(w[:], b[:m.width])
	return binary.LittleEndian.Uint64(w[:]) | caseless&m.mask
}

func windowHash(w uint64) uint64 { return (w * 0x9E3779B97F4A7C15) >> 48 }

// find returns where the first needle at or after pos in b starts, or
// len(b).
func (m *multiLiteral) find(b []byte, pos int) int {
	i := pos
	for ; i+8 <= len(b); i++ {
		w := binary.LittleEndian.Uint64(b[i:])&m.mask | caseless&m.mask
		if h := windowHash(w); m.seen[h/64]&(1<<(h%64)) != 0 && m.startsAt(b, i, w) {
			return i
		}
	}
	for ; i+m.width <= len(b); i++ {
		if w := m.window(b[i:]); m.startsAt(b, i, w) {
			return i
		}
	}
	return len(b)
}

// startsAt reports whether a needle whose first window is w starts at b[i].
func (m *multiLiteral) startsAt(b []byte, i int, w uint64) bool {
	for _, n := range m.starts[w] {
		if i+len(n.lit) > len(b) {
			continue
		}
		if at := b[i : i+len(n.lit)]; n.fold && equalFold(at, n.lit) || !n.fold && bytes.Equal(at, n.lit) {
			return true
		}
	}
	return false
}
