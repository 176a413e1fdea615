package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestSearchAnswersAsGrepDoes: calm search with grep's flags gives, byte
// for byte, what grep -H -n gives on files named as the captures and
// holding the same text.
func TestSearchAnswersAsGrepDoes(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok(nil, "incident", "new", "other") // its capture must not be searched
	w.ok([]byte("error elsewhere\n"), "tee", "-q", "elsewhere")
	w.ok(nil, "incident", "new", "grep")
	texts := []string{
		"error: disk full on db1\nok db\nwarn mydb is slow\nERROR two\ndb.users updated\n\nlast error\nthe a.b file\naxb\nline ten\nline eleven error\n",
		"nothing here\nerror here\nDB_x db-y\n",
		"quiet\ncalm\nstatus=ok db=1\n",
		"city: café, Straße, Αθήνα, 300\u212A error\nan error, then error\n",                    // words beyond ASCII, the Kelvin sign a letter
		"École école\ncafé\ncafés\nİstanbul\nnaïve\nnaïveté_2\n",                                // word edges and classes beyond ASCII
		"id,name\r1,alice\r2,bob\nERROR disk quota exceeded\rOK\nprogress 10%\rprogress 100%\n", // what a carriage return wrote over is found, as grep finds it
		"café naïve résumé\néa a\nΣΊΣΥΦΟΣ σίσυφος ς\nΕλληνικά Русский 中文\nनमस्ते दुनिया\nกรุงเทพ ไทย\n--\n- aaaa\nababab\naaa\n", // -o's parts, marks in words
		"XERROR: disk full; ERROR: quota\nid_x=1,x=2\ncafé au lait ½ and\tthere ² 東京タワー ÜBER\n",                                  // -ow's shorter matches
	}
	dir := t.TempDir()
	inc := strings.Fields(w.ok(nil, "status"))[1]
	os.Mkdir(filepath.Join(dir, inc), 0o700)
	var files []string
	for i, text := range texts {
		w.ok([]byte(text), "tee", "-q", "t")
		name := filepath.Join(inc, "c"+string(rune('1'+i)))
		os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600)
		files = append(files, name)
	}
	for _, args := range [][]string{
		{"error"},
		{"-i", "error"},
		{"-w", "db"},
		{"-w", "-i", "DB"},
		{"-F", "a.b"},
		{"a.b"},
		{"-F", "-w", "db-y"},
		{"-v", "e"},
		{"-v", "-c", "error"},
		{"-c", "error"},
		{"-l", "db"},
		{"-l", "-v", "quiet"},
		{"-m", "2", "error"},
		{"-m", "0", "error"},
		{"-A", "1", "error"},
		{"-B", "2", "error"},
		{"-C", "1", "error"},
		{"-C", "1", "-A", "0", "error"},
		{"-m", "1", "-A", "2", "error"},
		{"-v", "-C", "1", "[a-z]"},
		{"-c", "-m", "1", "e"},
		{"-c", "-m", "0", "e"}, // grep -m 0 prints nothing, not a count of 0
		{"-c", "-l", "db"},
		{"-iw", "error|ok"},
		{"^$"},
		{"-w", "caf"},
		{"-w", "Stra"},
		{"-w", "Αθ"},
		{"-w", "[0-9]+"},
		{"-w", "Straße"},
		{"-C", "0", "error"},
		{"-A", "0", "error"},
		{"error\nok"},           // a pattern of two lines is two patterns
		{"-F", "a.b\nline ten"}, // literals too
		{"-e", "error", "-e", "ok"},
		{"-F", "-e", "a.b", "-e", "line ten"},
		{"-e", "-y"}, // a pattern that begins with -
		{"-e", "a,b"},
		{"-e=ok"}, // grep's -e takes all after it, = included
		{"-ie=DB"},
		{"-C=1", "error"}, // refused, as grep refuses it
		{"{1}error"},      // an interval of nothing, dropped as grep drops it
		{"(x|{2}ok)"},
		{"-c", "d{,}b"}, // {,}: any number
		{"-o", "e{,2}r"},
		{"-i", "[a-z]+stanbul"}, // -i classes fold as grep's: ı and İ
		{"-i", "[[:lower:]]stanbul"},
		{"-ic", "[^a-z]"},
		{"-c", "-e", "db", "-e", "error"},
		{"-w", "-e", "db", "-e", "Stra"},
		{"-l", "-e", "quiet", "-e", "DB_"},
		{"-q", "error"},
		{"-q", "nowhere at all"},
		{"-q", "-v", "e"},
		{"-q", "-c", "-A", "2", "error"},
		{`\<db\>`}, // GNU's word edges, which grep -E knows too
		{"-c", `\<d`},
		{`\<École\>`}, // word edges and classes take every script's letters
		{`\bÉcole`},
		{`\bİ`},
		{`café\b`},
		{`\bcole`},
		{`\bïve`},
		{`\Bïve`},
		{`caf\W`},
		{`na\w+ve`},
		{`\w+é\b`},
		{"-i", `\bécole\b`},
		{"-c", `[[:upper:]]`},
		{`[[:alpha:]]ve`},
		{`^[[:alnum:]_]+$`},
		{`[[:lower:]]stanbul`},
		{"-v", `\bcaf`},
		{"-C", "1", `s\>`},
		{"-o", "error"}, // only the matches, each on a line
		{"-o", "-n", "error"},
		{"-o", "-i", "e[a-z]+"},
		{"-ow", "db"},
		{"-ow", "-i", `é[[:alpha:]]+`},
		{"-ow", "error|then|an"},
		{"-ow", `[a-z]+`},
		{"-o", "-C", "1", "error"}, // no context with -o
		{"-o", "-v", "e"},
		{"-o", "-c", "error"},
		{"-o", "x*"}, // empty matches are not printed
		{"-o", "-m", "1", "e."},
		{"-o", "-h", "-n=false", "[0-9]+"},
		{"-o", "-e", "db", "-e", "error"},
		{"-x", "calm"}, // whole lines
		{"-xi", "QUIET"},
		{"-x", "-F", "ok db"},
		{"-ox", "quiet|calm"},
		{"-xw", "ok"},
		{"-c", "-x", ".*"},
		{"-c", "*e"},  // what grep reads otherwise than RE2: a repetition of nothing,
		{"-c", "e**"}, // runs of repetitions,
		{"-c", "x+?"},
		{"db)"},        // a ) that closes nothing
		{"-o", `\b\w`}, // -o with word edges beyond ASCII
		{"-o", `\w\b`},
		{"-o", `f\B`},
		{"-o", `\<a`},
		{"-c", `e\<`}, // \< is a word's start, not any edge
		{"-o", `\<.`},
		{"-o", `.\>`},
		{"-o", `\> [a-zé]`},
		{"-o", "-i", `\<É.`},
		{"-o", `ς\b`},
		{"-o", `\<\w+`},
		{"-ow", `^-`}, // -w's ^ is the line's start
		{"-ow", `\S`}, // a word of one character beside others
		{"-ow", `.`},
		{"-ow", `[^"]`},
		{"-ow", `^a*`},
		{"-ow", `ERROR.*`}, // a shorter match at the same start, then further on
		{"-ow", `\W+`},
		{"-ow", `[^a-z]+`},
		{"-ow", `a.*`},
		{"-ow", `..`},
		{"-o", `ab|aba`}, // the longest of those that start first
		{"-o", "-e", "a", "-e", "aaa"},
		{"-o", `(|a)`},
		{`नमस्ते\b`}, // a vowel sign is part of its word
		{"-w", "กร"},
		{"-x", `\w+ \w+`},
		{"-o", `\w+`},
		{"-c", "\r"}, // a carriage return inside a line is found
		{"-o", "e\r[0-9]"},
		{"-F", "e\r1"},
		{"-o", "[[=e=]]"},           // an equivalence class of one character
		{"-c", "[[.-.]x]"},          // a collating symbol
		{"-c", "a{,3}"},             // grep's at most 3
		{"--color=always", "error"}, // grep's colours
		{"--color=always", "-C", "1", "error"},
		{"--color=always", "-v", "-C", "1", "ok"},
		{"--color=always", "-m", "1", "-A", "2", "e"}, // matches in the context after the last line -m takes
		{"--color=always", "-o", "e[a-z]+"},
		{"--color=always", "-c", "error"},
		{"--color=always", "-l", "db"},
		{"--color=always", "-w", "db"},
		{"--color=always", "-i", "-h", "-n=false", "é[a-z]+"},
		{"--color=never", "error"},
		{"-a", "error"},
		{"-L", "db"}, // the captures without a selected line
		{"-L", "-v", "e"},
		{"-L", "zebra"},
		{"-L", "-c", "db"},
		{"--color=always", "-L", "db"},
		{"alice"},
		{"ERROR"},
		{"-c", "progress"},
		{"-o", "progress [0-9]+%"},
		{"-w", "OK"},
		{"-v", "-c", "bob"},
		{`b\>`},
		{`[<]db`},
		{`error\|ok`}, // a | itself, as grep -E has it
		{"-h", "error"},
		{"-hc", "error"},
		{"-h", "-C", "1", "error"},
		{"-hl", "db"},
		{"-H", "error"},
		{"-n=false", "error"}, // line numbers are on unless turned off, as grep's are with -n
		{"-h", "-n=false", "error"},
		{"-n=false", "-C", "1", "error"},
	} {
		grepArgs := []string{"-H"}
		// Line numbers are on unless -n=false, as with grep -n; with -o,
		// only when -n asks, as grep's bare parts.
		only := slices.ContainsFunc(args, func(a string) bool {
			letters, _, _ := strings.Cut(a, "=") // -e=ok: a pattern after the =
			return strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && strings.Contains(letters, "o")
		})
		if !slices.Contains(args, "-n=false") && (!only || slices.Contains(args, "-n")) {
			grepArgs = append(grepArgs, "-n")
		}
		if !strings.Contains(strings.Join(args, " "), "-F") {
			grepArgs = append(grepArgs, "-E")
		}
		grepOwn := slices.DeleteFunc(slices.Clone(args), func(a string) bool { return a == "-n=false" })
		if slices.ContainsFunc(args, func(a string) bool { return a == "-e" || strings.HasPrefix(a, "-") && strings.Contains(a, "e=") }) {
			grepArgs = append(grepArgs, grepOwn...)
		} else {
			grepArgs = append(grepArgs, grepOwn[:len(grepOwn)-1]...)
			grepArgs = append(grepArgs, "--", grepOwn[len(grepOwn)-1])
		}
		grep := exec.Command("grep", append(grepArgs, files...)...)
		grep.Dir = dir
		grep.Env = append(os.Environ(), "LC_ALL=C.UTF-8") // words and cases beyond ASCII
		var want bytes.Buffer
		grep.Stdout = &want
		grep.Run()
		grepCode := grep.ProcessState.ExitCode()
		// grep prints a carriage return inside a line as it is; calm, which
		// never writes one to a terminal, as ␍.
		wantText := strings.ReplaceAll(want.String(), "\r", "\u240d")
		got, errs, code := w.run(nil, append([]string{"search", "--incident", inc}, args...)...)
		if got != wantText || code != grepCode {
			t.Errorf("calm search %v: exit %d, stderr %q, gave\n%s\ngrep gave (exit %d)\n%s", args, code, errs, got, grepCode, wantText)
		}
	}
}

