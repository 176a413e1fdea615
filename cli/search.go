package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"calm/model"
	"calm/storage"
)

// grepOptions are calm search's grep conventions beyond what the store's
// search does (find the lines that match, fast).
type grepOptions struct {
	word, invert, count, files, json bool
	whole                            bool // -x: the pattern matches a whole line
	only                             bool // -o: each match on a line of its own
	noMessages                       bool // -s: nothing said of a capture that cannot be read
	color                            bool // --color: grep's colours, its matches in bold red
	without                          bool // -L: the captures without a selected line (counted, as -c)
	noRef                            bool // -h: no INCIDENT/ID before a line or a count
	noLine                           bool // -n=false: no line number before a line
	quiet                            bool // -q: nothing printed, exit 0 at the first selected line
	max                              int  // per capture, as grep's per file; < 0: no limit
	before, after, context           int  // < 0: not given
	contextGiven                     bool // -A, -B or -C, even 0: groups are parted by "--"
}

// grep runs a search with grep's conventions, capture by capture as grep
// goes file by file: "INCIDENT/ID:LINE:TEXT" for a selected line,
// "INCIDENT/ID-LINE-TEXT" for context, "--" between groups; exit 1 when
// no line was selected.
func grep(e *env, q model.SearchQuery, o grepOptions) error {
	if o.before < 0 {
		o.before = o.context
	}
	if o.after < 0 {
		o.after = o.context
	}
	pat := q.Pattern
	if q.Literal {
		pat = regexp.QuoteMeta(pat)
	}
	switch {
	case o.whole:
		q.Pattern, q.Literal = `^(?:`+pat+`)$`, false
	case o.word:
		// grep -w: the match neither begins after nor ends before a word
		// character (a letter or digit in any script, or _, as grep's
		// UTF-8 locales have it; RE2's \w is ASCII only); the characters
		// around it are taken along, which selects the same lines. The
		// group is the word, for -o. Which characters are words does not
		// hang on -i: the classes are out of its folding.
		word := model.WordChars()
		q.Pattern, q.Literal = `(?:^|(?-i:[^`+word+`]))(`+pat+`)(?:(?-i:[^`+word+`])|$)`, false
	}
	if o.max == 0 {
		return errNoMatch // grep -m 0 reads nothing, prints nothing (-c included)
	}
	g := &grepRun{o: o, w: bufio.NewWriterSize(e.stdout, 256<<10), counts: map[string]int{}}
	if (o.only || o.color) && !o.count && !o.files && !o.quiet {
		// The parts a line holds are found here, in the line the store
		// found; with -w, those that are words.
		parts := model.SearchQuery{Pattern: pat, IgnoreCase: q.IgnoreCase}
		if o.whole {
			parts.Pattern = `^(?:` + pat + `)$`
		}
		m, err := parts.Matcher()
		if err != nil {
			return err
		}
		g.only = m
	}
	if o.invert || (!o.count && !o.files && (o.before > 0 || o.after > 0)) {
		// Lines that do not match are wanted too: the store sends every
		// line, and the pattern is matched here.
		m, err := q.Matcher()
		if err != nil {
			return err
		}
		g.re = m
		q.Pattern, q.Literal = "", true
	} else {
		// The store stops each capture where grep would: it need not read,
		// check and send the rest.
		switch {
		case o.files, o.quiet, o.without:
			q.PerCapture = 1
		case o.max > 0:
			q.PerCapture = o.max
		}
	}
	// A spinner while the agent reads the store; when the lines go to the
	// same terminal, it goes at the first of them.
	searching := e.progress("searching", -1, false)
	first := true
	var found int
	var said time.Time
	if g.re == nil && (o.count || o.files || o.quiet) {
		q.NoText = true // only which lines, not what they say
	}
	search := func(ctx context.Context, q model.SearchQuery, each func(model.LineHit) error) error {
		return e.store.Search(ctx, q, func(m model.Match) error {
			return each(model.LineHit{Incident: m.Incident, Item: m.Item, Line: m.Line, Text: []byte(m.Text)})
		})
	}
	if ls, ok := e.store.(model.LineSearcher); ok {
		search = ls.SearchLines // no copy of each line's text
	}
	// Lines going to a terminal, or through a pipe to what is likely one,
	// would be cut by the spinner's redraws.
	quietAtFirst := isTerminal(e.stdout) || isPipe(e.stdout)
	err := search(context.Background(), q, func(m model.LineHit) error {
		if first && quietAtFirst && !o.count {
			searching.done()
			searching = nil
		}
		first = false
		if found++; searching != nil && time.Since(said) >= progressEvery {
			searching.describe(fmt.Sprintf("searching: %s found", plural(found, "line")))
			said = time.Now()
		}
		return g.line(m)
	})
	searching.done()
	if errors.Is(err, errQuietFound) {
		return nil
	}
	if err == nil && o.count {
		err = g.printCounts(e.store, q)
	}
	if ferr := g.w.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	if g.total == 0 {
		return errNoMatch
	}
	return nil
}

