// Package checklist owns calm's guided remediation: checklists as TOML
// files (built in, and a team's own), and the state of one incident's
// checklist as its timeline's step events record it.
package checklist

import (
	"embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"calm/model"
)

// Checklist is a named list of steps.
type Checklist struct {
	Name   string `toml:"name"`
	Title  string `toml:"title"`
	Steps  []Step `toml:"steps"`
	Source string `toml:"-"` // the file it came from, or "built in"
}

// Step is one thing to do, with the guidance to do it calmly.
type Step struct {
	ID       string   `toml:"id"`
	Title    string   `toml:"title"`
	Guidance string   `toml:"guidance"`
	Requires Requires `toml:"requires"`
	Action   string   `toml:"action"` // "", "extract", "edit" or "message"
	Pause    Duration `toml:"pause"`  // a visible pause before it can be ticked
}

// Requires is what must be true before a step can be ticked.
type Requires struct {
	Capture bool   `toml:"capture"` // a capture (or recorded session) exists
	Copies  int    `toml:"copies"`  // some capture has this many verified copies
	Note    bool   `toml:"note"`    // a note was written
	After   string `toml:"after"`   // this step is done
	// Evidence: at least one of these happened since the After step was
	// ticked (at any time when there is none), so that a step cannot claim
	// what did not happen.
	Evidence []string `toml:"evidence"`
}

// Duration reads "5s" from TOML.
type Duration struct{ time.Duration }

func (d *Duration) UnmarshalText(text []byte) error {
	v, err := time.ParseDuration(string(text))
	if err != nil {
		return fmt.Errorf("pause %q is not a duration like \"5s\"", text)
	}
	if v < 0 || v > time.Minute {
		return fmt.Errorf("pause %q must be between 0 and 1m", text)
	}
	d.Duration = v
	return nil
}

var actions = map[string]bool{"": true, "extract": true, "edit": true, "message": true}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

//go:embed builtin/*.toml
var builtinFS embed.FS

// Builtin returns the checklists that ship with calm, "overwrite" first.
func Builtin() []Checklist {
	var out []Checklist
	for _, name := range []string{"overwrite", "incident"} {
		data, err := builtinFS.ReadFile("builtin/" + name + ".toml")
		if err != nil {
			panic(err)
		}
		c, err := Parse("built in "+name+".toml", data)
		if err != nil {
			panic(err) // a test parses them: this cannot ship broken
		}
		c.Source = "built in"
		out = append(out, c)
	}
	return out
}

// FileError is a problem in a checklist file, at a line when it is known.
type FileError struct {
	File string
	Line int
	Msg  string
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Parse reads one checklist file's text.
func Parse(file string, data []byte) (Checklist, error) {
	var c Checklist
	md, err := toml.Decode(string(data), &c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return c, &FileError{File: file, Line: pe.Position.Line, Msg: pe.Message}
		}
		// Type errors (a number where text belongs, a bad pause) name the key.
		return c, &FileError{File: file, Line: lineOfError(data, err.Error()), Msg: err.Error()}
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		key := undecoded[0].String()
		last := undecoded[0][len(undecoded[0])-1]
		return c, &FileError{File: file, Line: lineOf(data, last, 0), Msg: fmt.Sprintf("unknown key %q", key)}
	}
	fail := func(step int, format string, args ...any) (Checklist, error) {
		return c, &FileError{File: file, Line: stepLine(data, step), Msg: fmt.Sprintf(format, args...)}
	}
	if !idPattern.MatchString(c.Name) {
		return fail(-1, "name %q must be lower-case letters, digits, - or _", c.Name)
	}
	if strings.TrimSpace(c.Title) == "" {
		return fail(-1, "the checklist has no title")
	}
	if len(c.Steps) == 0 {
		return fail(-1, "the checklist has no [[steps]]")
	}
	seen := map[string]bool{}
	for i, s := range c.Steps {
		switch {
		case !idPattern.MatchString(s.ID):
			return fail(i, "step %d: id %q must be lower-case letters, digits, - or _", i+1, s.ID)
		case seen[s.ID]:
			return fail(i, "step %d: id %q is used twice", i+1, s.ID)
		case strings.TrimSpace(s.Title) == "":
			return fail(i, "step %d (%s) has no title", i+1, s.ID)
		case !actions[s.Action]:
			return fail(i, "step %d (%s): action %q is not extract, edit or message", i+1, s.ID, s.Action)
		case s.Requires.Copies < 0:
			return fail(i, "step %d (%s): copies must be 0 or more", i+1, s.ID)
		case s.Requires.After != "" && !seen[s.Requires.After]:
			return fail(i, "step %d (%s): after = %q names no earlier step", i+1, s.ID, s.Requires.After)
		}
		for _, kind := range s.Requires.Evidence {
			if _, ok := evidenceNames[kind]; !ok {
				return fail(i, "step %d (%s): evidence %q is not one of capture, session, note, message, diff", i+1, s.ID, kind)
			}
		}
		seen[s.ID] = true
	}
	return c, nil
}

