package capture

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"

	"calm/sanitize"
	"calm/terminal/escape"
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
var DefaultMarks = sync.OnceValue(func() []Mark {
	return []Mark{
		mark("rm -rf", `\brm\s+(-\S*[rR]\S*\s+)*-\S*[fF]|\brm\s+(-\S*\s+)*-\S*[rR]`, ""),
		mark("DROP", `(?i)\bdrop\s+(table|database|schema|index|view|collection|user)\b|\.drop(Database)?\(`, ""),
		mark("TRUNCATE", `(?i)\btruncate\s+(table\s+)?\w`, ""),
		mark("DELETE without WHERE", `(?i)\bdelete\s+from\s+\S+`, `(?i)\bwhere\b`),
		mark("UPDATE without WHERE", `(?i)\bupdate\s+\S+\s+set\b`, `(?i)\bwhere\b`),
		mark("Mongo write", `\.(update|updateOne|updateMany|replaceOne|deleteOne|deleteMany|remove|findOneAndReplace|findOneAndUpdate|findOneAndDelete|bulkWrite)\s*\(`, ""),
		// A restore from a dump replaces what is there: --drop first, or
		// documents overwritten by upsert or merge.
		mark("mongoimport/mongorestore --drop", `\bmongo(import|restore)\b.*\s--drop\b`, ""),
		mark("mongoimport upsert", `\bmongoimport\b.*\s--mode[= ](upsert|merge|delete)\b`, ""),
		mark("kubectl delete", `\bkubectl\s+(\S+\s+)*delete\b`, ""),
		mark("terraform destroy", `\bterraform\s+(\S+\s+)*(destroy|apply\s+.*-destroy)\b`, ""),
		mark("helm uninstall", `\bhelm\s+(uninstall|delete)\b`, ""),
		mark("FLUSHALL", `(?i)\bflush(all|db)\b`, ""),
		mark("force push", `\bgit\s+push\s+.*(--force\b|-f\b)`, ""),
	}
})

// CompileMarks adds patterns from the config to the built-in ones.
func CompileMarks(patterns []string) ([]Mark, error) {
	marks := append([]Mark(nil), DefaultMarks()...)
	for _, p := range patterns {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("mark pattern %q: %v", p, err)
		}
		marks = append(marks, Mark{Name: p, Match: re})
	}
	return marks, nil
}

// Check returns the name of the first mark a command line matches. A
// shell comment is no command. Text echoed is still marked: a marker is
// a place to look, and echo often feeds the command that runs it.
func Check(marks []Mark, line string) (string, bool) {
	line = withoutComment(line)
	for _, m := range marks {
		if m.Match.MatchString(line) && (m.Unless == nil || !m.Unless.MatchString(line)) {
			return m.Name, true
		}
	}
	return "", false
}

// withoutComment cuts line at a shell comment: a # outside quotes that
// begins a word.
func withoutComment(line string) string {
	var quote rune
	prev := ' '
	for i, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"':
			quote = r
		case r == '#' && (prev == ' ' || prev == '\t'):
			return line[:i]
		}
		prev = r
	}
	return line
}

// LineWatcher follows what a user types closely enough to see each command
// line they submit: printable characters, backspace, ^U, ^C; cursor keys and
// other escape sequences (escape.Keys: typed, ESC ] is Alt-], and what
// follows it is typed text) are skipped. It keeps only the line being typed
// and nothing once it is submitted.
type LineWatcher struct {
	line []rune
	seq  escape.State
}

// maxWatchedLine bounds the typed line kept in memory.
const maxWatchedLine = 64 << 10

// Feed takes typed bytes and calls submit with every line ended by Enter.
func (w *LineWatcher) Feed(p []byte, submit func(line string)) {
	for i := 0; i < len(p); {
		if w.seq != escape.Ground {
			n, st := escape.Keys.Skip(p[i:], w.seq)
			i, w.seq = i+n, st
			continue
		}
		r, size := utf8.DecodeRune(p[i:])
		i += size
		switch {
		case r == 0x1b:
			w.seq = escape.Esc
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
			if space := strings.LastIndexByte(s, ' '); space >= 0 {
				w.line = []rune(s[:space+1])
			} else {
				w.line = w.line[:0]
			}
		case r >= 0x20 && len(w.line) < maxWatchedLine:
			w.line = append(w.line, r)
		}
	}
}

// Reset forgets a line partly typed (echo went off: a password).
func (w *LineWatcher) Reset() { w.line, w.seq = w.line[:0], escape.Ground }

// PromptWatcher finds the command lines a person submits in a terminal's
// output, for calm split, which sees only what tmux passes on: the output,
// where the shell echoes what is typed. A line is a command when its text
// follows a prompt sign ("$ ", "# ", "> ", "% ") within its first 80
// characters; escape sequences (escape.Lines, as sanitize reads them) and C1
// controls are skipped, backspaces and carriage returns (a line drawn again)
// applied. Output that only looks like a prompt can be taken for a command:
// the price of not seeing the keyboard.
type PromptWatcher struct {
	line []rune
	seq  escape.State
	cr   bool
}

var promptLine = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^.{0,80}?[$#>%]\s+(\S.*)$`) })

// Feed takes output and calls submit with each command line a line feed in
// p ends: the line was entered as p arrived, whenever its prompt was drawn.
func (w *PromptWatcher) Feed(p []byte, submit func(command string)) {
	for i := 0; i < len(p); {
		if w.seq != escape.Ground {
			n, st := escape.Lines.Skip(p[i:], w.seq)
			i, w.seq = i+n, st
			continue
		}
		r, size := utf8.DecodeRune(p[i:])
		i += size
		switch {
		case r == 0x1b:
			w.seq = escape.Esc
		case r >= 0x80 && r <= 0x9f:
			w.seq = escape.Begin(r)
		case r == '\r':
			w.cr = true
		case r == '\n':
			if m := promptLine().FindStringSubmatch(strings.TrimRight(string(w.line), " ")); m != nil {
				submit(m[1])
			}
			w.line, w.cr = w.line[:0], false
		case r == 0x08:
			if len(w.line) > 0 {
				w.line = w.line[:len(w.line)-1]
			}
		case sanitize.Dropped(r):
			// Not shown, so not part of the command read: a bidi
			// override must not reorder the timeline's text.
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