// isPipe reports whether w is a pipe.
func isPipe(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeNamedPipe != 0
}

// errQuietFound stops a quiet search (-q) at its first selected line.
var errQuietFound = errors.New("a line is selected")

// errNoMatch is search's exit 1, as grep's: nothing selected, nothing said.
// Every other failure of search exits 2 (searchStatus).
var errNoMatch = &exitError{code: 1}

// searchStatus gives a failed search grep's exit status: 1 only for no
// match; 2 for any error (a bad incident or pattern, no agent, a damaged
// store, a config that cannot be read), so a script can tell them apart.
func searchStatus(err error) error {
	if err == nil || errors.Is(err, errNoMatch) {
		return err
	}
	var ce *commandError
	if errors.As(err, &ce) {
		return &commandError{ce.command, searchStatus(ce.err)}
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return &exitError{code: 2, msg: ee.msg}
	}
	return &exitError{code: 2, msg: oneLine(err.Error())}
}

// grepRun is one search's output, and where it is in the capture being read.
type grepRun struct {
	o      grepOptions
	re     *model.Matcher // set when every line comes: the lines it matches
	only   *model.Matcher // -o: the parts of a selected line printed
	w      *bufio.Writer
	total  int            // lines selected in all
	counts map[string]int // for -c: lines selected per INCIDENT/ID
	group  bool           // a group of lines was printed: the next one not adjacent gets "--"

	incident    string // the capture being read
	item        string
	ref         string        // INCIDENT/ID
	selected    int           // lines selected in it
	done        bool          // it reached -m, or has been listed by -l
	before      []model.Match // the last lines not printed, for -B
	afterLeft   int           // lines still to print after a selected one
	lastPrinted int64         // its last line printed; 0 if none
}

func (g *grepRun) line(m model.LineHit) error {
	if m.Incident != g.incident || m.Item != g.item {
		g.incident, g.item = m.Incident, m.Item
		g.ref, g.selected, g.done, g.before, g.afterLeft, g.lastPrinted = m.Incident+"/"+m.Item, 0, false, g.before[:0], 0, 0
	}
	if g.done {
		if g.afterLeft > 0 && !g.o.count && !g.o.files {
			g.afterLeft--
			return g.print(m, true)
		}
		return nil
	}
	matches := g.re == nil || g.re.Match(m.Text)
	if matches == g.o.invert {
		switch {
		case g.afterLeft > 0:
			g.afterLeft--
			return g.print(m, true)
		case g.o.before > 0:
			if len(g.before) == g.o.before {
				g.before = g.before[:copy(g.before, g.before[1:])]
			}
			g.before = append(g.before, model.Match{Incident: m.Incident, Item: m.Item, Line: m.Line, Text: string(m.Text)})
		}
		return nil
	}
	if g.o.max >= 0 && g.selected >= g.o.max {
		g.done = true
		return nil
	}
	g.selected++
	g.total++
	g.done = g.o.max >= 0 && g.selected >= g.o.max
	switch {
	case g.o.quiet:
		return errQuietFound
	case g.o.count:
		g.counts[g.ref]++
		return nil
	case g.o.files:
		g.done = true
		if g.o.json {
			return g.json(struct {
				Incident string `json:"incident"`
				Item     string `json:"item"`
			}{m.Incident, m.Item})
		}
		if g.o.color {
			_, err := g.w.Write(append(colored(nil, colorName, g.ref), '\n'))
			return err
		}
		_, err := io.WriteString(g.w, g.ref+"\n")
		return err
	}
	for _, b := range g.before {
		if err := g.print(model.LineHit{Incident: b.Incident, Item: b.Item, Line: b.Line, Text: []byte(b.Text)}, true); err != nil {
			return err
		}
	}
	g.before = g.before[:0]
	g.afterLeft = g.o.after
	return g.print(m, false)
}

