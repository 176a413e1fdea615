package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"calm/capture"
	"calm/checklist"
	"calm/model"
	"calm/report"
	"calm/sanitize"
	"calm/storage"
	"calm/storage/agent"
	"calm/storage/s3"
	"calm/terminal"
)

func cmdIncidentNew(e *env, args []string) error {
	fs := e.flags("new", "TITLE")
	if err := parse(fs, args); err != nil {
		return err
	}
	title := strings.Join(fs.Args(), " ")
	if strings.TrimSpace(title) == "" {
		// Named by the time, it is one more "incident at …" to tell apart
		// later; a capture with no incident still makes one, and says so.
		return usageError(`give the incident a title: calm incident new "orders collection overwritten"`)
	}
	inc, err := e.store.NewIncident(title)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s  %s  (now current)\n", inc.ID, printable(inc.Title))
	return nil
}

func cmdIncidentList(e *env, args []string) error {
	fs := e.flags("list", "[--json]")
	asJSON := fs.Bool("json", false, "one JSON object a line: id, title, opened, closed (when closed), current")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("list takes no arguments")
	}
	list, err := e.store.Incidents()
	if err != nil {
		return err
	}
	cur, _ := e.store.Incident("")
	if *asJSON {
		enc := json.NewEncoder(e.stdout) // JSON escapes every control: safe on a terminal
		for _, inc := range list {
			if err := enc.Encode(struct {
				model.Incident
				Current bool `json:"current"`
			}{inc, inc.ID == cur.ID}); err != nil {
				return err
			}
		}
		return nil
	}
	if len(list) == 0 {
		fmt.Fprintln(e.stdout, "no incidents yet: 'calm incident new TITLE' opens one")
	}
	for _, inc := range list {
		mark := " "
		if inc.ID == cur.ID {
			mark = "*"
		}
		fmt.Fprintf(e.stdout, "%s %s  %-40s  %s\n", mark, printable(inc.ID), printable(inc.Title), incidentState(inc))
	}
	return nil
}

func cmdIncidentUse(e *env, args []string) error {
	fs := e.flags("use", "ID")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError("usage: calm incident use ID")
	}
	inc, err := e.store.UseIncident(fs.Arg(0))
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s  %s  (now current)\n", inc.ID, printable(inc.Title))
	if !inc.IsOpen() {
		e.sayClosed(inc, true, "what you capture goes into it as closed")
	}
	return nil
}

func cmdIncidentClose(e *env, args []string) error {
	fs := e.flags("close", "[ID]")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usageError("usage: calm incident close [ID]")
	}
	inc, err := e.store.CloseIncident(fs.Arg(0))
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s  %s  (%s)\n", inc.ID, printable(inc.Title), incidentState(inc))
	// Closing is allowed with steps left (an incident that was a false
	// alarm), but not in silence.
	if st, _, err := checklist.Progress(e.store, inc.ID, e.checklists(true)); err == nil && st.Current < len(st.Steps) {
		done, _ := st.Done()
		fmt.Fprintf(e.stderr, "note: closed with %d of %d checklist steps done (next: step %d, %q); 'calm incident reopen %s' goes on with them\n",
			done, len(st.Steps), st.Current+1, printable(st.Steps[st.Current].Title), inc.ID)
	}
	return nil
}

func cmdNote(e *env, args []string) error {
	fs := e.flags("note", "[--incident ID] TEXT")
	incident := fs.String("incident", "", "the incident (default: the current one)")
	if err := parse(fs, args); err != nil {
		return err
	}
	text := strings.Join(fs.Args(), " ")
	if text == "-" {
		if isTerminal(e.stdin) {
			fmt.Fprintln(e.stderr, "calm note: reading the note you type (Ctrl-D ends it, Ctrl-C writes nothing)")
		}
		data, err := io.ReadAll(io.LimitReader(e.stdin, 1<<20))
		if err != nil {
			return err
		}
		if strings.TrimSpace(string(data)) == "" {
			return fmt.Errorf("nothing came on stdin: the note was not written")
		}
		text = string(data)
	}
	if strings.TrimSpace(text) == "" {
		return usageError("usage: calm note TEXT (or calm note - to read it from stdin)")
	}
	if !sanitize.Shows(text) {
		return usageError("the note would show as nothing (only escape sequences or invisible characters): it was not written; type its words")
	}
	if *incident == "" {
		inc, err := e.incidentToWrite("", "the note was not written")
		if err != nil {
			return err
		}
		*incident = inc.ID
	}
	ev, err := e.store.AddNote(*incident, text)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "noted at %s in %s\n", ev.Time.Format("15:04:05 UTC"), *incident)
	return nil
}

// isTerminal reports whether w is a terminal, where raw captured bytes must
// never go.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// isPlainFile reports whether path names a regular file: an argument that
// is one is a file, not an incident's ID.
func isPlainFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// isRegularFile reports whether w is a plain file, where a capture's bytes
// may go as they are.
func isRegularFile(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode().IsRegular()
}

// sanitizingWriter neutralises terminal controls in a stream. It holds back
// the unfinished line, so that a \r arriving later still replaces it as a
// terminal would (up to a MiB, past which the line goes out as it is).
type sanitizingWriter struct {
	w       io.Writer
	f       sanitize.Filter
	line    []byte
	in, out int64 // bytes written to it, and by it: they differ when it took something out
	// U+FFFD written to it, and by it: more out means invalid UTF-8 was replaced
	replacementsIn, replacementsOut int
}

var replacement = []byte("\uFFFD")

func (s *sanitizingWriter) Write(p []byte) (int, error) {
	s.f.HoldsLine()
	s.in += int64(len(p))
	s.replacementsIn += bytes.Count(p, replacement)
	before := len(s.line)
	s.line = s.f.Append(s.line, p)
	s.out += int64(len(s.line) - before)
	cut := bytes.LastIndexByte(s.line, '\n') + 1
	if len(s.line)-cut > 1<<20 {
		cut = len(s.line)
	}
	s.replacementsOut += bytes.Count(s.line[:cut], replacement)
	if _, err := s.w.Write(s.line[:cut]); err != nil {
		return 0, err
	}
	s.line = s.line[:copy(s.line, s.line[cut:])]
	return len(p), nil
}

// Close writes out the last, unfinished line.
func (s *sanitizingWriter) Close() error {
	last := s.f.Flush(s.line)
	s.out += int64(len(last) - len(s.line)) // what Flush made of the line held
	s.replacementsOut += bytes.Count(last, replacement)
	_, err := s.w.Write(last)
	s.line = s.line[:0]
	return err
}

// tookOut names what the writer took out.
func (s *sanitizingWriter) tookOut() string {
	if s.replacementsOut > s.replacementsIn {
		return "terminal controls and invalid UTF-8"
	}
	return "terminal controls"
}

