package storage_test

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"calm/capture"
	"calm/sanitize"
	"calm/storage"
	"calm/terminal"
)

// FuzzEscapeUsersAgree feeds the same bytes to every reader of escape
// sequences, each of which finds where they end with calm/terminal/escape:
// sanitize, the search's line stripper, the prompt watcher of calm split and
// the emulator. Where their readings of text can be compared, they must
// agree, which they do only if they agree on where every sequence begins
// and ends.
//
// The bytes are read twice. As they are, hostile or not: sanitising leaves
// no escape or control in them, the stripper takes out of each line what
// sanitising it takes out, and the prompt watcher reads a line's text as
// sanitising shows it. And as the choices of a generator of output whose
// text is known (sequences of every kind, ended, cancelled and begun again
// every way, with hostile bodies): every reader, the emulator too, must read
// exactly that text.
func FuzzEscapeUsersAgree(f *testing.F) {
	f.Add([]byte("$ a\x1b[31\x18b\x1b]0;t\x1b\xc2\x9cc\x1b\x1b[1md\xc2\x9b2Je\xe2\x82\xac\x1bP$q\x07\n"))
	f.Add([]byte("$ \x1b(\x1b[4m\x1b#8\xc2\x9d8;;x\x1b\\\xf0\x9f\x98\x80\x1b[?1049h\x1b]52;c;Zm9v\x07x\n\x1b[3"))
	f.Add([]byte("$ rm -rf /\x1b_apc\x1bx\x1b\\ \xc2\x85\x9b1m\x1b[1;2\x1az\n"))
	for _, seq := range []string{"\x1b]52;c;cm0gLXJmIH4=\x07", "\x1bP$qm\x1b\\", "\u009d0;pwned\u009c", "\x1b[?2004l", "\x1b(0", "\x1b_payload\x1b\\"} {
		f.Add([]byte("$ before " + seq + "after\n"))
	}
	// Every token of the generator, each way it can end, and a word after
	// it.
	for end := range 9 {
		var seed []byte
		for token := range 16 {
			seed = append(seed, byte(token), 3, 1, 12, byte(end), byte(end), byte(end), 0, 4)
		}
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		readersAgree(t, data)
		in, want, plain := generate(data)
		readersRead(t, in, want, plain)
	})
}

// readersAgree checks what can be checked of any bytes.
func readersAgree(t *testing.T, in []byte) {
	whole := sanitize.Text(in)
	for _, r := range string(whole) {
		if r == 0x1b || r < 0x20 && r != '\t' && r != '\n' || r >= 0x7f && r <= 0x9f {
			t.Fatalf("%q sanitised keeps %U: %q", in, r, whole)
		}
	}

	// The stripper: each line as sanitising reads it alone.
	chunk := in
	if !bytes.HasSuffix(chunk, []byte("\n")) {
		chunk = append(chunk[:len(chunk):len(chunk)], '\n')
	}
	raw := bytes.Split(chunk[:len(chunk)-1], []byte("\n"))
	lines := storage.StripLines(chunk)
	if len(lines) != len(raw) {
		t.Fatalf("%q: %d lines stripped, %d in it", in, len(lines), len(raw))
	}
	for i, l := range lines {
		want := sanitize.Text(raw[i])
		if got := sanitize.Text(l.Raw); !bytes.Equal(got, want) {
			t.Fatalf("line %q maps back to %q, sanitised %q, not %q", raw[i], l.Raw, got, want)
		}
		if l.Known && !bytes.Equal(l.Text, want) {
			t.Fatalf("line %q: known as %q, sanitised %q", raw[i], l.Text, want)
		}
		// A \r the stripping brought to the line's end takes nothing back
		// there; a sequence after it took its line back: the search knows
		// (it sanitises such a line whole), and so must this comparison.
		if bytes.HasSuffix(l.Stripped, []byte("\r")) && !l.EndsRaw {
			continue
		}
		if got := sanitize.Text(l.Stripped); !bytes.Equal(got, want) {
			t.Fatalf("line %q stripped to %q: sanitised %q, the line %q", raw[i], l.Stripped, got, want)
		}
	}

	// The prompt watcher: a command line after a prompt, whatever it holds
	// but for the backspaces and carriage returns it applies, and the
	// sequences that move along a line, which sanitising makes and the
	// watcher, reading what is typed, does not.
	line, _, _ := bytes.Cut(in, []byte("\n"))
	if !bytes.ContainsAny(line, "\r\b") && !movesAlongLine(line) {
		checkPromptWatcher(t, [][]byte{line})
	}
}

