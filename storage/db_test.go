package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"calm/model"
	"calm/sanitize"
)

// openTestDB opens a store under t.TempDir() in strict mode and checks the
// file's consistency when the test ends, as bbolt's own tests do.
func openTestDB(t testing.TB, mirrors ...string) *DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "calm.db")
	db, err := Open(Options{Path: path, Mirrors: mirrors, StrictMode: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		checkConsistent(t, path)
	})
	return db
}

func checkConsistent(t testing.TB, path string) {
	t.Helper()
	b, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("reopen %s: %v", path, err)
	}
	defer b.Close()
	if err := b.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			t.Errorf("consistency: %v", err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// save stores data as a capture through a CaptureWriter, as tee does.
func save(t testing.TB, s Store, title string, data []byte) Capture {
	t.Helper()
	w, err := model.NewCaptureWriter(s, "", NewCapture{Title: title, Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	// Odd write sizes, so chunk boundaries fall mid-write.
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 300_001)
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	c, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func content(t testing.TB, s Store, ref string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := s.WriteContent(context.Background(), ref, 0, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sum(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

func TestCapturesStoreAnyBytesExactly(t *testing.T) {
	db := openTestDB(t)
	random := make([]byte, 3<<20+17)
	rand.Read(random)
	longLine := bytes.Repeat([]byte("x"), 10<<20)
	cases := map[string][]byte{
		"empty":        {},
		"nul bytes":    []byte("a\x00b\x00\x00c\n"),
		"invalid utf8": []byte("caf\xc3 \xff\xfe\x80 ok\n"),
		"10 MB line":   longLine,
		"binary":       random,
		"escapes":      []byte("\x1b]52;c;aGk=\x07\x1b[6n\x1bP+q\x1b\\\n"),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			c := save(t, db, name, data)
			if c.State != CaptureSealed || c.Size != int64(len(data)) || c.SHA256 != sum(data) {
				t.Fatalf("capture %+v, want %d bytes with sha256 %s", c, len(data), sum(data))
			}
			if got := content(t, db, c.Incident+"/"+c.ID); !bytes.Equal(got, data) {
				t.Fatalf("read back %d bytes, want %d exactly", len(got), len(data))
			}
			if c.VerifiedCopies() != 2 {
				t.Fatalf("copies %+v, want store and evidence verified", c.Copies)
			}
			ev, err := os.ReadFile(c.Copies[1].Location)
			if err != nil || !bytes.Equal(ev, data) {
				t.Fatalf("evidence file differs (%v)", err)
			}
		})
	}
}

func TestFirstCaptureOpensAnIncident(t *testing.T) {
	db := openTestDB(t)
	if _, err := db.Incident(""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("fresh store has a current incident? %v", err)
	}
	c := save(t, db, "", []byte("hello\n"))
	inc, err := db.Incident("")
	if err != nil || inc.ID != c.Incident || !strings.HasPrefix(inc.Title, "incident at ") {
		t.Fatalf("incident %+v (%v), capture in %s", inc, err, c.Incident)
	}
	if c.ID != "c1" || c.Title != "test at "+c.Created.Format("15:04:05") {
		t.Fatalf("capture %s titled %q", c.ID, c.Title)
	}
}

func TestIncidentLifecycleAndPrefixes(t *testing.T) {
	db := openTestDB(t)
	a, err := db.NewIncident("orders wiped")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := db.NewIncident("second")
	if cur, _ := db.Incident(""); cur.ID != b.ID {
		t.Fatalf("current is %s, want the newest %s", cur.ID, b.ID)
	}
	_, suffix, _ := strings.Cut(a.ID, "-")
	if got, err := db.UseIncident(suffix[:3]); err != nil || got.ID != a.ID {
		t.Fatalf("use by suffix prefix: %v %v", got.ID, err)
	}
	if _, err := db.Incident(a.ID[:4]); !errors.Is(err, ErrAmbiguous) {
		t.Fatalf("a date prefix shared by two incidents: %v, want ambiguous", err)
	}
	if _, err := db.Incident("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown incident: %v", err)
	}
	closed, err := db.CloseIncident(a.ID)
	if err != nil || closed.IsOpen() {
		t.Fatalf("close: %+v %v", closed, err)
	}
	// A capture with the current incident closed opens a new one.
	c := save(t, db, "after close", []byte("x"))
	if c.Incident == a.ID {
		t.Fatal("captured into a closed incident")
	}
	events, _ := db.Events(a.ID)
	if len(events) != 2 || events[0].Kind != EventOpen || events[1].Kind != EventClose {
		t.Fatalf("timeline %+v", events)
	}
}

func TestChunksAreIdempotentAndMaySkipAhead(t *testing.T) {
	db := openTestDB(t)
	c, err := db.CreateCapture("", NewCapture{Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	parts := [][]byte{[]byte("zero "), []byte("one "), []byte("two")}
	for _, n := range []uint64{2, 0, 0, 2} { // out of order, twice
		if _, err := db.PutChunk(c.Incident, c.ID, n, parts[n]); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := db.WaitCommitted(c.Incident, c.ID, 3); got != 1 {
		t.Fatalf("committed %d with chunk 1 missing, want 1", got)
	}
	all := []byte("zero one two")
	if _, err := db.SealCapture(c.Incident, c.ID, Seal{Chunks: 3, Size: int64(len(all)), SHA256: sum(all)}); !errors.Is(err, ErrConflict) {
		t.Fatalf("sealed with a chunk missing: %v", err)
	}
	db.PutChunk(c.Incident, c.ID, 1, parts[1])
	if got, _ := db.WaitCommitted(c.Incident, c.ID, 3); got != 3 {
		t.Fatalf("committed %d, want 3", got)
	}
	bad := Seal{Chunks: 3, Size: int64(len(all)), SHA256: sum([]byte("other"))}
	if _, err := db.SealCapture(c.Incident, c.ID, bad); !errors.Is(err, ErrConflict) {
		t.Fatalf("sealed with a wrong sha256: %v", err)
	}
	good := Seal{Chunks: 3, Size: int64(len(all)), SHA256: sum(all)}
	sealed, err := db.SealCapture(c.Incident, c.ID, good)
	if err != nil {
		t.Fatal(err)
	}
	again, err := db.SealCapture(c.Incident, c.ID, good)
	if err != nil || again.Sealed != sealed.Sealed {
		t.Fatalf("sealing twice is not idempotent: %v", err)
	}
	if got := content(t, db, c.Incident+"/"+c.ID); !bytes.Equal(got, all) {
		t.Fatalf("content %q", got)
	}
}

func TestVerifyNamesEveryBadCopy(t *testing.T) {
	mirror := t.TempDir()
	db := openTestDB(t, mirror)
	data := []byte("the only copy of the original document\n")
	c := save(t, db, "doc", data)
	if c.VerifiedCopies() != 3 {
		t.Fatalf("copies %+v, want 3 verified", c.Copies)
	}
	rep, err := db.Verify(context.Background(), "")
	if err != nil || len(rep.Problems) != 0 || rep.Copies != 3 {
		t.Fatalf("clean verify: %+v %v", rep, err)
	}
	evidence, mirrored := c.Copies[1].Location, c.Copies[2].Location
	flip(t, evidence)
	os.Remove(mirrored)
	rep, err = db.Verify(context.Background(), c.Incident)
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, p := range rep.Problems {
		states[p.Copy.Location] = p.Copy.State
	}
	if states[evidence] != CopyMismatch || states[mirrored] != CopyMissing {
		t.Fatalf("problems %+v", rep.Problems)
	}
	got, _ := db.Capture(c.Incident + "/" + c.ID)
	if got.VerifiedCopies() != 1 {
		t.Fatalf("recorded copies %+v, want only the store verified", got.Copies)
	}
}

func flip(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x01
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestFilesArePrivate(t *testing.T) {
	mirror := filepath.Join(t.TempDir(), "mirror")
	db := openTestDB(t, mirror)
	c := save(t, db, "secret", []byte("password=hunter2\n"))
	paths := []string{db.Path(), c.Copies[1].Location, c.Copies[2].Location,
		filepath.Join(filepath.Dir(c.Copies[1].Location), "SHA256SUMS")}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v, want 0600", p, fi.Mode(), err)
		}
	}
	for _, p := range []string{filepath.Dir(c.Copies[1].Location), filepath.Dir(c.Copies[2].Location), mirror} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v %v, want 0700", p, fi.Mode(), err)
		}
	}
}

// TestStoreFolderIsMadePrivateButNotTakenOver: the store's folder is made
// 0700 when calm makes it, or when it is calm's by name; one the person
// named that was there before is left as it was (calm made /tmp 0700 for a
// store put there, locking everyone else out); and one others can write in
// is refused: they could put files where calm writes its own.
func TestStoreFolderIsMadePrivateButNotTakenOver(t *testing.T) {
	root := t.TempDir()
	shared := filepath.Join(root, "shared")
	os.Mkdir(shared, 0o755)
	os.Chmod(shared, 0o777|os.ModeSticky)
	theirs := filepath.Join(root, "theirs")
	os.Mkdir(theirs, 0o755)
	os.Chmod(theirs, 0o755)
	own := filepath.Join(root, "data", "calm")
	os.MkdirAll(own, 0o755)
	made := filepath.Join(root, "new", "store")
	for dir, want := range map[string]os.FileMode{theirs: 0o755, own: 0o700, made: 0o700} {
		db, err := Open(Options{Path: filepath.Join(dir, "calm.db")})
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
		fi, err := os.Stat(dir)
		if err != nil || fi.Mode()&(os.ModePerm|os.ModeSticky) != want {
			t.Errorf("%s: %v %v, want %v", dir, fi.Mode(), err, want)
		}
		if fi, err := os.Stat(filepath.Join(dir, "calm.db")); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("the store in %s: %v %v, want 0600", dir, fi.Mode(), err)
		}
	}
	_, err := Open(Options{Path: filepath.Join(shared, "calm.db")})
	if err == nil || !strings.Contains(err.Error(), "is open to others (mode 1777)") {
		t.Fatalf("a store in a folder others can write: %v", err)
	}
	if fi, _ := os.Stat(shared); fi.Mode()&(os.ModePerm|os.ModeSticky) != 0o777|os.ModeSticky {
		t.Fatalf("the shared folder is now %v", fi.Mode())
	}
	if _, err := os.Stat(filepath.Join(shared, "calm.db")); err == nil {
		t.Fatal("a store was made in the shared folder")
	}
}

func TestSymlinkPlantedForACopyIsNotFollowed(t *testing.T) {
	db := openTestDB(t)
	c := save(t, db, "one", []byte("one\n"))
	target := filepath.Join(t.TempDir(), "stolen")
	os.WriteFile(target, []byte("one\n"), 0o644)
	os.Remove(c.Copies[1].Location)
	if err := os.Symlink(target, c.Copies[1].Location); err != nil {
		t.Fatal(err)
	}
	rep, _ := db.Verify(context.Background(), "")
	if len(rep.Problems) != 1 || rep.Problems[0].Copy.State == CopyVerified {
		t.Fatalf("a symlinked copy passed verification: %+v", rep)
	}
}

func TestSearchFindsLinesAcrossChunks(t *testing.T) {
	db := openTestDB(t)
	var buf bytes.Buffer
	for i := 0; i < 200_000; i++ {
		buf.WriteString("line filler filler filler\n")
		if i == 123_456 {
			buf.WriteString("db.users.replaceOne({_id: ObjectId(\"65f\")}, {\x1b[31mname\x1b[0m: 'x'})\n")
		}
	}
	save(t, db, "big", buf.Bytes())
	var got []Match
	err := db.Search(context.Background(), SearchQuery{Pattern: "REPLACEONE({_id", Literal: true, IgnoreCase: true}, func(m Match) error {
		got = append(got, m)
		return nil
	})
	if err != nil || len(got) != 1 || got[0].Line != 123_458 || !strings.Contains(got[0].Text, "{name: 'x'}") {
		t.Fatalf("matches %+v (%v)", got, err)
	}
	if err := db.Search(context.Background(), SearchQuery{Pattern: "(unclosed"}, func(Match) error { return nil }); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad regexp: %v", err)
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "calm.db")
	db, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	db.bolt.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, []byte("99")) })
	db.Close()
	_, err = Open(Options{Path: path})
	if err == nil || !strings.Contains(err.Error(), "newer") || !strings.Contains(err.Error(), "upgrade calm") {
		t.Fatalf("opening a newer store: %v", err)
	}
}