func cmdShow(e *env, args []string) error {
	fs := e.flags("show", "[--raw] [--sanitize] [--cast] [--record] ID")
	raw := fs.Bool("raw", false, "write the captured bytes as they are (to a file or a pipe: never to a terminal)")
	cast := fs.Bool("cast", false, "for a session: its asciicast v2 stream rather than its output")
	clean := fs.Bool("sanitize", false, "remove terminal controls even when not writing to a terminal")
	record := fs.Bool("record", false, "the capture's record (state, hashes, copies) as JSON, not its bytes")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError("usage: calm show ID (for example c3, or INCIDENT/c3)")
	}
	ref := fs.Arg(0)
	c, err := e.store.Capture(ref)
	if err != nil {
		return withCaptureSuggestion(e, ref, err, "show")
	}
	if *record {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(c) // JSON escapes every control: safe on a terminal
	}
	out := e.stdout
	if *raw && isTerminal(out) {
		return usageError("--raw to a terminal would run the escape sequences captured output holds: write it to a file (calm show --raw %s > FILE), or drop --raw", printable(ref))
	}
	bw := bufio.NewWriterSize(out, 1<<20)
	last := &lastByte{w: bw}
	var w io.Writer = last
	tail := capture.NewBlankTail(last)
	sw := &sanitizingWriter{w: last}
	// A pipe ends at a terminal as often as not (| head, | less -R): only
	// a file gets a tee's or a clip's bytes as they are unless --raw says
	// so. A pane's scrollback or a session is the text a person saw, not
	// the colour codes around it nor the empty rows below it.
	sanitizing := (*clean || !isRegularFile(out) || fromTerminal(c)) && !*raw
	if sanitizing {
		if fromTerminal(c) {
			sw.w = tail
		}
		w = sw
	}
	if _, item := storage.SplitRef(ref); strings.HasPrefix(item, "s") && !*cast && !*raw {
		// What a person saw: the session's derived text.
		if err := e.store.WriteText(context.Background(), ref, w); err != nil {
			return err
		}
	} else if strings.HasPrefix(item, "s") && !*cast {
		out := &terminal.CastOutput{W: w}
		if err := e.store.WriteContent(context.Background(), ref, 0, out); err != nil {
			return err
		}
		out.Close()
	} else if err := e.store.WriteContent(context.Background(), ref, 0, w); err != nil {
		return err
	}
	sw.Close()
	tail.Close()
	if isTerminal(out) && last.seen && last.b != '\n' {
		// Text without a final line end would run into the prompt; only a
		// terminal gets the line end, never a file or a pipe.
		bw.WriteByte('\n')
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if sanitizing && !*clean && !fromTerminal(c) && !isTerminal(out) && sw.in != sw.out {
		// Replacing invalid UTF-8 (one byte, U+FFFD three) may write more
		// than was stored: neither "kept" nor "of" says that.
		fmt.Fprintf(e.stderr, "calm show: took %s out of %s/%s, not writing to a file (wrote %s for its %s); 'calm show --raw %s > FILE' writes its bytes as they are\n",
			sw.tookOut(), c.Incident, c.ID, humanBytes(sw.out), humanBytes(sw.in), printable(ref))
	}
	// A file made from a partial capture must not pass for the whole.
	if c, err := e.store.Capture(ref); err == nil {
		switch {
		case c.Partial():
			fmt.Fprintf(e.stderr, "calm: WARNING: %s/%s is INTERRUPTED: %s; this is only the part that was saved\n", c.Incident, c.ID, sanitize.Text([]byte(c.Interrupted)))
		case c.State != model.CaptureSealed:
			// What the store knows holds it (its writer gone, a full disk)
			// is said as status says it, not "still being written".
			fmt.Fprintf(e.stderr, "calm: WARNING: %s/%s is not sealed (%s): this is what it holds so far\n", c.Incident, c.ID, printable(c.StateLine()))
		}
	}
	return nil
}

// lastByte passes writes on, keeping the last byte written.
type lastByte struct {
	w    io.Writer
	b    byte
	seen bool
}

func (l *lastByte) Write(p []byte) (int, error) {
	n, err := l.w.Write(p)
	if n > 0 {
		l.b, l.seen = p[n-1], true
	}
	return n, err
}

// fromTerminal reports whether a capture came from a terminal (a snap of a
// pane, a session recorded by shell or split, or imported), whose bytes
// carry the terminal's escapes.
func fromTerminal(c model.Capture) bool {
	return c.Source == "snap" || c.Source == model.SourceSession || c.Recording != nil
}

// withCaptureSuggestion adds to a capture not found the id that was likely
// meant: C5 for c5, 5 for c5 (or s5), when that capture exists.
func withCaptureSuggestion(e *env, ref string, err error, command string) error {
	if !errors.Is(err, model.ErrNotFound) && !errors.Is(err, model.ErrInvalid) {
		return err
	}
	incident, item := storage.SplitRef(ref)
	guesses := []string{strings.ToLower(item)}
	if _, nerr := strconv.ParseUint(item, 10, 64); nerr == nil {
		guesses = []string{"c" + item, "s" + item}
	}
	if len(item) > 1 {
		// cl for c1, sO for s0: letters that look like digits.
		guesses = append(guesses, strings.ToLower(item[:1])+strings.NewReplacer("l", "1", "I", "1", "i", "1", "|", "1", "o", "0", "O", "0").Replace(item[1:]))
	}
	for _, g := range guesses {
		if incident != "" {
			g = incident + "/" + g
		}
		if g == ref {
			continue
		}
		if _, gerr := e.store.Capture(g); gerr == nil {
			if command == "search" {
				return fmt.Errorf("no capture %q: did you mean %s? (calm search PATTERN %s)", printable(ref), g, g)
			}
			return fmt.Errorf("no capture %q: did you mean %s? ('calm %s %s')", printable(ref), g, command, g)
		}
	}
	return err
}

// unshown reports a character that the text search matches never holds:
// controls but the tab (a carriage return is ␍ there, a newline parts
// patterns), the line and paragraph separators, bidirectional controls and
// the byte order mark, which show nothing.
func unshown(r rune) bool {
	switch {
	case r == '\t' || r == '\r' || r == '\n':
		return false
	case unicode.IsControl(r), r == 0x2028, r == 0x2029, r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069, r == 0xFEFF:
		return true
	}
	return false
}

// noLine is a pattern that matches no line: a class of no character.
const noLine = `[^\x00-\x{10FFFF}]`

// patternsIn reads the patterns of search -f: a line each. A CRLF file's
// line ends are line ends, as in captures: an ObjectId listed on Windows
// still finds itself.
func patternsIn(e *env, name string) ([]string, error) {
	var data []byte
	var err error
	if name == "-" {
		data, err = io.ReadAll(e.stdin)
	} else {
		data, err = os.ReadFile(name)
	}
	if err != nil {
		return nil, usageError("-f %s: cannot read the patterns: %s", printable(name), oneLine(err.Error()))
	}
	if len(data) == 0 {
		return nil, nil
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
		if lines[i] == "" {
			// As in grep: said, as a blank line at a file's end matches all.
			fmt.Fprintf(e.stderr, "calm search: -f %s: line %d is empty, and an empty pattern matches every line\n", printable(name), i+1)
		}
	}
	return lines, nil
}

