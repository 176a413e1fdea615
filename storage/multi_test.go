package storage

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// The multi-literal source finds where the first of its needles starts,
// as a scan for each would: case as it is, or ASCII letters either way;
// needles of every length from the shortest window up, sharing starts,
// near the end of the text.
func TestMultiLiteralFindsTheFirstNeedle(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("abcAB-0123 ")
	word := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		return b
	}
	for round := range 300 {
		fold := round%2 == 1
		var needles []needle
		for range 2 + r.IntN(40) {
			n := needle{lit: word(2 + r.IntN(12)), fold: fold}
			if fold {
				n.lit = bytes.ToLower(n.lit)
			}
			needles = append(needles, n)
		}
		ptrs := make([]*needle, len(needles))
		for i := range needles {
			ptrs[i] = &needles[i]
		}
		m := newMultiLiteral(ptrs)
		text := word(r.IntN(400))
		for pos := 0; pos <= len(text); pos++ {
			want := len(text)
			for _, n := range needles {
				var i int
				if fold {
					i = bytes.Index(bytes.ToLower(text[pos:]), n.lit)
				} else {
					i = bytes.Index(text[pos:], n.lit)
				}
				if i >= 0 && pos+i < want {
					want = pos + i
				}
			}
			if got := m.find(text, pos); got != want {
				t.Fatalf("round %d, fold %v, from %d in %q: found %d, want %d (needles %s)", round, fold, pos, text, got, want, fmt.Sprint(needles))
			}
		}
	}
	if newMultiLiteral([]*needle{{lit: []byte("ab")}, {lit: []byte("x")}}) != nil {
		t.Fatal("a one-byte needle got a multi-literal source: its window would pass everywhere")
	}
}
