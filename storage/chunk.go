package storage

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/pierrec/lz4/v4"
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
//
// A capture's search lines (lines.go) are read at every search and written
// once, at idle: they are LZ4 blocks, which decode much faster than S2 and
// are as small on shell output; the decoded size follows the CRC (4 bytes,
// little-endian), as an LZ4 block does not hold it. Their CRC covers the
// encoded bytes (the size and the block), a quarter as many as it would
// decoded: every search pays for it. Search lines written before covered the decoded bytes; they still
// read.
const (
	chunkRaw       byte = 0
	chunkS2        byte = 1
	chunkRawCRC    byte = 2
	chunkS2CRC     byte = 3
	chunkLZ4CRC    byte = 4
	chunkLZ4Sealed byte = 5
)

// chunkEncoding is how a chunk's bytes are stored.
type chunkEncoding uint8

const (
	encodedRaw chunkEncoding = iota
	encodedS2
	encodedLZ4
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

// lz4Compressors keep LZ4's hash tables between chunks.
var lz4Compressors = sync.Pool{New: func() any { return new(lz4.Compressor) }}

// encodeTextChunk encodes chunk n of a capture's search lines: LZ4, or as it
// is when that does not shrink it.
func encodeTextChunk(n uint64, data []byte) []byte {
	scratch := encodeScratch.Get().(*[]byte)
	defer encodeScratch.Put(scratch)
	if need := lz4.CompressBlockBound(len(data)); cap(*scratch) < need {
		*scratch = make([]byte, need)
	}
	c := lz4Compressors.Get().(*lz4.Compressor)
	size, err := c.CompressBlock(data, (*scratch)[:cap(*scratch)])
	lz4Compressors.Put(c)
	if err != nil || size == 0 || size >= len(data)-len(data)/8 {
		out := make([]byte, 5+len(data))
		out[0] = chunkRawCRC
		copy(out[5:], data)
		binary.LittleEndian.PutUint32(out[1:], chunkSum(n, data))
		return out
	}
	out := make([]byte, 9+size)
	out[0] = chunkLZ4Sealed
	binary.LittleEndian.PutUint32(out[5:], uint32(len(data)))
	copy(out[9:], (*scratch)[:size])
	binary.LittleEndian.PutUint32(out[1:], chunkSum(n, out[5:]))
	return out
}

// knownChunk reports whether v starts with an encoding tag this calm reads.
func knownChunk(v []byte) bool {
	return len(v) > 0 && v[0] <= chunkLZ4Sealed
}

// checkedChunk reports whether v carries its own checksum.
func checkedChunk(v []byte) bool {
	return len(v) > 0 && v[0] >= chunkRawCRC && v[0] <= chunkLZ4Sealed
}

// chunkBody splits a stored chunk into its encoding, its encoded bytes (for
// LZ4, the decoded size, then the block) and, for a checked chunk, its CRC.
func chunkBody(v []byte) (enc chunkEncoding, body []byte, sum uint32, checked bool, err error) {
	if len(v) == 0 {
		return 0, nil, 0, false, fmt.Errorf("%w: empty chunk value", ErrDamaged)
	}
	switch v[0] {
	case chunkRaw:
		return encodedRaw, v[1:], 0, false, nil
	case chunkS2:
		return encodedS2, v[1:], 0, false, nil
	case chunkRawCRC, chunkS2CRC, chunkLZ4CRC, chunkLZ4Sealed:
		if len(v) < 5 || v[0] >= chunkLZ4CRC && len(v) < 9 {
			return 0, nil, 0, false, fmt.Errorf("%w: chunk value of %d bytes is too short", ErrDamaged, len(v))
		}
		enc = encodedRaw
		switch v[0] {
		case chunkS2CRC:
			enc = encodedS2
		case chunkLZ4CRC, chunkLZ4Sealed:
			enc = encodedLZ4
		}
		return enc, v[5:], binary.LittleEndian.Uint32(v[1:]), true, nil
	}
	return 0, nil, 0, false, fmt.Errorf("%w: chunk has unknown encoding %d", ErrDamaged, v[0])
}

// decodeChunk returns chunk n's bytes as stored in v, decoding into *buf
// (grown as needed) when it must, and checks its CRC when it has one. A
// raw chunk's bytes alias v, so they are only valid inside the transaction.
// On a CRC mismatch the error is a chunkSumError.
func decodeChunk(n uint64, buf *[]byte, v []byte) ([]byte, error) {
	enc, body, sum, checked, err := chunkBody(v)
	if err != nil {
		return nil, err
	}
	out := body
	switch enc {
	case encodedLZ4:
		size := binary.LittleEndian.Uint32(body)
		if size > MaxChunk {
			return nil, fmt.Errorf("%w: chunk says it decodes to %d bytes", ErrDamaged, size)
		}
		if cap(*buf) < int(size) {
			*buf = make([]byte, size)
		}
		k, err := lz4.UncompressBlock(body[4:], (*buf)[:size])
		// The block's CRC is checked once it is decoded, when its bytes
		// are in the core's cache already: before, its first read from
		// memory would be the CRC's, and cost as much as the decoding saves.
		if checked && v[0] == chunkLZ4Sealed && chunkSum(n, body) != sum {
			return nil, chunkSumError{n}
		}
		if err != nil || k != int(size) {
			return nil, fmt.Errorf("%w: chunk does not decode: %d of %d bytes, %v", ErrDamaged, k, size, err)
		}
		out = (*buf)[:size]
	case encodedS2:
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
	if checked && v[0] != chunkLZ4Sealed && chunkSum(n, out) != sum {
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
	enc, body, _, _, err := chunkBody(v)
	switch {
	case err != nil:
		return 0, err
	case enc == encodedLZ4:
		return int64(binary.LittleEndian.Uint32(body)), nil
	case enc == encodedS2:
		n, err := s2.DecodedLen(body)
		return int64(n), err
	}
	return int64(len(body)), nil
}

// rawChunk reports whether a stored chunk's decoded bytes are the value's
// own memory (valid only inside its transaction).
func rawChunk(v []byte) bool {
	return len(v) > 0 && (v[0] == chunkRaw || v[0] == chunkRawCRC)
}
