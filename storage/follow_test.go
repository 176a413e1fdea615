package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"calm/model"
	"calm/sanitize"
)

// sealWait bounds a wait for the store to take or seal a journal: generous,
// since a machine busy with other tests can hold the agent back for seconds.
const sealWait = time.Minute

// newJournalSession makes a session whose journal is a file the test writes.
func newJournalSession(t *testing.T, s Store, recorder int) (Capture, *os.File) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "journal.cast")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	host, _ := os.Hostname()
	c, err := s.CreateCapture("", NewCapture{Title: "shell", Source: SourceSession,
		Recording: &Recording{Command: "sh", Host: host, Journal: path, Recorder: recorder}})
	if err != nil {
		t.Fatal(err)
	}
	return c, f
}

func waitContent(t *testing.T, s Store, ref string, want []byte) {
	t.Helper()
	deadline := time.Now().Add(sealWait)
	for {
		var got bytes.Buffer
		if err := s.WriteContent(context.Background(), ref, 0, &got); err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(got.Bytes(), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %d bytes, the journal %d", ref, got.Len(), len(want))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSessionIsTakenFromItsJournalAndSealed(t *testing.T) {
	db := openTestDB(t, t.TempDir())
	c, f := newJournalSession(t, db, os.Getpid())
	ref := c.Incident + "/" + c.ID
	if err := db.FollowJournal(c.Incident, c.ID); err != nil {
		t.Fatal(err)
	}
	var journal []byte
	for i := range 40 {
		line := bytes.Repeat([]byte{byte('a' + i%26)}, 100_000+i)
		journal = append(journal, line...)
		f.Write(line)
		if i%10 == 0 {
			waitContent(t, db, ref, journal) // live: a viewer sees it while recording
		}
	}
	if err := db.FollowJournal(c.Incident, c.ID); err != nil { // a heartbeat changes nothing
		t.Fatal(err)
	}
	if _, err := db.SealJournal(c.Incident, c.ID, int64(len(journal)), ""); err != nil {
		t.Fatal(err)
	}
	sealed, err := WaitSealed(db, ref, sealWait)
	if err != nil || sealed.State != CaptureSealed {
		t.Fatalf("not sealed: %v %+v", err, sealed)
	}
	if sealed.Size != int64(len(journal)) || sealed.SHA256 != sum(journal) || sealed.VerifiedCopies() != 3 {
		t.Fatalf("sealed %d bytes sha %s, %d verified copies; want %d, %s, 3", sealed.Size, sealed.SHA256, sealed.VerifiedCopies(), len(journal), sum(journal))
	}
	// The journal is now the evidence copy, under its capture's name.
	evidence := sealed.Copies[1]
	if evidence.Kind != CopyEvidence || sealed.Recording.Journal != evidence.Location {
		t.Fatalf("evidence %+v, journal %s", evidence, sealed.Recording.Journal)
	}
	if data, _ := os.ReadFile(evidence.Location); !bytes.Equal(data, journal) {
		t.Fatal("the evidence copy differs from the journal")
	}
	if _, err := os.Stat(f.Name()); !os.IsNotExist(err) {
		t.Fatalf("the journal was copied, not moved: %v", err)
	}
	if rep, err := db.Verify(context.Background(), ""); err != nil || len(rep.Problems) != 0 {
		t.Fatalf("verify: %v %+v", err, rep.Problems)
	}
}

func TestClosedJournalIsSealedByTheNextAgent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "calm.db")
	db, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	c, f := newJournalSession(t, db, os.Getpid())
	journal := bytes.Repeat([]byte("output line\r\n"), 300_000)
	// The journal is out of reach while this agent runs (as if it died
	// first), so only the next one can take it.
	f.Close()
	os.Rename(f.Name(), f.Name()+".away")
	if _, err := db.SealJournal(c.Incident, c.ID, int64(len(journal)), ""); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.Name(), journal, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err = Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sealed, err := WaitSealed(db, c.Incident+"/"+c.ID, sealWait)
	if err != nil || sealed.State != CaptureSealed || sealed.SHA256 != sum(journal) {
		t.Fatalf("after a restart: %v, %s with sha %s", err, sealed.State, sealed.SHA256)
	}
}

func TestJournalOfAKilledRecorderIsSealedAsItStands(t *testing.T) {
	db := openTestDB(t)
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	c, f := newJournalSession(t, db, gone.Process.Pid)
	journal := []byte("[0.1, \"o\", \"last words\"]\n")
	f.Write(journal)
	if err := db.FollowJournal(c.Incident, c.ID); err != nil {
		t.Fatal(err)
	}
	sealed, err := WaitSealed(db, c.Incident+"/"+c.ID, sealWait)
	if err != nil || sealed.State != CaptureSealed || sealed.SHA256 != sum(journal) || sealed.Recording.JournalSize != int64(len(journal)) {
		t.Fatalf("%v: %+v", err, sealed)
	}
}