// print writes one line: selected (INCIDENT/ID:LINE:TEXT) or context
// (INCIDENT/ID-LINE-TEXT), after "--" when it does not follow the last
// line printed.
func (g *grepRun) print(m model.LineHit, context bool) error {
	if g.o.contextGiven {
		if g.group && (g.lastPrinted == 0 || m.Line != g.lastPrinted+1) && !g.o.json {
			if g.o.color {
				g.w.Write(colored(nil, colorSep, "--"))
				g.w.WriteByte('\n')
			} else {
				g.w.WriteString("--\n")
			}
		}
		g.group = true
	}
	g.lastPrinted = m.Line
	if g.o.only && context {
		return nil // grep -o prints no context line, but parts the groups as if it did
	}
	if g.o.only {
		return g.printParts(m)
	}
	return g.write(m, context)
}

// grep's colours (GREP_COLORS' defaults): a match, a capture's name, a line
// number, a separator; each ends with an erase to the line's end, as grep's.
const (
	colorMatch = "\x1b[01;31m\x1b[K"
	colorName  = "\x1b[35m\x1b[K"
	colorLine  = "\x1b[32m\x1b[K"
	colorSep   = "\x1b[36m\x1b[K"
	colorEnd   = "\x1b[m\x1b[K"
)

// colored appends s in color.
func colored(dst []byte, color, s string) []byte {
	return append(append(append(dst, color...), s...), colorEnd...)
}

// writeColored writes one line as grep --color does: its name, number and
// separators in their colours, and what matches in it in bold red (in a
// part of -o, all of it).
func (g *grepRun) writeColored(m model.LineHit, context bool) error {
	sep := ":"
	if context {
		sep = "-"
	}
	line := g.w.AvailableBuffer()
	if !g.o.noRef {
		line = colored(colored(line, colorName, m.Incident+"/"+m.Item), colorSep, sep)
	}
	if !g.o.noLine {
		line = colored(colored(line, colorLine, strconv.FormatInt(m.Line, 10)), colorSep, sep)
	}
	parts := [][2]int{{0, len(m.Text)}}
	switch {
	case context && !g.o.invert:
		// A context line that matches (after -m's last line): grep
		// colours matches only in the lines it selects, or with -v in
		// its context lines.
		parts = nil
	case !g.o.only:
		parts = g.parts(m.Text)
	}
	at := 0
	for _, p := range parts {
		line = append(line, m.Text[at:p[0]]...)
		line = colored(line, colorMatch, string(m.Text[p[0]:p[1]]))
		at = p[1]
	}
	_, err := g.w.Write(append(append(line, m.Text[at:]...), '\n'))
	return err
}

// write writes one line, selected or context, in grep's form or as JSON.
func (g *grepRun) write(m model.LineHit, context bool) error {
	if g.o.color && !g.o.json {
		if g.w.Available() < 2*len(m.Text)+256 {
			if err := g.w.Flush(); err != nil {
				return err
			}
		}
		return g.writeColored(m, context)
	}
	if g.o.json {
		return g.json(jsonLine{m.Incident, m.Item, m.Line, string(m.Text), context})
	}
	sep := byte(':')
	if context {
		sep = '-'
	}
	if g.w.Available() < len(m.Text)+64 {
		if err := g.w.Flush(); err != nil {
			return err
		}
	}
	if g.o.noRef || g.o.noLine {
		line := g.w.AvailableBuffer()
		if !g.o.noRef {
			line = append(append(append(append(line, m.Incident...), '/'), m.Item...), sep)
		}
		if !g.o.noLine {
			line = append(strconv.AppendInt(line, m.Line, 10), sep)
		}
		_, err := g.w.Write(append(append(line, m.Text...), '\n'))
		return err
	}
	_, err := g.w.Write(storage.AppendHit(g.w.AvailableBuffer(), m, '/', sep))
	return err
}

// printParts prints each non-empty match in a selected line as a line of
// its own, the longest of those that start first, as grep -o does (a
// selected line of -v holds none).
func (g *grepRun) printParts(m model.LineHit) error {
	for _, at := range g.parts(m.Text) {
		if err := g.write(model.LineHit{Incident: m.Incident, Item: m.Item, Line: m.Line, Text: m.Text[at[0]:at[1]]}, false); err != nil {
			return err
		}
	}
	return nil
}

// parts are where the non-empty matches in text are, as grep -o and
// --color find them.
func (g *grepRun) parts(text []byte) [][2]int {
	if g.o.word && !g.o.whole {
		if words, ok := g.only.WordParts(text); ok {
			return words
		}
	}
	parts := g.only.Parts(text)
	if !g.o.word || g.o.whole {
		return parts
	}
	words := parts[:0]
	for _, p := range parts {
		before, _ := utf8.DecodeLastRune(text[:p[0]])
		after, _ := utf8.DecodeRune(text[p[1]:])
		if (p[0] == 0 || !model.IsWordRune(before)) && (p[1] == len(text) || !model.IsWordRune(after)) {
			words = append(words, p)
		}
	}
	return words
}

