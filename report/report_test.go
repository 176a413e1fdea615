package report

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"calm/checklist"
	"calm/model"
	"calm/storage"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// clock is a fake time that moves one minute at each reading.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Minute)
	return c.t
}

// save stores text as a capture, for tests and benchmarks.
func save(t testing.TB, s model.Store, nc model.NewCapture, text string) model.Capture {
	t.Helper()
	w, err := model.NewCaptureWriter(s, "", nc)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(text))
	c, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// scriptedIncident plays a whole overwrite incident against a real store
// whose clock is fixed, so its record is the same every run.
func scriptedIncident(t *testing.T) (*storage.DB, Record) {
	t.Helper()
	dir := t.TempDir()
	clk := &clock{t: time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC)}
	db, err := storage.Open(storage.Options{Path: filepath.Join(dir, "calm.db"), EvidenceDir: filepath.Join(dir, "evidence"), Now: clk.now, StrictMode: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	inc, _ := db.NewIncident("users collection: document replaced | prod")
	session := save(t, db, model.NewCapture{Title: "bash on db1", Source: model.SourceSession, Recording: &model.Recording{Command: "bash", Cols: 80, Rows: 24}},
		`{"version": 2, "width": 80, "height": 24, "timestamp": 1795701600}`+"\n"+
			`[0.5, "o", "$ mongo mongodb://admin:s3cr3t@db1/users\r\n"]`+"\n"+
			`[2.0, "o", "{ \"_id\" : 1, \"name\" : \"Ada\" }\r\n"]`+"\n")
	db.AddMarker(inc.ID, session.ID, "replaceOne (Mongo)", 1.5)
	save(t, db, model.NewCapture{Title: "find before", Source: "snap"}, "{ \"_id\" : 1, \"name\" : \"Ada\" }\nPGPASSWORD=hunter2\n")
	db.AddNote(inc.ID, "replaceOne without $set replaced user 1; token=abc123def")
	// One verify run over both captures, and the TUI's team message as it
	// records the way it went out.
	if rep, err := db.Verify(context.Background(), inc.ID); err != nil || len(rep.Problems) > 0 {
		t.Fatalf("verify: %+v, %v", rep, err)
	}
	db.AddEvent(inc.ID, model.EventMessage, "", "team message: sent to the terminal by OSC 52 (in tmux, needs 'set -g set-clipboard on'; terminals do not confirm)")
	c, _ := checklist.Find(checklist.Builtin(), "overwrite")
	for i, s := range c.Steps {
		if s.ID == "rehearse" {
			db.AddEvent(inc.ID, model.EventStep, s.ID, checklist.AnywayText(s.Title, "ada@db1", `waiting for a note or a recorded session made after "Build the fix offline"`))
			continue
		}
		db.AddEvent(inc.ID, model.EventStep, s.ID, checklist.StepText(checklist.Ticked, s.Title, "ada@db1"))
		if i == 1 {
			db.AddEvent(inc.ID, model.EventStep, s.ID, checklist.StepText(checklist.Unticked, s.Title, "ada@db1"))
			db.AddEvent(inc.ID, model.EventStep, s.ID, checklist.StepText(checklist.Ticked, s.Title, "ada@db1"))
		}
	}
	db.CloseIncident(inc.ID)
	r, err := Load(db, inc.ID, checklist.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	return db, r
}

func TestMarkdownPostmortemMatchesGolden(t *testing.T) {
	_, r := scriptedIncident(t)
	red, _ := NewRedactor(nil)
	md, n := Markdown(r, red)
	// Incident IDs end in a random part: the golden file names it INCIDENT.
	md = bytes.ReplaceAll(md, []byte(r.Incident.ID), []byte("INCIDENT"))
	golden := filepath.Join("testdata", "postmortem.md")
	if *update {
		os.WriteFile(golden, md, 0o600)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(md, want) {
		t.Fatalf("postmortem differs from %s (go test ./report -update rewrites it):\n%s", golden, md)
	}
	if n != 3 || bytes.Contains(md, []byte("abc123def")) {
		t.Fatalf("redacted %d secrets; the note's token must go, in all three places", n)
	}
}

func TestTeamMessageSaysWhatBrokeAndWhereThingsStand(t *testing.T) {
	_, r := scriptedIncident(t)
	red, _ := NewRedactor(nil)
	msg, n := TeamMessage(r, red)
	for _, want := range []string{"What broke: users collection", "replaceOne (Mongo) in s1", "Done: Stop and breathe (14:", "s1 \"bash on db1\" (180 B", "token=[REDACTED password]",
		// The rehearsal was skipped: the message says so, and what it waited for.
		`Rehearse on a non-production copy (14:29) ticked anyway (was waiting for a note or a recorded session made after "Build the fix offline");`,
		"Now: every step of the checklist is ticked, 1 of them anyway"} {
		if !strings.Contains(string(msg), want) {
			t.Fatalf("message lacks %q:\n%s", want, msg)
		}
	}
	if n != 1 {
		t.Fatalf("redacted %d", n)
	}
}

func TestBundleVerifiesAndDetectsOneChangedByte(t *testing.T) {
	db, r := scriptedIncident(t)
	red, _ := NewRedactor(nil)
	var buf bytes.Buffer
	st, err := Bundle(context.Background(), db, r, &buf, red, time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 5 || st.Redacted < 3 {
		t.Fatalf("bundle stats %+v", st)
	}
	if ok, problems, err := VerifyBundle(bytes.NewReader(buf.Bytes())); err != nil || len(problems) > 0 || ok != 5 {
		t.Fatalf("fresh bundle: %d ok, %v, %v", ok, problems, err)
	}
	// Unpacked, sha256sum -c accepts it.
	dir := t.TempDir()
	archive := filepath.Join(dir, "b.tar.gz")
	os.WriteFile(archive, buf.Bytes(), 0o600)
	if out, err := exec.Command("tar", "-xzf", archive, "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	root := filepath.Join(dir, "calm-"+r.Incident.ID)
	check := exec.Command("sha256sum", "-c", SumsFile)
	check.Dir = root
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("sha256sum -c: %v\n%s", err, out)
	}
	// The original is still in the store; the bundle has it redacted.
	capText, _ := os.ReadFile(filepath.Join(root, "captures", "c1.txt"))
	if strings.Contains(string(capText), "hunter2") {
		t.Fatal("the bundle holds a secret")
	}
	var stored bytes.Buffer
	db.WriteContent(context.Background(), r.Incident.ID+"/c1", 0, &stored)
	if !strings.Contains(stored.String(), "hunter2") {
		t.Fatal("redaction changed the store's original")
	}
	// One byte changed in a capture: both checks fail and name it.
	capText[0] ^= 1
	os.WriteFile(filepath.Join(root, "captures", "c1.txt"), capText, 0o600)
	check = exec.Command("sha256sum", "-c", SumsFile)
	check.Dir = root
	if out, err := check.CombinedOutput(); err == nil || !strings.Contains(string(out), "captures/c1.txt: FAILED") {
		t.Fatalf("sha256sum -c passed a changed bundle: %s", out)
	}
	repacked := filepath.Join(dir, "changed.tar.gz")
	if out, err := exec.Command("tar", "-czf", repacked, "-C", dir, "calm-"+r.Incident.ID).CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	f, _ := os.Open(repacked)
	defer f.Close()
	ok, problems, err := VerifyBundle(f)
	if err != nil || len(problems) != 1 || !strings.Contains(problems[0], "captures/c1.txt: differs") || ok != 4 {
		t.Fatalf("changed bundle: %d ok, %v, %v", ok, problems, err)
	}
}

// TestExportsNameInterruptedAndUnsealedCaptures: the postmortem and the text
// export never present a partial or unsealed capture as if it were whole.
func TestExportsNameInterruptedAndUnsealedCaptures(t *testing.T) {
	dir := t.TempDir()
	db, err := storage.Open(storage.Options{Path: filepath.Join(dir, "calm.db"), StrictMode: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	inc, _ := db.NewIncident("partial dump")
	w, _ := model.NewCaptureWriter(db, inc.ID, model.NewCapture{Title: "cut short", Source: "tee"})
	w.Write([]byte("half of it\n"))
	if _, err := w.CloseInterrupted("SIGINT (Ctrl-C)"); err != nil {
		t.Fatal(err)
	}
	if _, err := model.NewCaptureWriter(db, inc.ID, model.NewCapture{Title: "still open", Source: "tee"}); err != nil {
		t.Fatal(err)
	}
	rec, err := Load(db, inc.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	red, _ := NewRedactor(nil)
	md, _ := Markdown(rec, red)
	var txt bytes.Buffer
	if _, err := Text(context.Background(), db, rec, &txt, red); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"md": string(md), "txt": txt.String()} {
		if !strings.Contains(out, "INTERRUPTED: SIGINT (Ctrl-C);") || !strings.Contains(out, "UNSEALED") {
			t.Errorf("the %s export does not name the interrupted and the unsealed capture:\n%s", name, out)
		}
	}
	if strings.Contains(txt.String(), "sha256 ,") || !strings.Contains(txt.String(), "==== c2: still open (tee, UNSEALED") {
		t.Errorf("the text export gives the unsealed capture an empty SHA-256:\n%s", txt.String())
	}
	if !strings.Contains(string(md), "- **Interrupted captures, partial:** c1 cut short — SIGINT (Ctrl-C)") || !strings.Contains(string(md), "| c1 | cut short (**interrupted**: partial) |") {
		t.Errorf("the postmortem's summary and captures do not name the interrupted capture:\n%s", md)
	}
}

// TestTimelineRowsFoldRunsAndDropHints: a verify run with a bad copy is one
// row that names it; a push's copy results are one row, the next round's
// another; the screen's hints leave calm's own event texts, never a
// person's note.
func TestTimelineRowsFoldRunsAndDropHints(t *testing.T) {
	at := time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC)
	rows := TimelineRows([]model.Event{
		{Time: at, Kind: model.EventVerify, Item: "c1", Text: "c1 verified: 2 of 2 copies match"},
		{Time: at, Kind: model.EventVerify, Item: "c2", Text: "c2 verified: 1 of 2 copies match"},
		{Time: at, Kind: model.EventCopy, Item: "c1", Text: "c1 copy s3://b/c1: verified"},
		{Time: at, Kind: model.EventCopy, Item: "c2", Text: "c2 copy s3://b/c2: verified"},
		{Time: at, Kind: model.EventExport, Text: "pushed to s3://b/inc.tar.gz"},
		{Time: at, Kind: model.EventMessage, Text: "team message: not copied: 900000 bytes is more than a terminal takes by OSC 52 (about 74994): save it with 'calm show ID > FILE' instead"},
		{Time: at, Kind: model.EventNote, Text: "ran 'calm verify' (twice)"},
		{Time: at, Kind: model.EventVerify, Item: "c1", Text: "c1 verified: 2 of 2 copies match"},
		// Two rounds of uploads back to back: a row each.
		{Time: at, Kind: model.EventCopy, Item: "c1", Text: "c1 copy s3://b/c1: failed"},
		{Time: at, Kind: model.EventCopy, Item: "c2", Text: "c2 copy s3://b/c2: failed"},
		{Time: at, Kind: model.EventCopy, Item: "c1", Text: "c1 copy s3://b/c1: verified"},
		{Time: at, Kind: model.EventCopy, Item: "c2", Text: "c2 copy s3://b/c2: verified"},
	})
	var got []string
	for _, r := range rows {
		got = append(got, r.Kind+"|"+r.Item+"|"+r.Text)
	}
	want := []string{
		"verify|c1, c2|verified 2 captures: 3 of 4 copies match; **c2: 1 of 2 match**",
		"copy|c1, c2|2 copy results: copy s3://b/c1: verified; copy s3://b/c2: verified",
		"export||pushed to s3://b/inc.tar.gz",
		"message||team message: not copied: 900000 bytes is more than a terminal takes by OSC 52 (about 74994)",
		"note||ran 'calm verify' (twice)",
		"verify|c1|c1 verified: 2 of 2 copies match",
		"copy|c1, c2|2 copy results: copy s3://b/c1: failed; copy s3://b/c2: failed",
		"copy|c1, c2|2 copy results: copy s3://b/c1: verified; copy s3://b/c2: verified",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestBackToBackVerifyRunsAreARowEach: two verifies a moment apart record
// an event per capture each; the postmortem gives each run its own row
// with its own counts, never one row with both runs' counts added up.
func TestBackToBackVerifyRunsAreARowEach(t *testing.T) {
	dir := t.TempDir()
	db, err := storage.Open(storage.Options{Path: filepath.Join(dir, "calm.db"), EvidenceDir: filepath.Join(dir, "evidence"), StrictMode: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	inc, _ := db.NewIncident("twice verified")
	for _, title := range []string{"one", "two", "three"} {
		save(t, db, model.NewCapture{Title: title, Source: "tee"}, title+"\n")
	}
	for range 2 {
		if rep, err := db.Verify(context.Background(), inc.ID); err != nil || len(rep.Problems) > 0 || rep.Captures != 3 {
			t.Fatalf("verify: %+v, %v", rep, err)
		}
	}
	r, err := Load(db, inc.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	red, _ := NewRedactor(nil)
	md, _ := Markdown(r, red)
	row := regexp.MustCompile(`(?m)^\| [0-9: -]+ \| verify \| (.*) \|$`)
	var got []string
	for _, m := range row.FindAllStringSubmatch(string(md), -1) {
		got = append(got, m[1])
	}
	want := "c1, c2, c3 | verified 3 captures: 6 of 6 copies match"
	if len(got) != 2 || got[0] != want || got[1] != want {
		t.Fatalf("verify rows %q, want two of %q:\n%s", got, want, md)
	}
}

// Every export format that holds a capture's text redacts a key that a
// line written over itself shows: the text export as the HTML page and the
// bundle do.
func TestEveryExportRedactsALineWrittenOverItself(t *testing.T) {
	dir := t.TempDir()
	db, err := storage.Open(storage.Options{Path: filepath.Join(dir, "calm.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	inc, _ := db.NewIncident("overwritten")
	save(t, db, model.NewCapture{Title: "keys", Source: "tee"}, "one AKIAIOSFODNN7EX\b\bEXAMPLE\ntwo AKIAIOSFODNN7EX\x1b[2DEXAMPLE\n")
	rec, err := Load(db, inc.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	red, _ := NewRedactor(nil)
	var txt, js bytes.Buffer
	if _, err := Text(context.Background(), db, rec, &txt, red); err != nil {
		t.Fatal(err)
	}
	if _, err := JSON(context.Background(), db, rec, &js, red); err != nil {
		t.Fatal(err)
	}
	var decoded struct {
		Captures []struct {
			SHA256            string `json:"sha256"`
			ContentBase64     []byte `json:"content_base64"`
			ContentSize       int    `json:"content_size"`
			ContentSHA256     string `json:"content_sha256"`
			ContentRedactions int    `json:"content_redactions"`
		}
	}
	if err := json.Unmarshal(js.Bytes(), &decoded); err != nil || len(decoded.Captures) != 1 {
		t.Fatalf("json export: %v", err)
	}
	// The capture's sha256 is the original's; the redacted content's own
	// size and SHA-256 are beside it, so a check of the content matches.
	c := decoded.Captures[0]
	sum := sha256.Sum256(c.ContentBase64)
	if c.ContentSHA256 != hex.EncodeToString(sum[:]) || c.ContentSize != len(c.ContentBase64) || c.ContentRedactions != 2 || c.SHA256 == c.ContentSHA256 {
		t.Fatalf("json export says content_sha256 %s, content_size %d, %d redactions, sha256 %s; the content hashes to %x, is %d bytes", c.ContentSHA256, c.ContentSize, c.ContentRedactions, c.SHA256, sum, len(c.ContentBase64))
	}
	page, _ := exportHTML(t, db, rec, HTMLOptions{})
	for name, out := range map[string]string{"txt": txt.String(), "json": string(decoded.Captures[0].ContentBase64), "html": page} {
		if strings.Contains(out, "AKIAIOSFOD") || strings.Count(out, "written over itself)]") < 2 {
			t.Errorf("the %s export keeps a key a line written over itself shows:\n%s", name, out)
		}
	}
}

// TestTeamMessageSaysARecordingIsRecording: a session still recording was
// "(0 B, sha256 , UNSEALED: ... its writer died)" in the team message, which
// the team read as dead, empty evidence.
func TestTeamMessageSaysARecordingIsRecording(t *testing.T) {
	_, r := scriptedIncident(t)
	for i := range r.Captures {
		if r.Captures[i].ID == "s1" {
			r.Captures[i].State, r.Captures[i].Size, r.Captures[i].SHA256 = model.CaptureOpen, 0, ""
			rec := *r.Captures[i].Recording
			rec.JournalSize = 0
			r.Captures[i].Recording = &rec
		}
	}
	red, _ := NewRedactor(nil)
	msg, _ := TeamMessage(r, red)
	if !strings.Contains(string(msg), `s1 "bash on db1" (RECORDING: `) || strings.Contains(string(msg), "sha256 ,") {
		t.Fatalf("the message on a session still recording:\n%s", msg)
	}
}

// TestTeamMessageTellsTheBreakageFromTheFix: the restore is a destructive
// command too; the team message listed it under "When" with the mistake,
// and the postmortem counted it with them.
func TestTeamMessageTellsTheBreakageFromTheFix(t *testing.T) {
	db, r := scriptedIncident(t)
	var session string
	for _, c := range r.Captures {
		if c.Recording != nil {
			session = c.ID
		}
	}
	// Later in the session: after every step was ticked.
	if _, err := db.AddMarker(r.Incident.ID, session, "replaceOne (Mongo), the restore", 7200); err != nil {
		t.Fatal(err)
	}
	r, err := Load(db, r.Incident.ID, checklist.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	red, _ := NewRedactor(nil)
	msg, _ := TeamMessage(r, red)
	when := regexp.MustCompile(`(?m)^When: (.*)$`).FindStringSubmatch(string(msg))
	if when == nil || !strings.Contains(when[1], "replaceOne (Mongo) in s1") || strings.Contains(when[1], "the restore") {
		t.Fatalf("When: must hold the mistake and not the restore:\n%s", msg)
	}
	if !regexp.MustCompile(`(?m)^Writes during the response: \d\d:\d\d:\d\d UTC, replaceOne \(Mongo\), the restore in s1 \(after every step was ticked\)$`).Match(msg) {
		t.Fatalf("the restore is not told as the response's:\n%s", msg)
	}
	md, _ := Markdown(r, red)
	if !strings.Contains(string(md), "**Destructive commands seen:** 2 (1 before the checklist's first tick, 1 during the response)") {
		t.Fatalf("the postmortem's count does not tell them apart:\n%s", md)
	}
}

// TestMarkdownShowsTagsAsText: a wiki that renders a Markdown page's HTML
// ran a capture titled with a tag, and a marker's </script>; the
// postmortem draft now writes them as text.
func TestMarkdownShowsTagsAsText(t *testing.T) {
	dir := t.TempDir()
	db, err := storage.Open(storage.Options{Path: filepath.Join(dir, "calm.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	inc, _ := db.NewIncident("orders & refunds <prod>")
	save(t, db, model.NewCapture{Title: "<img src=x onerror=alert(1)> red", Source: "tee"}, "x\n")
	rec, err := Load(db, inc.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	red, _ := NewRedactor(nil)
	md, _ := Markdown(rec, red)
	for _, want := range []string{"&lt;img src=x onerror=alert(1)&gt; red", "orders &amp; refunds &lt;prod&gt;"} {
		if !strings.Contains(string(md), want) {
			t.Fatalf("the draft lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(string(md), "<img") || strings.Contains(string(md), "<prod>") {
		t.Fatalf("the draft holds a tag as HTML:\n%s", md)
	}
}

// TestTeamMessageDoesNotListItselfAsStillToDo: the message listed "Tell
// the team" among what is still to do, in the very message that tells it.
func TestTeamMessageDoesNotListItselfAsStillToDo(t *testing.T) {
	c, _ := checklist.Find(checklist.Builtin(), "overwrite")
	r := Record{Incident: model.Incident{ID: "20261203-abcd", Title: "users overwritten", Opened: time.Now()}, Checklist: checklist.Compute(c, nil)}
	red, _ := NewRedactor(nil)
	msg, _ := TeamMessage(r, red)
	still := regexp.MustCompile(`(?m)^Still to do: (.*)$`).FindStringSubmatch(string(msg))
	if still == nil || strings.Contains(still[1], "Tell the team") || !strings.Contains(still[1], "Write the summary") {
		t.Fatalf("still to do: %q\n%s", still, msg)
	}
}

// TestMarkdownGivesARecordingsSizeSoFar: a session still recording was
// "0 B" in the postmortem draft while status said 2.7 KiB (fresh-eyes
// finding): its record's size comes at the seal.
func TestMarkdownGivesARecordingsSizeSoFar(t *testing.T) {
	_, r := scriptedIncident(t)
	journal := filepath.Join(t.TempDir(), "s1.cast")
	if err := os.WriteFile(journal, make([]byte, 2048), 0o600); err != nil {
		t.Fatal(err)
	}
	for i := range r.Captures {
		if r.Captures[i].ID == "s1" {
			r.Captures[i].State, r.Captures[i].Size, r.Captures[i].SHA256 = model.CaptureOpen, 0, ""
			rec := *r.Captures[i].Recording
			rec.JournalSize, rec.Journal = 0, journal
			r.Captures[i].Recording = &rec
		}
	}
	red, _ := NewRedactor(nil)
	md, _ := Markdown(r, red)
	var row string
	for _, line := range strings.Split(string(md), "\n") {
		if strings.HasPrefix(line, "| s1 |") {
			row = line
		}
	}
	if !strings.Contains(row, "| 2.0 KiB journal so far |") || strings.Contains(row, "| 0 B |") {
		t.Fatalf("the draft's row for a session still recording: %q", row)
	}
}