// movesAlongLine reports whether b holds ESC 7, ESC 8 or a CSI that
// sanitising makes on a line (cursor moves, restore, erase, delete, insert,
// repeat), as a byte-level over-approximation: any such final byte after
// ESC [ or CSI.
func movesAlongLine(b []byte) bool {
	if bytes.Contains(b, []byte("\x1b7")) || bytes.Contains(b, []byte("\x1b8")) {
		return true
	}
	for _, intro := range [][]byte{[]byte("\x1b["), []byte("\u009b")} {
		for rest := b; ; {
			i := bytes.Index(rest, intro)
			if i < 0 {
				break
			}
			rest = rest[i+len(intro):]
			j := 0
			for j < len(rest) && rest[j] >= 0x20 && rest[j] < 0x40 {
				j++
			}
			if j < len(rest) && bytes.IndexByte([]byte("DCGKPX@bsu"), rest[j]) >= 0 {
				return true
			}
		}
	}
	return false
}

// checkPromptWatcher feeds "$ LINE\n" for each line to a prompt watcher and
// checks that it submits as the command what sanitising shows after the
// prompt.
func checkPromptWatcher(t *testing.T, lines [][]byte) {
	t.Helper()
	var out []byte
	for _, l := range lines {
		out = append(append(append(out, "$ "...), l...), '\n')
	}
	var want []string
	shown := string(sanitize.Text(out))
	for {
		l, rest, ended := strings.Cut(shown, "\n")
		if !ended {
			break // the last line's end was inside a sequence
		}
		shown = rest
		// The watcher drops tabs with the other C0 controls; sanitising
		// keeps them.
		l = strings.TrimRight(strings.ReplaceAll(l, "\t", ""), " ")
		if cmd := strings.TrimLeft(strings.TrimPrefix(l, "$"), " "); strings.HasPrefix(l, "$ ") && cmd != "" {
			want = append(want, cmd)
		}
	}
	var got []string
	var w capture.PromptWatcher
	w.Feed(out, func(c string) { got = append(got, c) })
	if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
		t.Fatalf("%q: the prompt watcher submits %q, sanitising shows %q", out, got, want)
	}
}

// readersRead checks that every reader reads in as the lines want. The
// stripper leaves to sanitising the lines that are not plain (a sequence
// that ESC [ does not begin, a C1 control, a control on its own, broken
// UTF-8); it must take every other out itself.
func readersRead(t *testing.T, in []byte, want []string, plain []bool) {
	t.Helper()
	shown := strings.Split(strings.TrimSuffix(string(sanitize.Text(in)), "\n"), "\n")
	if d := differ(shown, want); d != "" {
		t.Fatalf("%q sanitised: %s", in, d)
	}
	var f sanitize.Filter
	var pieces []byte
	for i := 0; i < len(in); i += 3 {
		pieces = f.Append(pieces, in[i:min(i+3, len(in))])
	}
	if pieces = f.Flush(pieces); string(pieces) != string(sanitize.Text(in)) {
		t.Fatalf("%q sanitised 3 bytes at a time: %q, whole: %q", in, pieces, sanitize.Text(in))
	}

	var emulated []string
	e := terminal.NewEmulator(lineWidth, 24, func(line []byte, _ float64) {
		emulated = append(emulated, string(terminal.PlainText(line)))
	})
	for i := 0; i < len(in); i += 5 {
		e.Write(in[i:min(i+5, len(in))])
	}
	e.Close()
	if d := differ(emulated, want); d != "" {
		t.Fatalf("%q emulated: %s", in, d)
	}

	for i, l := range storage.StripLines(in) {
		if !l.Known && plain[i] {
			t.Fatalf("%q: line %d %q stripped to %q, not known as text", in, i+1, want[i], l.Stripped)
		}
		if l.Known && string(l.Text) != want[i] {
			t.Fatalf("%q: line %d stripped to %q, want %q", in, i+1, l.Text, want[i])
		}
	}

	var lines [][]byte
	for _, l := range bytes.SplitAfter(in, []byte("\n")) {
		if l = bytes.TrimSuffix(l, []byte("\n")); len(l) > 0 {
			lines = append(lines, l)
		}
	}
	checkPromptWatcher(t, lines)
}

// differ describes the first line where got and want differ, trailing
// blanks and empty lines aside.
func differ(got, want []string) string {
	trim := func(ls []string) []string {
		out := make([]string, len(ls))
		for i, l := range ls {
			out[i] = strings.TrimRight(l, " ")
		}
		for len(out) > 0 && out[len(out)-1] == "" {
			out = out[:len(out)-1]
		}
		return out
	}
	got, want = trim(got), trim(want)
	for i := range max(len(got), len(want)) {
		if i >= len(got) || i >= len(want) || got[i] != want[i] {
			return strings.Join(got, "|") + " ≠ " + strings.Join(want, "|")
		}
	}
	return ""
}

