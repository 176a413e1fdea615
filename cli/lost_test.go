package cli

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDeletedStoreIsNotAFreshStart: a store deleted while no agent runs is
// not silently replaced by an empty one: every command says so in one line,
// and doctor names what the evidence holds and exits 1.
func TestDeletedStoreIsNotAFreshStart(t *testing.T) {
	t.Parallel()
	slow(t)
	w := newWorld(t)
	w.ok(nil, "incident", "new", "before the loss")
	w.ok([]byte("the only copy\n"), "tee", "orig")
	w.stopAgent()
	if err := os.Remove(w.storePath()); err != nil {
		t.Fatal(err)
	}
	_, errs, _ := w.run(nil, "status")
	if !strings.Contains(errs, "WARNING") || !strings.Contains(errs, "calm doctor --salvage") {
		t.Fatalf("status on a lost store says nothing of it: %q", errs)
	}
	// No match in a store that lost what its evidence holds is no answer.
	if _, errs, code := w.run(nil, "search", "the only copy"); code != 2 || !strings.Contains(errs, "does not hold everything") {
		t.Fatalf("search on a lost store: exit %d: %q", code, errs)
	}
	out, _, code := w.run(nil, "doctor")
	if code != 1 || !strings.Contains(out, "which the store does not have") {
		t.Fatalf("doctor on a lost store: exit %d:\n%s", code, out)
	}
	// verify read the copies of nothing: that is no "ok".
	if out, errs, code := w.run(nil, "verify"); code != 1 || !strings.Contains(errs, "their copies were not read") || strings.Contains(out, "ok:") || !strings.HasPrefix(out, "LOST: ") {
		t.Fatalf("verify on a lost store: exit %d:\n%s%s", code, out, errs)
	}
	// An empty file in its place is the same loss.
	w.stopAgent()
	os.Remove(w.storePath())
	os.WriteFile(w.storePath(), nil, 0o600)
	if _, errs, _ := w.run([]byte("x\n"), "tee", "after"); !strings.Contains(errs, "WARNING") {
		t.Fatalf("tee on an emptied store says nothing of it: %q", errs)
	}
}

