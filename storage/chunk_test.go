package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/pierrec/lz4/v4"
	bolt "go.etcd.io/bbolt"
)

// Both encodings (S2 for output, LZ4 for search lines) decode to what was
// encoded, and a chunk changed anywhere, read as another, or claiming
// another size is damaged, never other bytes.
func TestChunkCRCFindsChangedAndMisplacedBytes(t *testing.T) {
	for kind, encode := range map[string]func(uint64, []byte) []byte{"output": encodeChunk, "search lines": encodeTextChunk} {
		testChunkEncoding(t, kind, encode)
	}
}

func testChunkEncoding(t *testing.T, kind string, encode func(uint64, []byte) []byte) {
	for name, data := range map[string][]byte{
		"compressible":   bytes.Repeat([]byte("GET /v1/orders 200\n"), 5000),
		"incompressible": []byte(strings.Repeat("\x8f\x13\xa2\x07", 1)), // too short to shrink
	} {
		name = kind + ", " + name
		v := encode(7, data)
		if name == "search lines, compressible" && v[0] != chunkLZ4Sealed {
			t.Fatalf("%s: tag %d, not LZ4", name, v[0])
		}
		if !checkedChunk(v) {
			t.Fatalf("%s: a new chunk carries no CRC (tag %d)", name, v[0])
		}
		var buf []byte
		if got, err := decodeChunk(7, &buf, v); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: decodes to %d bytes, %v", name, len(got), err)
		}
		if n, err := chunkLen(v); err != nil || n != int64(len(data)) {
			t.Fatalf("%s: chunkLen %d, %v", name, n, err)
		}
		if _, err := decodeChunk(8, &buf, v); !errors.As(err, new(chunkSumError)) || !errors.Is(err, ErrDamaged) {
			t.Fatalf("%s: chunk 7 read as chunk 8: %v", name, err)
		}
		changed := append([]byte(nil), v...)
		changed[len(changed)-1] ^= 0x01
		if _, err := decodeChunk(7, &buf, changed); !errors.Is(err, ErrDamaged) {
			t.Fatalf("%s: a flipped bit went unseen: %v", name, err)
		}
		if v[0] == chunkLZ4Sealed {
			changed := append([]byte(nil), v...)
			changed[9] ^= 0x01 // the block's first byte, which a CRC of decoded bytes would see only after decoding
			if _, err := decodeChunk(7, &buf, changed); !errors.As(err, new(chunkSumError)) {
				t.Fatalf("%s: a flipped bit in the block is not a CRC mismatch: %v", name, err)
			}
			for _, size := range []uint32{uint32(len(data)) - 1, uint32(len(data)) + 1, MaxChunk + 1} {
				lying := append([]byte(nil), v...)
				binary.LittleEndian.PutUint32(lying[5:], size)
				if _, err := decodeChunk(7, &buf, lying); !errors.Is(err, ErrDamaged) {
					t.Fatalf("%s: a chunk claiming %d bytes, not %d, read: %v", name, size, len(data), err)
				}
			}
			if _, err := decodeChunk(7, &buf, v[:len(v)/2]); !errors.Is(err, ErrDamaged) {
				t.Fatalf("%s: half a chunk read: %v", name, err)
			}
		}
	}
}

// Search lines written before their CRC covered the encoded bytes (tag
// chunkLZ4CRC: a CRC of the decoded bytes) still read, and still show a
// change.
func TestSearchLinesOfEarlierCalmsRead(t *testing.T) {
	data := bytes.Repeat([]byte("2026-11-26T15:08:58Z ERROR worker-15: connection reset by peer\n"), 3000)
	block := make([]byte, lz4.CompressBlockBound(len(data)))
	size, err := new(lz4.Compressor).CompressBlock(data, block)
	if err != nil || size == 0 {
		t.Fatal(size, err)
	}
	v := make([]byte, 9+size)
	v[0] = chunkLZ4CRC
	binary.LittleEndian.PutUint32(v[1:], chunkSum(3, data))
	binary.LittleEndian.PutUint32(v[5:], uint32(len(data)))
	copy(v[9:], block[:size])
	var buf []byte
	if got, err := decodeChunk(3, &buf, v); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("an earlier chunk decodes to %d bytes, %v", len(got), err)
	}
	if _, err := decodeChunk(4, &buf, v); !errors.As(err, new(chunkSumError)) {
		t.Fatalf("an earlier chunk read as another: %v", err)
	}
}

