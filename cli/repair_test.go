package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestFailedCopyComesBackWhenSpaceReturns: a mirror on a full disk fails
// its copy, and gives the space of its temp file back at once; once room is
// made, `calm verify --repair` writes it again from the store's copy and it
// verifies.
func TestFailedCopyComesBackWhenSpaceReturns(t *testing.T) {
	t.Parallel()
	disk := smallDisk(t, "4m")
	filler := filepath.Join(disk, "filler")
	os.WriteFile(filler, make([]byte, 3<<20), 0o600)
	mirror := filepath.Join(disk, "mirror")
	w := newWorld(t)
	input := shellText(2<<20, 9)
	if _, errs, code := w.run(input, "--mirror", mirror, "tee", "big"); code != 0 {
		t.Fatalf("tee: exit %d: %s", code, errs)
	}
	temps, _ := filepath.Glob(filepath.Join(mirror, "*", ".*.tmp-*"))
	if len(temps) != 0 {
		t.Fatalf("the failed copy kept its temp file: %v", temps)
	}
	out, _, code := w.run(nil, "--mirror", mirror, "verify")
	if code != 1 || !strings.Contains(out, "mirror") {
		t.Fatalf("verify with the mirror copy failed: exit %d:\n%s", code, out)
	}
	os.Remove(filler)
	out, errs, code := w.run(nil, "--mirror", mirror, "verify", "--repair")
	if code != 0 || !strings.Contains(out, "repair ") || !strings.Contains(out, "mirror copy") || !strings.Contains(out, ": verified") {
		t.Fatalf("verify --repair after room was made: exit %d:\n%s%s", code, out, errs)
	}
	got, err := os.ReadFile(filepath.Join(mirror, strings.Fields(w.ok(nil, "incident", "list"))[1], "c1.txt"))
	if err != nil || string(got) != string(input) {
		t.Fatalf("the repaired mirror copy holds %d of %d bytes (%v)", len(got), len(input), err)
	}
}