// TestSearchSaysWhyAGrepHabitMatchedNothing: grep's default syntax reads
// \| as "or" and $ within a pattern as a $; calm reads them as grep -E
// does, and says so, once, on stderr: an escape always, an operator or a $
// when nothing matched.
func TestSearchSaysWhyAGrepHabitMatchedNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok([]byte("timeout after 30s\nrefund of $5.00 paid\ncols: error|timeout\nObjectId(\"65f1\") {x}\n"), "tee", "-q", "t")
	for _, c := range []struct{ pattern, hint string }{
		{`timeout\|refund`, `\| is the character itself`},
		{`refund of \(\$5\)`, `\( \) are the character itself`},
		{`$5.00`, `for a $ itself write \$ or use -F`},
		{`1+1`, `+ { } are operators`},
		{`ObjectId("65f1")`, `for 'ObjectId(' itself write 'ObjectId\(' or use -F`},
	} {
		out, errs, code := w.run(nil, "search", c.pattern)
		if code != 1 || out != "" || !strings.Contains(errs, c.hint) || strings.Count(errs, "\n") != 1 {
			t.Errorf("calm search %q: exit %d, want 1 and one line naming %q:\n%s%s", c.pattern, code, c.hint, out, errs)
		}
		if _, errs, code := w.run(nil, "search", "-q", c.pattern); code != 1 || errs != "" {
			t.Errorf("calm search -q %q: exit %d, said %q: -q says nothing", c.pattern, code, errs)
		}
		// -E asks for grep -E's reading, and -s for no messages.
		for _, flag := range []string{"-E", "-s"} {
			if _, errs, code := w.run(nil, "search", flag, c.pattern); code != 1 || errs != "" {
				t.Errorf("calm search %s %q: exit %d, said %q", flag, c.pattern, code, errs)
			}
		}
	}
	// A file named where a capture goes is not read as an incident's name.
	file := filepath.Join(t.TempDir(), "dump.json")
	os.WriteFile(file, []byte("timeout\n"), 0o600)
	if out, errs, code := w.run(nil, "search", "timeout", file); code != 2 || out != "" || !strings.Contains(errs, "is a file here, not a capture") {
		t.Errorf("calm search timeout FILE: exit %d:\n%s%s", code, out, errs)
	}
	// An escape that matched the character itself is named all the same:
	// the one line found is not what grep's habit meant.
	if out, errs, code := w.run(nil, "search", `error\|timeout`); code != 0 || !strings.Contains(out, "cols: error|timeout") || !strings.Contains(errs, `\| is the character itself`) {
		t.Errorf("calm search 'error\\|timeout': exit %d:\n%s%s", code, out, errs)
	}
	// A | with nothing on a side (a row of a table, pasted) matches every
	// line: said whatever matched.
	if out, errs, code := w.run(nil, "search", "| timeout |"); code != 0 || strings.Count(out, "\n") != 4 || !strings.Contains(errs, "a | with nothing on one side matches every line") {
		t.Errorf("calm search '| timeout |': exit %d:\n%s%s", code, out, errs)
	}
	// A table's column separator escaped, found: what was meant.
	if out, errs, code := w.run(nil, "search", `cols: error\|`); code != 0 || !strings.Contains(out, "cols: error|timeout") || errs != "" {
		t.Errorf("calm search 'cols: error\\|': exit %d:\n%s%s", code, out, errs)
	}
	// What grep -E reads the same way is not second-guessed.
	for _, pattern := range []string{`timeout|refund`, `\$5\.00`, `paid$`, `nowhere`, `ObjectId\("65f1"\)`, `\{x\}`, `"_id": *"[0-9a-f]+"`, `\d{7}`, `(ab)+c`, `x(ab)?`, `(timeout|nowhere)`, `[|(]x`, `q(ab)?`, `q(GET|PUT) x`} {
		if _, errs, _ := w.run(nil, "search", pattern); errs != "" {
			t.Errorf("calm search %q said %q", pattern, errs)
		}
	}
}

