package capture

import (
	"fmt"
	"regexp"
	"strings"
)

// A Mark is a kind of command worth a marker on the timeline before it runs.
type Mark struct {
	Name   string
	Match  *regexp.Regexp
	Unless *regexp.Regexp // no marker when this matches too (a WHERE clause)
}

func mark(name, match, unless string) Mark {
	m := Mark{Name: name, Match: regexp.MustCompile(match)}
	if unless != "" {
		m.Unless = regexp.MustCompile(unless)
	}
	return m
}

// DefaultMarks are the destructive commands calm marks out of the box.
var DefaultMarks = []Mark{
	mark("rm -rf", `\brm\s+(-\S*[rR]\S*\s+)*-\S*[fF]|\brm\s+(-\S*\s+)*-\S*[rR]`, ""),
	mark("DROP", `(?i)\bdrop\s+(table|database|schema|index|view|collection|user)\b|\.drop(Database)?\(`, ""),
	mark("TRUNCATE", `(?i)\btruncate\s+(table\s+)?\w`, ""),
	mark("DELETE without WHERE", `(?i)\bdelete\s+from\s+\S+`, `(?i)\bwhere\b`),
	mark("UPDATE without WHERE", `(?i)\bupdate\s+\S+\s+set\b`, `(?i)\bwhere\b`),
	mark("Mongo write", `\.(update|updateOne|updateMany|replaceOne|deleteOne|deleteMany|remove|findOneAndReplace|findOneAndUpdate|findOneAndDelete|bulkWrite)\s*\(`, ""),
	mark("kubectl delete", `\bkubectl\s+(\S+\s+)*delete\b`, ""),
	mark("terraform destroy", `\bterraform\s+(\S+\s+)*(destroy|apply\s+.*-destroy)\b`, ""),
	mark("helm uninstall", `\bhelm\s+(uninstall|delete)\b`, ""),
	mark("FLUSHALL", `(?i)\bflush(all|db)\b`, ""),
	mark("force push", `\bgit\s+push\s+.*(--force\b|-f\b)`, ""),
}

// CompileMarks adds patterns from the config to the built-in ones.
func CompileMarks(patterns []string) ([]Mark, error) {
	marks := append([]Mark(nil), DefaultMarks...)
	for _, p := range patterns {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("mark pattern %q: %v", p, err)
		}
		marks = append(marks, Mark{Name: p, Match: re})
	}
	return marks, nil
}

// Check returns the name of the first mark a command line matches.
func Check(marks []Mark, line string) (string, bool) {
	for _, m := range marks {
		if m.Match.MatchString(line) && (m.Unless == nil || !m.Unless.MatchString(line)) {
			return m.Name, true
		}
	}
	return "", false
}

// LineWatcher follows what a user types closely enough to see each command
// line they submit: printable characters, backspace, ^U, ^C; cursor keys and
// other escape sequences are skipped. It keeps only the line being typed and
// nothing once it is submitted.
type LineWatcher struct {
	line   []rune
	escape escapeSkipper
}

// maxWatchedLine bounds the typed line kept in memory.
const maxWatchedLine = 64 << 10

// Feed takes typed bytes and calls submit with every line ended by Enter.
func (w *LineWatcher) Feed(p []byte, submit func(line string)) {
	for _, r := range string(p) {
		if w.escape.skip(r, false) {
			continue
		}
		switch {
		case r == '\r' || r == '\n':
			if line := strings.TrimSpace(string(w.line)); line != "" {
				submit(line)
			}
			w.line = w.line[:0]
		case r == 0x7f || r == 0x08:
			if len(w.line) > 0 {
				w.line = w.line[:len(w.line)-1]
			}
		case r == 0x15 || r == 0x03: // ^U, ^C
			w.line = w.line[:0]
		case r == 0x17: // ^W
			s := strings.TrimRight(string(w.line), " ")
			if i := strings.LastIndexByte(s, ' '); i >= 0 {
				w.line = []rune(s[:i+1])
			} else {
				w.line = w.line[:0]
			}
		case r >= 0x20 && len(w.line) < maxWatchedLine:
			w.line = append(w.line, r)
		}
	}
}

// Reset forgets a line partly typed (echo went off: a password).
func (w *LineWatcher) Reset() { w.line, w.escape = w.line[:0], 0 }

// escapeSkipper passes over escape sequences in a stream of runes, typed or
// output: CSI and SS3 (cursor keys, colours) and, in output, OSC (a window
// title); typed, ESC ] is Alt-] and what follows it is typed text.
type escapeSkipper int // 0: text, 1: after ESC, 2: in CSI, 3: in SS3, 4: in OSC

// skip reports whether r belongs to an escape sequence (ESC included).
func (e *escapeSkipper) skip(r rune, osc bool) bool {
	switch *e {
	case 0:
		if r == 0x1b {
			*e = 1
			return true
		}
		return false
	case 1:
		switch r {
		case '[':
			*e = 2
		case 'O':
			*e = 3
		case ']':
			if osc {
				*e = 4
			} else {
				*e = 0
			}
		default:
			*e = 0
		}
	case 2:
		if r >= 0x40 && r <= 0x7e {
			*e = 0
		}
	case 3:
		*e = 0
	case 4: // ends with BEL or ST (ESC \\, whose ESC starts it over)
		if r == 0x07 || r == 0x9c {
			*e = 0
		} else if r == 0x1b {
			*e = 1
		}
	}
	return true
}

// PromptWatcher finds the command lines a person submits in a terminal's
// output, for calm split, which sees only what tmux passes on: the output,
// where the shell echoes what is typed. A line is a command when its text
// follows a prompt sign ("$ ", "# ", "> ", "% ") within its first 80
// characters; escape sequences are skipped, backspaces and carriage returns
// (a line drawn again) applied. Output that only looks like a prompt can be
// taken for a command: the price of not seeing the keyboard.
type PromptWatcher struct {
	line   []rune
	escape escapeSkipper
	cr     bool
}

var promptLine = regexp.MustCompile(`^.{0,80}?[$#>%]\s+(\S.*)$`)

// Feed takes output and calls submit with each command line a line feed in
// p ends: the line was entered as p arrived, whenever its prompt was drawn.
func (w *PromptWatcher) Feed(p []byte, submit func(command string)) {
	for _, r := range string(p) {
		if w.escape.skip(r, true) {
			continue
		}
		switch {
		case r == '\r':
			w.cr = true
		case r == '\n':
			if m := promptLine.FindStringSubmatch(strings.TrimRight(string(w.line), " ")); m != nil {
				submit(m[1])
			}
			w.line, w.cr = w.line[:0], false
		case r == 0x08:
			if len(w.line) > 0 {
				w.line = w.line[:len(w.line)-1]
			}
		case r >= 0x20 && r != 0x7f:
			if w.cr || len(w.line) == 0 {
				// A line drawn again from its start (readline's history,
				// a redisplay), or a new one.
				w.line, w.cr = w.line[:0], false
			}
			if len(w.line) < maxWatchedLine {
				w.line = append(w.line, r)
			}
		}
	}
}
