package checklist

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"calm/model"
	"calm/storage"
)

// minuteClock moves one minute at each reading, so every event has its own time.
type minuteClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *minuteClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Minute)
	return c.t
}

func openGateStore(t *testing.T, path string) *storage.DB {
	t.Helper()
	clk := &minuteClock{t: time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC)}
	db, err := storage.Open(storage.Options{Path: path, EvidenceDir: filepath.Join(filepath.Dir(path), "evidence"), Now: clk.now, StrictMode: true})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func saveText(t *testing.T, s storage.Store, incident, source, text string) {
	t.Helper()
	w, err := model.NewCaptureWriter(s, incident, storage.NewCapture{Title: source + " capture", Source: source})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(text))
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// aMinuteOn is the minute clock's next reading: a minute after the
// incident's last event, when every pause is over.
func aMinuteOn(t *testing.T, db storage.Store, incident string) time.Time {
	t.Helper()
	events, err := db.Events(incident)
	if err != nil || len(events) == 0 {
		t.Fatalf("events of %s: %v", incident, err)
	}
	return events[len(events)-1].Time.Add(time.Minute)
}

// mustWait ticks and expects the step to be refused, waiting for want.
func mustWait(t *testing.T, db storage.Store, incident, title, want string) {
	t.Helper()
	step, err := Tick(db, incident, Builtin(), TickRequest{Who: "ada@db1", Now: aMinuteOn(t, db, incident)})
	var we *WaitingError
	if !errors.As(err, &we) || step.Title != title || !strings.Contains(we.Waiting, want) {
		t.Fatalf("tick %q: %v, want it to wait for %q", step.Title, err, want)
	}
}

func mustTick(t *testing.T, db storage.Store, incident, title string) {
	t.Helper()
	step, err := Tick(db, incident, Builtin(), TickRequest{Who: "ada@db1", Now: aMinuteOn(t, db, incident)})
	if err != nil || step.Title != title || !step.Done || step.Waited != "" {
		t.Fatalf("tick: %+v, %v; want %q ticked", step, err, title)
	}
}

// TestStepsWaitForWhatTheyClaim plays the overwrite checklist against a real
// store: "Rehearse" waits for a note or a session made after the fix was
// built, "Verify the data" for a capture or a diff after it was applied,
// "Tell the team" for the team message; a step ticked anyway is recorded
// as such, with what it waited for, and reads back so from the file.
func TestStepsWaitForWhatTheyClaim(t *testing.T) {
	path := filepath.Join(t.TempDir(), "calm.db")
	db := openGateStore(t, path)
	inc, _ := db.NewIncident("users overwritten")
	saveText(t, db, inc.ID, "snap", "{ _id: 1, name: 'ada' }\n")
	db.AddNote(inc.ID, "replaceOne replaced user 1")
	for _, title := range []string{"Stop and breathe", "Save the scrollback", "Check the copies", "Say what changed", "Decide on a fallback", "Build the fix offline"} {
		mustTick(t, db, inc.ID, title)
	}
	// The note written before the fix was built says nothing of a rehearsal.
	mustWait(t, db, inc.ID, "Rehearse on a non-production copy", `a note ('calm note TEXT') or a recorded session or a write command in one ('calm shell', 'calm split') made after "Build the fix offline"`)
	db.AddNote(inc.ID, "rehearsed on staging: the document is back as it was")
	mustTick(t, db, inc.ID, "Rehearse on a non-production copy")
	mustTick(t, db, inc.ID, "Apply it, eyes on the command")
	// The capture from before the fix is not the after-capture, nor is a
	// team message kept as a capture.
	saveText(t, db, inc.ID, "message", "Incident: users overwritten\n")
	mustWait(t, db, inc.ID, "Verify the data", "a capture ('| calm tee', 'calm snap') or a diff")
	if _, err := db.AddEvent(inc.ID, storage.EventDiff, "c3", "compared c1 with c3: 1 lines removed, 1 added"); err != nil {
		t.Fatal(err)
	}
	mustTick(t, db, inc.ID, "Verify the data")
	// From a shell, what only the TUI makes is said to be made there.
	mustWait(t, db, inc.ID, "Tell the team", "the team message (composed in the TUI: 'calm', then c twice)")
	step, err := Tick(db, inc.ID, Builtin(), TickRequest{Who: "ada@db1", Anyway: true, Now: aMinuteOn(t, db, inc.ID)})
	if err != nil || step.Title != "Tell the team" || !step.Done || !strings.Contains(step.Waited, "the team message") {
		t.Fatalf("tick anyway: %+v, %v", step, err)
	}
	db.Close()

	// What the file says, read again.
	db = openGateStore(t, path)
	defer db.Close()
	events, _ := db.Events(inc.ID)
	last := events[len(events)-1]
	if last.Kind != storage.EventStep || last.Item != "tell" || !strings.HasPrefix(last.Text, `ticked anyway "Tell the team" by ada@db1; it was waiting for the team message`) {
		t.Fatalf("the timeline says %+v", last)
	}
	if strings.ContainsAny(last.Text, "()'") {
		t.Fatalf("the record keeps keys and commands meant for the screen: %q", last.Text)
	}
	c, _ := Find(Builtin(), Chosen(events))
	st := Compute(c, events)
	tell := st.Steps[9]
	if !tell.Done || tell.By != "ada@db1" || !strings.Contains(tell.Waited, "the team message") || st.Steps[8].Waited != "" {
		t.Fatalf("state read back: tell %+v, verify waited %q", tell, st.Steps[8].Waited)
	}
	if st.Current != 10 {
		t.Fatalf("current step %d, want the summary (10)", st.Current)
	}
	db.Close()
	b, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			t.Errorf("store consistency: %v", err)
		}
		return nil
	})
}