// jsonLine is one line of --json output.
type jsonLine struct {
	Incident string `json:"incident"`
	Item     string `json:"item"`
	Line     int64  `json:"line"`
	Text     string `json:"text"`
	Context  bool   `json:"context,omitempty"`
}

// json writes one object as one line; JSON escapes every control, so it is
// safe on a terminal.
func (g *grepRun) json(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	g.w.Write(b)
	return g.w.WriteByte('\n')
}

// printCounts writes -c's count for every capture searched, 0 included,
// in the order the search reads them.
func (g *grepRun) printCounts(s model.Store, q model.SearchQuery) error {
	var incidents []model.Incident
	switch {
	case len(q.Items) > 0:
		for _, ref := range q.Items {
			inc, id := storage.SplitRef(ref)
			if err := g.printCount(inc, id); err != nil {
				return err
			}
		}
		return nil
	case q.Incident != "":
		inc, err := s.Incident(q.Incident)
		if err != nil {
			return err
		}
		incidents = []model.Incident{inc}
	default:
		all, err := s.Incidents()
		if err != nil {
			return err
		}
		incidents = all
	}
	for _, inc := range incidents {
		caps, err := s.Captures(inc.ID)
		if err != nil {
			return err
		}
		for _, c := range caps {
			if err := g.printCount(inc.ID, c.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// printCount writes one capture's -c line.
func (g *grepRun) printCount(incident, item string) error {
	n := g.counts[incident+"/"+item]
	if g.o.without {
		switch {
		case n > 0:
			return nil
		case g.o.json:
			return g.json(struct {
				Incident string `json:"incident"`
				Item     string `json:"item"`
			}{incident, item})
		case g.o.color:
			_, err := g.w.Write(append(colored(nil, colorName, incident+"/"+item), '\n'))
			return err
		}
		_, err := g.w.WriteString(incident + "/" + item + "\n")
		return err
	}
	if g.o.json {
		return g.json(struct {
			Incident string `json:"incident"`
			Item     string `json:"item"`
			Count    int    `json:"count"`
		}{incident, item, n})
	}
	if g.o.noRef {
		_, err := g.w.WriteString(strconv.Itoa(n) + "\n")
		return err
	}
	if g.o.color {
		_, err := g.w.Write(append(colored(colored(nil, colorName, incident+"/"+item), colorSep, ":"), strconv.Itoa(n)+"\n"...))
		return err
	}
	_, err := g.w.WriteString(incident + "/" + item + ":" + strconv.Itoa(n) + "\n")
	return err
}

// literalOperator reports a + { or } that may have been meant as the
// character (1+1, {"a":): not one after ] ) . or a class escape (\w \d),
// which repeats that plainly ([0-9a-f]+, \d{3}).
func literalOperator(plain string) bool {
	for i := 0; i < len(plain); i++ {
		c := plain[i]
		if c == '\\' {
			i++
			continue
		}
		if c != '+' && c != '{' && c != '}' {
			continue
		}
		if c == '}' {
			if !strings.Contains(plain[:i], "{") {
				return true
			}
			continue
		}
		afterClass := i >= 2 && plain[i-2] == '\\' && strings.IndexByte("wWdDsSbB", plain[i-1]) >= 0
		if i > 0 && (strings.IndexByte("]).", plain[i-1]) >= 0 || afterClass) {
			continue
		}
		return true
	}
	return false
}

// basicRegexpHint says where a pattern is read otherwise than grep's
// default (basic) syntax reads it: a person with grep's habits typing
// timeout\|refund got one odd line or none, and no word why. \| is named
// whatever matched (a line holding a | is not what a|b meant);
// the other escapes, operators, a $ inside the pattern and a call's
// parentheses pasted (ObjectId("65f1")) only when nothing did (ObjectId\(
// means a parenthesis); a | with nothing on a side always, as it matches
// every line. "" when nothing in it is read otherwise.
func basicRegexpHint(pat string, matched bool) string {
	plain := strings.ReplaceAll(pat, `\\`, "xx") // an escaped backslash escapes nothing after it
	var said []string
	for _, h := range []struct{ escapes, instead string }{
		{`\|`, "for either of two words write 'a|b'"},
		{`\(\)`, "for a group write '(ab)'"},
		{`\{\}`, "for a count write 'a{3}'"},
		{`\?\+`, "for 'maybe' or 'one or more' write 'a?' or 'a+'"},
	} {
		if matched && (h.escapes != `\|` || !wordsAround(plain, `\|`)) {
			continue // ObjectId\(, '\| 42 \|' (a psql row): meant as itself, and found
		}
		var found []string
		for i := 0; i < len(h.escapes); i += 2 {
			if strings.Contains(plain, h.escapes[i:i+2]) {
				found = append(found, h.escapes[i:i+2])
			}
		}
		if len(found) > 0 {
			said = append(said, fmt.Sprintf("%s %s the character itself, %s", strings.Join(found, " "), map[bool]string{true: "is", false: "are"}[len(found) == 1], h.instead))
		}
	}
	ops := operatorsAt(plain)
	if !matched {
		if name := calledName(plain, ops); name != "" {
			said = append(said, fmt.Sprintf("( ) group, they are not parentheses: for '%s(' itself write '%s\\(' or use -F", name, name))
		}
		if literalOperator(plain) {
			said = append(said, "+ { } are operators, for one itself write \\+ \\{ or use -F")
		}
		if i := strings.Index(plain, "$"); i >= 0 && i < len(pat)-1 && !strings.ContainsRune(")|]", rune(pat[i+1])) && (i == 0 || pat[i-1] != '\\') {
			said = append(said, "$ in the middle of a pattern matches only at a line's end, so nothing comes after it: for a $ itself write \\$ or use -F")
		}
	}
	if emptyAlternative(plain, ops) {
		said = append(said, "a | with nothing on one side matches every line: for a | itself write \\| or use -F")
	}
	if len(said) == 0 {
		return ""
	}
	return "calm search reads a pattern as grep -E does: " + strings.Join(said, "; ")
}

// wordsAround reports whether sep stands between two word characters in
// plain somewhere: timeout\|refund, grep's "or", not a table's column.
func wordsAround(plain, sep string) bool {
	for i := 0; ; {
		k := strings.Index(plain[i:], sep)
		if k < 0 {
			return false
		}
		at := i + k
		if at > 0 && isWordByte(plain[at-1]) && at+len(sep) < len(plain) && isWordByte(plain[at+len(sep)]) {
			return true
		}
		i = at + len(sep)
	}
}

// operatorsAt returns where plain has ( ) or | as operators: not escaped,
// not inside brackets.
func operatorsAt(plain string) map[int]bool {
	at := map[int]bool{}
	for i := 0; i < len(plain); i++ {
		switch plain[i] {
		case '\\':
			i++
		case '[':
			j := i + 1
			if j < len(plain) && plain[j] == '^' {
				j++
			}
			if j < len(plain) && plain[j] == ']' {
				j++ // the first ] is itself
			}
			for j < len(plain) && plain[j] != ']' {
				if k := strings.Index(plain[j:], ":]"); plain[j] == '[' && j+1 < len(plain) && plain[j+1] == ':' && k > 0 {
					j += k + 2 // [:alpha:]
					continue
				}
				j++
			}
			i = j
		case '(', ')', '|':
			at[i] = true
		}
	}
	return at
}

// calledName is the word a group follows as in a call, ObjectId("65f1"):
// what mongosh and psql print, pasted. A group that holds a | or is
// repeated (x(ab)?, (GET|POST)) is a regexp's. "" when there is none.
func calledName(plain string, ops map[int]bool) string {
	for i := 1; i < len(plain); i++ {
		if !ops[i] || plain[i] != '(' {
			continue
		}
		start := i
		for start > 0 && isWordByte(plain[start-1]) {
			start--
		}
		if start == i || start > 0 && plain[start-1] == '\\' {
			continue
		}
		depth, either, end := 0, false, -1
		for j := i; j < len(plain) && end < 0; j++ {
			switch {
			case !ops[j]:
			case plain[j] == '(':
				depth++
			case plain[j] == ')':
				if depth--; depth == 0 {
					end = j
				}
			case depth == 1:
				either = true
			}
		}
		if either || end >= 0 && end+1 < len(plain) && strings.IndexByte("?*+{", plain[end+1]) >= 0 {
			continue
		}
		return plain[start:i]
	}
	return ""
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'z'
}

// emptyAlternative reports whether a | in plain has nothing on a side:
// '| timeout |' pasted from a table, which matches every line.
func emptyAlternative(plain string, ops map[int]bool) bool {
	for i := range plain {
		if !ops[i] || plain[i] != '|' {
			continue
		}
		left := i == 0 || ops[i-1] && plain[i-1] != ')'
		right := i == len(plain)-1 || ops[i+1] && plain[i+1] != '('
		if left || right {
			return true
		}
	}
	return false
}