func TestSealJournalRefusesAnotherEnd(t *testing.T) {
	db := openTestDB(t)
	c, f := newJournalSession(t, db, os.Getpid())
	f.Write([]byte("0123456789"))
	if _, err := db.SealJournal(c.Incident, c.ID, 10, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := WaitSealed(db, c.Incident+"/"+c.ID, sealWait); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SealJournal(c.Incident, c.ID, 10, ""); err != nil {
		t.Fatalf("sealing again with the same end: %v", err)
	}
	other, _ := newJournalSession(t, db, os.Getpid())
	db.SealJournal(other.Incident, other.ID, 5, "")
	if _, err := db.SealJournal(other.Incident, other.ID, 7, ""); err == nil {
		t.Fatal("a second, different end was accepted")
	}
}

// TestSessionTextIsDerivedAtSealAndSearched: a sealed session's text is
// what a person saw (terminal.DeriveText: colours as SGR, a line redrawn
// after a carriage return in its last state), and search reads it, not the
// stream: the overwritten progress is not found.
func TestSessionTextIsDerivedAtSealAndSearched(t *testing.T) {
	db := openTestDB(t)
	c, f := newJournalSession(t, db, os.Getpid())
	journal := `{"version": 2, "width": 80, "height": 24}` + "\n" +
		`[0.1, "o", "\u001b[31malpha\u001b[0m\r\n"]` + "\n" +
		`[0.2, "o", "progress 50%\rprogress 100%\r\n"]` + "\n" +
		`[0.3, "o", "beta\r\n"]` + "\n"
	f.WriteString(journal)
	if _, err := db.SealJournal(c.Incident, c.ID, int64(len(journal)), ""); err != nil {
		t.Fatal(err)
	}
	sealed, err := WaitSealed(db, c.Incident+"/"+c.ID, sealWait)
	if err != nil || sealed.Text == nil {
		t.Fatalf("sealed without its text: %v %+v", err, sealed)
	}
	want := "\x1b[0;38;5;1malpha\x1b[0m\nprogress 100%\nbeta\n"
	var got bytes.Buffer
	if err := db.WriteText(context.Background(), c.Incident+"/"+c.ID, &got); err != nil || got.String() != want || sealed.Text.Size != int64(len(want)) {
		t.Fatalf("text %q (%v), size %d; want %q", got.String(), err, sealed.Text.Size, want)
	}
	search := func(pattern string) []Match {
		var matches []Match
		db.Search(context.Background(), SearchQuery{Pattern: pattern, Literal: true}, func(m Match) error {
			matches = append(matches, m)
			return nil
		})
		return matches
	}
	if m := search("progress 100%"); len(m) != 1 || m[0].Line != 2 || m[0].Item != c.ID {
		t.Fatalf("search in the derived text: %+v", m)
	}
	if m := search("progress 50%"); len(m) != 0 {
		t.Fatalf("search found what was overwritten before anyone saw it: %+v", m)
	}
}

// TestAgentKilledAfterMovingTheJournalStillCountsTheEvidence: an agent
// killed between moving a session's journal into the evidence folder and
// recording the seal left the journal there; the next seal finds it in
// place, verifies it, and counts it, not "failed".
func TestAgentKilledAfterMovingTheJournalStillCountsTheEvidence(t *testing.T) {
	db := openTestDB(t)
	c, f := newJournalSession(t, db, os.Getpid())
	journal := bytes.Repeat([]byte("output line\n"), 5000)
	f.Write(journal)
	f.Close()
	moved := copyPath(db.opts.EvidenceDir, c.Incident, c.ID)
	os.MkdirAll(filepath.Dir(moved), 0o700)
	if err := os.Rename(f.Name(), moved); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SealJournal(c.Incident, c.ID, int64(len(journal)), ""); err != nil {
		t.Fatal(err)
	}
	sealed, err := WaitSealed(db, c.Incident+"/"+c.ID, sealWait)
	if err != nil || sealed.State != CaptureSealed {
		t.Fatalf("not sealed: %v %+v", err, sealed)
	}
	for _, cp := range sealed.Copies {
		if cp.State != CopyVerified {
			t.Fatalf("the %s copy is %s (%s): the journal already in the evidence folder is good", cp.Kind, cp.State, cp.Error)
		}
	}
}

// TestTextOfAnOlderReadingIsDerivedAgain: a session's text derived by an
// older calm (here: a wide character that wrapped left a blank in its line)
// is derived again at the agent's start; until then readers use the old
// text, and then the new one, whose search lines follow.
func TestTextOfAnOlderReadingIsDerivedAgain(t *testing.T) {
	db := openTestDB(t)
	c, f := newJournalSession(t, db, os.Getpid())
	wrapped := strings.Repeat("a", 79) + "日本"
	journal := `{"version": 2, "width": 80, "height": 24}` + "\n" + `[0.1, "o", "` + wrapped + `\r\n"]` + "\n"
	f.WriteString(journal)
	if _, err := db.SealJournal(c.Incident, c.ID, int64(len(journal)), ""); err != nil {
		t.Fatal(err)
	}
	ref := c.Incident + "/" + c.ID
	if sealed, err := WaitSealed(db, ref, sealWait); err != nil || sealed.Text == nil || sealed.Text.Reading != model.TextReading {
		t.Fatalf("sealed without today's text: %v %+v", err, sealed.Text)
	}
	text := func() string {
		var got bytes.Buffer
		if err := db.WriteText(context.Background(), ref, &got); err != nil {
			t.Fatal(err)
		}
		return got.String()
	}
	if got := text(); got != wrapped+"\n" {
		t.Fatalf("text %q, want %q", got, wrapped+"\n")
	}

	// What an older calm stored: its text in the bucket of reading 0.
	old := strings.Repeat("a", 79) + " 日本\n"
	tw := &textWriter{db: db, incident: c.Incident, bucket: textBucket(c.ID, 0), hash: sha256.New()}
	tw.Write([]byte(old))
	if err := tw.flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.changeCapture(c.Incident, c.ID, func(b *bolt.Bucket, cur *Capture) (bool, error) {
		cur.Text = &DerivedText{Size: int64(len(old)), SHA256: hex.EncodeToString(tw.hash.Sum(nil))}
		return true, deleteChunkBucket(b, textBucket(c.ID, model.TextReading))
	}); err != nil {
		t.Fatal(err)
	}
	if got := text(); got != old {
		t.Fatalf("the older text reads %q, want %q", got, old)
	}

	incidents, _ := db.Incidents()
	db.deriveMissingTexts(incidents)
	now, err := db.Capture(ref)
	if err != nil || now.Text == nil || now.Text.Reading != model.TextReading {
		t.Fatalf("not derived again: %v %+v", err, now.Text)
	}
	if got := text(); got != wrapped+"\n" {
		t.Fatalf("text derived again %q, want %q", got, wrapped+"\n")
	}
	if !db.textSound(now) {
		t.Fatal("the text derived again does not read back as recorded")
	}
	db.view(func(tx *bolt.Tx) error {
		b, _ := incidentBucket(tx, c.Incident)
		if b.Bucket(bucketChunks).Bucket([]byte(textBucket(c.ID, 0))) != nil {
			t.Error("the older text is still stored")
		}
		return nil
	})
	var found []Match
	for deadline := time.Now().Add(sealWait); len(found) == 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		db.Search(context.Background(), SearchQuery{Pattern: "a日本", Literal: true}, func(m Match) error {
			found = append(found, m)
			return nil
		})
	}
	if len(found) != 1 || found[0].Line != 1 {
		t.Fatalf("search for the joined text: %+v", found)
	}
}

