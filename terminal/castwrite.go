package terminal

import (
	"encoding/base64"
	"encoding/binary"
	"math/bits"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Header is the first line of an asciicast v2 file.
type Header struct {
	Version   int               `json:"version"`
	Width     int               `json:"width"`
	Height    int               `json:"height"`
	Timestamp int64             `json:"timestamp"`
	Title     string            `json:"title,omitempty"`
	Env       map[string]string `json:"env,omitempty"`
}

// AppendEvent appends an event line as asciinema writes it,
// `[1.234567, "o", "text"]` and a newline: the time in seconds since the
// start, to the microsecond, the kind, and the data as a JSON string, where
// bytes that are not UTF-8 become U+FFFD. The recorder does this for every
// read, so it allocates nothing where dst has MaxEventsLen(len(data)) free.
func AppendEvent(dst []byte, at float64, kind byte, data []byte) []byte {
	dst = appendEventStart(dst, at, kind)
	dst = appendJSONString(dst, data)
	return append(dst, "]\n"...)
}

// AppendOutput appends output as calm's journal records it: an "o" event,
// its text with U+FFFD for what is not UTF-8, as asciicast needs text; and
// where the output is not UTF-8, just before it a "b" event that keeps the
// bytes exactly (base64), for calm show --raw (CastOutput). Players skip it.
func AppendOutput(dst []byte, at float64, data []byte) []byte {
	if !utf8.Valid(data) {
		dst = appendEventStart(dst, at, 'b')
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, data)
		dst = append(dst, "\"]\n"...)
	}
	return AppendEvent(dst, at, 'o', data)
}

// MaxEventsLen is the most room AppendEvent or AppendOutput needs after
// dst's end for n bytes of data: every byte escaped as \u00XX, the base64
// of a "b" event, and the times and punctuation.
func MaxEventsLen(n int) int { return 6*n + 4*((n+2)/3) + 128 }

func appendEventStart(dst []byte, at float64, kind byte) []byte {
	dst = append(dst, '[')
	dst = strconv.AppendFloat(dst, at, 'f', 6, 64)
	dst = append(dst, `, "`...)
	dst = append(dst, kind)
	return append(dst, `", `...)
}

const hexDigits = "0123456789abcdef"

// specialBytes marks (with its high bit) each of the eight bytes in x that
// a JSON string cannot hold as it is: a control byte, a quote, a backslash,
// or a byte of a non-ASCII character. Bits above the lowest mark may be
// wrong (borrows run upwards); the lowest is exact, and only it is used.
func specialBytes(x uint64) uint64 {
	// Written out, not as a helper: a closure here kept the compiler from
	// inlining this function, which then cost half the encoding time.
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote, backslash := x^(ones*'"'), x^(ones*'\\')
	return ((x-ones*0x20)&^x | (quote-ones)&^quote | (backslash-ones)&^backslash | x) & highs
}

// shortEscapes are the two-byte escapes; other control bytes get \u00XX.
var shortEscapes = [256]byte{'"': '"', '\\': '\\', '\n': 'n', '\r': 'r', '\t': 't'}

// appendJSONString quotes s as JSON, as asciinema does (no HTML escaping),
// without encoding/json's reflection: the recorder does this for every read.
// Output is mostly plain ASCII with an escape every dozen bytes or so (CRLF,
// colours, quotes). Eight bytes at a time, it stores the whole word and
// keeps the bytes before the first one to escape: no call to copy a run,
// and a short run costs what a long one does.
func appendJSONString(dst []byte, s []byte) []byte {
	// Room for the worst case (every byte \u00XX) and one word's overshoot.
	dst = slices.Grow(dst, 6*len(s)+2+8)
	o := len(dst)
	out := dst[:cap(dst)]
	out[o] = '"'
	o++
	i := 0
	for {
		for i+8 <= len(s) {
			w := binary.LittleEndian.Uint64(s[i:])
			binary.LittleEndian.PutUint64(out[o:], w)
			m := specialBytes(w)
			if m == 0 {
				i += 8
				o += 8
				continue
			}
			k := bits.TrailingZeros64(m) >> 3
			i += k
			o += k
			break
		}
		for i < len(s) && i+8 > len(s) && s[i] >= 0x20 && s[i] != '"' && s[i] != '\\' && s[i] < utf8.RuneSelf {
			out[o] = s[i] // the last few bytes, one at a time
			i++
			o++
		}
		if i >= len(s) {
			break
		}
		switch b := s[i]; {
		case b >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				o += copy(out[o:], `\ufffd`)
			} else {
				o += copy(out[o:], s[i:i+size])
			}
			i += size
		case shortEscapes[b] != 0:
			out[o], out[o+1] = '\\', shortEscapes[b]
			o += 2
			i++
		default:
			out[o], out[o+1], out[o+2], out[o+3], out[o+4], out[o+5] = '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf]
			o += 6
			i++
		}
	}
	out[o] = '"'
	return out[:o+1]
}
