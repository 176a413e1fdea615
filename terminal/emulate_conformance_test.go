package terminal

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mattn/go-runewidth"
)

// A workload is bytes a program wrote, as events of a session: what calm
// derives from them must read as xterm.js shows them.
type workload struct {
	Name    string      `json:"name"`
	Cols    int         `json:"cols"`
	Rows    int         `json:"rows"`
	Newline bool        `json:"newline"` // text, not a terminal: LF returns too
	Events  [][2]string `json:"events"`  // ["o", base64] or ["r", "COLSxROWS"]
}

type oracleResult struct {
	Name   string   `json:"name"`
	Lines  []string `json:"lines"`
	Styled []string `json:"styled"` // the same lines with their looks (SGR)
}

// out adds output, cut into events at random places (as a recorder cuts
// them), so that no sequence or character relies on arriving whole.
func (w *workload) out(s string, rnd *rand.Rand) *workload {
	for len(s) > 0 {
		k := min(len(s), 1+rnd.Intn(200))
		w.Events = append(w.Events, [2]string{"o", base64.StdEncoding.EncodeToString([]byte(s[:k]))})
		s = s[k:]
	}
	return w
}

func (w *workload) resize(cols, rows int) *workload {
	w.Events = append(w.Events, [2]string{"r", fmt.Sprintf("%dx%d", cols, rows)})
	return w
}

// derive runs a workload through calm's emulator, as DeriveText does.
func (w *workload) derive() []string {
	var lines []string
	emit := func(line []byte, _ float64) { lines = append(lines, string(line)) }
	var e *Emulator
	if w.Newline {
		e = NewEmulator(w.Cols, w.Rows, emit)
	} else {
		e = NewSessionEmulator(w.Cols, w.Rows, emit)
	}
	for _, ev := range w.Events {
		if ev[0] == "r" {
			if c, r, ok := ParseSize(ev[1]); ok {
				e.Resize(c, r)
			}
			continue
		}
		data, _ := base64.StdEncoding.DecodeString(ev[1])
		e.Write(data)
	}
	e.Close()
	return lines
}

// comparable turns calm's derived lines into what xterm.js's text shows:
// colours dropped, tabs expanded, trailing blanks cut. The documented
// differences are taken out: rows that scrolled off a full-screen program's
// screen, which calm keeps and a terminal does not, and the U+FFFD calm
// shows for a byte that is not UTF-8, where xterm.js shows nothing.
func comparable(lines []string) []string {
	return comparableBy(lines, func(l string) string {
		return strings.TrimRight(expandTabs(strings.ReplaceAll(string(PlainText([]byte(l))), "\uFFFD", "")), " ")
	})
}

// comparableLooks is comparable with colours and attributes kept, in a
// canonical form: every character with its look, a blank whose look shows
// nothing given none, trailing such blanks cut.
func comparableLooks(lines []string) []string {
	return comparableBy(lines, func(l string) string { return canonicalLooks(l, true) })
}

func canonicalLooks(line string, calm bool) string {
	type char struct {
		s  string
		st Style
	}
	var chars []char
	col := 0
	StyledText([]byte(line), func(text []byte, st Style) {
		for _, r := range string(text) {
			switch w := runewidth.RuneWidth(r); {
			case r == '\uFFFD' && calm:
			case r == '\t' && calm:
				for {
					chars = append(chars, char{" ", st})
					if col++; col%8 == 0 {
						break
					}
				}
			case w == 0 && len(chars) > 0:
				chars[len(chars)-1].s += string(r)
			default:
				chars = append(chars, char{string(r), st})
				col += w
			}
		}
	})
	for i := range chars {
		if chars[i].s == " " && blankLooks(chars[i].st) {
			chars[i].st = Style{}
		}
	}
	for len(chars) > 0 && chars[len(chars)-1].s == " " && chars[len(chars)-1].st.IsZero() {
		chars = chars[:len(chars)-1]
	}
	var out []byte
	var cur Style
	for _, c := range chars {
		if c.st != cur {
			if c.st.IsZero() {
				out = append(out, "\x1b[0m"...)
			} else {
				out = c.st.AppendSGR(out)
			}
			cur = c.st
		}
		out = append(out, c.s...)
	}
	if !cur.IsZero() {
		out = append(out, "\x1b[0m"...)
	}
	return string(out)
}

