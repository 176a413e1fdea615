package sanitize

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// hostile is output that would act on a terminal if written to it raw.
var hostile = map[string]string{
	"osc52 clipboard write": "\x1b]52;c;cm0gLXJmIH4=\x07",
	"osc52 with ST":         "\x1b]52;c;cm0gLXJmIH4=\x1b\\",
	"window title":          "\x1b]0;pwned\x07\x1b]2;pwned\x1b\\",
	"cursor report":         "\x1b[6n",
	"device attributes":     "\x1b[c\x1b[>c",
	"mouse tracking on":     "\x1b[?1000h\x1b[?1006h",
	"bracketed paste off":   "\x1b[?2004l",
	"dcs request":           "\x1bP$qm\x1b\\",
	"c1 csi (utf-8)":        "\u009b6n",
	"c1 osc (utf-8)":        "\u009d0;pwned\u009c",
	"charset switch":        "\x1b(0",
	"apc string":            "\x1b_payload\x1b\\",
	"bell and delete":       "\x07\x7f",
}

func TestHostileSequencesNeverSurvive(t *testing.T) {
	for name, seq := range hostile {
		t.Run(name, func(t *testing.T) {
			got := Text([]byte("before " + seq + "after\n"))
			if string(got) != "before after\n" {
				t.Fatalf("got %q", got)
			}
		})
	}
}

func TestTextKeepsWhatAPersonSaw(t *testing.T) {
	cases := map[string]string{
		"plain\n":                       "plain\n",
		"tab\there\n":                   "tab\there\n",
		"\x1b[1;31mred\x1b[0m\n":        "red\n",
		"10%\r50%\r100%\n":              "100%\n",
		"crlf line\r\n":                 "crlf line\n",
		"caf\xc3\xa9 \xff\n":            "café \uFFFD\n",
		"nul\x00byte\n":                 "nulbyte\n",
		"wide 日本語\n":                    "wide 日本語\n",
		"{ _id: ObjectId(\"65f1\") }\n": "{ _id: ObjectId(\"65f1\") }\n",
		// A line's end ends any sequence, as search reads lines: output
		// cannot hide the lines after it behind a string never ended, or
		// join two lines with a sequence cut short.
		"unterminated \x1b]52;c;abc\nmore":    "unterminated \nmore",
		"line2 \x1bPdcs\nline3 DROP\n":        "line2 \nline3 DROP\n",
		"first \x1b[3\nsecond line timeout\n": "first \nsecond line timeout\n",
		"esc before lf\x1b\nnext\n":           "esc before lf\nnext\n",
		"c1 pm \xc2\x9e hidden\nshown\n":      "c1 pm \nshown\n",
		"osc across lines \x1b]0;a\nb\x07c\n": "osc across lines \nbc\n",
	}
	for in, want := range cases {
		if got := Text([]byte(in)); string(got) != want {
			t.Errorf("Text(%q) = %q, want %q", in, got, want)
		}
	}
}

// What a terminal does with a sequence cancelled (CAN, SUB), begun again
// (ESC) or ended by a C1 ST after an ESC, sanitising does: it shows what the
// terminal showed after it, and nothing of the sequence.
func TestSequencesEndWhereTheTerminalEndsThem(t *testing.T) {
	cases := map[string]string{
		"a\x1b[31\x18b\n":           "ab\n",
		"a\x1b]52;c;Zm9v\x1ab\n":    "ab\n",
		"a\x1bP$q\x18b\n":           "ab\n",
		"a\x1b\x1b[31mb\n":          "ab\n",
		"a\x1b(\x1b[1mb\n":          "ab\n",
		"a\x1b]0;t\x1b\u009cb\n":    "ab\n",     // the ESC ends the string, and takes U+009C with it
		"a\x1b]0;t\x1bxmore\x07b\n": "amoreb\n", // any ESC ends a string, as in xterm.js
		"a\u009b1\x18b\n":           "ab\n",
	}
	for in, want := range cases {
		if got := Text([]byte(in)); string(got) != want {
			t.Errorf("Text(%q) = %q, want %q", in, got, want)
		}
	}
	// A C1 ST cut between two writes still ends the string.
	var f Filter
	out := f.Append(nil, []byte("a\x1b]0;t\xc2"))
	if out = f.Append(out, []byte("\x9cb\n")); string(out) != "ab\n" {
		t.Fatalf("C1 ST cut in two: %q", out)
	}
}