func TestDamagedFilesGiveAnErrorNotAPanic(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	os.WriteFile(garbage, bytes.Repeat([]byte{0xAB}, 64<<10), 0o600)
	if _, err := Open(Options{Path: garbage}); err == nil || !strings.Contains(err.Error(), "calm doctor") {
		t.Fatalf("garbage store: %v", err)
	}
	good := filepath.Join(dir, "good.db")
	db, err := Open(Options{Path: good})
	if err != nil {
		t.Fatal(err)
	}
	save(t, db, "x", bytes.Repeat([]byte("data\n"), 100_000))
	db.Close()
	data, _ := os.ReadFile(good)
	os.WriteFile(good, data[:4096+100], 0o600) // truncated mid-meta
	if _, err := Open(Options{Path: good}); err == nil {
		t.Fatal("a truncated store opened")
	}
}

func TestWriteContentFromAnOffset(t *testing.T) {
	db := openTestDB(t)
	data := make([]byte, 3<<20+12345)
	rand.Read(data)
	c := save(t, db, "offsets", data)
	ref := c.Incident + "/" + c.ID
	for _, from := range []int64{0, 1, 1<<20 - 1, 1 << 20, 1<<20 + 1, 3 << 20, int64(len(data)) - 1, int64(len(data)), int64(len(data)) + 10} {
		var buf bytes.Buffer
		if err := db.WriteContent(context.Background(), ref, from, &buf); err != nil {
			t.Fatal(err)
		}
		want := data[min(from, int64(len(data))):]
		if !bytes.Equal(buf.Bytes(), want) {
			t.Fatalf("from %d: got %d bytes, want the last %d", from, buf.Len(), len(want))
		}
	}
}