func comparableBy(lines []string, canonical func(string) string) []string {
	var out []string
	scrolled := false
	for _, l := range lines {
		switch l {
		case string(markScrolled):
			scrolled = true
			continue
		case string(markLast):
			scrolled = false
		case string(markEnd):
			if scrolled {
				scrolled = false
				continue
			}
		}
		if scrolled {
			continue
		}
		out = append(out, canonical(l))
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

func trimTrailingEmpty(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = strings.TrimRight(strings.ReplaceAll(l, "\uFFFD", ""), " ")
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

func expandTabs(s string) string {
	if !strings.Contains(s, "\t") {
		return s
	}
	var b strings.Builder
	col := 0
	for _, r := range s {
		if r == '\t' {
			for {
				b.WriteByte(' ')
				col++
				if col%8 == 0 {
					break
				}
			}
			continue
		}
		b.WriteRune(r)
		col += max(runeWidth(r), 0)
	}
	return b.String()
}

// runOracle runs workloads through xterm.js. It skips the test only when
// node is missing and CI is not set; in CI the suite must run.
func runOracle(t *testing.T, ws []*workload) map[string]oracleResult {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skip("node is not installed: the xterm.js conformance suite needs it (CI runs it)")
		}
		t.Fatal("node is not installed, and CI is set: install nodejs (.ci/run does)")
	}
	dir := filepath.Join("testdata", "xterm")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@xterm", "headless")); err != nil {
		t.Fatalf("@xterm/headless is not installed: run `npm ci` in terminal/testdata/xterm (.ci/run does)")
	}
	in, err := json.Marshal(ws)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "oracle.js")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("xterm.js oracle: %v: %s", err, stderr.String())
	}
	var results []oracleResult
	if err := json.Unmarshal(out, &results); err != nil {
		t.Fatalf("xterm.js oracle output: %v", err)
	}
	got := map[string]oracleResult{}
	for _, r := range results {
		got[r.Name] = r
	}
	return got
}

// firstDifference names the first row where calm and the oracle differ.
func firstDifference(calm, ref []string) string {
	for i := 0; i < max(len(calm), len(ref)); i++ {
		var c, r string
		if i < len(calm) {
			c = calm[i]
		} else {
			c = "(no line)"
		}
		if i < len(ref) {
			r = ref[i]
		} else {
			r = "(no line)"
		}
		if c != r {
			from := max(0, i-3)
			return fmt.Sprintf("first difference at line %d:\n calm:   %q\n xterm:  %q\ncalm lines %d..:\n%s\nxterm lines %d..:\n%s", i+1, c, r,
				from+1, strings.Join(calm[from:min(len(calm), i+4)], "\n"), from+1, strings.Join(ref[from:min(len(ref), i+4)], "\n"))
		}
	}
	return ""
}

func TestEmulatorMatchesXterm(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: runs without -short")
	}
	ws := conformanceWorkloads()
	if len(ws) < 30 {
		t.Fatalf("%d workloads, want at least 30", len(ws))
	}
	ref := runOracle(t, ws)
	for _, w := range ws {
		t.Run(w.Name, func(t *testing.T) {
			want, ok := ref[w.Name]
			if !ok {
				t.Fatal("the oracle returned nothing for this workload")
			}
			derived := w.derive()
			if d := firstDifference(comparable(derived), trimTrailingEmpty(want.Lines)); d != "" {
				t.Fatal(d)
			}
			var looks []string
			for _, l := range want.Styled {
				looks = append(looks, canonicalLooks(l, false))
			}
			for len(looks) > 0 && looks[len(looks)-1] == "" {
				looks = looks[:len(looks)-1]
			}
			if d := firstDifference(comparableLooks(derived), looks); d != "" {
				t.Fatal("colours and attributes: " + d)
			}
		})
	}
}

// recordedWorkloads are real programs recorded in a pty (asciinema rec,
// inside tmux: see testdata/casts/README.md), one workload per cast.
func recordedWorkloads() []*workload {
	paths, _ := filepath.Glob(filepath.Join("testdata", "casts", "*.cast"))
	paths = append(paths, filepath.Join("testdata", "asciinema", "demo.cast")) // fish and vim, from asciinema
	var ws []*workload
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		w := &workload{Name: "recorded " + strings.TrimSuffix(filepath.Base(p), ".cast")}
		r := CastReader{
			Header: func(h Header) { w.Cols, w.Rows = h.Width, h.Height },
			Event: func(_ float64, kind, data string) {
				switch kind {
				case "o":
					w.Events = append(w.Events, [2]string{"o", base64.StdEncoding.EncodeToString([]byte(data))})
				case "r":
					w.Events = append(w.Events, [2]string{"r", data})
				}
			},
		}
		r.Write(data)
		r.Close()
		ws = append(ws, w)
	}
	return ws
}