// TestSearchJSONIsOneObjectALine: --json gives the same lines as objects.
func TestSearchJSONIsOneObjectALine(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok([]byte("a\nneedle 1\nb\nneedle \x1b[31m2\x1b[0m\n"), "tee", "-q", "t")
	plain := strings.Split(strings.TrimSpace(w.ok(nil, "search", "-B", "1", "needle")), "\n")
	lines := strings.Split(strings.TrimSpace(w.ok(nil, "search", "--json", "-B", "1", "needle")), "\n")
	if len(lines) != 4 || len(plain) != 4 {
		t.Fatalf("search --json -B 1 gave %q (plain: %q)", lines, plain)
	}
	for i, l := range lines {
		var m struct {
			Incident, Item, Text string
			Line                 int64
			Context              bool
		}
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d %q: %v", i, l, err)
		}
		sep := ":"
		if m.Context {
			sep = "-"
		}
		if want := m.Incident + "/" + m.Item + sep + strconv.FormatInt(m.Line, 10) + sep + m.Text; want != plain[i] {
			t.Errorf("json line %q says %q, the plain line is %q", l, want, plain[i])
		}
	}
	if got := w.ok(nil, "search", "--json", "-c", "needle"); !strings.Contains(got, `"count":2`) {
		t.Errorf("search --json -c gave %q", got)
	}
}