func cmdSearch(e *env, args []string) error {
	fs := e.flags("search", "[-F] [-i] [-w|-x] [-v] [-o] [-h] [-s] [-c|-l|-L|-q] [-m N] [-A N] [-B N] [-C N] [--incident ID] [--json] PATTERN [CAPTURE...]\n  calm search [FLAGS] -e PATTERN [-e PATTERN...] [CAPTURE...]\n  calm search [FLAGS] -f FILE [CAPTURE...]")
	q := model.SearchQuery{}
	o := grepOptions{max: -1, before: -1, after: -1}
	fs.BoolVarP(&q.Literal, "fixed-strings", "F", false, "the pattern is a literal string, not a regular expression (RE2)")
	fs.BoolVarP(&q.IgnoreCase, "ignore-case", "i", false, "ignore case")
	fs.BoolVarP(&o.word, "word-regexp", "w", false, "match whole words only")
	fs.BoolVarP(&o.whole, "line-regexp", "x", false, "match whole lines only")
	fs.BoolVarP(&o.only, "only-matching", "o", false, "print only the parts of a line that match, each on a line of its own (no context lines)")
	fs.BoolVarP(&o.noMessages, "no-messages", "s", false, "say nothing of captures that cannot be read (the exit status is still 2)")
	color := fs.String("color", "never", "grep's colours: matches in bold red, names, line numbers and separators in theirs: always, never, or auto (at a terminal); --color alone: auto")
	fs.Lookup("color").NoOptDefVal = "auto"
	fs.BoolP("text", "a", false, "taken as it is: calm searches every capture as text (binary bytes as U+FFFD)")
	recursive := fs.BoolP("recursive", "r", false, "taken as it is: calm searches every capture (or those named after the pattern); a folder named with it (grep -r PATTERN .) is every capture")
	recursiveToo := fs.BoolP("dereference-recursive", "R", false, "as -r")
	fs.BoolVarP(&o.invert, "invert-match", "v", false, "select the lines that do not match")
	fs.BoolVarP(&o.count, "count", "c", false, "print how many lines each capture has selected")
	fs.BoolVarP(&o.files, "files-with-matches", "l", false, "print only the captures that have a selected line")
	fs.BoolVarP(&o.without, "files-without-match", "L", false, "print only the captures that have no selected line")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "print nothing: exit 0 at the first selected line, 1 if there is none")
	patterns := fs.StringArrayP("regexp", "e", nil, "a pattern (one that begins with -, or several: a line matching any is selected); every argument is then a capture")
	patternFiles := fs.StringArrayP("file", "f", nil, "read patterns from this file, one a line (-: standard input), as with -e: a list of ObjectIds or names")
	fs.IntVarP(&o.max, "max-count", "m", -1, "stop reading a capture after this many selected lines (-1: no limit)")
	fs.IntVarP(&o.after, "after-context", "A", -1, "print this many lines after each selected line")
	fs.IntVarP(&o.before, "before-context", "B", -1, "print this many lines before each selected line")
	for _, name := range []string{"after-context", "before-context"} {
		fs.Lookup(name).DefValue = "0" // -1 only means "as -C says"
	}
	fs.IntVarP(&o.context, "context", "C", 0, "print this many lines before and after each selected line")
	fs.BoolVarP(&o.noRef, "no-filename", "h", false, "print no INCIDENT/ID before each line or count, as grep -h (--help: the help)")
	fs.Bool("help", false, "help for search") // its -h is grep's
	var lineNumbers, extended, withRef bool
	fs.BoolVarP(&withRef, "with-filename", "H", false, "taken as it is: each line begins with INCIDENT/ID unless -h")
	fs.BoolVarP(&lineNumbers, "line-number", "n", true, "print each line's number (on unless -n=false: grep -n's habit, and a line to find again)")
	fs.BoolVarP(&extended, "extended-regexp", "E", false, "taken as it is: patterns are RE2, which reads a|b, a+ and (a) as grep -E does (and \\< \\> \\b \\w and [[:alpha:]] as grep does in UTF-8, letters of every script)")
	fs.StringVar(&q.Incident, "incident", "", "search only this incident")
	fs.BoolVar(&o.json, "json", false, "one JSON object a line (incident, item, line, text; context: true for a context line)")
	if err := parse(fs, args); err != nil {
		return err
	}
	o.noLine = !lineNumbers
	if o.only && !fs.Changed("line-number") {
		o.noLine = true // what -o extracts goes on to sort -u, jq, a file: grep's bare parts unless -n
	}
	switch *color {
	case "always":
		o.color = true
	case "auto":
		o.color = isTerminal(e.stdout) && !o.json
	case "never":
	default:
		return usageError("--color=%s: always, never or auto", *color)
	}
	captures := fs.Args()
	for _, name := range *patternFiles {
		read, err := patternsIn(e, name)
		if err != nil {
			return err
		}
		*patterns = append(*patterns, read...)
	}
	if len(*patternFiles) > 0 && len(*patterns) == 0 {
		// grep's answer: no line matches none, so -v selects every one.
		fmt.Fprintf(e.stderr, "calm search: -f %s: no pattern in it, so no line matches (with -v, every line)\n", printable(strings.Join(*patternFiles, ", ")))
		*patterns = []string{noLine}
		q.Literal = false
	}
	if len(*patterns) > 0 {
		q.Pattern = strings.Join(*patterns, "\n")
	} else if len(captures) > 0 {
		q.Pattern, captures = captures[0], captures[1:]
	} else {
		return usageError("usage: calm search [FLAGS] PATTERN [CAPTURE...] (see 'calm search --help')")
	}
	// Captures named after the pattern are the only ones searched, as
	// grep's files: c3 (in --incident, or the current incident) or
	// INCIDENT/c3.
	// One that cannot be read is said and the others searched, as grep
	// goes on past a file it cannot open; the exit status is then 2.
	var unread []error
	for _, named := range captures {
		if st, err := os.Stat(named); (*recursive || *recursiveToo) && err == nil && st.IsDir() {
			continue // grep -r PATTERN .: every capture
		}
		ref := named
		if q.Incident != "" && !strings.Contains(ref, "/") {
			ref = q.Incident + "/" + ref
		}
		c, err := e.store.Capture(ref)
		if err != nil {
			switch _, serr := os.Stat(ref); {
			case serr == nil:
				err = usageError("%q is a file here, not a capture: calm search reads the store's captures (c3, s1 or INCIDENT/c3); grep the file, or save it first with 'calm tee TITLE < FILE > /dev/null'", printable(ref))
			case strings.HasPrefix(named, ".") || strings.HasPrefix(named, "/") || strings.HasPrefix(named, "~"):
				err = usageError("%q is no capture (c3, s1 or INCIDENT/c3), and no file here either", printable(named))
			case errors.Is(err, model.ErrInvalid) && withCaptureSuggestion(e, ref, err, "search") == err:
				err = usageError("%q is not a capture (c3, s1 or INCIDENT/c3): the pattern comes first, then the captures to search", printable(named))
			default:
				err = withCaptureSuggestion(e, ref, err, "search")
			}
			unread = append(unread, err)
			continue
		}
		q.Items = append(q.Items, c.Incident+"/"+c.ID)
	}
	if len(unread) > 0 && len(q.Items) == 0 {
		if o.noMessages {
			return &exitError{code: 2} // grep -s: the status says it
		}
		for _, err := range unread[:len(unread)-1] {
			fmt.Fprintf(e.stderr, "calm search: %s\n", oneLine(err.Error()))
		}
		return unread[len(unread)-1] // none to search: not every capture
	}
	for _, n := range []struct {
		flag  string
		value int
	}{{"after-context", o.after}, {"before-context", o.before}, {"context", o.context}} {
		if fs.Changed(n.flag) && n.value < 0 {
			return usageError("--%s %d: a context length is 0 or more", n.flag, n.value)
		}
		o.contextGiven = o.contextGiven || fs.Changed(n.flag)
	}
	typed := q.Pattern
	if !utf8.ValidString(typed) {
		// The text searched is the text as shown, where such bytes are
		// U+FFFD: no pattern holding them could match, -F or not.
		return usageError("pattern %q holds bytes that are not UTF-8: calm searches the text as it was shown, where such bytes are U+FFFD, %q; search for that, or for the bytes in a capture as it came: calm show --raw ITEM | grep -a PATTERN", typed, "\uFFFD")
	}
	if i := strings.IndexFunc(typed, unshown); i >= 0 {
		r, _ := utf8.DecodeRuneInString(typed[i:])
		return usageError("pattern %q holds %U, a character the text searched is without: calm searches the text as it was shown, where it shows nothing; search for what is around it, or for the bytes in a capture as it came: calm show --raw ITEM | grep -a PATTERN", typed, r)
	}
	if strings.Contains(q.Pattern, "\n") {
		// grep: each line of the pattern is a pattern of its own.
		var alternatives []string
		for _, p := range strings.Split(q.Pattern, "\n") {
			one := q
			one.Pattern = p
			if _, err := one.Regexp(); err != nil {
				return usageError("%s", err) // the one typed, not the alternation made of them
			}
			if q.Literal {
				p = regexp.QuoteMeta(p)
			} else {
				p = model.FoldedPattern(p, q.IgnoreCase)
			}
			alternatives = append(alternatives, "(?:"+p+")")
		}
		q.Pattern, q.Literal = strings.Join(alternatives, "|"), false
	}
	if _, err := q.Regexp(); err != nil {
		// grep's exit 2 for a bad pattern, not 1 as for no match.
		return usageError("%s", err)
	}
	if !q.Literal {
		// As grep -E reads it, for an agent of an older calm too.
		q.Pattern = model.FoldedPattern(q.Pattern, q.IgnoreCase)
	}
	if o.files || o.quiet {
		o.count = false // grep: -l wins over -c
	}
	if o.without && !o.quiet {
		o.files, o.count = false, true // counted, and the captures at 0 named
	}
	if o.quiet {
		o.files, o.before, o.after, o.context = false, 0, 0, 0
	}
	if extended && q.Literal {
		return usageError("-E and -F: a pattern is a regular expression or a literal, not both")
	}
	for _, err := range unread {
		if !o.noMessages {
			fmt.Fprintf(e.stderr, "calm search: %s\n", oneLine(err.Error()))
		}
	}
	if pipedBytes(e.stdin) > 0 {
		// grep would read it; calm searches the store, and says so.
		fmt.Fprintln(e.stderr, "calm search: searching the store, not what is piped in: to keep and search that, pipe it to 'calm tee TITLE' first")
	}
	err := grep(e, q, o)
	if len(unread) > 0 && !(o.quiet && err == nil) {
		err = &exitError{code: 2} // grep's: a file not read, whatever was found
	}
	if w, ok := e.store.(interface{ Warning() string }); ok && errors.Is(err, errNoMatch) && w.Warning() != "" {
		// Not "no match": what was not searched may hold it.
		err = &exitError{code: 2, msg: "no line matched in what the store holds, and it does not hold everything (the WARNING says what)"}
	}
	if (err == nil || errors.Is(err, errNoMatch)) && !q.Literal && !o.quiet && !o.noMessages && !extended { // -E: read as grep -E, as asked
		if hint := basicRegexpHint(typed, err == nil); hint != "" {
			fmt.Fprintln(e.stderr, hint)
		}
	}
	return err
}