// Searching chunks in parallel must find exactly the lines, with exactly the
// numbers, that reading the capture line by line finds.
func TestParallelSearchMatchesLineByLine(t *testing.T) {
	db := openTestDB(t)
	r := mrand.New(mrand.NewPCG(7, 7))
	var b bytes.Buffer
	for b.Len() < 5<<20 {
		switch r.IntN(8) {
		case 0:
			b.WriteString("\n") // empty lines
		case 1:
			b.WriteString("conn\x1b[01;31mection\x1b[m reset by peer\n") // split by colour
		case 2:
			b.Write(bytes.Repeat([]byte("x"), r.IntN(3<<20))) // lines across chunks
			b.WriteString(" connection tail\n")
		case 3:
			b.WriteString("progress 10%\rconnection 100%\n")
		default:
			fmt.Fprintf(&b, "line %d connection ok\n", r.IntN(1000))
		}
	}
	b.WriteString("last connection without newline")
	c := save(t, db, "corpus", b.Bytes())
	var want []Match
	for i, line := range bytes.Split(b.Bytes(), []byte("\n")) {
		text := sanitize.AppendSearchText(nil, line)
		if bytes.Contains(text, []byte("connection")) {
			want = append(want, Match{Incident: c.Incident, Item: c.ID, Line: int64(i + 1), Text: string(text)})
		}
	}
	var got []Match
	if err := db.Search(context.Background(), SearchQuery{Pattern: "connection", Literal: true}, func(m Match) error { got = append(got, m); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d matches, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].Line != want[i].Line || got[i].Text != want[i].Text {
			t.Fatalf("match %d: line %d %.40q, want line %d %.40q", i, got[i].Line, got[i].Text, want[i].Line, want[i].Text)
		}
	}
	// A limit stops early and cleanly.
	n := 0
	db.Search(context.Background(), SearchQuery{Pattern: "connection", Literal: true, Limit: 3}, func(Match) error { n++; return nil })
	if n != 3 {
		t.Fatalf("limit 3 gave %d", n)
	}
}

