package storage

import (
	"fmt"
	"sync"

	"github.com/klauspost/compress/s2"
)

// Chunk values start with a one-byte encoding tag. Shell output compresses
// several times over with S2, fast, which cuts both the store's size and the
// bytes each commit writes; data that does not shrink (random, already
// compressed) is kept as it is.
const (
	chunkRaw byte = 0
	chunkS2  byte = 1
)

// encodeScratch holds S2's worst-case output; the encoded chunk is copied out
// at its own size. Pending chunks used to keep the whole worst-case buffer
// (1.2 MiB for a chunk that compresses to 0.3), which made the agent hold
// four times the batch it counted.
var encodeScratch = sync.Pool{New: func() any { return new([]byte) }}

func encodeChunk(data []byte) []byte {
	scratch := encodeScratch.Get().(*[]byte)
	defer encodeScratch.Put(scratch)
	if need := s2.MaxEncodedLen(len(data)); cap(*scratch) < need {
		*scratch = make([]byte, need)
	}
	enc := s2.Encode((*scratch)[:cap(*scratch)], data)
	if len(enc) < len(data)-len(data)/8 {
		out := make([]byte, 1+len(enc))
		out[0] = chunkS2
		copy(out[1:], enc)
		return out
	}
	out := make([]byte, 1+len(data))
	out[0] = chunkRaw
	copy(out[1:], data)
	return out
}

// decodeChunk returns a stored chunk's bytes, decoding into *buf (grown as
// needed) when it must. A raw chunk's bytes alias v, so they are only valid
// inside the transaction.
func decodeChunk(buf *[]byte, v []byte) ([]byte, error) {
	if len(v) == 0 {
		return nil, fmt.Errorf("%w: empty chunk value", ErrDamaged)
	}
	switch v[0] {
	case chunkRaw:
		return v[1:], nil
	case chunkS2:
		n, err := s2.DecodedLen(v[1:])
		if err != nil || n > MaxChunk {
			return nil, fmt.Errorf("%w: chunk does not decode: %v", ErrDamaged, err)
		}
		if cap(*buf) < n {
			*buf = make([]byte, n)
		}
		out, err := s2.Decode((*buf)[:n], v[1:])
		if err != nil {
			return nil, fmt.Errorf("%w: chunk does not decode: %v", ErrDamaged, err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: chunk has unknown encoding %d", ErrDamaged, v[0])
}

// chunkLen is a stored chunk's decoded size, found without decoding it.
func chunkLen(v []byte) (int64, error) {
	if len(v) == 0 {
		return 0, fmt.Errorf("%w: empty chunk value", ErrDamaged)
	}
	if v[0] == chunkRaw {
		return int64(len(v) - 1), nil
	}
	n, err := s2.DecodedLen(v[1:])
	return int64(n), err
}