// formatNames are other names people give export's formats.
var formatNames = map[string]string{"text": "txt", "markdown": "md", "htm": "html", "asciicast": "cast", "tar": "bundle", "tar.gz": "bundle", "tgz": "bundle"}

func cmdVerify(e *env, args []string) error {
	fs := e.flags("verify", "[--repair] [INCIDENT]")
	repair := fs.Bool("repair", false, "first write every failed or missing copy again from a verified copy (checked by its SHA-256): file copies from the store's, a damaged store copy from a file's")
	if err := parse(fs, args); err != nil {
		return err
	}
	// An incident's ID holds no dot or slash: an argument with one is a
	// bundle's file, which is said not to exist if it does not.
	if arg := fs.Arg(0); arg != "" && (strings.ContainsAny(arg, "./") || isPlainFile(arg)) {
		return verifyBundle(e, arg)
	}
	if *repair {
		client, ok := e.store.(*agent.Client)
		if !ok {
			return fmt.Errorf("repair needs the agent")
		}
		// The recorded states first: a copy found bad by this very verify is
		// then written again below.
		if _, err := e.store.Verify(context.Background(), fs.Arg(0)); err != nil {
			return err
		}
		done, err := client.RepairCopies(fs.Arg(0))
		if err != nil {
			return err
		}
		for _, r := range done {
			state := r.Copy.State
			if r.Copy.Error != "" && state != model.CopyVerified {
				state = strings.ToUpper(state) + ": " + printable(r.Copy.Error) // "FAILED: writing it again failed: ..."
			}
			fmt.Fprintf(e.stdout, "repair %s/%s %s copy %s: %s\n", r.Incident, r.Capture, r.Copy.Kind, r.Copy.Location, state)
		}
	}
	following := e.verifyProgress(fs.Arg(0))
	rep, err := e.store.Verify(context.Background(), fs.Arg(0))
	following.end()
	if err != nil {
		return err
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(e.stdout, "FAIL %s/%s %s copy %s: %s (%s)\n", p.Incident, p.Capture, p.Copy.Kind, p.Copy.Location, p.Copy.State, p.Copy.Error)
	}
	for _, m := range rep.Manifests {
		fmt.Fprintf(e.stdout, "FAIL %s/SHA256SUMS in the %s folder %s: %s (%s)\n", m.Incident, m.Copy.Kind, m.Copy.Location, m.Copy.State, m.Copy.Error)
	}
	for _, t := range rep.Timelines {
		fmt.Fprintf(e.stdout, "FAIL %s/%s, the timeline's copy in the %s folder %s: %s (%s)\n", t.Incident, t.Capture, t.Copy.Kind, t.Copy.Location, t.Copy.State, t.Copy.Error)
	}
	for _, r := range rep.Records {
		fmt.Fprintf(e.stdout, "FAIL %s/%s, its record beside its copy, %s: %s (%s)\n", r.Incident, r.Capture, r.Copy.Location, r.Copy.State, r.Copy.Error)
	}
	for _, u := range rep.Unsealed {
		if ref, why, known := strings.Cut(u, ": "); known {
			fmt.Fprintf(e.stdout, "UNSEALED %s: %s: not safe until sealed\n", ref, sanitize.Text([]byte(why)))
			continue
		}
		fmt.Fprintf(e.stdout, "UNSEALED %s: its writer died or ran on another machine, and the agent has not sealed it yet: not safe until sealed\n", u)
	}
	for _, s := range rep.Streaming {
		fmt.Fprintf(e.stdout, "streaming %s: calm tee is still writing it, and the agent stores it as it comes; its copies are made and checked when it ends\n", s)
	}
	for _, i := range rep.Interrupted {
		fmt.Fprintf(e.stdout, "interrupted %s: partial, it holds what was stored before that\n", sanitize.Text([]byte(i)))
	}
	for _, r := range rep.Recording {
		fmt.Fprintf(e.stdout, "recording %s: its recorder is writing its journal, which the agent stores as it grows; its copies are made and checked when it ends\n", r)
	}
	if rep.NotRecorded != "" {
		fmt.Fprintf(e.stderr, "calm verify: WARNING: the copies were read back, but the store could not record what this verify found (%s): the states status shows are the last recorded; free some space and verify again\n", printable(rep.NotRecorded))
	}
	if len(rep.Problems) > 0 || len(rep.Manifests) > 0 || len(rep.Timelines) > 0 || len(rep.Records) > 0 {
		return &exitError{code: 1, msg: verifyFailure(rep, *repair)}
	}
	// The lost store's warning, not one about recordings never taken
	// (those are no copies to verify): storage.lostWarning's words.
	lost := false
	if c, ok := e.store.(*agent.Client); ok && strings.Contains(c.Warning(), "still holds (") && fs.Arg(0) == "" {
		lost = true
		fmt.Fprintf(e.stdout, "LOST: the store lacks incidents its evidence folder holds (the WARNING names them); of what it still holds, %s of %s read back and match their SHA-256\n", plural(rep.Copies-rep.Pending, "copy"), plural(rep.Captures, "capture"))
	} else {
		fmt.Fprintf(e.stdout, "ok: %s of %s read back and match their SHA-256, on %s\n", plural(rep.Copies-rep.Pending, "copy"), plural(rep.Captures, "capture"), plural(rep.Devices, "device"))
	}
	if rep.Devices == 1 && rep.Pending > 0 {
		// A mirror is configured: it is the copy that is missing, not advice.
		fmt.Fprintln(e.stdout, "note: every verified copy is on one device until the pending ones below are in their bucket")
	} else if rep.Devices == 1 {
		fmt.Fprintln(e.stdout, "note: every copy is on one device, so one disk failure loses them all: add a mirror on another disk ('mirrors' in the config file)")
	}
	if rep.Pending > 0 {
		why := ""
		if len(rep.PendingWhy) > 0 {
			why = ": " + printable(strings.Join(rep.PendingWhy, "; "))
		}
		fmt.Fprintf(e.stdout, "pending: %s not uploaded yet, or not readable now (the agent retries; 'calm doctor' says if the bucket answers)%s\n", plural(rep.Pending, "S3 copy"), why)
	}
	for _, f := range rep.Forgotten {
		fmt.Fprintf(e.stdout, "note: mirror %s; to keep it, add it to the config file's mirrors and run 'calm agent restart', then 'calm verify --repair' copies them\n", printable(f))
	}
	if rep.NotRecorded != "" {
		return &exitError{code: 1} // said above
	}
	if len(rep.Unsealed) > 0 {
		they := "they have"
		if len(rep.Unsealed) == 1 {
			they = "it has"
		}
		return &exitError{code: 1, msg: fmt.Sprintf("%s not sealed: %s no verified copies yet", isAre(len(rep.Unsealed), "capture"), they)}
	}
	if lost {
		// A lost store verifies what is left of it, and that is not ok.
		return &exitError{code: 1, msg: "the store lacks incidents its evidence folder holds (see the WARNING): their copies were not read; rebuild it with 'calm doctor --salvage NEW.db'"}
	}
	return nil
}