// A commit's notice that reaches the copier after the capture is sealed
// must not start a second copy of it (it used to: a whole re-read of the
// capture and a temp file left in the evidence folder).
func TestLateCommitNoticeStartsNoCopy(t *testing.T) {
	db := openTestDB(t)
	data := bytes.Repeat([]byte("a line of output\n"), 300_000) // several chunks
	c := save(t, db, "big", data)
	key := progressKey(c.Incident, c.ID)
	if cp := db.openCopier(key); cp != nil {
		t.Fatal("a sealed capture got a copier")
	}
	db.copyQueue <- key
	db.commitPending()
	time.Sleep(100 * time.Millisecond) // the copy loop has taken the notice
	left, _ := filepath.Glob(filepath.Join(db.opts.EvidenceDir, c.Incident, ".*.tmp-*"))
	if len(left) != 0 {
		t.Fatalf("temp copies left behind: %v", left)
	}
}

// A reader that commits while it walks a capture's chunks (as deriving a
// session's text does, through a pipe) must not hold a read transaction over
// the commit: a commit that grows the file's map waits for every reader, and
// every later reader waits for it. The store's map starts small here so the
// commit has to grow it.
func TestCommitDuringAChunkWalkGrowsTheMap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "calm.db")
	db, err := Open(Options{Path: path, mmapSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("a line of output that compresses well\n"), 100_000)
	c := save(t, db, "walked", data)
	noise := make([]byte, 8<<20) // incompressible: the file must grow past its map
	rand.Read(noise)

	done := make(chan error, 1)
	go func() {
		var got []byte
		err := db.eachChunk(c.Incident, c.ID, func(n uint64, chunk []byte) error {
			got = append(got, chunk...)
			if n > 0 {
				return nil
			}
			w, err := model.NewCaptureWriter(db, "", NewCapture{Title: "written meanwhile", Source: "test"})
			if err != nil {
				return err
			}
			if _, err := w.Write(noise); err != nil {
				return err
			}
			_, err = w.Close()
			return err
		})
		if err == nil && !bytes.Equal(got, data) {
			err = fmt.Errorf("walk read %d bytes, want the %d stored", len(got), len(data))
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		// Not closed: closing would wait for the stuck transactions too.
		t.Fatal("a commit inside a chunk walk waited for the walk's own read transaction: deadlock")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, path)
}

// A store whose list of incidents is gone (here: a store that never had
// one) still salvages every sealed capture from its verified evidence copy.
func TestSalvageRestoresWhatTheStoreLostFromEvidence(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(Options{Path: filepath.Join(dir, "calm.db")})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	for i := range 3 {
		data := bytes.Repeat(fmt.Appendf(nil, "capture %d line\n", i), 50_000+i)
		c := save(t, db, fmt.Sprint("capture ", i), data)
		want[c.Incident+"/"+c.ID] = data
	}
	inc, err := db.Incident("")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.AddNote(inc.ID, "a note to keep"); err != nil {
		t.Fatal(err)
	}
	timeline, err := db.Events(inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.db")
	e, err := Open(Options{Path: empty, EvidenceDir: filepath.Join(dir, "none")})
	if err != nil {
		t.Fatal(err)
	}
	e.Close()

	to := filepath.Join(dir, "salvaged", "calm.db")
	rep, err := Salvage(empty, to, filepath.Join(dir, "evidence"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Captures != 3 || len(rep.Restored) != 3 {
		t.Fatalf("salvaged %d captures, restored %v; want all 3 from evidence", rep.Captures, rep.Restored)
	}
	s, err := Open(Options{Path: to})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for ref, data := range want {
		if got := content(t, s, ref); !bytes.Equal(got, data) {
			t.Errorf("%s: %d bytes after salvage, want %d", ref, len(got), len(data))
		}
	}
	// The timeline comes back from its copy, and with it the incident's
	// title; the newest incident is the current one again.
	got, err := s.Incident("")
	if err != nil || got.ID != inc.ID || got.Title != inc.Title {
		t.Errorf("current incident after salvage: %+v, %v; want %+v", got, err, inc)
	}
	events, err := s.Events(inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != len(timeline) {
		t.Fatalf("%d events after salvage, want the %d of the timeline", len(events), len(timeline))
	}
	for i := range events {
		if events[i].Seq != timeline[i].Seq || events[i].Text != timeline[i].Text || !events[i].Time.Equal(timeline[i].Time) {
			t.Errorf("event %d after salvage: %+v, want %+v", i, events[i], timeline[i])
		}
	}
}

// Whoever sees a capture sealed (a verify, a reviewer) finds it in every
// copy folder's SHA256SUMS already: the manifest is written before the record.
func TestSealedCaptureIsInEverySumsAlready(t *testing.T) {
	db := openTestDB(t, filepath.Join(t.TempDir(), "mirror"))
	first := save(t, db, "first", []byte("first\n"))
	var sums []string
	for _, cp := range first.Copies[1:] {
		sums = append(sums, filepath.Join(filepath.Dir(cp.Location), "SHA256SUMS"))
	}
	stop := make(chan struct{})
	failures := make(chan string, 1)
	watched := make(chan int)
	go func() {
		checked := map[string]bool{}
		defer func() { watched <- len(checked) }()
		for done := false; !done; {
			select {
			case <-stop:
				done = true // one more look, at the last capture
			default:
			}
			caps, _ := db.Captures(first.Incident)
			for _, c := range caps {
				if c.State != CaptureSealed || checked[c.ID] {
					continue
				}
				checked[c.ID] = true
				line := c.SHA256 + "  " + FileName(c.ID) + "\n"
				for _, path := range sums {
					if data, _ := os.ReadFile(path); !strings.Contains(string(data), line) {
						select {
						case failures <- fmt.Sprintf("%s is sealed, but %s has no line for it", c.ID, path):
						default:
						}
					}
				}
			}
		}
	}()
	for i := range 8 {
		save(t, db, fmt.Sprint("capture ", i), bytes.Repeat([]byte{byte('a' + i)}, 1000))
	}
	close(stop)
	if n := <-watched; n != 9 {
		t.Fatalf("the watcher saw %d sealed captures, want 9", n)
	}
	select {
	case f := <-failures:
		t.Fatal(f)
	default:
	}
}

// TestCheckBesideWritesFindsNothingWrong: doctor's consistency check while
// a capture is being written (commits beside it) reports a sound store,
// however often it runs, and never takes the process down.
func TestCheckBesideWritesFindsNothingWrong(t *testing.T) {
	db := openTestDB(t)
	c := newCapture(t, db, NewCapture{Title: "t", Source: "test"})
	stop := make(chan struct{})
	wrote := make(chan error, 1)
	go func() {
		chunk := bytes.Repeat([]byte("a line of output written beside the check\n"), 1500)
		for n := uint64(0); ; n++ {
			select {
			case <-stop:
				wrote <- nil
				return
			default:
			}
			if _, err := db.PutChunk(c.Incident, c.ID, n, chunk); err != nil {
				wrote <- err
				return
			}
			if _, err := db.WaitCommitted(c.Incident, c.ID, n+1); err != nil {
				wrote <- err
				return
			}
		}
	}()
	for range 40 {
		rep, err := db.Check()
		if err != nil || len(rep.Problems) > 0 {
			close(stop)
			t.Fatalf("check beside writes: %v %v", err, rep.Problems)
		}
	}
	close(stop)
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
}

// TestSalvageNamesTheNewStoreOnlyWhenWhole: while a salvage works no file
// has the new store's name, so one interrupted (Ctrl-C, a full disk) leaves
// no store that looks finished; once done the store is there, and its work
// folder is gone.
func TestSalvageNamesTheNewStoreOnlyWhenWhole(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "calm.db")
	db, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("the document as it was\n")
	c := save(t, db, "the document", data)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	to := filepath.Join(dir, "salvaged", "calm.db")
	steps, early := 0, []string{}
	rep, err := Salvage(path, to, filepath.Join(dir, "evidence"), func(step string) {
		steps++
		if _, err := os.Stat(to); err == nil {
			early = append(early, step)
		}
	})
	if err != nil || rep.Captures != 1 {
		t.Fatalf("salvage: %+v, %v", rep, err)
	}
	if steps == 0 || len(early) > 0 {
		t.Fatalf("%d steps; the new store had its name already at %q", steps, early)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "salvaged", ".salvage-*"))
	if len(left) > 0 {
		t.Fatalf("the salvage's work folder is left: %v", left)
	}
	s, err := Open(Options{Path: to})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := content(t, s, c.Incident+"/"+c.ID); !bytes.Equal(got, data) {
		t.Fatalf("the salvaged capture holds %q", got)
	}
}

// A store whose list of incidents is damaged salvages every incident, capture and note from the evidence folders, and
// says the list was damaged, not that something was lost.
func TestSalvageOfADamagedListOfIncidentsLosesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "calm.db")
	db, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	notes := map[string]string{}
	for i := range 40 { // enough incidents that their list takes pages of its own
		inc, err := db.NewIncident(fmt.Sprintf("incident %d %s", i, strings.Repeat("x", 200)))
		if err != nil {
			t.Fatal(err)
		}
		data := fmt.Appendf(nil, "capture of incident %d\n", i)
		c := save(t, db, fmt.Sprint("capture ", i), data)
		want[c.Incident+"/"+c.ID] = data
		notes[inc.ID] = fmt.Sprint("note ", i)
		if _, err := db.AddNote(inc.ID, notes[inc.ID]); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	// Garbage over the root page of the list.
	b, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var page, size int64
	b.View(func(tx *bolt.Tx) error {
		page, size = int64(tx.Bucket(bucketIncidents).Root()), int64(tx.DB().Info().PageSize)
		return nil
	})
	b.Close()
	if page == 0 {
		t.Fatal("the list of incidents has no page of its own")
	}
	f, _ := os.OpenFile(path, os.O_WRONLY, 0)
	f.WriteAt(bytes.Repeat([]byte{0xAB}, int(size)), page*size)
	f.Close()

	to := filepath.Join(dir, "salvaged", "calm.db")
	rep, err := Salvage(path, to, filepath.Join(dir, "evidence"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Damaged) != 1 || !strings.Contains(rep.Damaged[0], "the list of incidents") || len(rep.Lost) != 0 {
		t.Fatalf("damaged %q, lost %q; want the list of incidents damaged and nothing lost", rep.Damaged, rep.Lost)
	}
	s, err := Open(Options{Path: to})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for ref, data := range want {
		if got := content(t, s, ref); !bytes.Equal(got, data) {
			t.Errorf("%s: %q after salvage, want %q", ref, got, data)
		}
	}
	for inc, note := range notes {
		events, err := s.Events(inc)
		if err != nil || !slices.ContainsFunc(events, func(e Event) bool { return e.Text == note }) {
			t.Errorf("incident %s lacks its note %q after salvage (%v)", inc, note, err)
		}
	}
}

// A store that found damage and refuses writes says so on every answer
// (the agent's warning): reads still list captures and their copies, and a
// status that showed them verified looked whole.
func TestDamagedStoreWarnsOnEveryAnswer(t *testing.T) {
	db := openTestDB(t)
	save(t, db, "before", []byte("orders\n"))
	<-db.checked
	if w := db.Warning(); w != "" {
		t.Fatalf("a sound store warns: %q", w)
	}
	db.markDamaged(fmt.Errorf("%w: page 4 says it is page 87", ErrDamaged))
	if w := db.Warning(); !strings.Contains(w, "page 4 says it is page 87") || !strings.Contains(w, "writing is refused") || !strings.Contains(w, "calm doctor") {
		t.Fatalf("a damaged store's warning: %q", w)
	}
}