// lineWidth is the emulator's: no line generated is wider, so none wraps
// (where a wide character that does not fit leaves a blank).
const lineWidth = 1000

// generate makes output whose text is known from the choices in data:
// words, and sequences of every kind that show nothing of themselves and
// move nothing (their bodies are data, so hostile), ended every way a
// terminal ends them. Every line ends with '\n'; no sequence spans one. A
// line is plain when only text and sequences that ESC [ begins are on it.
func generate(data []byte) (out []byte, text []string, plain []bool) {
	next := func() byte {
		if len(data) == 0 {
			return 0
		}
		c := data[0]
		data = data[1:]
		return c
	}
	words := []string{"hello", "wörld", "日本", "a b", "x", "$", "42", "é", "\uFFFD"}
	params := func() []byte {
		var p []byte
		for n := next() % 6; n > 0; n-- {
			p = append(p, "0123456789;;:"[next()%13])
		}
		return p
	}
	body := func() []byte { // anything but a terminator, or a line end
		var b []byte
		for n := next() % 12; n > 0; n-- {
			c := next()
			if c == 0x07 || c == 0x1b || c == 0xc2 || c == 0x18 || c == 0x1a || c == '\n' {
				c = 'z'
			}
			b = append(b, c)
		}
		return b
	}
	line, isPlain, width := []byte{}, true, 0
	end := func() {
		out = append(out, '\n')
		text, plain = append(text, string(line)), append(plain, isPlain)
		line, isPlain, width = line[:0], true, 0
	}
	emit := func(s []byte, shown string) {
		w := 2 * utf8.RuneCountInString(shown) // at most
		if width+w > lineWidth {
			end()
		}
		width += w
		out = append(out, s...)
		line = append(line, shown...)
	}
	// A sequence the stripper takes out itself: one that ESC [ begins
	// (whatever follows it in the same chain of sequences).
	seq := func(s []byte) {
		emit(s, "")
		isPlain = isPlain && bytes.HasPrefix(s, []byte("\x1b["))
	}
	for len(data) > 0 {
		switch next() % 16 {
		case 0, 1, 2:
			w := words[next()%byte(len(words))]
			emit([]byte(w), w)
		case 3:
			end()
		case 4: // SGR, 7-bit or C1
			intro := [][]byte{[]byte("\x1b["), []byte("\u009b")}[next()%2]
			seq(append(append(intro, params()...), 'm'))
		case 5: // a control sequence cancelled, or begun again
			s := append([]byte("\x1b["), params()...)
			switch next() % 3 {
			case 0:
				s = append(s, 0x18)
			case 1:
				s = append(s, 0x1a)
			default:
				s = append(append(append(s, "\x1b["...), params()...), 'm')
			}
			seq(s)
		case 6, 7: // a string: OSC, DCS, SOS, PM, APC, 7-bit or C1
			intros := []string{"\x1b]", "\x1bP", "\x1bX", "\x1b^", "\x1b_", "\u009d", "\u0090", "\u0098", "\u009e", "\u009f"}
			ends := []string{"\x07", "\x1b\\", "\u009c", "\x18", "\x1a", "\x1b\x1b\\", "\x1bx\x07", "\x1b\u009c", "\x1b\x07\x07"}
			s := append([]byte(intros[next()%byte(len(intros))]), body()...)
			seq(append(s, ends[next()%byte(len(ends))]...))
		case 8: // ESC sequences that change nothing shown
			seqs := []string{"\x1b=", "\x1b>", "\x1b(B", "\x1b)A", "\x1b(%5", "\x1b\x1b[1m", "\x1b\x18", "\x1b(\x1b[0m", "\x1b(\x1a"}
			seq([]byte(seqs[next()%byte(len(seqs))]))
		case 9: // SS3 in output: the next character is shown
			emit([]byte("\x1bOA"), "A")
			isPlain = false
		case 10: // controls on their own
			seqs := []string{"\u0085", "\u0084", "\u009c", "\x18", "\x1a", "\x07", "\x7f"}
			emit([]byte(seqs[next()%byte(len(seqs))]), "")
			isPlain = false
		case 11: // a raw 0x9b is broken UTF-8, not CSI
			emit([]byte("\x9b1m"), "\uFFFD1m")
			isPlain = false
		}
	}
	out = append(out, '\n')
	return out, append(text, string(line)), append(plain, isPlain)
}
