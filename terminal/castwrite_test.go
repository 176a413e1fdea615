package terminal

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzAppendJSONStringMatchesEncodingJSON(f *testing.F) {
	f.Add("plain \x1b[31mred\r\n \"quoted\" \\ tab\t \x00 caf\xc3\xa9 \xff")
	f.Fuzz(func(t *testing.T, s string) {
		ours := appendJSONString(nil, []byte(s))
		var back string
		if err := json.Unmarshal(ours, &back); err != nil {
			t.Fatalf("%q does not decode: %v", ours, err)
		}
		var want string
		std, _ := json.Marshal(s)
		json.Unmarshal(std, &want)
		if back != want {
			t.Fatalf("%q decodes to %q, encoding/json's to %q", ours, back, want)
		}
	})
}

// The scan takes eight bytes at a time: a byte that needs a look, at any
// place in a word, after any other, must be seen.
func TestAppendJSONStringSeesEveryByteInAWord(t *testing.T) {
	special := []string{"\x00", "\x1b", "\x1f", "\n", "\"", "\\", "\x7f", "\u00e9", "\u2714", "\xff", "\xc3"}
	for _, a := range special {
		for _, b := range append(special, " ") {
			for at := 0; at < 17; at++ {
				s := strings.Repeat("x", at) + a + strings.Repeat("y", 3) + b + strings.Repeat("z", 9)
				var back, want string
				if err := json.Unmarshal(appendJSONString(nil, []byte(s)), &back); err != nil {
					t.Fatalf("%q: %v", s, err)
				}
				std, _ := json.Marshal(s)
				json.Unmarshal(std, &want)
				if back != want {
					t.Fatalf("%q decodes to %q, encoding/json's to %q", s, back, want)
				}
			}
		}
	}
}

// BenchmarkAppendJSONString encodes output like bench/gen's (log lines,
// Mongo documents full of quotes, colours, a non-ASCII mark, CRLF as a
// terminal sends it) in reads of 4095 bytes, as the recorder gets them.
func BenchmarkAppendJSONString(b *testing.B) {
	lines := []string{
		"\x1b[31mERROR\x1b[0m worker-15: connection reset by peer (retry 3 of 5)\r\n",
		`{ _id: ObjectId("65f1000000009408d2ac22c4"), user: "u40456", total: NumberLong(203300), at: ISODate("2026-11-26T10:14:00Z") }` + "\r\n",
		"\x1b[1;32m\u2714\x1b[0m step 4 passed \x1b[2m(1445 ms)\x1b[0m\r\n",
		"2026-11-26T15:08:58.047Z INFO  api request id=4c0d9a56 path=/v1/orders/138287 status=200 took=388ms\r\n",
	}
	var out []byte
	for len(out) < 4<<20 {
		out = append(out, lines[len(out)%len(lines)]...)
	}
	b.SetBytes(int64(len(out)))
	var dst []byte
	for b.Loop() {
		for p := out; len(p) > 0; {
			n := min(len(p), 4095)
			dst = appendJSONString(dst[:0], p[:n])
			p = p[n:]
		}
	}
}

// AppendOutput writes events that give the output back: CastOutput the
// bytes exactly, a player (CastReader) the text with U+FFFD for what is not
// UTF-8. It fits in MaxEventsLen, which the journal reserves in memory it
// must not leave.
func TestAppendOutputGivesTheBytesBack(t *testing.T) {
	for _, data := range [][]byte{
		[]byte("plain \x1b[31mred\x1b[0m \"quoted\" \\ caf\xc3\xa9\r\n"),
		[]byte("latin-1 caf\xe9 and \xff\xfe binary"),
		[]byte("\x00\x01\x02\x7f\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b"), // every byte escaped
		bytes.Repeat([]byte{0x80}, 100),                                // every byte U+FFFD, and a "b" event
		{},
	} {
		room := make([]byte, 0, MaxEventsLen(len(data)))
		events := AppendOutput(room, 86400.123456, data)
		if &events[:1][0] != &room[:1][0] {
			t.Errorf("%q: AppendOutput needed more than MaxEventsLen (%d bytes for %d)", data, len(events), len(data))
		}
		var exact bytes.Buffer
		out := CastOutput{W: &exact}
		out.Write(events)
		out.Close()
		if !bytes.Equal(exact.Bytes(), data) {
			t.Errorf("CastOutput gave back %q, want %q", exact.Bytes(), data)
		}
		var text strings.Builder
		r := CastReader{Event: func(at float64, kind, data string) {
			if kind == "o" {
				text.WriteString(data)
			}
			if at != 86400.123456 {
				t.Errorf("%s event at %v, want 86400.123456", kind, at)
			}
		}}
		r.Write([]byte(`{"version": 2, "width": 80, "height": 24}` + "\n"))
		r.Write(events)
		r.Close()
		var perByte strings.Builder // U+FFFD for each byte, as the journal always wrote
		for p := data; len(p) > 0; {
			r, n := utf8.DecodeRune(p)
			perByte.WriteRune(r)
			p = p[n:]
		}
		if text.String() != perByte.String() {
			t.Errorf("a player read %q, want %q", text.String(), perByte.String())
		}
	}
}