// TestLiveSessionShowAndSearchNumberLinesAlike: while a session records,
// its text as shown and its lines as searched are both what the emulator
// makes of the output so far (a full-screen program's screen between its
// markers), and they stay so at seal.
func TestLiveSessionShowAndSearchNumberLinesAlike(t *testing.T) {
	db := openTestDB(t)
	c, f := newJournalSession(t, db, os.Getpid())
	ref := c.Incident + "/" + c.ID
	var out strings.Builder
	for i := 1; i <= 5; i++ {
		fmt.Fprintf(&out, "$ line %d\r\n", i)
	}
	out.WriteString("\x1b[?1049h\x1b[H\x1b[2J")
	for i := 1; i <= 30; i++ {
		fmt.Fprintf(&out, "page %d\r\n", i)
	}
	out.WriteString("\x1b[?1049l$ echo marker\r\nmarker\r\n$ ")
	raw, _ := json.Marshal(out.String())
	journal := `{"version": 2, "width": 80, "height": 24}` + "\n" + `[0.1, "o", ` + string(raw) + "]\n"
	if err := db.FollowJournal(c.Incident, c.ID); err != nil {
		t.Fatal(err)
	}
	f.WriteString(journal)
	waitContent(t, db, ref, []byte(journal))
	lineOf := func(text string) int {
		for i, l := range strings.Split(text, "\n") {
			if string(sanitize.Text([]byte(l))) == "marker" {
				return i + 1
			}
		}
		return 0
	}
	check := func(when string) {
		var shown bytes.Buffer
		if err := db.WriteText(context.Background(), ref, &shown); err != nil {
			t.Fatal(err)
		}
		var found []Match
		if err := db.Search(context.Background(), SearchQuery{Pattern: "^marker$", Items: []string{ref}}, func(m Match) error { found = append(found, m); return nil }); err != nil {
			t.Fatal(err)
		}
		if n := lineOf(shown.String()); n == 0 || len(found) != 1 || found[0].Line != int64(n) {
			t.Fatalf("%s: show has marker on line %d, search found %+v:\n%s", when, n, found, shown.String())
		}
	}
	check("recording")
	if _, err := db.SealJournal(c.Incident, c.ID, int64(len(journal)), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := WaitSealed(db, ref, sealWait); err != nil {
		t.Fatal(err)
	}
	check("sealed")
}
