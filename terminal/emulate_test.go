package terminal

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// emulate runs raw output through an Emulator, written in pieces of size
// piece (0: all at once), and returns the derived lines.
func emulate(raw string, piece int) []string {
	var lines []string
	e := NewEmulator(80, 24, func(line []byte, _ float64) { lines = append(lines, string(line)) })
	if piece <= 0 {
		piece = len(raw) + 1
	}
	for p := []byte(raw); len(p) > 0; {
		k := min(piece, len(p))
		e.Write(p[:k])
		p = p[k:]
	}
	e.Close()
	return lines
}

func TestEmulatorShowsWhatAPersonSaw(t *testing.T) {
	cases := []struct {
		name string
		raw  string
		want []string
	}{
		{"plain lines", "one\r\ntwo\nthree", []string{"one", "two", "three"}},
		{"progress bar", "get  10%\rget  55%\rget 100%\r\ndone\r\n", []string{"get 100%", "done"}},
		{"shorter rewrite keeps the tail", "abcdef\rXY\r\n", []string{"XYcdef"}},
		{"erase to end of line", "abcdef\rXY\x1b[K\r\n", []string{"XY"}},
		{"readline backspace", "$ rm -rf /tmpx\b \b\b \bp\r\n", []string{"$ rm -rf /tmp"}},
		{"delete characters", "hello world\r\x1b[6C\x1b[5P\r\n", []string{"hello"}},
		{"cursor up redraws two bars", "a: 0%\r\nb: 0%\r\n\x1b[2A\ra: 100%\r\n\rb: 100%\r\n", []string{"a: 100%", "b: 100%"}},
		{"erase below drops a redrawn block", "keep\r\nx1\r\nx2\r\n\x1b[2A\x1b[Jy\r\n", []string{"keep", "y"}},
		{"colours kept as styles", "\x1b[1;31mred\x1b[0m plain\r\n", []string{"\x1b[0;1;38;5;1mred\x1b[0m plain"}},
		{"truecolor", "\x1b[38;2;1;2;3mx\x1b[m\r\n", []string{"\x1b[0;38;2;1;2;3mx\x1b[0m"}},
		{"wide characters", "日本語\r\n", []string{"日本語"}},
		{"overwriting half a wide char", "日本\r\x1b[1Cx\r\n", []string{" x本"}},
		// A wide character with one column left wraps, leaving that column
		// blank; the joined line reads on without it (tmux capture-pane -J).
		{"a wide character that wraps", strings.Repeat("a", 79) + "🔥b\r\n" + strings.Repeat("x", 79) + "日本\r\n",
			[]string{strings.Repeat("a", 79) + "🔥b", strings.Repeat("x", 79) + "日本"}},
		{"a wide character that wraps in colour", "\x1b[44m" + strings.Repeat("a", 79) + "日\x1b[0m\r\n",
			[]string{"\x1b[0;48;5;4m" + strings.Repeat("a", 79) + "\x1b[0m\x1b[0;48;5;4m日\x1b[0m"}},
		{"a space written at the edge stays", strings.Repeat("a", 79) + " 日\r\n", []string{strings.Repeat("a", 79) + " 日"}},
		{"the blank written over stays what was written", strings.Repeat("a", 79) + "日\x1b[A\x1b[80GZ\x1b[B\r\n",
			[]string{strings.Repeat("a", 79) + "Z日"}},
		{"combining marks", "e\u0301!\r\n", []string{"e\u0301!"}},
		// Marks outside the Latin accents take no column either (tmux,
		// xterm.js): the cursor moved back lands where the screen has it.
		{"a Thai tone mark takes no column", "A \u0e01\u0e48ab\x1b[3DX\r\n", []string{"A Xab"}},
		{"an Arabic shadda takes no column", "B \u0628\u0651ab\x1b[3DX\r\n", []string{"B Xab"}},
		{"a Devanagari virama takes no column", "C \u0915\u094dab\x1b[3DX\r\n", []string{"C Xab"}},
		{"tabs kept", "a\tb\tc\r\n", []string{"a\tb\tc"}},
		{"tab over text moves", "abcdefghij\r\tX\r\n", []string{"abcdefghXj"}},
		{"text over a tab", "a\tb\r\x1b[2Cx\r\n", []string{"a x     b"}},
		{"hostile sequences vanish", "a\x1b]52;c;cm0gLXJmIC8=\x07b\x1b]0;title\x1b\\c\x1b[6nd\x1bP+q\x1b\\e\x1b[?1000he\r\n", []string{"abcdee"}},
		{"a C1 CSI inside a string is the string's", "a\x1b]0;x\u009b31my\u009cb\r\n", []string{"ab"}},
		{"C1 controls act as their 7-bit forms", "a\u009b6nb\u009d0;title\u009cc\u0090q\u009cd\u0085e\r\n", []string{"abcde"}},
		{"invalid utf-8 shows a replacement", "caf\xc3 \xff!\r\n", []string{"caf\uFFFD \uFFFD!"}},
		{"NUL and BEL ignored", "a\x00b\x07c\r\n", []string{"abc"}},
		{"clear screen keeps what was seen", "seen\r\n\x1b[H\x1b[2Jnext\r\n", []string{"seen", "next"}},
		{"full-screen program keeps its last screen", "before\r\n\x1b[?1049h\x1b[H\x1b[2J{\"_id\": 1}\x1b[5;1Hpage\x1b[?1049lafter\r\n",
			[]string{"before", "\x1b[0;2m── full-screen program, its last screen ──\x1b[0m", "{\"_id\": 1}", "", "", "", "page", "\x1b[0;2m── end of full-screen program ──\x1b[0m", "after"}},
		{"report requests in a full-screen program do not block", "\x1b[?1049h\x1b[6n\x1b[c\x1b[>cx\x1b[?1049l", []string{"\x1b[0;2m── full-screen program, its last screen ──\x1b[0m", "x", "\x1b[0;2m── end of full-screen program ──\x1b[0m"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, piece := range []int{0, 1, 2, 3, 7} {
				got := emulate(tc.raw, piece)
				if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
					t.Fatalf("in pieces of %d:\n got %q\nwant %q", piece, got, tc.want)
				}
			}
		})
	}
}