// verifyFailure is verify's one line when something failed: what, and what
// to do next.
func verifyFailure(rep model.VerifyReport, repaired bool) string {
	msg := fmt.Sprintf("%d of %s failed: the copies marked FAIL cannot be trusted; the others still can", len(rep.Problems), plural(rep.Copies, "copy"))
	if len(rep.Problems) == 0 {
		var wrong []string
		if len(rep.Manifests) > 0 {
			wrong = append(wrong, fmt.Sprintf("the SHA256SUMS of %s is missing or wrong", plural(len(rep.Manifests), "folder")))
		}
		if len(rep.Timelines) > 0 {
			wrong = append(wrong, fmt.Sprintf("the timeline copy of %s is not the store's (see above)", plural(len(rep.Timelines), "incident")))
		}
		if len(rep.Records) > 0 {
			verb := "are"
			if len(rep.Records) == 1 {
				verb = "is"
			}
			wrong = append(wrong, fmt.Sprintf("%s kept beside the copies for a salvage %s missing, damaged or edited", plural(len(rep.Records), "capture record"), verb))
		}
		msg = "every copy matches, but " + strings.Join(wrong, ", and ")
	}
	switch {
	case repaired:
		return msg + "; the repair could not mend them: see the lines above"
	case storeFailed(rep):
		return msg + "; 'calm verify --repair' writes the store's damaged copy again from a verified file copy, and the other copies from a verified one"
	default:
		return msg + "; 'calm verify --repair' writes them again from a verified copy"
	}
}

func storeFailed(rep model.VerifyReport) bool {
	for _, p := range rep.Problems {
		if p.Copy.Kind == model.CopyStore {
			return true
		}
	}
	return false
}

// rescuedStores are the stores agents wrote beside store when the file they
// had open was replaced (storage's write-back).
func rescuedStores(store string) []string {
	found, _ := filepath.Glob(store + ".rescued-*")
	return found
}

// storeGone is doctor's line for a store whose path no longer leads to the
// file the agent has open: what happened, and what to do.
func storeGone(path, pid string, check model.CheckReport) string {
	switch {
	case check.RescueFailed != "":
		return fmt.Sprintf("store %s: %s, and the agent (pid %s) cannot write it back (%s): do not stop that agent, it holds the only copy; make room for the file there and it writes it back within seconds",
			path, check.Gone, pid, oneLine(check.RescueFailed))
	case strings.HasPrefix(check.Gone, "deleted"):
		return fmt.Sprintf("store %s: deleted while the agent (pid %s) had it open: the agent writes what it holds back there within seconds and stops (a write meanwhile waits for it); run 'calm doctor' again then", path, pid)
	default:
		return fmt.Sprintf("store %s: %s; the agent (pid %s) writes what it holds beside it, as %s.rescued-TIME, and stops, and the next one opens the file now there: look at the rescued one with 'calm --store FILE status' before going on",
			path, check.Gone, pid, filepath.Base(path))
	}
}

// doSalvage copies what can be read of the store into a new one.
func doSalvage(e *env, to string) error {
	if abs, err := filepath.Abs(to); err == nil {
		to = abs
	}
	evidence := filepath.Join(filepath.Dir(e.cfg.Store), "evidence")
	fmt.Fprintf(e.stderr, "calm: salvaging %s into %s (it is only read)\n", e.cfg.Store, to)
	// On a terminal, the incident being copied out is a spinner's line;
	// piped, nothing but what a person must read.
	bar := e.progress("salvaging", -1, false)
	rep, err := storage.Salvage(e.cfg.Store, to, evidence, func(step string) {
		if id, ok := strings.CutPrefix(step, "incident "); ok {
			bar.describe("salvaging incident " + id)
			return
		}
		bar.clear()
		fmt.Fprintf(e.stderr, "calm: %s\n", step)
	})
	bar.done()
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "salvaged %s, %s (%s), %s into %s\n", plural(rep.Incidents, "incident"), plural(rep.Captures, "capture"), plural(rep.Chunks, "chunk"), plural(rep.Events, "timeline event"), to)
	for _, r := range rep.Restored {
		fmt.Fprintf(e.stdout, "restored %s\n", r)
	}
	for _, d := range rep.Damaged {
		// Not a loss by itself: every capture and event has a copy in the
		// evidence folders, which the salvage read after the store.
		fmt.Fprintf(e.stdout, "DAMAGED %s: the rest was taken from the evidence folders, and anything they lack is listed as LOST\n", d)
	}
	for _, l := range rep.Lost {
		fmt.Fprintf(e.stdout, "LOST %s\n", l)
	}
	// What was recorded while the store could not take it is in no store:
	// the new one's journal folder gets a copy, where every command names
	// it until it is brought in.
	oldJournal, newJournal := filepath.Join(filepath.Dir(e.cfg.Store), "journal"), filepath.Join(filepath.Dir(to), "journal")
	for _, left := range storage.JournalLeftovers(oldJournal) {
		kept := left
		if oldJournal != newJournal {
			kept = filepath.Join(newJournal, filepath.Base(left))
			if err := copyPrivate(left, kept); err != nil {
				fmt.Fprintf(e.stdout, "NOT COPIED %s, recorded while the store could not take it: %s; bring it in from there\n", left, oneLine(err.Error()))
				continue
			}
		}
		bring := "calm --store " + to + " tee TITLE < " + kept + " > /dev/null"
		if strings.HasSuffix(kept, ".cast") {
			bring = "calm --store " + to + " import " + kept + " TITLE"
		}
		fmt.Fprintf(e.stdout, "kept %s, recorded while the store could not take it: bring it in with '%s'\n", kept, bring)
	}
	if filepath.Base(to) == "calm.db" {
		fmt.Fprintf(e.stdout, "use it: CALM_HOME=%s calm  (or --store %s, or store = %q in the config file); keep the old file until the new one has served you\n", filepath.Dir(to), to, to)
	} else {
		// CALM_HOME names a folder whose store is calm.db: not this one.
		fmt.Fprintf(e.stdout, "use it: calm --store %s  (or store = %q in the config file); keep the old file until the new one has served you\n", to, to)
	}
	if len(rep.Lost) > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("%s could not be read; the evidence and mirror folders may still hold them", plural(len(rep.Lost), "thing"))}
	}
	return nil
}

