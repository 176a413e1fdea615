package storage

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"sync"

	"github.com/klauspost/compress/s2"
)

// Chunk values start with a one-byte encoding tag. Shell output compresses
// several times over with S2, fast, which cuts both the store's size and the
// bytes each commit writes; data that does not shrink (random, already
// compressed) is kept as it is.
//
// Chunks written now also carry a CRC-32C of their number and decoded bytes
// (after the tag, little-endian), checked whenever they are decoded: a
// reader trusts each chunk on its own, on any core, instead of hashing the
// whole capture in order before it may hand out a line. The capture's
// SHA-256 stays what verify checks. Chunks from before (raw, S2) still read.
const (
	chunkRaw    byte = 0
	chunkS2     byte = 1
	chunkRawCRC byte = 2
	chunkS2CRC  byte = 3
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// chunkSum is what a chunk's CRC covers: its number, so that a chunk in the
// wrong place does not pass, and its bytes.
func chunkSum(n uint64, data []byte) uint32 {
	var num [8]byte
	binary.BigEndian.PutUint64(num[:], n)
	return crc32.Update(crc32.Checksum(num[:], castagnoli), castagnoli, data)
}

// encodeScratch holds S2's worst-case output; the encoded chunk is copied out
// at its own size: a pending chunk that kept the worst-case buffer would make
// the agent hold several times the batch it counts.
var encodeScratch = sync.Pool{New: func() any { return new([]byte) }}

// encodeChunk encodes chunk n of a capture for the store.
func encodeChunk(n uint64, data []byte) []byte {
	scratch := encodeScratch.Get().(*[]byte)
	defer encodeScratch.Put(scratch)
	if need := s2.MaxEncodedLen(len(data)); cap(*scratch) < need {
		*scratch = make([]byte, need)
	}
	tag, body := chunkRawCRC, data
	if enc := s2.Encode((*scratch)[:cap(*scratch)], data); len(enc) < len(data)-len(data)/8 {
		tag, body = chunkS2CRC, enc
	}
	out := make([]byte, 5+len(body))
	out[0] = tag
	binary.LittleEndian.PutUint32(out[1:], chunkSum(n, data))
	copy(out[5:], body)
	return out
}

// knownChunk reports whether v starts with an encoding tag this calm reads.
func knownChunk(v []byte) bool {
	return len(v) > 0 && v[0] <= chunkS2CRC
}

// checkedChunk reports whether v carries its own checksum.
func checkedChunk(v []byte) bool {
	return len(v) > 0 && (v[0] == chunkRawCRC || v[0] == chunkS2CRC)
}

// chunkBody splits a stored chunk into whether it is S2, its encoded bytes
// and, for a checked chunk, its CRC.
func chunkBody(v []byte) (s2Encoded bool, body []byte, sum uint32, checked bool, err error) {
	if len(v) == 0 {
		return false, nil, 0, false, fmt.Errorf("%w: empty chunk value", ErrDamaged)
	}
	switch v[0] {
	case chunkRaw, chunkS2:
		return v[0] == chunkS2, v[1:], 0, false, nil
	case chunkRawCRC, chunkS2CRC:
		if len(v) < 5 {
			return false, nil, 0, false, fmt.Errorf("%w: chunk value of %d bytes is too short", ErrDamaged, len(v))
		}
		return v[0] == chunkS2CRC, v[5:], binary.LittleEndian.Uint32(v[1:]), true, nil
	}
	return false, nil, 0, false, fmt.Errorf("%w: chunk has unknown encoding %d", ErrDamaged, v[0])
}

// decodeChunk returns chunk n's bytes as stored in v, decoding into *buf
// (grown as needed) when it must, and checks its CRC when it has one. A
// raw chunk's bytes alias v, so they are only valid inside the transaction.
// On a CRC mismatch the error is a chunkSumError.
func decodeChunk(n uint64, buf *[]byte, v []byte) ([]byte, error) {
	compressed, body, sum, checked, err := chunkBody(v)
	if err != nil {
		return nil, err
	}
	out := body
	if compressed {
		size, err := s2.DecodedLen(body)
		if err != nil || size > MaxChunk {
			return nil, fmt.Errorf("%w: chunk does not decode: %v", ErrDamaged, err)
		}
		if cap(*buf) < size {
			*buf = make([]byte, size)
		}
		if out, err = s2.Decode((*buf)[:size], body); err != nil {
			return nil, fmt.Errorf("%w: chunk does not decode: %v", ErrDamaged, err)
		}
	}
	if checked && chunkSum(n, out) != sum {
		return out, chunkSumError{n}
	}
	return out, nil
}

// chunkSumError says a chunk decoded to bytes other than those its CRC was
// made of. decodeChunk returns those bytes with it, for a hash of the whole
// capture to show the mismatch as a mismatch.
type chunkSumError struct{ n uint64 }

func (e chunkSumError) Error() string {
	return fmt.Sprintf("%v: chunk %d does not match its CRC-32C", ErrDamaged, e.n)
}

func (e chunkSumError) Unwrap() error { return ErrDamaged }

// chunkLen is a stored chunk's decoded size, found without decoding it.
func chunkLen(v []byte) (int64, error) {
	compressed, body, _, _, err := chunkBody(v)
	if err != nil {
		return 0, err
	}
	if !compressed {
		return int64(len(body)), nil
	}
	n, err := s2.DecodedLen(body)
	return int64(n), err
}

// rawChunk reports whether a stored chunk's decoded bytes are the value's
// own memory (valid only inside its transaction).
func rawChunk(v []byte) bool {
	return len(v) > 0 && (v[0] == chunkRaw || v[0] == chunkRawCRC)
}