// stepLine is the line of the i-th [[steps]] header (-1: line 1).
func stepLine(data []byte, i int) int {
	if i < 0 {
		return 1
	}
	n := -1
	for no, l := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(l) == "[[steps]]" {
			n++
			if n == i {
				return no + 1
			}
		}
	}
	return 0
}

// lineOf finds the first line at or after from where key is assigned.
func lineOf(data []byte, key string, from int) int {
	re := regexp.MustCompile(`(^|[\s{,])` + regexp.QuoteMeta(key) + `\s*=`)
	for no, l := range strings.Split(string(data), "\n") {
		if no >= from && re.MatchString(l) {
			return no + 1
		}
	}
	return 0
}

// lineOfError finds the line of the key a decode error names.
func lineOfError(data []byte, msg string) int {
	m := regexp.MustCompile(`key "?([A-Za-z0-9_.-]+)"?`).FindStringSubmatch(msg)
	if m == nil {
		m = regexp.MustCompile(`(pause) "`).FindStringSubmatch(msg)
	}
	if m == nil {
		return 0
	}
	parts := strings.Split(m[1], ".")
	return lineOf(data, parts[len(parts)-1], 0)
}

// Load returns the built-in checklists and every *.toml in dirs (a team's
// own, which may replace a built-in one by name), with one error per file
// that could not be read: the others still load.
func Load(dirs []string) ([]Checklist, []error) {
	all := Builtin()
	var errs []error
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.toml"))
		if err != nil {
			continue
		}
		sort.Strings(files)
		for _, f := range files {
			if why := model.WritableByOthers(f); why != "" {
				errs = append(errs, &FileError{File: f, Msg: "not loaded: " + why})
				continue
			}
			if fi, err := os.Stat(f); err == nil && !fi.Mode().IsRegular() {
				errs = append(errs, &FileError{File: f, Msg: "not loaded: not a plain file"})
				continue
			}
			data, err := os.ReadFile(f)
			if err != nil {
				errs = append(errs, &FileError{File: f, Msg: err.Error()})
				continue
			}
			c, err := Parse(f, data)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			c.Source = f
			replaced := false
			for i := range all {
				if all[i].Name == c.Name {
					all[i], replaced = c, true
				}
			}
			if !replaced {
				all = append(all, c)
			}
		}
	}
	return all, errs
}

// Find returns the checklist with this name.
func Find(all []Checklist, name string) (Checklist, bool) {
	for _, c := range all {
		if c.Name == name {
			return c, true
		}
	}
	return Checklist{}, false
}

// WithCopiesRequired raises every step's verified copies to required, the
// number the configuration asks of each capture (a mirror adds one): "copies
// = 2" is a floor, and a step that says "wait until they are all verified"
// must not be ready at 2 of 3. The lists given are not changed.
func WithCopiesRequired(lists []Checklist, required int) []Checklist {
	out := make([]Checklist, len(lists))
	for i, c := range lists {
		c.Steps = slices.Clone(c.Steps)
		for j := range c.Steps {
			if r := &c.Steps[j].Requires; r.Copies > 0 && r.Copies < required {
				r.Copies = required
			}
		}
		out[i] = c
	}
	return out
}