// TestSearchExitsOneOnlyForNoMatch: as grep, search exits 0 when a line is
// selected, 1 (saying nothing) when none is, and 2 with one line for every
// error: an incident that does not exist, a bad pattern, a config that
// cannot be read, an agent that cannot start, a damaged store.
func TestSearchExitsOneOnlyForNoMatch(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok([]byte("ERROR one\n"), "tee", "-q", "t")
	if _, errs, code := w.run(nil, "search", "ERROR"); code != 0 {
		t.Fatalf("a match: exit %d, %q", code, errs)
	}
	// grep -n's habit: numbers are always printed, so -n changes nothing.
	if out, errs, code := w.run(nil, "search", "-n", "ERROR"); code != 0 || !strings.HasSuffix(out, "/c1:1:ERROR one\n") {
		t.Fatalf("search -n: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	// grep -E's habit too: RE2 reads an alternation as -E does.
	if out, errs, code := w.run(nil, "search", "-E", "ERROR|WARN"); code != 0 || !strings.HasSuffix(out, "/c1:1:ERROR one\n") {
		t.Fatalf("search -E: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if _, errs, code := w.run(nil, "search", "-E", "-F", "ERROR"); code != 2 || !strings.Contains(errs, "not both") {
		t.Fatalf("search -E -F: exit %d, stderr %q; want 2 and why", code, errs)
	}
	if out, errs, code := w.run(nil, "search", "no such line"); code != 1 || out != "" || errs != "" {
		t.Fatalf("no match: exit %d, stdout %q, stderr %q; want 1 and nothing said", code, out, errs)
	}
	dir := t.TempDir()
	badConfig := filepath.Join(dir, "config.toml")
	os.WriteFile(badConfig, []byte("mirrors = [\n"), 0o600)
	notADir := filepath.Join(dir, "file")
	os.WriteFile(notADir, nil, 0o600)
	damaged := filepath.Join(dir, "damaged", "calm.db")
	os.Mkdir(filepath.Dir(damaged), 0o700)
	os.WriteFile(damaged, bytes.Repeat([]byte{0xAB}, 64<<10), 0o600)
	noAgent := *w
	noAgent.extra = append(noAgent.extra, "CALM_SOCKET="+filepath.Join(notADir, "agent.sock"))
	for _, c := range []struct {
		name string
		w    *world
		args []string
		says string
	}{
		{"an incident that does not exist", w, []string{"--incident", "zzzz", "ERROR"}, `no incident matches "zzzz"`},
		{"a bad pattern", w, []string{"(ERROR"}, "missing closing )"},
		{"a config that cannot be read", w, []string{"--config", badConfig, "ERROR"}, badConfig},
		{"an agent that cannot start", &noAgent, []string{"ERROR"}, "agent"},
		{"a damaged store", w.withStore(damaged), []string{"ERROR"}, "damaged"},
		{"a negative context length", w, []string{"-C", "-1", "ERROR"}, "a context length is 0 or more"},
		// Bytes that are not UTF-8 are U+FFFD in the text searched: said
		// so, with -F as without (it used to advise -F to a -F search).
		{"a pattern that is not UTF-8", w, []string{"caf\xe9"}, "not UTF-8"},
		{"a literal that is not UTF-8", w, []string{"-F", "\xff"}, "calm searches the text as it was shown, where such bytes are U+FFFD"},
		{"one of several patterns not UTF-8", w, []string{"-e", "ERROR", "-e", "caf\xe9"}, `"ERROR\ncaf\xe9" holds bytes that are not UTF-8`},
		// Controls the text searched is without: a pattern holding one
		// matched nothing, and said nothing.
		{"a pattern with a control character", w, []string{"ctrl\x01"}, "holds U+0001, a character the text searched is without"},
		{"a pattern with a line separator", w, []string{"-F", "a\u2028b"}, "holds U+2028"},
	} {
		out, errs, code := c.w.run(nil, append([]string{"search"}, c.args...)...)
		if code != 2 || out != "" || !strings.Contains(errs, c.says) || strings.Count(errs, "\n") != 1 {
			t.Errorf("search with %s: exit %d, stdout %q, stderr %q; want 2 and one line saying %q", c.name, code, out, errs, c.says)
		}
	}
}

// TestSearchOfNamedCapturesIsGrepOfNamedFiles: captures named after the
// pattern are the only ones searched, in the order named, as grep's files.
func TestSearchOfNamedCapturesIsGrepOfNamedFiles(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok(nil, "incident", "new", "named")
	inc := strings.Fields(w.ok(nil, "status"))[1]
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, inc), 0o700)
	for i, text := range []string{"error one\nok\n", "fine\nerror two\nerror three\n", "error four\n"} {
		w.ok([]byte(text), "tee", "-q", "t")
		os.WriteFile(filepath.Join(dir, inc, "c"+strconv.Itoa(i+1)), []byte(text), 0o600)
	}
	for _, tc := range []struct{ calm, grep []string }{
		{[]string{"error", "c3", "c1"}, []string{"error", inc + "/c3", inc + "/c1"}},
		{[]string{"-c", "error", "c2", inc + "/c1"}, []string{"-c", "error", inc + "/c2", inc + "/c1"}},
		{[]string{"-v", "error", "c2"}, []string{"-v", "error", inc + "/c2"}},
		{[]string{"--incident", inc, "two", "c2"}, []string{"two", inc + "/c2"}},
		// One that is not there is said, the others searched; exit 2.
		{[]string{"error", "c9", "c3"}, []string{"error", inc + "/c9", inc + "/c3"}},
		{[]string{"-c", "error", "c1", "c9"}, []string{"-c", "error", inc + "/c1", inc + "/c9"}},
	} {
		grep := exec.Command("grep", append([]string{"-H", "-n"}, tc.grep...)...)
		grep.Dir = dir
		want, _ := grep.Output()
		got, errs, code := w.run(nil, append([]string{"search"}, tc.calm...)...)
		if got != string(want) || code != grep.ProcessState.ExitCode() {
			t.Errorf("calm search %v: exit %d, %q, gave\n%s\ngrep %v gave (exit %d)\n%s", tc.calm, code, errs, got, tc.grep, grep.ProcessState.ExitCode(), want)
		}
	}
	_, errs, code := w.run(nil, "search", "error", "C2")
	if code != 2 || !strings.Contains(errs, "did you mean c2") {
		t.Fatalf("search of a capture that does not exist: exit %d, %q", code, errs)
	}
	_, errs, code = w.run(nil, "search", "c2", "error") // the pattern and the capture the wrong way round
	if code != 2 || !strings.Contains(errs, "the pattern comes first") {
		t.Fatalf("search with the capture first: exit %d, %q", code, errs)
	}
}

// TestSearchSaysItDoesNotReadWhatIsPipedIn: 'calm show c1 | calm search x'
// looked like grep reading its stdin, and calm searched the store without
// a word.
func TestSearchSaysItDoesNotReadWhatIsPipedIn(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok([]byte("in the store\n"), "tee", "-q", "t")
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	pw.Write([]byte("piped, not stored\n"))
	pw.Close()
	cmd := w.cmd("search", "store")
	cmd.Stdin = pr
	var out, errs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errs
	cmd.Run()
	pr.Close()
	if !strings.Contains(out.String(), "in the store") || !strings.Contains(errs.String(), "not what is piped in") {
		t.Fatalf("search with bytes piped in: %q %q", out.String(), errs.String())
	}
	if _, errs, _ := w.run(nil, "search", "store"); errs != "" {
		t.Fatalf("search with nothing piped in said %q", errs)
	}
}

// TestSearchNoMessagesSaysNothingOfAMissingCapture: -s, as grep's, keeps
// stderr quiet about a capture that cannot be read; the status still says 2.
func TestSearchNoMessagesSaysNothingOfAMissingCapture(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok([]byte("error one\n"), "tee", "-q", "t")
	for _, args := range [][]string{{"-s", "error", "c9"}, {"-s", "error", "c1", "c9"}} {
		out, errs, code := w.run(nil, append([]string{"search", "-h"}, args...)...)
		want := ""
		if slices.Contains(args, "c1") {
			want = "1:error one\n"
		}
		if code != 2 || errs != "" || out != want {
			t.Errorf("search %v: exit %d, stderr %q, stdout %q; want exit 2, nothing on stderr, %q", args, code, errs, out, want)
		}
	}
	if _, errs, code := w.run(nil, "search", "error", "c9"); code != 2 || !strings.Contains(errs, "c9") {
		t.Errorf("without -s: exit %d, stderr %q", code, errs)
	}
}

// search -f FILE takes a pattern a line, as grep -f does: a list of
// ObjectIds, from a file (CRLF line ends too) or standard input.
func TestSearchReadsPatternsFromAFile(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok([]byte("{ _id: ObjectId(\"65f1aa\"), user: \"u1\" }\n{ _id: ObjectId(\"65f1bb\"), user: \"u2\" }\n{ _id: ObjectId(\"65f1cc\"), user: \"u3\" }\n"), "tee", "-q", "t")
	dir := t.TempDir()
	ids := filepath.Join(dir, "ids.txt")
	os.WriteFile(ids, []byte("65f1aa\r\n65f1cc\r\n"), 0o600)
	for _, args := range [][]string{{"-F", "-f", ids}, {"-f", ids}, {"-f", "-", "-F"}} {
		out, errs, code := w.run([]byte("65f1aa\n65f1cc\n"), append([]string{"search", "-c"}, args...)...)
		if code != 0 || !strings.HasSuffix(strings.TrimSpace(out), ":2") {
			t.Errorf("calm search -c %v: exit %d:\n%s%s", args, code, out, errs)
		}
	}
	// With -e as well: a line matching any is selected.
	if out, _, code := w.run(nil, "search", "-c", "-f", ids, "-e", "u2"); code != 0 || !strings.HasSuffix(strings.TrimSpace(out), ":3") {
		t.Errorf("-f and -e: exit %d:\n%s", code, out)
	}
	empty := filepath.Join(dir, "empty.txt")
	os.WriteFile(empty, nil, 0o600)
	// As grep: an empty list matches no line, and -v selects every one.
	if out, errs, code := w.run(nil, "search", "-f", empty); code != 1 || out != "" || !strings.Contains(errs, "no pattern in it") {
		t.Errorf("an empty -f file: exit %d:\n%s%s", code, out, errs)
	}
	if out, _, code := w.run(nil, "search", "-c", "-v", "-f", empty); code != 0 || !strings.HasSuffix(strings.TrimSpace(out), ":3") {
		t.Errorf("-v with an empty -f file: exit %d:\n%s", code, out)
	}
	// A blank line (a CRLF one too) matches every line, as in grep: said.
	blank := filepath.Join(dir, "blank.txt")
	os.WriteFile(blank, []byte("65f1aa\r\n\r\n"), 0o600)
	if out, errs, code := w.run(nil, "search", "-c", "-f", blank); code != 0 || !strings.HasSuffix(strings.TrimSpace(out), ":3") || !strings.Contains(errs, "line 2 is empty, and an empty pattern matches every line") {
		t.Errorf("a blank line in -f: exit %d:\n%s%s", code, out, errs)
	}
	if out, errs, code := w.run(nil, "search", "-f", filepath.Join(dir, "nowhere")); code != 2 || out != "" || !strings.Contains(errs, "cannot read the patterns") || strings.Count(errs, "\n") != 1 {
		t.Errorf("a missing -f file: exit %d:\n%s%s", code, out, errs)
	}
}
