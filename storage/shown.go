package storage

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"

	"calm/terminal"
)

// A recorder's terminal shows output before the journal's writer has it on
// disk. So that a recorder killed at any moment keeps what the terminal
// showed, it first copies each output into a shown file beside the journal:
// a ring of the latest raw output, mapped into the recorder's memory, whose
// pages the kernel keeps when the recorder dies. Its header says how much
// output was shown in all and how much of it the journal held at a known
// size. The agent, finding the recorder gone, appends to the journal the
// output shown after that and seals it.
//
// The header, little-endian:
//
//	0   magic ShownMagic
//	8   bytes of output shown in all
//	16  the last output's time (float64 bits, seconds since the journal's start)
//	24  which slot (0 or 1) holds the journal's last known extent
//	32  slot 0: bytes of output the journal held, and the journal's size then
//	48  slot 1: the same
//
// A slot is written whole before it is made current, so a kill between the
// two leaves the other, still true. The ring starts at ShownHeader.
const (
	ShownMagic  = "calmshw1"
	ShownHeader = 4096

	ShownTotalAt = 8
	ShownTimeAt  = 16
	ShownSlotAt  = 24
	ShownSlotsAt = 32
)

// ShownPath is the shown file of the journal at path.
func ShownPath(journal string) string { return journal + ".shown" }

// RecoverShown appends to the journal of a dead recorder the output its
// terminal showed that the journal lacks, and removes the shown file. It
// returns how many bytes it appended; none if there is no shown file.
func RecoverShown(journal string) (int64, error) {
	shownPath := ShownPath(journal)
	shown, err := os.ReadFile(shownPath)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", shownPath, err)
	}
	if len(shown) <= ShownHeader || string(shown[:8]) != ShownMagic {
		return 0, fmt.Errorf("%s is not a shown file: left as it is", shownPath)
	}
	le := binary.LittleEndian
	total := int64(le.Uint64(shown[ShownTotalAt:]))
	at := math.Float64frombits(le.Uint64(shown[ShownTimeAt:]))
	slot := ShownSlotsAt + 16*int(le.Uint64(shown[ShownSlotAt:])&1)
	held, heldSize := int64(le.Uint64(shown[slot:])), int64(le.Uint64(shown[slot+8:]))
	ring := shown[ShownHeader:]

	f, err := os.OpenFile(journal, os.O_RDWR|noFollow, 0)
	if err != nil {
		return 0, fmt.Errorf("open the journal: %w", err)
	}
	defer f.Close()
	size, err := fileSize(f)
	if err != nil {
		return 0, err
	}
	if heldSize > size {
		return 0, fmt.Errorf("%s says the journal held %d bytes, it holds %d: left as it is", shownPath, heldSize, size)
	}
	// What the writer wrote after it last said so.
	after := make([]byte, size-heldSize)
	if _, err := f.ReadAt(after, heldSize); err != nil && err != io.EOF {
		return 0, fmt.Errorf("read the journal: %w", err)
	}
	n, last := castOutputIn(after)
	held += n
	at = max(at, last)
	missing := total - held
	if missing > int64(len(ring)) || missing < 0 {
		return 0, fmt.Errorf("%s holds %d bytes of output the journal lacks, of %d it can keep: left as it is", shownPath, missing, len(ring))
	}
	if missing > 0 {
		data := make([]byte, 0, missing)
		from := held % int64(len(ring))
		data = append(data, ring[from:min(int64(len(ring)), from+missing)]...)
		data = append(data, ring[:missing-int64(len(data))]...)
		var events []byte
		if len(after) > 0 && !bytes.HasSuffix(after, []byte("\n")) {
			events = append(events, '\n') // after a line cut by the kill
		}
		events = terminal.AppendOutput(events, at, data) // as the journal encodes it
		if _, err := f.WriteAt(events, size); err != nil {
			return 0, fmt.Errorf("append to the journal: %w", err)
		}
		if err := f.Sync(); err != nil {
			return 0, fmt.Errorf("fsync the journal: %w", err)
		}
		size += int64(len(events))
	}
	if err := os.Remove(shownPath); err != nil {
		return 0, fmt.Errorf("remove %s: %w", shownPath, err)
	}
	return missing, nil
}

// castOutputIn counts the output held by the asciicast events in b (lines
// after the header), a last line cut short included, as terminal.CastOutput
// reads them, and finds the latest event's time.
func castOutputIn(b []byte) (n int64, last float64) {
	c := terminal.CastOutput{W: (*countWriter)(&n)}
	c.Write(b)
	c.Close()
	for line := range bytes.Lines(b) {
		var ev [3]json.RawMessage
		if json.Unmarshal(terminal.RepairCutEvent(bytes.TrimSuffix(line, []byte("\n"))), &ev) == nil {
			if t, err := strconv.ParseFloat(string(ev[0]), 64); err == nil {
				last = max(last, t)
			}
		}
	}
	return n, last
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}