// TestWrappedRowsKeepTheirWidthAcrossAResize: rows that wrapped at one
// width and are still on the screen when it widens (a tmux pane zoomed)
// join without the new width's blanks between them.
func TestWrappedRowsKeepTheirWidthAcrossAResize(t *testing.T) {
	doc := `{"_id":"65f1a2b3c4d5e6f708192a3b","email":"someone@example.com","balance":1234.50,"note":"restored"}`
	for _, slow := range []bool{false, true} {
		var lines []string
		e := NewSessionEmulator(39, 24, func(line []byte, _ float64) { lines = append(lines, string(line)) })
		out := doc + "\r\n"
		if slow {
			out = "\x1b[1m\x1b[0m" + out // off the plain fast path
		}
		e.Write([]byte(out))
		e.Resize(80, 24)
		e.Write([]byte("end\r\n"))
		e.Close()
		if len(lines) < 2 || lines[0] != doc || lines[1] != "end" {
			t.Fatalf("slow path %v: lines %q, want the document whole, then end", slow, lines)
		}
	}
}

// TestEmulatorTimesEachLineByItsLastChange: a line's time is when it came
// to show what it shows. Timed by its first character, a prompt's line
// carried the time the prompt was drawn, not when its command was entered
// (the time its destructive-command marker has).
func TestEmulatorTimesEachLineByItsLastChange(t *testing.T) {
	var at []float64
	e := NewEmulator(80, 24, func(_ []byte, t float64) { at = append(at, t) })
	e.SetTime(1)
	e.Write([]byte("first\r\n"))
	e.SetTime(2.5)
	e.Write([]byte("sec"))
	e.SetTime(3)
	e.Write([]byte("ond\r\nthird\r\n"))
	e.Close()
	want := []float64{1, 3, 3}
	if len(at) != len(want) || at[0] != want[0] || at[1] != want[1] || at[2] != want[2] {
		t.Fatalf("times %v, want %v", at, want)
	}
}

// TestABlankLineIsTimedWhenItWasOutput: "echo A; echo; echo B" after a
// clear showed the blank line with the time of the clear, before A's.
func TestABlankLineIsTimedWhenItWasOutput(t *testing.T) {
	for _, newEmu := range []func(int, int, func([]byte, float64)) *Emulator{NewEmulator, NewSessionEmulator} {
		var at []float64
		e := newEmu(80, 5, func(_ []byte, t float64) { at = append(at, t) })
		e.SetTime(1)
		e.Write([]byte("\x1b[H\x1b[2J")) // clear: every row blank at 1
		e.SetTime(5)
		e.Write([]byte("A\r\n"))
		e.SetTime(6)
		e.Write([]byte("\r\n"))
		e.SetTime(7)
		e.Write([]byte("B\r\n"))
		e.Close()
		if len(at) < 3 || at[0] != 5 || at[1] != 6 || at[2] != 7 {
			t.Fatalf("times %v, want 5, 6, 7 for A, the blank line and B", at)
		}
	}
}