// verifyBundle checks an exported bundle against its manifest.
func verifyBundle(e *env, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open bundle: %w", err)
	}
	defer f.Close()
	ok, problems, err := report.VerifyBundle(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, p := range problems {
		fmt.Fprintf(e.stdout, "FAIL %s\n", p)
	}
	if len(problems) > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("%s: %s not match %s: do not trust them", path, doDoes(len(problems), "file"), report.SumsFile)}
	}
	fmt.Fprintf(e.stdout, "ok: %s in %s match %s\n", plural(ok, "file"), path, report.SumsFile)
	return nil
}

func cmdExport(e *env, args []string) error {
	fs := e.flags("export", "INCIDENT --format txt|json|md|html|cast|bundle [--item ID] [-o FILE [--force]] [--open]")
	format := fs.String("format", "", "txt (the default; html with --open), json, md (postmortem draft), html (one offline page with replays and timeline), cast (a session) or bundle (everything, with SHA256SUMS)")
	open := fs.Bool("open", false, "write the HTML report (calm-INCIDENT.html unless -o) and open it with xdg-open")
	item := fs.String("item", "", "for --format cast: the session (default: the incident's only or largest session)")
	outPath := fs.StringP("output", "o", "", "write to this file (0600) instead of stdout (a bundle or html page to a terminal goes to calm-INCIDENT.tar.gz or .html here unless -o says; -o - is stdout); an existing file needs --force")
	force := fs.Bool("force", false, "replace the output file if it exists (a postmortem filled in there is lost)")
	// Let the incident come before or after the flags.
	var ref string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		ref, args = args[0], args[1:]
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if ref == "" {
		ref = fs.Arg(0)
	}
	red, err := report.NewRedactor(e.cfg.Redact)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	lists := e.checklists(false)
	rec, err := report.Load(e.store, ref, lists)
	if err != nil {
		return err
	}
	switch {
	case *format == "" && *open:
		*format = "html"
	case *format == "":
		*format = "txt"
	}
	// MD, markdown, text: what a person types for a format is taken.
	*format = strings.ToLower(*format)
	if f, ok := formatNames[*format]; ok {
		*format = f
	}
	switch *format {
	case "txt", "json", "md", "html", "cast", "bundle":
	default:
		return usageError("unknown format %q: use txt, json, md, html, cast or bundle", *format)
	}
	if *open && *format != "html" {
		return usageError("--open opens the HTML report: use it with --format html")
	}
	if *item != "" && *format != "cast" {
		// Every other format holds the whole incident: an --item taken
		// silently would export more than was asked.
		return usageError("--item picks the session of --format cast; --format %s holds the whole incident ('calm show %s' writes that item alone)", *format, printable(*item))
	}
	toStdout := *outPath == "-" || *outPath == "/dev/stdout"
	if toStdout {
		// As other tools read it: stdout, but never a bundle's bytes onto
		// a terminal, and --open needs a file to open.
		switch {
		case *open:
			return usageError("--open opens a file: name one with -o, or leave -o out")
		case *format == "bundle" && isTerminal(e.stdout):
			return usageError("-o %s: a bundle is binary: redirect it to a file (calm export %s --format bundle -o - > FILE), or name the file", *outPath, printable(ref))
		}
		*outPath = ""
	}
	if *format == "bundle" && *outPath == "" && !toStdout && isTerminal(e.stdout) {
		*outPath = "calm-" + rec.Incident.ID + ".tar.gz"
	}
	if *format == "html" && *outPath == "" && !toStdout && (*open || isTerminal(e.stdout)) {
		*outPath = "calm-" + rec.Incident.ID + ".html"
		// The page calm named and wrote before is made again: nobody
		// edits it, and --open twice should open it twice.
		*force = *force || isCalmPage(*outPath)
	}
	if *outPath == "" && isTerminal(e.stdout) && *format != "md" {
		// The scrollback may still hold the original: a big export printed
		// into it pushes that out.
		var size int64
		for _, c := range rec.Captures {
			size += c.Size
		}
		if size > exportToTerminal {
			return usageError("the export holds %s of captures: printed into this terminal it would push the scrollback out, where the original data may still be; -o FILE writes it to a file, or pipe it (| less)", humanBytes(size))
		}
	}
	var out io.Writer = e.stdout
	var file *outputFile
	if *outPath != "" {
		if err := calmsOwn(*outPath, e.cfg.Store, e.cfg.Mirrors); err != nil {
			return err
		}
		file, err = createOutput(*outPath, *force)
		if err != nil {
			return err
		}
		defer file.abort() // after commit: nothing left to remove
		out = file
	}
	var session model.Capture
	castWhat := "" // which session the cast holds, said with the file
	if *format == "cast" {
		if session, err = sessionOf(rec, *item); err != nil {
			return err
		}
		castWhat = session.ID + " as asciicast v2"
		var others []string
		for _, c := range rec.Captures {
			if c.Recording != nil && c.ID != session.ID {
				others = append(others, c.ID)
			}
		}
		if *item == "" && len(others) > 0 {
			// Picked for the person: say so, and how to get another.
			castWhat += fmt.Sprintf(" (the largest of %d sessions; --item %s for another)", len(others)+1, strings.Join(others, ", "))
		}
	}
	bw := bufio.NewWriterSize(out, 1<<20)
	redacted := 0
	wrote := "" // what the file holds, when one is written
	var bar *progress
	store := e.store
	if *format != "md" && *format != "cast" {
		store, bar = e.readingCaptures("exporting "+rec.Incident.ID, rec.Captures)
		if file != nil {
			bar.writes(*outPath)
		}
	}
	switch *format {
	case "txt":
		redacted, err = report.Text(context.Background(), store, rec, bw, red)
	case "json":
		redacted, err = report.JSON(context.Background(), store, rec, bw, red)
	case "md":
		var md []byte
		md, redacted = report.Markdown(rec, red)
		_, err = bw.Write(md)
	case "html":
		redacted, err = report.HTML(context.Background(), store, rec, bw, red, time.Now(), report.HTMLOptions{})
	case "cast":
		store, bar = e.readingCaptures("exporting "+session.ID, []model.Capture{session})
		if file != nil {
			bar.writes(*outPath)
		}
		redacted, err = report.Cast(context.Background(), store, session, bw, red)
	case "bundle":
		var st report.BundleStats
		st, err = report.Bundle(context.Background(), store, rec, bw, red, time.Now())
		redacted = st.Redacted
		wrote = fmt.Sprintf("%s and %s; check it with 'calm verify %s'", plural(st.Files, "file"), report.SumsFile, *outPath)
	}
	bar.done()
	if err == nil {
		err = bw.Flush()
	}
	if err == nil && file != nil {
		err = file.commit()
	}
	if err != nil {
		if errors.Is(err, syscall.ENOSPC) && strings.Contains(err.Error(), os.TempDir()) {
			// A bundle and the TUI's edits are staged in the temp folder,
			// not beside the output: that is the disk to make room on.
			return fmt.Errorf("export %s: %w; calm stages it in the temp folder %s: make room there, or set TMPDIR to a folder with room", rec.Incident.ID, err, os.TempDir())
		}
		return fmt.Errorf("export %s: %w", rec.Incident.ID, err)
	}
	// Once the file is whole under its name, and not before: a file
	// written is said, whatever its format.
	switch {
	case *format == "html" && *outPath != "":
		openReport(e, *outPath, *open)
	case file != nil:
		if fi, err := os.Stat(*outPath); err == nil && wrote == "" {
			what := map[string]string{"txt": "the incident as text", "json": "the incident as JSON", "md": "the postmortem draft", "cast": castWhat}[*format]
			wrote = fmt.Sprintf("%s, %s", what, humanBytes(fi.Size()))
		}
		fmt.Fprintf(e.stderr, "calm: wrote %s: %s\n", *outPath, wrote)
	}
	if redacted > 0 {
		fmt.Fprintf(e.stderr, "calm: redacted %s from the export; the store keeps the originals\n", plural(redacted, "secret"))
	}
	e.store.AddEvent(rec.Incident.ID, model.EventExport, "", fmt.Sprintf("exported as %s, %s redacted", *format, plural(redacted, "secret")))
	return nil
}