func TestFilterFindsSequencesSplitAcrossWrites(t *testing.T) {
	in := []byte("a\x1b]52;c;Zm9v\x07b\x1b[31mc\u009b6nd\n")
	var f Filter
	var out []byte
	for i := range in {
		out = f.Append(out, in[i:i+1])
	}
	if string(out) != "abcd\n" {
		t.Fatalf("byte by byte: %q", out)
	}
}

func FuzzText(f *testing.F) {
	for _, seq := range hostile {
		f.Add([]byte(seq), 3)
	}
	f.Add([]byte("ok\r\nline\rover\n\xff\xfe"), 1)
	f.Fuzz(func(t *testing.T, in []byte, split int) {
		whole := Text(in)
		if !utf8.Valid(whole) {
			t.Fatalf("invalid UTF-8 out of %q", in)
		}
		for _, c := range whole {
			if c == 0x1b || (c < 0x20 && c != '\t' && c != '\n') || c == 0x7f {
				t.Fatalf("control byte %#x survived in %q", c, whole)
			}
		}
		for _, r := range string(whole) {
			if r >= 0x80 && r <= 0x9f {
				t.Fatalf("C1 control %U survived in %q", r, whole)
			}
		}
		// Pieces give the same result as the whole, wherever the split falls,
		// inside a rune or a C1 ST too (away from \r and broken runes, whose
		// meaning depends on what follows).
		if split > 0 && split < len(in) && !bytes.ContainsAny(in, "\r") && utf8.Valid(in) {
			var f Filter
			parts := f.Append(nil, in[:split])
			parts = f.Flush(f.Append(parts, in[split:]))
			if !bytes.Equal(parts, whole) {
				t.Fatalf("split at %d: %q, whole: %q", split, parts, whole)
			}
		}
	})
}

func TestCarriageReturnSplitAcrossPieces(t *testing.T) {
	for _, pieces := range [][]string{
		{"55%\r", "100%\n"},
		{"line\r", "\nnext\n"},
		{"a\r", "", "b\n"},
		{"alpha one\r", "\r\n"},
		{"alpha one\r", "\r", "\r\n"},
		{"beta\r\r", "gamma\n"},
	} {
		var f Filter
		var out []byte
		whole := ""
		for _, p := range pieces {
			f.HoldsLine()
			out = f.Append(out, []byte(p))
			whole += p
		}
		if want := Text([]byte(whole)); string(out) != string(want) {
			t.Errorf("%q in pieces: %q, whole: %q", pieces, out, want)
		}
	}
}

// AppendText adds to what dst holds: a \r in src rewrites src's own line,
// as Text would, and leaves the lines before it alone.
func TestAppendTextKeepsWhatWasBefore(t *testing.T) {
	for _, tc := range []struct{ dst, src, want string }{
		{"line one\n", "progress 10%\rdone 100%", "line one\ndone 100%10%"},
		{"held ", "10%\r20%", "held 20%"},
		{"held ", "100%\r20%", "held 20%%"},
		{"", "a\rb\nc", "b\nc"},
	} {
		if got := string(AppendText([]byte(tc.dst), []byte(tc.src))); got != tc.want {
			t.Errorf("AppendText(%q, %q) = %q, want %q", tc.dst, tc.src, got, tc.want)
		}
	}
}

