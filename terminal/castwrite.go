package terminal

import (
	"encoding/base64"
	"encoding/binary"
	"math/bits"
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

// shortEscapes are the two-byte escapes; other control bytes get \u00XX.
var shortEscapes = [256]byte{'"': '"', '\\': '\\', '\n': 'n', '\r': 'r', '\t': 't'}

// jsonSafe marks the bytes a JSON string holds as they are: printable ASCII
// but the quote and the backslash.
var jsonSafe = func() (safe [256]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		safe[b] = b != '"' && b != '\\'
	}
	return safe
}()

// Bytes repeated in every byte of a word, for unsafeBytes.
const (
	eachByte = 0x0101010101010101
	highBits = 0x8080808080808080
)

// unsafeBytes has the high bit set in each byte of w that is not jsonSafe
// (a control byte, a quote, a backslash, a byte of a non-ASCII character),
// and is 0 when there is none. (x - n*eachByte) &^ x & highBits marks the
// bytes of x below n (n <= 0x80), and a byte equal to c is a zero byte of
// x ^ c*eachByte. A borrow can mark a safe byte too, but only one after a
// byte rightly marked: the lowest mark is always right.
func unsafeBytes(w uint64) uint64 {
	control := (w - 0x20*eachByte) &^ w
	q := w ^ '"'*eachByte
	quote := (q - eachByte) &^ q
	bs := w ^ '\\'*eachByte
	backslash := (bs - eachByte) &^ bs
	return (control | quote | backslash | w) & highBits
}

// appendJSONString quotes s as JSON, as asciinema does (no HTML escaping),
// without encoding/json's reflection: the recorder does this for every read,
// on the way from the terminal to its next read. What needs no escape, whole
// UTF-8 characters included, is copied a run at a time.
func appendJSONString(dst []byte, s []byte) []byte {
	dst = append(dst, '"')
	run := 0 // where the bytes not yet copied begin
	for i := 0; i < len(s); {
		// Eight bytes at a time while none needs a look: most output is
		// runs of printable ASCII between a few escapes.
		for i+8 <= len(s) {
			unsafe := unsafeBytes(binary.LittleEndian.Uint64(s[i:]))
			if unsafe != 0 {
				i += bits.TrailingZeros64(unsafe) / 8
				break
			}
			i += 8
		}
		if i == len(s) {
			break
		}
		b := s[i]
		if jsonSafe[b] {
			i++
			continue
		}
		if b >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(s[i:])
			if r != utf8.RuneError || size > 1 {
				i += size // a whole character: part of the run
				continue
			}
			dst = append(append(dst, s[run:i]...), `\ufffd`...)
			i++
			run = i
			continue
		}
		dst = append(dst, s[run:i]...)
		if e := shortEscapes[b]; e != 0 {
			dst = append(dst, '\\', e)
		} else {
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
		}
		i++
		run = i
	}
	dst = append(dst, s[run:]...)
	return append(dst, '"')
}