func TestStepEventsReadBackWhoAndWhy(t *testing.T) {
	for text, want := range map[string][3]string{
		StepText(Ticked, `say "by" twice by me`, "ada@db1"):       {Ticked, "ada@db1", ""},
		StepText(Unticked, "Save", "bob@h"):                       {Unticked, "bob@h", ""},
		AnywayText("Tell the team", "ada@db1", "waiting for a b"): {TickedAnyway, "ada@db1", "waiting for a b"},
		"something else": {"", "", ""},
	} {
		a, who, waited := parseStep(text)
		if [3]string{a, who, waited} != want {
			t.Errorf("parseStep(%q) = %q %q %q, want %q", text, a, who, waited, want)
		}
	}
}

func TestUnknownEvidenceIsRefusedWithItsLine(t *testing.T) {
	_, err := Parse("team.toml", []byte("name = \"x\"\ntitle = \"X\"\n[[steps]]\nid = \"a\"\ntitle = \"A\"\nrequires = { evidence = [\"photo\"] }\n"))
	var fe *FileError
	if !errors.As(err, &fe) || fe.Line != 3 || !strings.Contains(fe.Msg, `evidence "photo" is not one of`) {
		t.Fatalf("error %v", err)
	}
}

// TestTickWaitsOutTheStepsPause: a step with a pause cannot be ticked
// before the pause is over, counted from when the step became current
// (the incident opened, a step unticked), --anyway or not; the refusal
// says how long is left.
func TestTickWaitsOutTheStepsPause(t *testing.T) {
	db := openGateStore(t, filepath.Join(t.TempDir(), "calm.db"))
	defer db.Close()
	inc, _ := db.NewIncident("users overwritten")
	events, _ := db.Events(inc.ID)
	opened := events[0].Time
	for _, anyway := range []bool{false, true} {
		step, err := Tick(db, inc.ID, Builtin(), TickRequest{Who: "ada@db1", Anyway: anyway, Now: opened.Add(2 * time.Second)})
		var pe *PauseError
		if !errors.As(err, &pe) || step.Title != "Stop and breathe" || pe.Left != 3*time.Second || !strings.Contains(err.Error(), "take a breath: 3s more, then tick") {
			t.Fatalf("tick 2 s after the incident opened (anyway %v): %+v, %v", anyway, step, err)
		}
	}
	if step, err := Tick(db, inc.ID, Builtin(), TickRequest{Who: "ada@db1", Now: opened.Add(5 * time.Second)}); err != nil || step.Title != "Stop and breathe" {
		t.Fatalf("tick once the pause is over: %+v, %v", step, err)
	}
	step, ev, err := Untick(db, inc.ID, Builtin(), "ada@db1")
	if err != nil || step.ID != "breathe" {
		t.Fatalf("untick: %+v, %v", step, err)
	}
	// Current again: its pause runs again, from the untick.
	if _, err := Tick(db, inc.ID, Builtin(), TickRequest{Who: "ada@db1", Now: ev.Time.Add(4 * time.Second)}); !strings.Contains(fmt.Sprint(err), "1s more") {
		t.Fatalf("tick 4 s after the untick: %v", err)
	}
	st, _, err := Progress(db, inc.ID, Builtin())
	if err != nil || !st.CurrentSince.Equal(ev.Time) {
		t.Fatalf("the step is current since %v, want the untick at %v (%v)", st.CurrentSince, ev.Time, err)
	}
	// Shown later than it became current (the TUI opened then): from then.
	if left := st.PauseLeft(ev.Time.Add(time.Hour), ev.Time.Add(time.Hour+time.Second)); left != 4*time.Second {
		t.Fatalf("pause left a second after it was shown: %v", left)
	}
}