// TestShellRunsOnAFullDisk: calm shell on a disk that is already full runs
// the command with its output on the terminal, says in one line that it is
// not recording, and, once there is room, records again into a new session
// that holds only what it could record.
func TestShellRunsOnAFullDisk(t *testing.T) {
	t.Parallel()
	slow(t)
	disk := smallDisk(t, "2m")
	filler := filepath.Join(disk, "filler")
	f, _ := os.Create(filler)
	for {
		if _, err := f.Write(make([]byte, 64<<10)); err != nil {
			break
		}
	}
	f.Close()
	w := newWorld(t)
	w.home = filepath.Join(disk, "home")
	// The room comes back once the shell has said it is not recording (on a
	// loaded machine calm may try later than any fixed moment); calm tries
	// again 5 s after that, before the command's 7 s are up.
	var shellOut lockedBuffer
	go func() {
		for deadline := time.Now().Add(30 * time.Second); !strings.Contains(shellOut.String(), "NOT RECORDING") && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		os.Remove(filler)
	}()
	out, code := w.runShellWithinTo(&shellOut, 30*time.Second, "", "--", "sh", "-c", "echo before-the-room; sleep 7; echo after-the-room")
	if code != 0 || !strings.Contains(out, "before-the-room") || !strings.Contains(out, "after-the-room") {
		t.Fatalf("the shell on a full disk did not run as usual: exit %d:\n%s", code, out)
	}
	if !strings.Contains(out, "NOT RECORDING") || !strings.Contains(out, "recording again") {
		t.Fatalf("the shell did not say it was not recording, then that it was again:\n%s", out)
	}
	deadline := time.Now().Add(20 * time.Second)
	var shown string
	for time.Now().Before(deadline) {
		if s, _, code := w.run(nil, "show", "s1"); code == 0 && strings.Contains(s, "after-the-room") {
			shown = s
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(shown, "after-the-room") || strings.Contains(shown, "before-the-room") {
		t.Fatalf("the session holds %q: want what came once there was room, and nothing from before", shown)
	}
	// The record says output went unrecorded, and when: the session alone
	// looked whole.
	gap := regexp.MustCompile(`WARNING: the shell's output from \d\d:\d\d:\d\d to \d\d:\d\d:\d\d UTC, before this session, was NOT recorded \([^)]*no space left on device\)`)
	if status := w.ok(nil, "status"); !gap.MatchString(status) {
		t.Fatalf("status does not say what went unrecorded:\n%s\nshell:\n%s", status, out)
	}
	if md := w.ok(nil, "export", strings.Fields(w.ok(nil, "incident", "list"))[1], "--format", "md"); !strings.Contains(md, "was NOT recorded") {
		t.Fatalf("the postmortem does not say what went unrecorded:\n%s", md)
	}
}

// TestShellJournalFailingMidwaySaysWhereTheSessionEnds: a disk that fills
// while the shell records cuts the session short; the session is sealed
// interrupted, saying that the journal could not be written, so status,
// verify and the exports do not present it as the whole session.
func TestShellJournalFailingMidwaySaysWhereTheSessionEnds(t *testing.T) {
	t.Parallel()
	slow(t)
	disk := smallDisk(t, "64m")
	w := newWorld(t)
	w.home = filepath.Join(disk, "home")
	w.ok(nil, "incident", "new", "disk fills midway")
	filler := filepath.Join(disk, "filler")
	go func() {
		time.Sleep(1500 * time.Millisecond)
		f, _ := os.Create(filler)
		for {
			if _, err := f.Write(make([]byte, 64<<10)); err != nil {
				break
			}
		}
		f.Close()
		time.Sleep(3 * time.Second)
		os.Remove(filler)
	}()
	out, code := w.runShellWithin(60*time.Second, "", "--", "sh", "-c", "echo before-the-fill; sleep 3; seq 1 20000; sleep 7; echo after-the-room")
	if code != 0 || !strings.Contains(out, "NOT RECORDING") {
		t.Fatalf("exit %d; the shell should have said it stopped recording:\n%s", code, lastLines(out, 10))
	}
	var rec map[string]any
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if rec = w.captureRecord("s1"); rec["state"] == "sealed" {
			break
		}
	}
	if rec["state"] != "sealed" || !strings.Contains(fmt.Sprint(rec["interrupted"]), "could not be written") {
		t.Fatalf("the session cut by the full disk is %v, interrupted %q: want sealed and saying the journal could not be written", rec["state"], rec["interrupted"])
	}
	if status := w.ok(nil, "status"); !strings.Contains(status, "INTERRUPTED: the journal could not be written") {
		t.Fatalf("status does not say the session was cut:\n%s", status)
	}
}

// TestDoctorNamesADamagedSums: an emptied SHA256SUMS fails `sha256sum -c`
// and verify; doctor names it too, with what mends it, and exits 1, and
// after `calm verify --repair` says nothing of it.
func TestDoctorNamesADamagedSums(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok([]byte("data\n"), "tee", "x")
	inc := strings.Fields(w.ok(nil, "incident", "list"))[1]
	sums := filepath.Join(w.home, "evidence", inc, "SHA256SUMS")
	if err := os.WriteFile(sums, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, _, code := w.run(nil, "verify"); code != 1 || !strings.Contains(out, "FAIL "+inc+"/SHA256SUMS") {
		t.Fatalf("verify of an emptied SHA256SUMS: exit %d:\n%s", code, out)
	}
	out, _, code := w.run(nil, "doctor")
	if code != 1 || !strings.Contains(out, "FAIL "+inc+"/SHA256SUMS in the evidence folder "+sums) || !strings.Contains(out, "'calm verify --repair' writes it again") {
		t.Fatalf("doctor of an emptied SHA256SUMS: exit %d:\n%s", code, out)
	}
	w.ok(nil, "verify", "--repair")
	if out, _, code := w.run(nil, "doctor"); code != 0 || strings.Contains(out, "SHA256SUMS") {
		t.Fatalf("doctor after the repair: exit %d:\n%s", code, out)
	}
}

// TestTimelineCopyLackingAnEventIsRepaired: a timeline.jsonl that lost an
// event is the evidence copy's fault: verify fails on it, doctor says that
// 'calm verify --repair' mends it (not that the store must be salvaged),
// and after the repair both pass and the copy holds the event again.
func TestTimelineCopyLackingAnEventIsRepaired(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok(nil, "incident", "new", "timeline test")
	w.ok(nil, "note", "first note")
	w.ok(nil, "note", "second note")
	inc := strings.Fields(w.ok(nil, "incident", "list"))[1]
	// A fresh agent for what follows: its own periodic repair is far off.
	w.stopAgent()
	path := filepath.Join(w.home, "evidence", inc, "timeline.jsonl")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	if !strings.Contains(lines[1], "first note") {
		t.Fatalf("timeline copy:\n%s", data)
	}
	if err := os.WriteFile(path, []byte(lines[0]+strings.Join(lines[2:], "")), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, code := w.run(nil, "verify")
	if code != 1 || !strings.Contains(out, "FAIL "+inc+"/timeline.jsonl") || !strings.Contains(out, "it lacks event 2 (") {
		t.Fatalf("verify of a timeline copy lacking event 2: exit %d:\n%s", code, out)
	}
	out, _, code = w.run(nil, "doctor")
	if code != 1 || !strings.Contains(out, "FAIL "+inc+"/timeline.jsonl") || !strings.Contains(out, "'calm verify --repair' writes it again from the store") || strings.Contains(out, "--salvage") {
		t.Fatalf("doctor of a timeline copy lacking event 2: exit %d:\n%s", code, out)
	}
	if out, errs, code := w.run(nil, "verify", "--repair"); code != 0 || !strings.Contains(out, "repair "+inc+"/timeline.jsonl evidence copy "+path+": verified") {
		t.Fatalf("verify --repair: exit %d:\n%s%s", code, out, errs)
	}
	if got, _ := os.ReadFile(path); !strings.Contains(string(got), "first note") {
		t.Fatalf("the timeline copy after the repair:\n%s", got)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the timeline copy after the repair: %v, %v; want mode 0600", fi, err)
	}
	if out, _, code := w.run(nil, "verify"); code != 0 {
		t.Fatalf("verify after the repair: exit %d:\n%s", code, out)
	}
	if out, _, code := w.run(nil, "doctor"); code != 0 {
		t.Fatalf("doctor after the repair: exit %d:\n%s", code, out)
	}
}

// TestADeletedCopyIsNotShownVerified: status showed "2/2 copies verified"
// for an evidence file deleted by hand, until the next verify; a glance at
// the copies now shows it gone, and a repair brings it back.
func TestADeletedCopyIsNotShownVerified(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok(nil, "incident", "new", "a copy deleted")
	w.ok([]byte("the only original\n"), "tee", "-q", "original")
	inc := strings.Fields(w.ok(nil, "status"))[1]
	if err := os.Remove(filepath.Join(w.home, "evidence", inc, "c1.txt")); err != nil {
		t.Fatal(err)
	}
	if out := w.ok(nil, "status"); !strings.Contains(out, "1/2 copies verified") {
		t.Fatalf("status after the evidence copy was deleted:\n%s", out)
	}
	w.ok(nil, "verify", "--repair")
	if out := w.ok(nil, "status"); !strings.Contains(out, "2/2 copies verified") {
		t.Fatalf("status after the repair:\n%s", out)
	}
}

// TestADamagedCaptureRecordIsNamedAndRepaired: the record kept beside a
// capture's copy (c1.meta.json: its title, source, times) is what a
// salvage takes them from. Overwritten with junk, nothing said so, the
// repair left it, and a salvage lost the title. verify and doctor now name
// it, and the repair writes it again.
func TestADamagedCaptureRecordIsNamedAndRepaired(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok(nil, "incident", "new", "records")
	w.ok([]byte("{ \"_id\": 1 }\n"), "tee", "-q", "orders before the update")
	inc := strings.Fields(w.ok(nil, "incident", "list"))[1]
	record := filepath.Join(w.home, "evidence", inc, "c1.meta.json")
	if data, err := os.ReadFile(record); err != nil || !strings.Contains(string(data), "orders before the update") {
		t.Fatalf("the record beside c1's copy: %v\n%s", err, data)
	}
	if err := os.WriteFile(record, []byte("garbage{\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errs, code := w.run(nil, "verify")
	if code != 1 || !strings.Contains(out, "FAIL "+inc+"/c1, its record beside its copy, "+record) || !strings.Contains(errs, "1 capture record kept beside the copies for a salvage is missing, damaged or edited") {
		t.Fatalf("verify of a damaged record: exit %d:\n%s%s", code, out, errs)
	}
	if out, _, code := w.run(nil, "doctor"); code != 1 || !strings.Contains(out, record) || !strings.Contains(out, "'calm verify --repair' writes it again") {
		t.Fatalf("doctor of a damaged record: exit %d:\n%s", code, out)
	}
	w.ok(nil, "verify", "--repair")
	if data, err := os.ReadFile(record); err != nil || !strings.Contains(string(data), "orders before the update") {
		t.Fatalf("the record after the repair: %v\n%s", err, data)
	}
	if out, _, code := w.run(nil, "verify"); code != 0 {
		t.Fatalf("verify after the repair: exit %d:\n%s", code, out)
	}
	// A title edited by hand is not this capture's record either.
	data, _ := os.ReadFile(record)
	os.WriteFile(record, []byte(strings.Replace(string(data), "orders before the update", "something else", 1)), 0o600)
	if out, _, code := w.run(nil, "verify"); code != 1 || !strings.Contains(out, record) {
		t.Fatalf("verify of an edited record: exit %d:\n%s", code, out)
	}
	// A deleted one is named, not written again behind the person's back.
	os.Remove(record)
	if out, _, code := w.run(nil, "verify"); code != 1 || !strings.Contains(out, record+": missing") {
		t.Fatalf("verify of a deleted record: exit %d:\n%s", code, out)
	}
	if _, err := os.Stat(record); err == nil {
		t.Fatal("a plain verify wrote the deleted record")
	}
	w.ok(nil, "verify", "--repair")
	if data, err := os.ReadFile(record); err != nil || !strings.Contains(string(data), "orders before the update") {
		t.Fatalf("the record after the repair: %v\n%s", err, data)
	}
}

// TestAnExtraLineInSHA256SUMSIsNamedAndRepaired: a line for a file the
// incident does not hold makes sha256sum -c fail; verify passed it, and
// the repair left it.
func TestAnExtraLineInSHA256SUMSIsNamedAndRepaired(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok([]byte("data\n"), "tee", "x")
	inc := strings.Fields(w.ok(nil, "incident", "list"))[1]
	dir := filepath.Join(w.home, "evidence", inc)
	sums := filepath.Join(dir, "SHA256SUMS")
	f, err := os.OpenFile(sums, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "%064d  extra.txt\n", 0)
	f.Close()
	check := exec.Command("sha256sum", "-c", "SHA256SUMS")
	check.Dir = dir
	if err := check.Run(); err == nil {
		t.Fatal("sha256sum -c passed the extra line: the test proves nothing")
	}
	if out, _, code := w.run(nil, "verify"); code != 1 || !strings.Contains(out, "extra.txt, which the incident does not hold") {
		t.Fatalf("verify of an extra SHA256SUMS line: exit %d:\n%s", code, out)
	}
	w.ok(nil, "verify", "--repair")
	check = exec.Command("sha256sum", "-c", "SHA256SUMS")
	check.Dir = dir
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("sha256sum -c after the repair: %v\n%s", err, out)
	}
}