// TestStoreDeletedUnderARunningAgentIsKept: deleting calm.db while the
// agent has it open would lose everything at the agent's exit; the agent
// notices, writes what it holds back in place, and the next command sees
// every capture.
func TestStoreDeletedUnderARunningAgentIsKept(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok(nil, "incident", "new", "deleted under the agent")
	w.ok([]byte("kept\n"), "tee", "kept")
	if err := os.Remove(w.storePath()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(w.storePath()); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := w.ok(nil, "show", "c1"); got != "kept\n" {
		t.Fatalf("after the store was deleted under the agent, c1 is %q", got)
	}
}

// TestRolledBackTransactionIsNamedByDoctor damages the newer of bbolt's two
// meta pages: bbolt silently falls back to the older one, losing the last
// transaction (a note). The timeline copy still has it; doctor names it.
func TestRolledBackTransactionIsNamedByDoctor(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok(nil, "incident", "new", "rollback")
	w.ok(nil, "note", "first note")
	w.ok(nil, "note", "the note that will be rolled back")
	w.stopAgent()
	f, err := os.OpenFile(w.storePath(), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	var meta [2][80]byte
	pageSize := int64(os.Getpagesize())
	for i := range meta {
		f.ReadAt(meta[i][:], int64(i)*pageSize)
	}
	// Page header (16) then magic, version, page size, flags, root (16),
	// freelist, pgid, txid.
	txid := func(m [80]byte) uint64 { return binary.LittleEndian.Uint64(m[64:72]) }
	newer := 0
	if txid(meta[1]) > txid(meta[0]) {
		newer = 1
	}
	f.WriteAt([]byte{0xde, 0xad}, int64(newer)*pageSize+16) // its magic
	f.Close()
	out, _, code := w.run(nil, "doctor")
	if code != 1 || !strings.Contains(out, "not in the store (rolled back?)") {
		t.Fatalf("doctor after a rolled-back transaction: exit %d:\n%s", code, out)
	}
	// The store numbers its next event as the one it lost: the lost note
	// is still named, a salvage puts it back under a new number, and the
	// salvaged store is whole, with nothing more to salvage.
	w.ok(nil, "note", "written after the rollback")
	out, _, code = w.run(nil, "doctor")
	if code != 1 || !strings.Contains(out, "the note that will be rolled back) is in timeline.jsonl but not in the store") {
		t.Fatalf("doctor after a note took the lost one's number: exit %d:\n%s", code, out)
	}
	salvaged := filepath.Join(t.TempDir(), "salvaged.db")
	if out, errs, code := w.run(nil, "doctor", "--salvage", salvaged); code != 0 || !strings.Contains(out, "use it: calm --store "+salvaged) || strings.Contains(out, "CALM_HOME") {
		// CALM_HOME would name a calm.db beside it, a store that is not this one.
		t.Fatalf("salvage into salvaged.db: exit %d: %s%s", code, out, errs)
	}
	w.stopAgent()
	if err := os.Rename(salvaged, w.storePath()); err != nil {
		t.Fatal(err)
	}
	out, _, code = w.run(nil, "doctor")
	if strings.Contains(out, "not in the store") || strings.Contains(out, "timeline.jsonl") {
		t.Fatalf("doctor on the salvaged store still finds the timeline short (exit %d):\n%s", code, out)
	}
	text := w.ok(nil, "export", "--format", "txt")
	for _, note := range []string{"first note", "the note that will be rolled back", "written after the rollback"} {
		if !strings.Contains(text, note) {
			t.Fatalf("the salvaged incident lacks the note %q:\n%s", note, text)
		}
	}
}

// TestEditedTimelineLineIsTheCopysFault: a line of timeline.jsonl changed
// by hand says something the store's event with its number and time does
// not. That is the copy's fault, not a store that lost an event: doctor
// says so, with no salvage to run, and 'calm verify --repair' writes the
// store's event back over it, once.
func TestEditedTimelineLineIsTheCopysFault(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	id := strings.Fields(w.ok(nil, "incident", "new", "edited timeline"))[0]
	w.ok(nil, "note", "the note as written")
	copyPath := filepath.Join(w.home, "evidence", id, "timeline.jsonl")
	data, err := os.ReadFile(copyPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "the note as written") {
		t.Fatalf("the timeline copy lacks the note:\n%s", data)
	}
	w.stopAgent() // its rounds would mend the copy before doctor looks
	if err := os.WriteFile(copyPath, []byte(strings.Replace(string(data), "the note as written", "a note never written", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, code := w.run(nil, "doctor")
	if code != 1 || !strings.Contains(out, "changed since it was written (edited?)") {
		t.Fatalf("doctor on an edited timeline line: exit %d:\n%s", code, out)
	}
	if strings.Contains(out, "rolled back") || strings.Contains(out, "--salvage") {
		t.Fatalf("doctor takes an edited line for events the store lost:\n%s", out)
	}
	w.ok(nil, "verify", "--repair")
	data, _ = os.ReadFile(copyPath)
	if !strings.Contains(string(data), "the note as written") || strings.Contains(string(data), "a note never written") {
		t.Fatalf("after verify --repair the copy is:\n%s", data)
	}
	if out, _, code := w.run(nil, "doctor"); code != 0 {
		t.Fatalf("doctor after the repair: exit %d:\n%s", code, out)
	}
}

// TestDoctorSaysTheStoreWasDeletedUnderTheAgent: while the agent holds a
// store file deleted from its path, doctor says so in one line, with what
// to do, and exits 1, never "ok" about a file that is not there. Here the
// agent cannot write it back (a symlink to nowhere holds the name), so
// doctor says it holds the only copy; once the name is free it writes it
// back, and nothing is lost.
func TestDoctorSaysTheStoreWasDeletedUnderTheAgent(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok(nil, "incident", "new", "deleted under the agent")
	w.ok([]byte("kept\n"), "tee", "kept")
	if err := os.Remove(w.storePath()); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(w.home, "nowhere", "calm.db"), w.storePath()); err != nil {
		t.Fatal(err)
	}
	pid := w.agentPID()
	// Once the agent has tried (its log says so), doctor can say it failed.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if log, _ := os.ReadFile(filepath.Join(w.home, "agent.log")); strings.Contains(string(log), "writing it back to "+w.storePath()+" failed") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	out, _, code := w.run(nil, "doctor")
	want := fmt.Sprintf("FAIL store %s: deleted while open, and the agent (pid %d) cannot write it back", w.storePath(), pid)
	if code != 1 || !strings.Contains(out, want) || !strings.Contains(out, "do not stop that agent") {
		t.Fatalf("doctor with the store deleted under the agent: exit %d, want a line %q:\n%s", code, want, out)
	}
	if strings.Contains(out, "ok   store") || strings.Contains(out, "consistency check passed") {
		t.Fatalf("doctor says the deleted store is ok:\n%s", out)
	}
	w.ok(nil, "note", "written while only the agent held the store")
	os.Remove(w.storePath())
	deadline = time.Now().Add(30 * time.Second)
	for w.agentPID() == pid && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := w.ok(nil, "show", "c1"); got != "kept\n" {
		t.Fatalf("c1 after the store was written back: %q", got)
	}
	if got := w.ok(nil, "export", "--format", "txt"); !strings.Contains(got, "written while only the agent held the store") {
		t.Fatalf("the note written meanwhile is gone:\n%s", got)
	}
	if out, _, code := w.run(nil, "doctor"); code != 0 {
		t.Fatalf("doctor after the store was written back: exit %d:\n%s", code, out)
	}
}

// TestDoctorNamesARescuedStore: a store replaced under the agent is written
// beside it as calm.db.rescued-TIME, which may hold what the file in its
// place lacks; doctor named neither it nor how to look at it.
func TestDoctorNamesARescuedStore(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok([]byte("kept\n"), "tee", "-q", "kept")
	rescued := w.storePath() + ".rescued-20261201T050715Z"
	if err := os.WriteFile(rescued, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, _ := w.run(nil, "doctor")
	if !strings.Contains(out, "warn "+rescued+" is a store an agent wrote out") || !strings.Contains(out, "calm --store "+rescued+" status") {
		t.Fatalf("doctor with a rescued store beside the one in use:\n%s", out)
	}
}

// TestAMistypedStorePathIsNoNewEmptyStore: --store naming a file that does
// not exist made an empty store there, and search answered "no match" for
// output the real store holds. A command that only reads refuses it and
// makes nothing; one that records makes the store and says so.
func TestAMistypedStorePathIsNoNewEmptyStore(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok([]byte("the original document\n"), "tee", "-q", "orig")
	typo := filepath.Join(t.TempDir(), "clam", "calm.db")
	for _, args := range [][]string{{"search", "original"}, {"show", "c1"}, {"status"}, {"export", "--format", "txt"}, {"verify"}} {
		out, errs, code := w.run(nil, append([]string{"--store", typo}, args...)...)
		if code != 2 || !strings.Contains(errs, "no store at "+typo) || !strings.Contains(errs, w.storePath()) || out != "" {
			t.Fatalf("calm --store TYPO %v: exit %d, want 2 naming the path and the store calm uses without it:\n%s%s", args, code, out, errs)
		}
		if _, err := os.Stat(filepath.Dir(typo)); !os.IsNotExist(err) {
			t.Fatalf("calm --store TYPO %v made %s: %v", args, filepath.Dir(typo), err)
		}
	}
	_, errs, code := w.run([]byte("saved where asked\n"), "--store", typo, "tee", "-q", "new")
	if code != 0 || !strings.Contains(errs, "a new one is made there") {
		t.Fatalf("tee into a new --store: exit %d: %s", code, errs)
	}
	if out := w.ok(nil, "--store", typo, "search", "saved"); !strings.Contains(out, ":1:saved where asked") {
		t.Fatalf("the new store does not hold what tee saved into it: %q", out)
	}
	if _, errs, _ := w.run(nil, "--store", typo, "search", "saved"); strings.Contains(errs, "new one") {
		t.Fatalf("a store that exists is announced as new: %s", errs)
	}
	w.ok(nil, "--store", typo, "agent", "stop")
	if out := w.ok(nil, "search", "original"); !strings.Contains(out, "the original document") {
		t.Fatalf("the first store lost its capture: %q", out)
	}
	// A typo of the name beside the store: a store there would share its
	// evidence folder, and read as that store's loss.
	beside := filepath.Join(w.home, "calm.dv")
	if out, errs, code := w.run(nil, "--store", beside, "search", "original"); code != 2 || out != "" || !strings.Contains(errs, "beside it: "+w.storePath()) {
		t.Fatalf("search in a store named one letter off the one beside it: exit %d:\n%s%s", code, out, errs)
	}
	if _, err := os.Stat(beside); !os.IsNotExist(err) {
		t.Fatalf("a reading command made %s: %v", beside, err)
	}
	if _, errs, code := w.run([]byte("saved beside\n"), "--store", beside, "tee", "-q", "beside"); code != 0 || !strings.Contains(errs, "saving into "+w.storePath()) {
		t.Fatalf("tee into a store named one letter off the one beside it: exit %d: %s", code, errs)
	}
	if out := w.ok(nil, "search", "saved beside"); !strings.Contains(out, "saved beside") {
		t.Fatalf("tee's capture is not in the store beside the typo: %q", out)
	}
	if _, err := os.Stat(beside); !os.IsNotExist(err) {
		t.Fatalf("tee made %s: %v", beside, err)
	}
}

// TestWhatADamagedStoreCouldNotTakeIsKeptAndNamed: with the store damaged
// (no agent can open it), tee kept nothing of its output and a shell kept
// its journal where nothing named it again: after the store was mended,
// doctor said all was well. Now tee keeps every byte in a file and says
// where; every command and doctor name both recordings until they are
// brought in.
func TestWhatADamagedStoreCouldNotTakeIsKeptAndNamed(t *testing.T) {
	t.Parallel()
	slow(t)
	w := newWorld(t)
	w.ok([]byte("before the damage\n"), "tee", "-q", "before")
	w.stopAgent()
	good, err := os.ReadFile(w.storePath())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(w.storePath(), 3*4096); err != nil { // its meta pages and little else
		t.Fatal(err)
	}
	var output strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&output, "document %d\n", i)
	}
	passed, errs, code := w.run([]byte(output.String()), "tee", "during")
	if passed != output.String() || code != 1 || !strings.Contains(errs, "the store did NOT take this output") {
		t.Fatalf("tee on a damaged store: exit %d, passed %d of %d bytes:\n%s", code, len(passed), output.Len(), errs)
	}
	kept := regexp.MustCompile(`kept in (\S+) \(0600\)`).FindStringSubmatch(errs)
	if kept == nil {
		t.Fatalf("tee does not say where it kept the output:\n%s", errs)
	}
	if got, err := os.ReadFile(kept[1]); err != nil || string(got) != output.String() {
		t.Fatalf("%s holds %d bytes (%v), want the %d tee read", kept[1], len(got), err, output.Len())
	}
	if info, err := os.Stat(kept[1]); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v %v, want 0600", kept[1], info.Mode(), err)
	}
	if _, errs, _ := w.run(nil, "shell", "--", "echo", "recorded while damaged"); !strings.Contains(errs, "everything is in") {
		t.Fatalf("the shell does not say where its journal is:\n%s", errs)
	}
	journals, _ := filepath.Glob(filepath.Join(w.home, "journal", "*.cast"))
	if len(journals) != 1 {
		t.Fatalf("journal folder: %v, want the shell's journal", journals)
	}
	// A salvage elsewhere takes copies of them along, and its store names them.
	salvaged := filepath.Join(t.TempDir(), "salvaged", "calm.db")
	out, _, _ := w.run(nil, "doctor", "--salvage", salvaged)
	for _, kept := range []string{filepath.Base(kept[1]), filepath.Base(journals[0])} {
		if !strings.Contains(out, "kept "+filepath.Join(filepath.Dir(salvaged), "journal", kept)) {
			t.Fatalf("the salvage does not take %s along:\n%s", kept, out)
		}
	}
	s := w.withStore(salvaged)
	if _, errs, _ := s.run(nil, "--store", salvaged, "status"); !strings.Contains(errs, "2 recordings the store never took") {
		t.Fatalf("the salvaged store does not name what the damaged one never took:\n%s", errs)
	}
	s.ok(nil, "--store", salvaged, "agent", "stop")
	// The store mended; the files are older than a recorder starting now.
	if err := os.WriteFile(w.storePath(), good, 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Minute)
	os.Chtimes(kept[1], old, old)
	os.Chtimes(journals[0], old, old)
	if _, errs, _ := w.run(nil, "status"); !strings.Contains(errs, "2 recordings the store never took") || !strings.Contains(errs, filepath.Base(kept[1])) || !strings.Contains(errs, filepath.Base(journals[0])) {
		t.Fatalf("status does not name the recordings the store never took:\n%s", errs)
	}
	if out, _, code := w.run(nil, "doctor"); code != 1 || strings.Count(out, "a recording the store never took") != 2 {
		t.Fatalf("doctor: exit %d:\n%s", code, out)
	}
	// Brought in, they are named no more.
	if _, errs, code := w.run([]byte(output.String()), "tee", "-q", "during, again"); code != 0 {
		t.Fatalf("tee of the kept file: exit %d: %s", code, errs)
	}
	// A capture of the same bytes made before the file was kept (count:
	// 42, before the fix and after) is another recording: not this one.
	later := time.Now().Add(time.Minute)
	os.Chtimes(kept[1], later, later)
	time.Sleep(2100 * time.Millisecond) // what the agent says of them holds a moment
	if _, errs, _ := w.run(nil, "status"); !strings.Contains(errs, filepath.Base(kept[1])) {
		t.Fatalf("a kept file newer than the capture of the same bytes is taken as brought in:\n%s", errs)
	}
	os.Chtimes(kept[1], old, old)
	if out := w.ok(nil, "import", journals[0], "the shell"); !strings.Contains(out, "brought-in") {
		t.Fatalf("import of a stray journal does not move it out of the way: %s", out)
	}
	time.Sleep(2100 * time.Millisecond) // what the agent says of them holds a moment
	if _, errs, _ := w.run(nil, "status"); strings.Contains(errs, "never took") {
		t.Fatalf("recordings brought in are still named:\n%s", errs)
	}
	if out := w.ok(nil, "search", "recorded while damaged"); !strings.Contains(out, "recorded while damaged") {
		t.Fatalf("the shell's session is not searchable: %q", out)
	}
}
