package report

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"calm/sanitize"
	"calm/terminal"
)

// sampleInput is a rule's sample without its marks, and the secrets it holds.
func sampleInput(sample string) (string, []string) {
	var in strings.Builder
	var secrets []string
	for {
		a := strings.Index(sample, "«")
		if a < 0 {
			in.WriteString(sample)
			return in.String(), secrets
		}
		b := strings.Index(sample[a:], "»") + a
		in.WriteString(sample[:a])
		in.WriteString(sample[a+len("«") : b])
		secrets = append(secrets, sample[a+len("«"):b])
		sample = sample[b+len("»"):]
	}
}

// sampleWant matches the sample redacted: every marked secret replaced by
// one marker, nothing else changed.
func sampleWant(sample string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`^`)
	for {
		a := strings.Index(sample, "«")
		if a < 0 {
			b.WriteString(regexp.QuoteMeta(sample))
			break
		}
		e := strings.Index(sample[a:], "»") + a
		b.WriteString(regexp.QuoteMeta(sample[:a]))
		b.WriteString(`\[REDACTED [a-z0-9 ]+\]`)
		sample = sample[e+len("»"):]
	}
	b.WriteString(`$`)
	return regexp.MustCompile(b.String())
}

func TestEachRedactionRuleCatchesItsSampleAndNothingElse(t *testing.T) {
	r, err := NewRedactor(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, ru := range builtinRules() {
		in, secrets := sampleInput(ru.sample)
		if len(secrets) == 0 {
			t.Fatalf("rule %s: its sample marks no secret", ru.kind)
		}
		if !ru.re.MatchString(in) {
			t.Errorf("rule %s does not match its own sample %q", ru.kind, in)
		}
		got, n := r.Redact([]byte(in))
		if !sampleWant(ru.sample).Match(got) || n != len(secrets) {
			t.Errorf("rule %s: redacted %d of %d:\n got %q\nfrom %q", ru.kind, n, len(secrets), got, in)
		}
	}
}

func TestGitleaksRulesAreLoaded(t *testing.T) {
	g, err := gitleaksRules()
	if err != nil {
		t.Fatal(err)
	}
	if len(g) < 200 {
		t.Fatalf("only %d gitleaks rules loaded", len(g))
	}
}

func TestConfiguredPatternsAndCleanTextUntouched(t *testing.T) {
	r, err := NewRedactor([]string{`(?i)x-api-key:\s*\S+`})
	if err != nil {
		t.Fatal(err)
	}
	got, n := r.Redact([]byte("X-Api-Key: abc123\nplain { \"_id\": ObjectId(\"5f1d\") }\n"))
	if n != 1 || string(got) != "[REDACTED configured pattern]\nplain { \"_id\": ObjectId(\"5f1d\") }\n" {
		t.Fatalf("%d: %q", n, got)
	}
	if _, err := NewRedactor([]string{"("}); err == nil || !strings.Contains(err.Error(), `redact pattern "("`) {
		t.Fatalf("bad pattern: %v", err)
	}
}

func TestLastIndexIsBytesLastIndex(t *testing.T) {
	for _, c := range []struct{ b, sep string }{
		{"", "ab"}, {"ab", "ab"}, {"xxabyyabzz", "ab"}, {"aaaa", "aa"}, {"-----BEGIN x -----BEGIN ", "-----BEGIN "}, {"abc", "d"},
	} {
		if got, want := lastIndex([]byte(c.b), []byte(c.sep)), strings.LastIndex(c.b, c.sep); got != want {
			t.Errorf("lastIndex(%q, %q) = %d, want %d", c.b, c.sep, got, want)
		}
	}
}

// A secret in a window title is found on its own, one in the text around
// it too, and each marker lands where its secret was stored.
func TestSecretsInTitlesAndAroundThemAreReplacedInPlace(t *testing.T) {
	r, err := NewRedactor(nil)
	if err != nil {
		t.Fatal(err)
	}
	in := "\x1b]0;redis-cli -a 9zXq!mPw2 info\x07$ export PGPASSWORD=hun\x1b[31mter2\x1b[0m\r\n\x1b]2;\x07\x1b]0;sk_live_4eC39HqLyjWDarjtT1zdp7dc\x1b\\ok\n"
	want := "\x1b]0;redis-cli -a [REDACTED redis password] info\x07$ export PGPASSWORD=[REDACTED password]\x1b[31m\x1b[0m\r\n\x1b]2;\x07\x1b]0;[REDACTED stripe key]\x1b\\ok\n"
	got, n := r.RedactString(in)
	if got != want || n != 3 {
		t.Fatalf("redacted %d:\n got %q\nwant %q", n, got, want)
	}
}

// TestSecretsAreFoundInTheTextASanitisedViewShows: redaction reads stored
// bytes by the same rules as the views that show them (terminal/escape), so
// no byte that a view drops or takes as the end of a sequence can hide a
// secret from it: CAN and SUB cancelling a sequence, a C1 control written as
// UTF-8, a zero-width character, an ESC inside a title.
func TestSecretsAreFoundInTheTextASanitisedViewShows(t *testing.T) {
	r, err := NewRedactor(nil)
	if err != nil {
		t.Fatal(err)
	}
	const key = "AKIAIOSFODNN7EXAMPLE"
	for _, in := range []string{
		"key \x1b[\x18" + key + "\n",                                         // CAN cancels the CSI: "key AKIA..." is shown
		"key \x1b[31\x1a" + key + "\n",                                       // SUB
		"key AKIA\xc2\x9b1mIOSFODNN7EXAMPLE\n",                               // a CSI written as a UTF-8 C1 control
		"key AKIA\ufeffIOSFODNN7EXAMPLE\n",                                   // a zero-width no-break space, dropped when shown
		"key AKIA\u2028IOSFODNN7EXAMPLE\n",                                   // a line separator, dropped too
		"\x1b]0;title \x1b not the end\x07key AKIA\x1b[0mIOSFODNN7EXAMPLE\n", // an ESC inside a title does not end it
		"\x1b]0;a title never ended\nkey AKIA\x1b[1mIOSFODNN7EXAMPLE\n",      // a line's end ends it: the next line is shown
		"\x1bPdcs never ended\nkey AKIA\x1b[31mIOSFODNN7EXAMPLE\n",
		"key AKIAIOSFOD\x1b]0;x\x1b[0mNN7EXAMPLE\n", // any ESC ends a string, as a terminal ends it
		"key AKIAIOSFOD\x1bP1q\x1b[0mNN7EXAMPLE\n",  // a DCS too
		"key AKIAIOSFODNN7EXAMPLExxxx\n",            // text glued on (a \r rewrite's leftovers)           // and a DCS
	} {
		shown := string(sanitize.Text([]byte(in)))
		if !strings.Contains(shown, key) {
			t.Fatalf("%q: the view does not show the secret (%q): the case tests nothing", in, shown)
		}
		out, _ := r.RedactString(in)
		if s := string(sanitize.Text([]byte(out))); strings.Contains(s, key) {
			t.Errorf("%q redacted is shown as %q: the secret is still there", in, s)
		}
	}
}

// TestSecretsAfterEscapesWrittenAsTextAreRedacted: a command line that
// spells its colours (printf "\033[31m..."), JSON's \u001b, cat -v's ^[[,
// or a name glued on, hid a key from every rule that wants a word boundary
// before it. A redacted JSON value keeps its quotes, so jq still reads it.
func TestSecretsAfterEscapesWrittenAsTextAreRedacted(t *testing.T) {
	r, err := NewRedactor(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{
		`printf "\033[31mAKIAIOSFODNN7EXAMPLE\033[0m\n"`,
		`echo -e "\e[1mAKIAIOSFODNN7EXAMPLE"`,
		`{"log": "\u001b[32mASIAJEXAMPLEXEG2JICEA\u001b[0m"}`,
		`"\x1b[32mASIAJEXAMPLEXEG2JICEA"`,
		`^[[01;31m^[[KAKIAIOSFODNN7EXAMPLE^[[m^[[K`,
		`KEY_AKIAIOSFODNN7EXAMPLE`,
		`1AKIAIOSFODNN7EXAMPLE`,
		`printf '\033[1mghp_16C7e42F292c6912E7710c838347Ae178B4a\033[0m'`,
		`printf '\033[1mxoxb-2222222222-4444444444444-AbCdEfGhIjKlMnOpQrStUvWx'`,
		`printf '\033[31mAKIAIOSFOD\033[0mNN7EXAMPLE\n'`, // coloured in parts, as text
	} {
		out, n := r.RedactString(in)
		if n == 0 || strings.Contains(out, "AKIAIOSFODNN7EXAMPLE") || strings.Contains(out, "AKIAIOSFOD") || strings.Contains(out, "ASIAJEXAMPLEXEG2JICEA") || strings.Contains(out, "ghp_16C7") || strings.Contains(out, "xoxb-2222") {
			t.Errorf("%s redacted is %s", in, out)
		}
	}
	doc := `{"user": "ada", "password": "correct horse", "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "pin": ""}`
	out, n := r.RedactString(doc)
	var v map[string]string
	if err := json.Unmarshal([]byte(out), &v); err != nil || n != 2 || v["user"] != "ada" || v["pin"] != "" || !strings.HasPrefix(v["password"], "[REDACTED") || !strings.HasPrefix(v["aws_secret_access_key"], "[REDACTED aws secret key]") {
		t.Fatalf("redacted JSON %s (%d redactions): %v", out, n, err)
	}
}

// A line that moves its cursor back over what it wrote shows a terminal a
// key that neither its bytes nor its sanitised text hold: the whole line is
// redacted, and a terminal shows no key, nor do the bytes hold its parts.
// A line that moves back over itself and shows no secret stays as it was.
func TestSecretsShownByALineWrittenOverItselfAreRedacted(t *testing.T) {
	r, err := NewRedactor(nil)
	if err != nil {
		t.Fatal(err)
	}
	const key = "AKIAIOSFODNN7EXAMPLE"
	for _, in := range []string{
		"before\nkey AKIAIOSFODNN7EX\b\bEXAMPLE\nafter\n",            // backspaces
		"key AKIAIOSFODNN7EX\x1b[2DEXAMPLE\n",                        // cursor left
		"key AKIAIOSFODNN7XX\x1b[2D\x1b[1mEX\x1b[0mAMPLE\n",          // cursor left, a colour between
		"key AKIA\x1b[20CZZ\x1b[9GIOSFODNN7EXAMPLE\n",                // cursor right, then to a column
		"key -------------EXAMPLE\rkey AKIAIOSFODNN7\n",              // a carriage return, the start rewritten
		"key \x1b7ZZZZZZZZZZZZZZZZZZZZ\x1b8AKIAIOSFODNN7EXAMPLE\n",   // cursor saved and restored
		"key \x1b[sZZZZZZZZZZZZZZZZZZZZ\x1b[uAKIAIOSFODNN7EXAMPLE\n", // the same as CSI s, u
		"key AKIAIOSFODNN7junkEXAMPLE\x1b[11D\x1b[4P\n",              // characters deleted
		"key AKIAIOSFODN\x1b[b7EXAMPLE\n",                            // the last character repeated
	} {
		if !strings.Contains(terminalShows([]byte(in)), key) {
			t.Fatalf("%q: a terminal does not show the key (%q): the case tests nothing", in, terminalShows([]byte(in)))
		}
		out, n := r.Redact([]byte(in))
		if n == 0 || strings.Contains(terminalShows(out), key) || bytes.Contains(out, []byte("AKIAIOSFOD")) {
			t.Errorf("%q redacted (%d) is %q, shown as %q", in, n, out, terminalShows(out))
		}
		if strings.HasPrefix(in, "before\n") && (!bytes.HasPrefix(out, []byte("before\n")) || !bytes.HasSuffix(out, []byte("\nafter\n"))) {
			t.Errorf("%q: the lines around the one written over itself changed: %q", in, out)
		}
	}
	for _, in := range []string{"progress\b\b\b\b\b\b\b\bdone    \n", "50%\x1b[3D100%\n", "tab\tthen\x1b[5Gover\n"} {
		if out, n := r.Redact([]byte(in)); n != 0 || string(out) != in {
			t.Errorf("%q, with no secret, redacted (%d) to %q", in, n, out)
		}
	}
}

// An OSC 52 (a clipboard write) is taken out whole: its base64 payload
// hides what it holds from every rule, and an export replayed on a
// terminal must not set its reader's clipboard.
func TestClipboardWritesAreTakenOut(t *testing.T) {
	r, err := NewRedactor(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{
		"before \x1b]52;c;cGFzc3dvcmQ9aHVudGVyMmh1bnRlcjI=\x07after\n",
		"before \x1b]52;c;cGFzc3dvcmQ9aHVudGVyMmh1bnRlcjI=\x1b\\after\n",
		"before \u009d52;c;cGFzc3dvcmQ9aHVudGVyMmh1bnRlcjI=\u009cafter\n",
	} {
		out, n := r.Redact([]byte(in))
		if n == 0 || bytes.Contains(out, []byte("cGFzc3dvcmQ")) || bytes.Contains(out, []byte("52;")) || !bytes.Contains(out, []byte("before ")) || !bytes.Contains(out, []byte("after")) {
			t.Errorf("%q redacted (%d) to %q", in, n, out)
		}
	}
	if out, n := r.Redact([]byte("a title \x1b]0;just a title\x07 stays\n")); n != 0 || !bytes.Contains(out, []byte("just a title")) {
		t.Errorf("a window title was taken out: %q (%d)", out, n)
	}
}

// A zero-width character inside a secret, which a terminal shows as
// nothing, does not hide it.
func TestZeroWidthCharactersDoNotHideASecret(t *testing.T) {
	r, err := NewRedactor(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, zw := range []string{"\u200b", "\u200c", "\u200d", "\u2060"} {
		in := "key AKIA" + zw + "IOSFODNN7EXAMPLE\n"
		if out, n := r.Redact([]byte(in)); n == 0 || bytes.Contains(out, []byte("IOSFODNN7")) {
			t.Errorf("%q redacted (%d) to %q", in, n, out)
		}
	}
}

// A private key whose BEGIN line is written over itself is redacted whole,
// its body and END line too: a terminal shows the block as any other.
func TestPrivateKeyWithItsBeginLineWrittenOverItself(t *testing.T) {
	r, err := NewRedactor(nil)
	if err != nil {
		t.Fatal(err)
	}
	const body = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW"
	in := "$ cat id\n-----BEGIN OPENSSH PRIVATE KEY--\b\b-----\n" + body + "\nQyNTUxOQAAACDb0fPxk2QbS0x5cmWnH8BqCw9lc7sZ8bd5oQ5VzRkcxgAAAJiS2g3Zktod\n-----END OPENSSH PRIVATE KEY-----\n$ next\n"
	out, n := r.Redact([]byte(in))
	if n == 0 || bytes.Contains(out, []byte(body)) || bytes.Contains(out, []byte("PRIVATE KEY")) {
		t.Fatalf("redacted (%d) to %q", n, out)
	}
	if !bytes.HasPrefix(out, []byte("$ cat id\n")) || !bytes.HasSuffix(out, []byte("\n$ next\n")) {
		t.Fatalf("the lines around the key changed: %q", out)
	}
}

// Output that writes back onto an earlier line (cursor up, reverse index, a
// cursor position) and so shows a key the text as read does not hold is
// redacted from its start to that line, whole; output that moves up and
// shows no secret stays as it was.
func TestSecretsWrittenFromAnotherLineAreRedacted(t *testing.T) {
	r, err := NewRedactor(nil)
	if err != nil {
		t.Fatal(err)
	}
	const key = "AKIAIOSFODNN7EXAMPLE"
	for _, in := range []string{
		"key AKIAIOSFOD\n\x1b[A\x1b[15GNN7EXAMPLE\nafter\n",                     // cursor up, then to a column
		"key AKIAIOSFOD\n\x1bM\x1b[15GNN7EXAMPLE\n",                             // reverse index
		"key AKIAIOSFOD\n\x1b[1;15HNN7EXAMPLE\n",                                // a cursor position
		"plain AKIAIOSFODNN7EXAMPLE\nkey AKIAIOSFOD\n\x1bM\x1b[15GNN7EXAMPLE\n", // the same key in plain sight too
	} {
		if !strings.Contains(terminalShows([]byte(in)), key) {
			t.Fatalf("%q: a terminal does not show the key (%q): the case tests nothing", in, terminalShows([]byte(in)))
		}
		out, n := r.Redact([]byte(in))
		if n == 0 || strings.Contains(terminalShows(out), key) || bytes.Contains(out, []byte("AKIAIOSFOD")) || bytes.Contains(out, []byte("NN7EXAMPLE")) {
			t.Errorf("%q redacted (%d) is %q, shown as %q", in, n, out, terminalShows(out))
		}
	}
	for _, in := range []string{"top 1\n\x1b[A\x1b[5G2\n", "a\n\x1b[1;1Hb\n"} {
		if out, n := r.Redact([]byte(in)); n != 0 || string(out) != in {
			t.Errorf("%q, with no secret, redacted (%d) to %q", in, n, out)
		}
	}
}

// terminalShows is the text a terminal shows of b, line by line (the
// emulator, which the conformance suite checks against xterm.js and tmux).
func terminalShows(b []byte) string {
	var lines []string
	e := terminal.NewEmulator(0, 0, func(line []byte, _ float64) { lines = append(lines, string(terminal.PlainText(line))) })
	e.Write(b)
	e.Close()
	return strings.Join(lines, "\n")
}

// TestACarriageReturnBeforeAnythingShownRewritesNothing: a shell writes
// "\x1b[?2004l\r" before a command's output; a secret on that line was
// redacted as "written over itself", with the line's carriage returns, so a
// replayed cast went on mid-row. A line written over itself keeps its
// CRLF's CR, and its label reads as no password rule's "KIND: value".
func TestACarriageReturnBeforeAnythingShownRewritesNothing(t *testing.T) {
	r, err := NewRedactor(nil)
	if err != nil {
		t.Fatal(err)
	}
	const token = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
	in := "$ echo secret_token=" + token + "\r\n\x1b[?2004l\rsecret_token=" + token + "\r\n$ "
	out, n := r.Redact([]byte(in))
	if n == 0 || bytes.Contains(out, []byte("ghp_")) || bytes.Contains(out, []byte("over itself")) || !bytes.Contains(out, []byte("\x1b[?2004l\rsecret_token=[REDACTED")) || !bytes.HasSuffix(out, []byte("]\r\n$ ")) {
		t.Errorf("redacted to %q", out)
	}
	rewritten := "password: hunter2\b\b\b\b\b\b\bXXXXXXX\r\nnext\r\n"
	out, _ = r.Redact([]byte(rewritten))
	if bytes.Contains(out, []byte("hunter2")) || !bytes.Contains(out, []byte("(written over itself)]\r\nnext\r\n")) || bytes.Count(out, []byte("REDACTED")) != 1 {
		t.Errorf("%q redacted to %q", rewritten, out)
	}
	// Each carriage return looks back only to the one before: a megabyte
	// of them with nothing shown is read once, not once for each.
	if rewritesLine([]byte(strings.Repeat("\x1b[m\r", 250000) + "x\n")) {
		t.Error("carriage returns with nothing shown before them read as a line written over itself")
	}
	if !rewritesLine([]byte("\x1b[m\r\x1b[1mabc\x1b[m\rX\n")) {
		t.Error("a carriage return after text shown does not read as a line written over itself")
	}
	for _, hostile := range []string{"ab\x1b[999999999Cx", "x\x1b[999999999b", "ab\x1b[99999999999999999999C\x1b[99999@x\b"} {
		if shown := shownLine([]byte(hostile)); len(shown) > 4096 {
			t.Errorf("%q is shown as %d bytes", hostile, len(shown))
		}
	}
}

// TestRedactedTextIsNotRedactedAgain: text that went through a redaction
// once (an export's timeline line, a note quoting one) came out of a
// second as "the password is [REDACTED password] password]".
func TestRedactedTextIsNotRedactedAgain(t *testing.T) {
	r, err := NewRedactor(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"the password is hunter2", "the password is hunter2secret, db url x", "PGPASSWORD=hunter2 psql"} {
		once, n := r.RedactString(text)
		if n == 0 || !strings.Contains(once, "[REDACTED password]") {
			t.Fatalf("%q: %q (%d): the rule did not take it", text, once, n)
		}
		twice, n2 := r.RedactString(once)
		if twice != once || n2 != 0 {
			t.Fatalf("%q: once %q, twice %q (%d more)", text, once, twice, n2)
		}
	}
}

// TestASecretIsRedactedWhereverTheTextRepeatsIt: a password a rule found
// (redis-cli -a, --pass) was left where the same command line gave it again
// to a flag no rule reads (-p S3cret), in every export (fresh-eyes finding).
func TestASecretIsRedactedWhereverTheTextRepeatsIt(t *testing.T) {
	r, err := NewRedactor(nil)
	if err != nil {
		t.Fatal(err)
	}
	in := "redis-cli -a S3cret9x --pass S3cret9x -p S3cret9x info; echo S3cret9x\nok db1\n"
	got, n := r.RedactString(in)
	if strings.Contains(got, "S3cret9x") || n != 4 {
		t.Fatalf("redacted %d:\n%s", n, got)
	}
	// A short one may be a word: only where a rule found it.
	in = "mysql -u app -pabc12 -e 'select 1'\nabc12 is also a table\n"
	if got, _ := r.RedactString(in); !strings.Contains(got, "abc12 is also a table") {
		t.Fatalf("a 5-byte secret was redacted elsewhere:\n%s", got)
	}
}