// looseFiles lists what under dir others can read or enter (a folder not
// 0700, a file not 0600 or stricter), at most the first 100 found.
func looseFiles(dir string) []string {
	var loose []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || len(loose) >= 100 {
			return filepath.SkipDir
		}
		info, err := d.Info()
		if err != nil || info.Mode()&os.ModeSymlink != 0 {
			return nil
		}
		if info.Mode().Perm()&0o077 != 0 {
			loose = append(loose, path)
		}
		return nil
	})
	return loose
}

// exportToTerminal is the most of captures an export prints straight into
// a terminal: about a screenful of scrollback's worth, not its whole.
const exportToTerminal = 64 << 10

// isCalmPage reports whether path is an HTML report calm wrote, by the
// generator its head names.
func isCalmPage(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 2048)
	n, _ := io.ReadFull(f, head)
	return bytes.Contains(head[:n], []byte(`<meta name="generator" content="calm,`))
}

// openReport opens the HTML report in the desktop's browser when asked and
// a display exists; otherwise it says where the file is.
func openReport(e *env, path string, open bool) {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	if open && (os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != "") {
		// The browser outlives calm: start xdg-open, do not wait for it.
		cmd := exec.Command("xdg-open", abs)
		if err := cmd.Start(); err != nil {
			fmt.Fprintf(e.stderr, "calm: could not run xdg-open (%v): open %s in a browser\n", err, abs)
			return
		}
		cmd.Process.Release()
		fmt.Fprintf(e.stderr, "calm: opened %s\n", abs)
		return
	}
	if open {
		fmt.Fprintf(e.stderr, "calm: no display here (DISPLAY and WAYLAND_DISPLAY are unset): the report is %s; copy it to a machine with a browser\n", abs)
		return
	}
	size := ""
	if fi, err := os.Stat(abs); err == nil {
		size = ", " + humanBytes(fi.Size())
	}
	fmt.Fprintf(e.stderr, "calm: wrote %s: the incident as one page%s; open it in any browser, offline\n", abs, size)
}

// sessionOf picks the session to export as a cast.
// recorded is how much a session holds, sealed or still recording.
func recorded(c model.Capture) int64 { n, _ := c.SizeSoFar(); return n }

func sessionOf(rec report.Record, id string) (model.Capture, error) {
	// Unnamed, the session that recorded the most: the main one, not a
	// short 'calm shell -- sleep 4' that happens to be the last.
	var last *model.Capture
	for i, c := range rec.Captures {
		if id != "" && c.ID == id {
			if c.Recording == nil {
				return c, usageError("%s is a capture, not a recorded session: 'calm show %s > FILE' writes it alone, and --format txt the whole incident", id, id)
			}
			return c, nil
		}
		if c.Recording != nil && (last == nil || recorded(c) >= recorded(*last)) { // the most, or the later of two
			last = &rec.Captures[i]
		}
	}
	if id != "" {
		return model.Capture{}, model.Errorf(model.ErrNotFound, "no item %s in incident %s", id, rec.Incident.ID)
	}
	if last == nil {
		return model.Capture{}, model.Errorf(model.ErrNotFound, "incident %s has no recorded session (record one with 'calm shell' or 'calm split')", rec.Incident.ID)
	}
	return *last, nil
}