// TestCopiesStepWaitsForEveryRequiredCopy: "copies = 2" was the whole
// requirement, so with a mirror configured (3 copies required) "Check the
// copies" was ready at 2 of 3, while its guidance says to wait for all.
func TestCopiesStepWaitsForEveryRequiredCopy(t *testing.T) {
	copiesOf := func(lists []Checklist) int {
		for _, s := range lists[0].Steps {
			if s.ID == "copies" {
				return s.Requires.Copies
			}
		}
		t.Fatal("no copies step in the built-in checklist")
		return 0
	}
	floor := copiesOf(Builtin())
	if got := copiesOf(WithCopiesRequired(Builtin(), floor+1)); got != floor+1 {
		t.Fatalf("the copies step asks for %d verified copies with %d required", got, floor+1)
	}
	if got := copiesOf(Builtin()); got != floor {
		t.Fatalf("the built-in list itself was changed: %d", got)
	}
	if got := copiesOf(WithCopiesRequired(Builtin(), 1)); got != floor {
		t.Fatalf("fewer required copies lowered the checklist's own floor to %d", got)
	}
}

// TestRehearsalInAPaneRecordedAllAlong: the pane calm split records from
// the start is where a responder rehearses; its session began before the
// fix was built, and "Rehearse" waited for a new one. A write command run
// in it after the build is the rehearsal.
func TestRehearsalInAPaneRecordedAllAlong(t *testing.T) {
	db := openGateStore(t, filepath.Join(t.TempDir(), "calm.db"))
	defer db.Close()
	inc, _ := db.NewIncident("users overwritten")
	start := time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC)
	session, err := db.CreateCapture(inc.ID, storage.NewCapture{Title: "split pane", Source: model.SourceSession,
		Recording: &model.Recording{Command: "bash", Cols: 80, Rows: 24, Start: start}})
	if err != nil {
		t.Fatal(err)
	}
	saveText(t, db, inc.ID, "snap", "{ _id: 1, name: 'ada' }\n")
	db.AddNote(inc.ID, "replaceOne replaced user 1")
	for _, title := range []string{"Stop and breathe", "Save the scrollback", "Check the copies", "Say what changed", "Decide on a fallback", "Build the fix offline"} {
		mustTick(t, db, inc.ID, title)
	}
	mustWait(t, db, inc.ID, "Rehearse on a non-production copy", "a recorded session or a write command in one")
	// A write before the build is no rehearsal: the mistake itself, say.
	if _, err := db.AddMarker(inc.ID, session.ID, "replaceOne (Mongo)", 1); err != nil {
		t.Fatal(err)
	}
	mustWait(t, db, inc.ID, "Rehearse on a non-production copy", "a recorded session or a write command in one")
	var built time.Time
	events, _ := db.Events(inc.ID)
	for _, ev := range events {
		if ev.Kind == storage.EventStep && ev.Item == "build" {
			built = ev.Time
		}
	}
	if _, err := db.AddMarker(inc.ID, session.ID, "replaceOne (Mongo)", built.Add(time.Minute).Sub(start).Seconds()); err != nil {
		t.Fatal(err)
	}
	mustTick(t, db, inc.ID, "Rehearse on a non-production copy")
}

// TestATickOfAStepTickedAlreadySaysSo: a second space in the TUI named the
// step it asked to tick and said the current step was another, "not
// breathe", as if the press had gone astray (fresh-eyes finding). It now
// says the step is ticked already, and nothing more was.
func TestATickOfAStepTickedAlreadySaysSo(t *testing.T) {
	db := openGateStore(t, filepath.Join(t.TempDir(), "calm.db"))
	inc, _ := db.NewIncident("users overwritten")
	mustTick(t, db, inc.ID, "Stop and breathe")
	breathe := Builtin()[0].Steps[0].ID
	_, err := Tick(db, inc.ID, Builtin(), TickRequest{Who: "ada@db1", Step: breathe, Now: aMinuteOn(t, db, inc.ID)})
	if err == nil || !strings.Contains(err.Error(), "it is ticked already") || !strings.Contains(err.Error(), `the current step is now "Save the scrollback": nothing more was ticked`) {
		t.Fatalf("a second tick of step 1: %v", err)
	}
	if st, _, _ := Progress(db, inc.ID, Builtin()); st.Current != 1 {
		t.Fatalf("a second tick of step 1 ticked step %d", st.Current)
	}
}
