package checklist

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"calm/model"
	"calm/storage"
)

func TestBuiltinChecklistsParse(t *testing.T) {
	all := Builtin()
	if len(all) != 2 || all[0].Name != "overwrite" || all[1].Name != "incident" {
		t.Fatalf("built in: %+v", all)
	}
	var titles []string
	for _, s := range all[0].Steps {
		titles = append(titles, s.Title)
	}
	want := "Stop and breathe|Save the scrollback|Check the copies|Say what changed|Decide on a fallback|Build the fix offline|Rehearse on a non-production copy|Apply it, eyes on the command|Verify the data|Tell the team|Write the summary"
	if got := strings.Join(titles, "|"); got != want {
		t.Fatalf("overwrite steps:\n%s\nwant\n%s", got, want)
	}
	if all[0].Steps[0].Pause.Duration <= 0 {
		t.Fatal("the first step has no pause")
	}
}

func TestMalformedFilesNameTheirLine(t *testing.T) {
	cases := map[string]struct {
		text string
		line int
		msg  string
	}{
		"syntax":        {"name = \"x\"\ntitle = \"X\"\n[[steps]]\nid = \"a\"\ntitle = \"unclosed\n", 5, ""},
		"unknown key":   {"name = \"x\"\ntitle = \"X\"\n[[steps]]\nid = \"a\"\ntitle = \"A\"\nrequires = { captures = true }\n", 6, `unknown key "steps.requires.captures"`},
		"no title":      {"name = \"x\"\ntitle = \"X\"\n[[steps]]\nid = \"a\"\ntitle = \"A\"\n\n[[steps]]\nid = \"b\"\n", 7, "step 2 (b) has no title"},
		"bad action":    {"name = \"x\"\ntitle = \"X\"\n[[steps]]\nid = \"a\"\ntitle = \"A\"\naction = \"launch\"\n", 3, `action "launch"`},
		"bad pause":     {"name = \"x\"\ntitle = \"X\"\n[[steps]]\nid = \"a\"\ntitle = \"A\"\npause = \"soon\"\n", 6, "not a duration"},
		"after unknown": {"name = \"x\"\ntitle = \"X\"\n[[steps]]\nid = \"a\"\ntitle = \"A\"\nrequires = { after = \"z\" }\n", 3, `after = "z" names no earlier step`},
		"wrong type":    {"name = \"x\"\ntitle = \"X\"\n[[steps]]\nid = \"a\"\ntitle = \"A\"\nrequires = { copies = \"two\" }\n", 6, "copies"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("team.toml", []byte(c.text))
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a FileError", err)
			}
			if fe.Line != c.line || !strings.Contains(fe.Error(), c.msg) || !strings.HasPrefix(fe.Error(), "team.toml:") {
				t.Fatalf("error %q, want line %d and %q", fe.Error(), c.line, c.msg)
			}
		})
	}
}

func TestLoadKeepsGoodFilesBesideABadOne(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "db.toml"), []byte("name = \"db-failover\"\ntitle = \"Database failover\"\n[[steps]]\nid = \"check\"\ntitle = \"Check replication lag\"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "broken.toml"), []byte("name = \n"), 0o600)
	os.WriteFile(filepath.Join(dir, "overwrite.toml"), []byte("name = \"overwrite\"\ntitle = \"Our own overwrite\"\n[[steps]]\nid = \"call\"\ntitle = \"Call the DBA\"\n"), 0o600)
	all, errs := Load([]string{dir, filepath.Join(dir, "missing")})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "broken.toml:1") {
		t.Fatalf("errors %v", errs)
	}
	if c, ok := Find(all, "db-failover"); !ok || c.Steps[0].Title != "Check replication lag" {
		t.Fatalf("team checklist not loaded: %+v", all)
	}
	if c, _ := Find(all, "overwrite"); c.Title != "Our own overwrite" {
		t.Fatal("a team's checklist does not replace the built-in one of its name")
	}
}

func TestStateReplaysTicksAndUnticksAndRequirements(t *testing.T) {
	c, _ := Find(Builtin(), "overwrite")
	t0 := time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC)
	ev := func(min int, step, action string) storage.Event {
		return storage.Event{Time: t0.Add(time.Duration(min) * time.Minute), Kind: storage.EventStep, Item: step, Text: StepText(action, step, "ada@host")}
	}
	events := []storage.Event{ev(1, "breathe", Ticked), ev(2, "save", Ticked), ev(3, "save", Unticked), ev(4, "save", Ticked)}
	st := Compute(c, events)
	if st.Current != 2 || !st.Steps[1].Done || st.Steps[1].At != t0.Add(4*time.Minute) || st.Steps[1].By != "ada@host" || len(st.Steps[1].History) != 3 {
		t.Fatalf("state %+v", st.Steps[1])
	}
	if w := st.Waiting(2, Facts{Captures: 1, MaxVerified: 1}); !strings.Contains(w, "2 verified copies") {
		t.Fatalf("copies step waits for %q", w)
	}
	if w := st.Waiting(2, Facts{Captures: 1, MaxVerified: 2}); w != "" {
		t.Fatalf("copies step still waits: %q", w)
	}
	if w := st.Waiting(3, Facts{}); !strings.Contains(w, "a note") {
		t.Fatalf("note step waits for %q", w)
	}
	if w := st.Waiting(6, Facts{Notes: 1}); !strings.Contains(w, `"Build the fix offline" done first`) {
		t.Fatalf("rehearse waits for %q", w)
	}
	if Chosen(nil) != "overwrite" || Chosen([]storage.Event{{Kind: storage.EventChecklist, Item: "incident"}}) != "incident" {
		t.Fatal("chosen checklist")
	}
}

// FuzzParse: any file gives a checklist or a FileError, never a panic.
func FuzzParse(f *testing.F) {
	data, _ := builtinFS.ReadFile("builtin/overwrite.toml")
	f.Add(string(data))
	f.Add("name = \"x\"\ntitle = \"X\"\n[[steps]]\nid = \"a\"\ntitle = \"A\"\npause = \"1s\"\n")
	f.Fuzz(func(t *testing.T, text string) {
		var c Checklist
		var err error
		done := make(chan struct{})
		go func() { c, err = Parse("f.toml", []byte(text)); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			t.Fatalf("Parse hangs on %q", text)
		}
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("%v is not a FileError", err)
			}
			return
		}
		if len(c.Steps) == 0 || c.Title == "" {
			t.Fatalf("accepted a checklist without steps or title: %+v", c)
		}
	})
}

// TestAnEmptyCaptureIsNoEvidence: a query that failed into stderr leaves
// calm tee nothing; its 0-byte capture, sealed and copied, must not tick
// "save the output" or "check the copies".
func TestAnEmptyCaptureIsNoEvidence(t *testing.T) {
	now := time.Now()
	empty := model.Capture{ID: "c1", Source: "tee", State: model.CaptureSealed, Created: now,
		Copies: []model.Copy{{State: model.CopyVerified}, {State: model.CopyVerified}}}
	f := FactsOf([]model.Capture{empty}, nil)
	if f.Captures != 0 || f.MaxVerified != 0 || f.happenedSince([]string{"capture"}, time.Time{}) {
		t.Fatalf("an empty capture counts: %+v", f)
	}
	full := empty
	full.ID, full.Size = "c2", 10
	f = FactsOf([]model.Capture{empty, full}, nil)
	if f.Captures != 1 || f.MaxVerified != 2 || !f.happenedSince([]string{"capture"}, time.Time{}) {
		t.Fatalf("a capture with bytes does not count: %+v", f)
	}
}