// Carriage returns in a row are one: CR CR LF (a CRLF file through a pty,
// ssh -t or docker exec -t) ends a line as CRLF does, as a terminal shows it.
func TestCarriageReturnsInARowAreOne(t *testing.T) {
	for in, want := range map[string]string{
		"alpha one\r\r\nbeta two\r\n": "alpha one\nbeta two\n",
		"50%\r\r100%\n":               "100%\n",
		"kept\r\r\r":                  "kept",
	} {
		if got := string(Text([]byte(in))); got != want {
			t.Errorf("Text(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestALineWrittenOverItselfIsWhatATerminalShows: carriage returns,
// backspaces and the sequences that move along a line or erase, delete,
// insert or repeat characters make what a terminal shows (xterm's, checked
// by hand against tmux), not the bytes read in order. A fresh-eyes run
// found "ERROR disk quota exceeded\rOK" shown, and searched, as "OK".
func TestALineWrittenOverItselfIsWhatATerminalShows(t *testing.T) {
	for in, want := range map[string]string{
		"ERROR disk quota exceeded\rOK\n":    "OKROR disk quota exceeded\n",
		"progress 10%\rprogress 100% done\n": "progress 100% done\n",
		"back\b\b\b\bfront\n":                "front\n",
		"abc\b\bX\n":                         "aXc\n",
		"Loading |\b/\b-\b\\\bdone\n":        "Loading done\n",
		"\bat the start\n":                   "at the start\n",
		"50%\x1b[K\r\x1b[2Kfinished\n":       "finished\n",
		"long old text\r\x1b[Knew\n":         "new\n",
		"ab\x1b[3Ccd\n":                      "ab   cd\n",
		"abcdef\x1b[3D\x1b[1PX\n":            "abcXf\n",
		"abcdef\x1b[4G\x1b[2@\n":             "abc  def\n",
		"abcdef\x1b[2G\x1b[3X\n":             "a   ef\n",
		"key=\x1b7secret\x1b8*****\n":        "key=*****t\n",
		"x\x1b[3b\n":                         "xxxx\n",
		"\x1b[31mred\x1b[0m\rR\n":            "Red\n",
		"wide 中文\rW\n":                       "Wide 中文\n",
		"tail stays\r\n":                     "tail stays\n",
		"a\x1b[999999999Cb\n":                "a" + strings.Repeat(" ", lineColumns-2) + "b\n",
		"x\x1b[999999999b\n":                 strings.Repeat("x", lineColumns+1) + "\n",
	} {
		if got := string(Text([]byte(in))); got != want {
			if len(got) > 80 {
				got = fmt.Sprintf("%d bytes", len(got))
			}
			t.Errorf("Text(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestALineTooLongToShowLeavesNoControlBehind: past maxOver a line goes out
// as it is; the carriage return that began its rewriting went out raw too.
func TestALineTooLongToShowLeavesNoControlBehind(t *testing.T) {
	for _, in := range []string{
		strings.Repeat("a", maxOver+10) + "\rX\n",
		strings.Repeat("a", maxOver+10) + "\rX\x1b[2D\bY\n",
		"start\r" + strings.Repeat("b\x1b[C", maxOver/4) + "\rend\n",
	} {
		out := Text([]byte(in))
		if i := strings.IndexFunc(string(out), func(r rune) bool { return r < 0x20 && r != '\n' || r == 0x1b }); i >= 0 {
			t.Errorf("%d bytes in: a control %q at %d of %d bytes out", len(in), out[i], i, len(out))
		}
	}
}

// Each AppendText starts afresh though its emulator is reused: what one line
// saved or printed last is not restored or repeated by the next.
func TestEachLineStartsAfresh(t *testing.T) {
	for range 3 { // the pool hands back the emulator the line before used
		if got := string(AppendText(nil, []byte("abcd\x1b7ef\rX\n"))); got != "Xbcdef\n" {
			t.Fatalf("first line: %q", got)
		}
		if got := string(AppendText(nil, []byte("\x1b[2b12345\r\x1b8Y\n"))); got != "Y2345\n" {
			t.Fatalf("a repeat and a restore in a new line acted on the line before: %q, want %q", got, "Y2345\n")
		}
	}
}

// TestSearchTextPartsWhatACarriageReturnWroteOver: search finds what was
// written, as grep does; a line without a carriage return inside is its
// sanitised text.
func TestSearchTextPartsWhatACarriageReturnWroteOver(t *testing.T) {
	for in, want := range map[string]string{
		"id,name\r1,alice\r2,bob":          "id,name␍1,alice␍2,bob",
		"ERROR disk quota exceeded\rOK":    "ERROR disk quota exceeded␍OK",
		"\rprogress 10%\rprogress 100%":    "progress 10%␍progress 100%",
		"abc\r":                            "abc",
		"abc\r\r":                          "abc",
		"abc\r\x1b[K":                      "abc",
		"abc\r\x1b[K\rdef":                 "abc␍def",
		"abc\r\r\rdef":                     "abc␍def",
		"ab\b\bX\rY":                       "Xb␍Y",
		"\x1b[31mred\x1b[0m\rgreen\x1b[0m": "red␍green",
		"\x1b[\t3\x9b\rmm":                 "m", // a \r inside a sequence parts nothing
		"\x1b]0;title\r\x07after":          "after",
		"bad \xff\rok":                     "bad \uFFFD␍ok",
		"":                                 "",
	} {
		if got := string(AppendSearchText([]byte("kept"), []byte(in))); got != "kept"+want {
			t.Errorf("AppendSearchText(%q) = %q, want %q", in, got[min(4, len(got)):], want)
		}
	}
	pieces := []string{"a", " ", "\t", "\x1b", "[", "3", "m", "K", "D", "\b", "\x07", "]", "é", "\xff", "\xc2\x9b", "\x1b[0m", "\x1b[2D", "\x1b]0;t\x07"}
	r := rand.New(rand.NewPCG(5, 6))
	for range 20000 {
		var line []byte
		for range r.IntN(10) {
			line = append(line, pieces[r.IntN(len(pieces))]...)
		}
		if got, want := AppendSearchText(nil, line), AppendText(nil, line); !bytes.Equal(got, want) {
			t.Fatalf("%q, without a carriage return: search text %q, sanitised %q", line, got, want)
		}
	}
}

// TestBidiControlsAreTakenOut: an override or isolate shows a line in
// another order than it was written (a comment that reads as code); they go
// as the line separators do, and the text around them stays.
func TestBidiControlsAreTakenOut(t *testing.T) {
	in := "rm -rf /tmp/\u202eevil\u202c \u2067x\u2069 \u202a\u202b\u202d\u2066\u2068ok"
	if got, want := string(Text([]byte(in))), "rm -rf /tmp/evil x ok"; got != want {
		t.Fatalf("Text(%q) = %q, want %q", in, got, want)
	}
	for _, r := range "a\u200f\u200eé" { // the marks only choose a direction: kept
		if Dropped(r) {
			t.Fatalf("%U is dropped", r)
		}
	}
}

// TestLineShowsAllThatWasWritten: a stored text shown on one line hides
// nothing a carriage return wrote over, and lets no escape through.
func TestLineShowsAllThatWasWritten(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"plain  note", "plain note"},
		{"the restore ran\rOK, nothing ran", "the restore ran" + CarriageReturn + "OK, nothing ran"},
		{"first line\nsecond\tline", "first line second line"},
		{"pasted\r\nwith CRLF\r\n", "pasted with CRLF"},
		{"red \x1b[31malert\x1b[0m \x1b]52;c;ZXZpbA==\x07done", "red alert done"},
		{"bell\x07 and nul\x00 out", "bell and nul out"},
		{"bad \xff byte", "bad \ufffd byte"},
		{"backspace abc\b\b\bxyz", "backspace abc" + Backspace + Backspace + Backspace + "xyz"},
	} {
		if got := Line(c.in); got != c.want {
			t.Errorf("Line(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