func cmdDoctor(e *env, args []string) error {
	fs := e.flags("doctor", "[--salvage NEW.db]")
	salvage := fs.String("salvage", "", "copy every record of a damaged store that can still be read into this new store")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *salvage != "" {
		return doSalvage(e, *salvage)
	}
	bad := 0
	say := func(ok bool, format string, a ...any) {
		mark := "ok  "
		if !ok {
			mark = "FAIL"
			bad++
		}
		fmt.Fprintf(e.stdout, "%s %s\n", mark, fmt.Sprintf(format, a...))
	}
	warn := func(format string, a ...any) { fmt.Fprintf(e.stdout, "warn %s\n", fmt.Sprintf(format, a...)) }

	if e.cfg.file != "" {
		say(true, "config %s", e.cfg.file)
	} else {
		say(true, "no config file (%s): defaults are in use", configPath(""))
	}
	for _, f := range []string{e.cfg.Store, e.cfg.agentLog()} {
		if fi, err := os.Stat(f); err == nil && fi.Mode().Perm()&0o077 != 0 {
			warn("%s can be read by others (mode %04o): 'chmod 600 %s' makes it yours alone", f, fi.Mode().Perm(), f)
		}
	}
	if loose := looseFiles(filepath.Join(filepath.Dir(e.cfg.Store), "evidence")); len(loose) > 0 {
		// Made by hand or by an older calm: copies of production output
		// others may read.
		evidence := filepath.Join(filepath.Dir(e.cfg.Store), "evidence")
		what := fmt.Sprintf("%d files and folders", len(loose))
		if len(loose) == 1 {
			what = "1 file or folder"
		}
		warn("%s in %s can be read by others (the first: %s): 'chmod -R go-rwx %s' makes them yours alone", what, evidence, loose[0], evidence)
	}
	// A store replaced under an agent is written beside it by that agent:
	// it may hold what the file now in its place lacks.
	for _, rescued := range rescuedStores(e.cfg.Store) {
		warn("%s is a store an agent wrote out when the file it had open was replaced: it may hold what %s lacks; look at it with 'calm --store %s status', salvage from it with 'calm --store %s doctor --salvage NEW.db', and move it away once done",
			rescued, filepath.Base(e.cfg.Store), rescued, rescued)
	}
	client := e.store.(*agent.Client)
	if err := client.StartAgent(); err != nil {
		say(false, "agent: %s", oneLine(err.Error()))
		// What was recorded but never stored is said even with no agent:
		// a tee's file kept on a full disk, a session's journal.
		for _, left := range storage.JournalLeftovers(filepath.Join(filepath.Dir(e.cfg.Store), "journal")) {
			warn("%s holds output the store never took: keep it; once the store runs, 'calm doctor' says how to bring it in", left)
		}
		if in := storage.Inspect(e.cfg.Store); len(in.Problems) > 0 {
			for _, p := range in.Problems {
				say(false, "store %s: %s", e.cfg.Store, p)
			}
			if in.Empty {
				// The evidence folder may hold what an older store held: a
				// fresh store would not, and salvage rebuilds it from there.
				if held, _ := filepath.Glob(filepath.Join(filepath.Dir(e.cfg.Store), "evidence", "*", "timeline.jsonl")); len(held) > 0 {
					return &exitError{code: 1, msg: fmt.Sprintf("the store file is empty, but its evidence folder holds %s: make room on its disk (df %s), then 'calm doctor --salvage NEW.db' rebuilds a store from the evidence", model.Plural(len(held), "incident"), filepath.Dir(e.cfg.Store))}
				}
				return &exitError{code: 1, msg: fmt.Sprintf("the store file is empty: make room on its disk (df %s), move the empty file away, and run calm again: it makes the store anew", filepath.Dir(e.cfg.Store))}
			}
			return &exitError{code: 1, msg: "the store is damaged: keep the file, and copy out what can be read with 'calm doctor --salvage NEW.db'"}
		}
		return &exitError{code: 1, msg: "the agent cannot run, so nothing can be saved: fix the first FAIL above"}
	}
	st, err := client.Status()
	pid := "?"
	if err != nil {
		say(false, "agent on %s: %s", e.cfg.socket, oneLine(err.Error()))
	} else {
		pid = fmt.Sprint(st["pid"])
		say(true, "agent pid %s on %s", pid, e.cfg.socket)
		if lacks := e.agentLacks(); lacks != "" {
			say(false, "%s", lacks)
		}
		if p, have, err := e.agentStatus(); err == nil && have != nil {
			if other := e.cfg.agentSettings().otherCredentials(*have, p); other != "" {
				say(false, "%s", other)
			}
		}
	}
	check, err := e.store.Check()
	if err == nil && check.Gone != "" {
		say(false, "%s", storeGone(e.cfg.Store, pid, check))
	} else {
		say(true, "store %s", e.cfg.Store)
	}
	if err != nil || len(check.Problems) > 0 {
		if err != nil {
			check.Problems = append(check.Problems, err.Error())
		}
		say(false, "store consistency: %s", strings.Join(check.Problems[:min(len(check.Problems), 5)], "; "))
		warn("writing to the store is refused until it is salvaged: 'calm doctor --salvage NEW.db' copies out what can be read")
	} else if check.Gone == "" {
		say(true, "store consistency check passed (%s, schema %d)", humanBytes(check.Size), check.Schema)
	}
	if rep := check; err == nil && len(rep.Evidence) > 0 {
		for _, p := range rep.Evidence[:min(len(rep.Evidence), 10)] {
			say(false, "store against its evidence: %s", sanitize.Text([]byte(p)))
		}
		if len(rep.Evidence) > 10 {
			say(false, "store against its evidence: %d more differences", len(rep.Evidence)-10)
		}
		warn("the store lacks what its evidence folder holds: rebuild it with 'calm doctor --salvage NEW.db' (the evidence is only read)")
	} else if err == nil {
		say(true, "the store and its evidence folder hold the same incidents and timeline events (each copy's contents: below)")
	}
	for _, s := range check.Strays {
		say(false, "a recording the store never took: %s", sanitize.Text([]byte(s)))
	}
	if len(check.Strays) > 0 {
		warn("bring each in ('calm import FILE.cast TITLE' for a session, 'calm tee TITLE < FILE > /dev/null' for a tee's file), then move it away")
	}
	verify, err := e.store.Verify(context.Background(), "")
	if rep := verify; err == nil && len(rep.Unsealed) > 0 {
		say(false, "captures not sealed, with no verified copy yet: %s", sanitize.Text([]byte(strings.Join(rep.Unsealed, "; "))))
	}
	if rep := verify; err != nil {
		say(false, "copies: %s", oneLine(err.Error()))
	} else if len(rep.Problems) > 0 {
		say(false, "copies: %d of %d fail; run 'calm verify' for the list", len(rep.Problems), rep.Copies)
	} else if live := append(rep.Recording, rep.Streaming...); len(live) > 0 {
		say(true, "copies: all verified copies of %s match; still recording or streaming (copies when each ends): %s", plural(rep.Captures, "capture"), strings.Join(live, ", "))
	} else if rep.Pending > 0 {
		say(true, "copies: all verified copies of %s match; %s still pending", plural(rep.Captures, "capture"), isAre(rep.Pending, "S3 copy"))
	} else if rep.Captures == 0 {
		say(true, "copies: no capture yet, so none to check")
	} else {
		say(true, "copies: all %s of %s read back and match", plural(rep.Copies, "copy"), plural(rep.Captures, "capture"))
	}
	if rep := verify; err == nil {
		// Everything verify fails on, doctor names too.
		for _, m := range rep.Manifests {
			say(false, "%s/SHA256SUMS in the %s folder %s: %s (%s): 'calm verify --repair' writes it again", m.Incident, m.Copy.Kind, m.Copy.Location, m.Copy.State, m.Copy.Error)
		}
		for _, t := range rep.Timelines {
			say(false, "%s/%s, the timeline's copy in the %s folder %s: %s (%s): 'calm verify --repair' writes it again from the store", t.Incident, t.Capture, t.Copy.Kind, t.Copy.Location, t.Copy.State, sanitize.Text([]byte(t.Copy.Error)))
		}
		for _, r := range rep.Records {
			say(false, "%s/%s, its record beside its copy, %s: %s (%s): 'calm verify --repair' writes it again from the store", r.Incident, r.Capture, r.Copy.Location, r.Copy.State, r.Copy.Error)
		}
		for _, i := range rep.Interrupted {
			warn("interrupted capture %s: partial, it holds what was stored before that", sanitize.Text([]byte(i)))
		}
		if rep.Devices < e.cfg.DevicesRequired && rep.Copies > 0 {
			say(false, "copies are on %s, %d required: add a mirror on another disk", plural(rep.Devices, "device"), e.cfg.DevicesRequired)
		}
	}
	for _, m := range e.cfg.Mirrors {
		if fi, err := os.Stat(m); err != nil || !fi.IsDir() {
			say(false, "mirror %s is not reachable: mount it or remove it from the config", m)
		}
	}
	remotes, err := e.cfg.openRemotes()
	if err != nil {
		say(false, "%s", oneLine(err.Error()))
	}
	for _, r := range remotes {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := r.Reachable(ctx)
		if err != nil && ctx.Err() != nil {
			err = fmt.Errorf("%s answered nothing in 10s", r)
		}
		if errors.Is(err, s3.ErrNoBucket) {
			say(false, "S3 mirror %s; copies stay pending until it is found", oneLine(err.Error()))
		} else if err != nil {
			say(false, "S3 mirror %s: copies stay pending until it answers (check s3.endpoint and the AWS credentials)", oneLine(err.Error()))
		} else {
			say(true, "S3 mirror %s answers", r)
		}
		cancel()
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		warn("tmux is not installed: calm split and calm snap need it")
	} else {
		say(true, "tmux found")
	}
	clip := false
	for _, t := range []string{"xclip", "xsel", "wl-copy"} {
		if _, err := exec.LookPath(t); err == nil {
			clip = true
		}
	}
	if !clip {
		warn("no clipboard tool (xclip, xsel, wl-copy): copying goes to the terminal by OSC 52")
	}
	if bad > 0 {
		return &exitError{code: 1, msg: plural(bad, "problem") + " found"}
	}
	return nil
}

// pipedBytes is how many bytes wait in r when it is a pipe; 0 otherwise.
func pipedBytes(r io.Reader) int {
	f, ok := r.(*os.File)
	if !ok {
		return 0
	}
	if st, err := f.Stat(); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		return 0
	}
	n, err := unix.IoctlGetInt(int(f.Fd()), unix.TIOCINQ) // FIONREAD: what the pipe holds
	if err != nil {
		return 0
	}
	return n
}

// copyPrivate copies a file to a new one (0600, in a 0700 folder), synced.
func copyPrivate(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		return err
	}
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(to)
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		os.Remove(to)
		return err
	}
	return out.Close()
}