// legacyChunks rewrites a capture's chunks as calm wrote them before CRCs
// (raw or S2, no checksum).
func legacyChunks(t *testing.T, path, incident, capture string) {
	t.Helper()
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = b.Update(func(tx *bolt.Tx) error {
		cb := tx.Bucket(bucketIncidents).Bucket([]byte(incident)).Bucket(bucketChunks).Bucket([]byte(capture))
		var old [][2][]byte
		err := cb.ForEach(func(k, v []byte) error {
			var buf []byte
			data, err := decodeChunk(be64(k), &buf, v)
			if err != nil {
				return err
			}
			legacy := append([]byte{chunkRaw}, data...)
			if n := len(data); n > 1000 {
				legacy = append([]byte{chunkS2}, s2.Encode(nil, data)...)
			}
			old = append(old, [2][]byte{append([]byte(nil), k...), legacy})
			return nil
		})
		for _, kv := range old {
			if err := cb.Put(kv[0], kv[1]); err != nil {
				return err
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func be64(k []byte) uint64 {
	var n uint64
	for _, b := range k {
		n = n<<8 | uint64(b)
	}
	return n
}

// A store written before chunks had CRCs reads, searches and verifies as
// before, and a damaged chunk in it is still found (by the whole hash).
func TestChunksFromBeforeCRCsStillReadAndAreChecked(t *testing.T) {
	searchOutputOnly(t) // what a search of old chunks does
	path := filepath.Join(t.TempDir(), "calm.db")
	db, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.NewBuffer(originalDocument())
	c := save(t, db, "original", data.Bytes())
	q := SearchQuery{Pattern: "line 1[0-9]0000 of"}
	want, err := searchAll(db, q)
	if err != nil || len(want) != 5 {
		t.Fatalf("before: %d matches, %v", len(want), err)
	}
	db.Close()
	legacyChunks(t, path, c.Incident, c.ID)

	db, err = Open(Options{Path: path, Notice: func(string) {}})
	if err != nil {
		t.Fatal(err)
	}
	ref := c.Incident + "/" + c.ID
	if db.chunksChecked(c.Incident, c.ID) {
		t.Fatal("the rewritten chunks still carry CRCs")
	}
	readChecks.Clear()
	if got := content(t, db, ref); !bytes.Equal(got, data.Bytes()) {
		t.Fatalf("content: %d bytes, want %d", len(got), data.Len())
	}
	if got, err := searchAll(db, q); err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("search of old chunks: %v, %v", got, err)
	}
	if rep, err := db.Verify(context.Background(), ""); err != nil || len(rep.Problems) != 0 {
		t.Fatalf("verify: %+v, %v", rep.Problems, err)
	}
	db.Close()

	damageChunk(t, path, c.Incident, c.ID, 2)
	db, err = Open(Options{Path: path, Notice: func(string) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	readChecks.Clear()
	// The evidence copy matches, so the lines come from it, all of them.
	if got, err := searchAll(db, q); err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("search of a damaged old chunk: %v, %v", got, err)
	}
	if got, _ := db.Capture(ref); got.Copies[0].State != CopyMismatch {
		t.Fatalf("the damaged old store copy is recorded as %s", got.Copies[0].State)
	}
}

// Two chunks swapped in the file keep their CRCs but not their places:
// search stops at the first and reads the rest from a verified copy.
func TestSwappedChunksAreFound(t *testing.T) {
	searchOutputOnly(t) // the chunks, not search lines derived meanwhile (which the swap leaves whole)
	path := filepath.Join(t.TempDir(), "calm.db")
	db, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.NewBuffer(originalDocument())
	c := save(t, db, "original", data.Bytes())
	q := SearchQuery{Pattern: "line 1[0-4]0000 of"}
	want, err := searchAll(db, q)
	if err != nil || len(want) != 5 {
		t.Fatalf("before: %d matches, %v", len(want), err)
	}
	db.Close()
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = b.Update(func(tx *bolt.Tx) error {
		cb := tx.Bucket(bucketIncidents).Bucket([]byte(c.Incident)).Bucket(bucketChunks).Bucket([]byte(c.ID))
		one, two := append([]byte(nil), cb.Get(u64(1))...), append([]byte(nil), cb.Get(u64(2))...)
		if err := cb.Put(u64(1), two); err != nil {
			return err
		}
		return cb.Put(u64(2), one)
	})
	b.Close()
	if err != nil {
		t.Fatal(err)
	}
	var notices []string
	db, err = Open(Options{Path: path, Notice: func(n string) { notices = append(notices, n) }})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	readChecks.Clear()
	if got, err := searchAll(db, q); err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("search of swapped chunks: %v, %v", got, err)
	}
	if len(notices) != 1 || !strings.Contains(notices[0], "evidence copy") {
		t.Fatalf("notices: %q", notices)
	}
}