// TestACommandLineIsTimedWhenEntered: typed at 1 and entered at 4, a
// command's line showed 1 while its destructive-command marker said 4.
func TestACommandLineIsTimedWhenEntered(t *testing.T) {
	for _, newEmu := range []func(int, int, func([]byte, float64)) *Emulator{NewEmulator, NewSessionEmulator} {
		var at []float64
		e := newEmu(80, 5, func(_ []byte, t float64) { at = append(at, t) })
		e.SetTime(0.5)
		e.Write([]byte("$ "))
		for i, c := range "rm -rf /srv" {
			e.SetTime(1 + float64(i)/100)
			e.Write([]byte(string(c)))
		}
		e.SetTime(4)
		e.Write([]byte("\r\n"))
		e.SetTime(5)
		e.Write([]byte("$ \r\n"))
		e.Close()
		if len(at) < 2 || at[0] != 4 || at[1] != 5 {
			t.Fatalf("times %v, want 4 for the command entered at 4, then 5", at)
		}
	}
}

func TestEmulatorKeepsAMillionPlainLines(t *testing.T) {
	var raw bytes.Buffer
	for i := range 200_000 {
		raw.WriteString("line ")
		raw.WriteString(strings.Repeat("x", i%50))
		raw.WriteString("\r\n")
	}
	n := 0
	e := NewEmulator(80, 24, func(line []byte, _ float64) {
		if want := strings.TrimSpace("line " + strings.Repeat("x", n%50)); string(line) != want {
			t.Fatalf("line %d = %q, want %q", n, line, want)
		}
		n++
	})
	e.Write(raw.Bytes())
	e.Close()
	if n != 200_000 {
		t.Fatalf("%d lines, want 200000", n)
	}
}

func TestStyledTextRoundTrips(t *testing.T) {
	st := Style{Fg: PaletteColor(196), Bg: ColorRGB | 0x102030, Attrs: Bold | Underline | Reverse}
	line := append(st.AppendSGR(nil), "x"...)
	var got Style
	StyledText(line, func(text []byte, s Style) {
		if string(text) == "x" {
			got = s
		}
	})
	if got != st {
		t.Fatalf("style %+v, want %+v", got, st)
	}
	if p := PlainText([]byte("\x1b[0;1mA\x1b[0mB")); string(p) != "AB" {
		t.Fatalf("plain %q", p)
	}
}

// sessionLines runs a session's output through a terminal emulator of cols x
// rows and returns the derived lines without their colours.
func sessionLines(raw string, cols, rows int) []string {
	var lines []string
	e := NewSessionEmulator(cols, rows, func(line []byte, _ float64) { lines = append(lines, string(PlainText(line))) })
	e.Write([]byte(raw))
	e.Close()
	return lines
}

