package storage

import "bytes"

// StrippedLine is what the search reads of one line of a chunk, for the
// tests in package storage_test (which may import capture, which imports
// storage): the line with its escapes taken out, the raw bytes that maps
// back to, whether it ends where the raw line does (no sequence was taken
// out at its end), and its text when it is known without sanitising.
type StrippedLine struct {
	Stripped, Raw, Text []byte
	EndsRaw, Known      bool
}

// StripLines strips chunk (whole lines, each ending in '\n') as the search
// does.
func StripLines(chunk []byte) []StrippedLine {
	var s stripped
	s.strip(chunk)
	var lines []StrippedLine
	for start := 0; start < len(s.text); {
		end := start + bytes.IndexByte(s.text[start:], '\n')
		t, known := textOf(s.text[start:end], s.endsRaw(end))
		lines = append(lines, StrippedLine{s.text[start:end], s.raw(chunk, start, end), t, s.endsRaw(end), known})
		start = end + 1
	}
	return lines
}