func TestNothingShownIsLost(t *testing.T) {
	cases := []struct {
		name string
		raw  string
		want []string
	}{
		{"clear under TERM=tmux-256color (ESC[H ESC[J)", "doc line 1\r\ndoc line 2\r\n$ clear\r\n\x1b[H\x1b[J$ next\r\n",
			[]string{"doc line 1", "doc line 2", "$ clear", "$ next"}},
		{"clear under TERM=xterm, with ESC[3J", "doc\r\n$ clear\r\n\x1b[H\x1b[2J\x1b[3J$ next\r\n", []string{"doc", "$ clear", "$ next"}},
		{"ESC[3J alone erases no history", "a\r\nb\r\nc\r\nd\r\ne\r\nf\r\n\x1b[3Jg\r\n", []string{"a", "b", "c", "d", "e", "f", "g"}},
		{"ESC[2J with the cursor mid-screen", "one\r\ntwo\x1b[2J\r\nthree\r\n", []string{"one", "two", "", "", "three"}},
		{"ESC[J from the middle erases as a terminal does", "keep\r\nx1\r\nx2\r\n\x1b[2A\x1b[Jy\r\n", []string{"keep", "y"}},
		{"RIS", "before\r\n\x1bcafter\r\n", []string{"before", "after"}},
		{"rows a program's redraw overwrote are kept in their final state", "50%\r100%\r\n", []string{"100%"}},
		{"rows scrolled off a full-screen program are kept, marked", "$ less\r\n\x1b[?1049h\x1b[H\x1b[2Jp1\r\np2\r\np3\r\np4\r\np5\x1b[?1049l$ ",
			[]string{"$ less", string(PlainText(markScrolled)), "p1", string(PlainText(markLast)), "p2", "p3", "p4", "p5", string(PlainText(markEnd)), "$"}},
		{"a full-screen program that crashed keeps its screen", "$ top\r\n\x1b[?1049h\x1b[H\x1b[2Jtop - 10:00\r\n",
			[]string{"$ top", string(PlainText(markLast)), "top - 10:00", string(PlainText(markEnd))}},
		{"rows scrolled off a region that starts mid-screen are kept", "\x1b[2;3r\x1b[1;1Hheader\x1b[3;1Hr1\r\nr2\r\nr3\r\n",
			[]string{"", "r1", "r2", "header", "r3"}},
		{"a soft-wrapped line is one line", "0123456789abcdef\r\n", []string{"0123456789abcdef"}},
		{"a soft-wrapped line keeps its blanks at the wrap", "0123456 89 bcdef\r\n", []string{"0123456 89 bcdef"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := sessionLines(tc.raw, 10, 4)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestATerminalsLineFeedDoesNotReturn(t *testing.T) {
	got := sessionLines("one\ntwo\r\n", 20, 4)
	if want := []string{"one", "   two"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q, want %q", got, want)
	}
	got = emulate("one\ntwo\r\n", 0)
	if want := []string{"one", "two"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("text from a pipe: got %q, want %q", got, want)
	}
}

func TestScreenShowsTheLiveScreen(t *testing.T) {
	e := NewSessionEmulator(10, 4, nil)
	e.Write([]byte("one\r\n0123456789abc\r\n\x1b[31mred"))
	var got []string
	e.Screen(func(line []byte, _ float64) { got = append(got, string(PlainText(line))) })
	if want := []string{"one", "0123456789abc", "red"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("screen %q, want %q", got, want)
	}
}

// Captured output is untrusted: whatever it holds, the emulator neither
// panics nor lets anything but colours through, at any size, resized at
// any point.
func FuzzEmulator(f *testing.F) {
	for _, seed := range []string{
		"a\x1b[2;3r\x1b[3;1Hb\r\n\x1b[L\x1b[M\x1b[5@\x1b[3P日本\x1b[?1049h\x1b[2Jx\x1b[?1049l",
		"\x1b7\x1b[0;23r\x1b8\x1b[1A\x1b7\x1b[24;0f\x1b[42mProgress\x1b8\x1b[J",
		"e\u0301\t\x1b[3g\x1bH\x1b[I\x1b[Z\x1b(0lqk\x1b(B\x1b[?6h\x1b[H\x1b[?7l0123456789",
		"\x1b]52;c;x\x07\x1b[6n\x1bP+q\x1b\\\u009b31m\x1bc\xff\xc3",
	} {
		f.Add([]byte(seed), uint8(10), uint8(4), uint16(7))
	}
	f.Fuzz(func(t *testing.T, raw []byte, cols, rows uint8, cut uint16) {
		e := NewSessionEmulator(int(cols%40)+1, int(rows%12)+1, func(line []byte, _ float64) {
			rest := line
			for {
				i := bytes.IndexByte(rest, 0x1b)
				if i < 0 {
					break
				}
				j := i + 2
				for j < len(rest) && (rest[j] >= '0' && rest[j] <= '9' || rest[j] == ';') {
					j++
				}
				if i+1 >= len(rest) || rest[i+1] != '[' || j >= len(rest) || rest[j] != 'm' {
					t.Fatalf("a derived line holds more than colours: %q", line)
				}
				rest = rest[j+1:]
			}
		})
		k := min(int(cut), len(raw))
		e.Write(raw[:k])
		e.Resize(int(cut%50)+1, int(cut%13)+1)
		e.Screen(func([]byte, float64) {})
		e.Write(raw[k:])
		e.Close()
	})
}

// Text (a capture) keeps a line of a few MiB whole, as search numbers it:
// lines with vertical tabs and form feeds are no more lines either.
func TestTextKeepsLongLinesWhole(t *testing.T) {
	var lines []int
	e := NewEmulator(0, 0, func(line []byte, _ float64) { lines = append(lines, len(PlainText(line))) })
	e.Write([]byte("first\n"))
	e.Write(bytes.Repeat([]byte("0123456789"), 300_000)) // 3 MB
	e.Write([]byte("\nvt\x0bff\x0cend\nlast\n"))
	e.Close()
	if fmt.Sprint(lines) != "[5 3000000 7 4]" {
		t.Fatalf("lines of %v bytes, want [5 3000000 7 4]", lines)
	}
}

func TestAnEndlessLineIsCutNotHeld(t *testing.T) {
	var longest, total int
	e := NewSessionEmulator(80, 24, func(line []byte, _ float64) {
		longest = max(longest, len(line))
		total += len(line)
	})
	chunk := []byte(strings.Repeat("0123456789", 1000))
	for range 500 { // 5 MB, no line feed
		e.Write(chunk)
	}
	e.Close()
	if longest > maxLine+80 || total != 5_000_000 {
		t.Fatalf("longest line %d bytes, %d bytes in all; want at most %d, and 5000000", longest, total, maxLine+80)
	}
}

// The case: 5,000 lines printed on the alternate screen, and the
// program crashes with it on. Every line is kept, in order.
func TestFiveThousandLinesOnTheAlternateScreenAreKept(t *testing.T) {
	var b strings.Builder
	b.WriteString("$ prog\r\n\x1b[?1049h\x1b[H\x1b[2J")
	for i := 1; i <= 5000; i++ {
		fmt.Fprintf(&b, "line %d\r\n", i)
	}
	got := sessionLines(b.String(), 80, 24)
	n := 0
	for _, l := range got {
		if strings.HasPrefix(l, "line ") {
			n++
			if want := fmt.Sprintf("line %d", n); l != want {
				t.Fatalf("line %q where %q belongs", l, want)
			}
		}
	}
	if n != 5000 || got[0] != "$ prog" || got[1] != string(PlainText(markScrolled)) || got[len(got)-1] != string(PlainText(markEnd)) {
		t.Fatalf("%d of 5000 lines kept; first %q, %q, last %q", n, got[0], got[1], got[len(got)-1])
	}
}

// TestRepeatWritesAtMostARow: CSI b asking for 65535 copies of a character
// made 8 KB of output into 65 MB of history, a second of work; a few bytes
// now repeat at most a row's worth.
func TestRepeatWritesAtMostARow(t *testing.T) {
	in := "x" + strings.Repeat("\x1b[65535b", 1000) + "\n"
	total := 0
	e := NewSessionEmulator(80, 24, func(l []byte, _ float64) { total += len(l) })
	e.Write([]byte(in))
	e.Close()
	if total > 1+1000*80+1000 {
		t.Fatalf("%d bytes of repeats made %d bytes of lines", len(in), total)
	}
	var got []string
	e = NewSessionEmulator(80, 24, func(l []byte, _ float64) { got = append(got, string(l)) })
	e.Write([]byte("-\x1b[19b|\r\n"))
	e.Close()
	if len(got) == 0 || got[0] != strings.Repeat("-", 20)+"|" {
		t.Fatalf("a short repeat reads %q", got)
	}
}

// An emulator Reset after any stream shows the next one as a new emulator
// does: sanitize reuses one for every line that writes over itself.
func FuzzResetIsNew(f *testing.F) {
	for _, seed := range []string{
		"abcdef\x1b7\x1b[5b\x1b[4h\x1b[?6h\x1b[2;3r\x1b(0\x0e\x1b[31m\x1bH\x1b[3g|\x1b8x\x1b[bz\tq\r\n",
		"\x1b[?1049hfull\x1b[2;1Hscreen\x1b[?7lwide line past the edge",
		"half a sequence \x1b[3",
		"abc\x1b[?2004h\xe6\x97",
	} {
		f.Add([]byte(seed), []byte("\x1b[3b|\n"), true)
		f.Add([]byte(seed), []byte("\x1b8\x1b[b\tafter\x1b[2Db\x0fq\r\nnext\x1b[uline\n"), true)
		f.Add([]byte(seed), []byte("\x1b[Kplain\rOK\n"), false)
	}
	f.Fuzz(func(t *testing.T, before, after []byte, text bool) {
		var got, want []string
		newEm := NewSessionEmulator
		if text {
			newEm = NewEmulator
		}
		reused := newEm(20, 3, func(line []byte, _ float64) { got = append(got, string(line)) })
		reused.Write(before)
		reused.Reset()
		got = nil
		reused.Write(after)
		reused.Close()
		fresh := newEm(20, 3, func(line []byte, _ float64) { want = append(want, string(line)) })
		fresh.Write(after)
		fresh.Close()
		if !slices.Equal(got, want) {
			t.Fatalf("after Reset: %q\nnew:         %q", got, want)
		}
	})
}
