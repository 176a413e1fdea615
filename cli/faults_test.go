package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	mrand "math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"calm/terminal"
)

// faultRuns is how many times each fault is repeated: CALM_FAULT_RUNS, or 4,
// which gives every variant of each fault (each kind of stop, early and late
// moments) a run; bench/faults runs the long version, 20 of each.
func faultRuns() int {
	if n, err := strconv.Atoi(os.Getenv("CALM_FAULT_RUNS")); err == nil && n > 0 {
		return n
	}
	return 4
}

// spread is a random number in [lo, hi) for a run: order is a permutation
// of the runs (r.Perm), and each run draws from the slice of the range its
// place in order gives it, so that a few runs still reach the range's early
// and its late end, whatever the seed.
func spread(r *mrand.Rand, order []int, run, lo, hi int) int {
	width := float64(hi-lo) / float64(len(order))
	return lo + int((float64(order[run])+r.Float64())*width)
}

// faultRand is a fault test's source of random moments, its seed logged so
// a failure can be replayed with CALM_FAULT_SEED.
func faultRand(t testing.TB) *mrand.Rand {
	seed := time.Now().UnixNano()
	if s, err := strconv.ParseInt(os.Getenv("CALM_FAULT_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("seed %d (replay with CALM_FAULT_SEED=%d)", seed, seed)
	return mrand.New(mrand.NewSource(seed))
}

// TestFullDiskLosesNothingAcknowledged fills a small tmpfs under the store:
// tee keeps the pipeline whole, says in one line why storing stopped, and
// what the store acknowledged is there, a prefix of the input, in a file
// that passes bbolt's check.
func TestFullDiskLosesNothingAcknowledged(t *testing.T) {
	t.Parallel() // long and mostly waiting; isolated (own store, socket, tmux server)
	slow(t)
	disk := smallDisk(t, "12m")
	r := faultRand(t)
	order := r.Perm(faultRuns())
	failed := 0
	for run := range faultRuns() {
		w := newWorld(t)
		w.home = filepath.Join(disk, fmt.Sprintf("home%d", run))
		// Fill part of the disk first, so it runs out at a different moment:
		// the runs go from a little filler and a small input (the disk does
		// not fill) to a lot of both (it fills early).
		filler := filepath.Join(disk, "filler")
		os.WriteFile(filler, make([]byte, spread(r, order, run, 0, 8<<20)), 0o600)
		input := shellText(spread(r, order, run, 2<<20, 16<<20), int64(run))
		stdout, errs, code := w.run(input, "tee", "-q", "big")
		errs = withoutHolding(errs)
		if !bytes.Equal([]byte(stdout), input) {
			t.Fatalf("run %d: stdout lost bytes on a full disk (%d of %d)", run, len(stdout), len(input))
		}
		if kept := regexp.MustCompile(`kept in (\S+) \(0600\)`).FindStringSubmatch(errs); code != 0 && kept != nil {
			// The disk filled before the capture was made: tee's spool,
			// kept as a file, holds what it could take, and tee says so.
			failed++
			held, err := os.ReadFile(kept[1])
			// The spool it was is named no more: it is the kept file now.
			// A part kept says how much of what was read is not.
			lost := fmt.Sprintf("the rest is NOT saved, %s of the %s read", humanBytes(int64(len(input)-len(held))), humanBytes(int64(len(input))))
			if err != nil || !bytes.HasPrefix(input, held) || strings.Contains(errs, "all ") != (len(held) == len(input)) || strings.Contains(errs, lost) == (len(held) == len(input)) || !strings.Contains(errs, "space") || strings.Count(strings.TrimSpace(errs), "\n") != 1 || strings.Contains(errs, ".spool") {
				t.Fatalf("run %d: the file tee kept holds %d of %d bytes (%v), and tee said: %q", run, len(held), len(input), err, errs)
			}
			os.Remove(filler)
			w.run(nil, "status") // with room, the agent makes the store it could not
		} else if code != 0 {
			failed++
			if strings.Count(strings.TrimSpace(errs), "\n") != 0 || !strings.Contains(errs, "space") {
				t.Fatalf("run %d: a full disk is not said in one line: %q", run, errs)
			}
			os.Remove(filler) // room for the checks
			if stored, _, code := w.run(nil, "show", "--raw", "c1"); code == 0 && !bytes.HasPrefix(input, []byte(stored)) {
				t.Fatalf("run %d: the stored %d bytes are not a prefix of the input", run, len(stored))
			}
		} else if stored := w.ok(nil, "show", "--raw", "c1"); stored != string(input) {
			t.Fatalf("run %d: tee succeeded but stored %d of %d bytes", run, len(stored), len(input))
		} else if rec := w.captureRecord("c1"); strings.Count(fmt.Sprint(rec["copies"]), "state:verified") != 2 {
			// The disk filled while the evidence copy was written: that copy
			// failed and gave its space back, so the store's copy could still
			// take every byte. tee says so, -q or not.
			failed++
			if !strings.Contains(errs, "1 of 2 copies verified") {
				t.Fatalf("run %d: a copy failed on a full disk and tee did not say so: %q", run, errs)
			}
		}
		w.stopAgent()
		w.checkStore()
		os.RemoveAll(w.home)
		os.Remove(filler)
	}
	if failed == 0 {
		t.Fatal("the disk never filled up: the test checked nothing")
	}
	t.Logf("%d of %d runs filled the disk", failed, faultRuns())
}

// TestTeeOnADiskAlreadyFullSaysItSavedNothing: when not one byte could be
// kept (here the disk of the store's journal folder, where tee's spool
// goes, is full before it starts), tee says it did NOT save the output, in
// words a tired person cannot read as "saved" (a fresh-eyes run read "saved
// c3 (partial), 2 of 2 copies verified" for a capture of 0 bytes), and
// every byte still passes on.
func TestTeeOnADiskAlreadyFullSaysItSavedNothing(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root (CI runs as root)")
	}
	w := newWorld(t)
	w.ok(nil, "incident", "new", "full from the start")
	journal := filepath.Join(w.home, "journal")
	os.MkdirAll(journal, 0o700)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", journal).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", journal).Run() })
	filler, err := os.Create(filepath.Join(journal, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{64 << 10, 512} {
		for block := make([]byte, size); ; {
			if _, err := filler.Write(block); err != nil {
				break
			}
		}
	}
	filler.Close()
	input := shellText(64<<10, 7)
	stdout, errs, code := w.run(input, "tee", "onfull")
	if stdout != string(input) {
		t.Fatalf("stdout got %d of %d bytes on a full disk", len(stdout), len(input))
	}
	if code == 0 || !strings.Contains(errs, "did NOT save this output") || !strings.Contains(errs, "EMPTY") || strings.Contains(errs, "copies verified") {
		t.Fatalf("tee on a full disk: exit %d, stderr %q", code, errs)
	}
	os.Remove(filler.Name())
}

// TestSocketDeletedUnderTheAgent removes the agent's socket again and again
// while a tee streams through it: the agent binds it again, no second agent
// starts, and the capture is whole.
func TestSocketDeletedUnderTheAgent(t *testing.T) {
	t.Parallel() // long and mostly waiting; isolated (own store, socket, tmux server)
	slow(t)
	w := newWorld(t)
	w.ok(nil, "incident", "new", "socket test")
	// The tee streams for about as long as the deletions take (1.2 MiB, or
	// five of its paced pieces, a deletion): they land from its start to
	// its end.
	input := shellText(faultRuns()*(6<<20)/5, 3)
	cmd, out, errs := w.pacedTee(t, input, 256<<10, 30*time.Millisecond, "-q", "through")
	r := faultRand(t)
	for run := range faultRuns() {
		time.Sleep(time.Duration(50+r.Intn(150)) * time.Millisecond)
		os.Remove(w.socket())
		if run%2 == 0 {
			w.ok(nil, "status") // a new client must find the same agent
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("tee: %v: %s", err, errs.String())
	}
	if !bytes.Equal(out.Bytes(), input) || w.ok(nil, "show", "--raw", "c1") != string(input) {
		t.Fatal("the capture is not whole after the socket was deleted under the agent")
	}
	agents, _ := exec.Command("pgrep", "-f", "calm --store "+w.storePath()+" agent").Output()
	if n := len(strings.Fields(string(agents))); n != 1 {
		t.Fatalf("%d agents run for one store", n)
	}
	w.stopAgent()
	w.checkStore()
}

// TestRecorderKilledLosesNothing SIGKILLs calm shell at random moments. The
// agent sees each recorder gone and seals what its journal holds, with the
// output its terminal showed last added from the shown file: every session
// ends up sealed, equal to its journal (now its evidence copy), holding
// everything the recorder had written to its terminal, and the store passes
// bbolt's check.
func TestRecorderKilledLosesNothing(t *testing.T) {
	t.Parallel() // long and mostly waiting; isolated (own store, socket, tmux server)
	slow(t)
	w := newWorld(t)
	w.ok(nil, "incident", "new", "recorder kills")
	r := faultRand(t)
	order := r.Perm(faultRuns())
	started := 0 // recorders that had made their journal when killed
	shown := map[string][]byte{}
	for run := range faultRuns() {
		title := fmt.Sprintf("run-%d", run)
		cmd := w.cmd("shell", "--title", title, "--", "sh", "-c", "seq 1 300000")
		var out, errs lockedBuffer
		cmd.Stdout, cmd.Stderr = &out, &errs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Every other kill counts from the moment the recorder says it
		// records (its journal and session made): on a loaded machine, a
		// moment counted from its start can come before that in every run.
		for deadline := time.Now().Add(10 * time.Second); run%2 == 1 && !strings.Contains(errs.String(), "calm: recording"); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("run %d: the recorder never said it was recording: %s", run, errs.String())
			}
		}
		time.Sleep(time.Duration(spread(r, order, run, 20, 420)) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
		if strings.Contains(errs.String(), "calm: recording") {
			started++
		}
		shown[title] = []byte(out.String())
	}
	deadline := time.Now().Add(60 * time.Second)
	for status := w.ok(nil, "status"); strings.Contains(status, "recording") || strings.Contains(status, "being stored"); status = w.ok(nil, "status") {
		if time.Now().After(deadline) {
			t.Fatalf("sessions of killed recorders are still open:\n%s", status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A recorder killed before the agent made its session keeps its
	// journal where it wrote it; every other journal became evidence.
	left, _ := filepath.Glob(filepath.Join(w.home, "journal", "*.cast"))
	sealed, _ := filepath.Glob(filepath.Join(w.home, "evidence", "*", "s*.cast"))
	// A recorder killed before its journal existed (a loaded machine, a
	// kill within milliseconds) had shown nothing: it leaves nothing.
	if n := len(left) + len(sealed); n < started || n > faultRuns() {
		t.Fatalf("%d journals left and %d sealed for %d runs, %d of which said they were recording", len(left), len(sealed), faultRuns(), started)
	}
	if len(sealed) == 0 {
		t.Fatal("no session reached the store: the kills came too early to test anything")
	}
	added := 0
	for _, journal := range sealed {
		data, _ := os.ReadFile(journal)
		id := strings.TrimSuffix(filepath.Base(journal), ".cast")
		if cast := w.ok(nil, "show", "--cast", id); cast != string(data) {
			t.Fatalf("%s holds %d bytes, its journal %d", id, len(cast), len(data))
		}
		var header struct{ Title string }
		json.Unmarshal(data[:bytes.IndexByte(data, '\n')], &header)
		var output bytes.Buffer
		c := terminal.CastOutput{W: &output}
		c.Write(data)
		c.Close()
		// The recorder keeps output before it writes it to the terminal: a
		// kill in between leaves the session a little ahead.
		terminal := shown[header.Title]
		if !bytes.HasPrefix(output.Bytes(), terminal) {
			k := 0
			for k < min(output.Len(), len(terminal)) && output.Bytes()[k] == terminal[k] {
				k++
			}
			t.Fatalf("%s (%s) holds %d bytes of output; its terminal was given %d, differing from byte %d", id, header.Title, output.Len(), len(terminal), k)
		}
		if output.Len() > len(terminal) {
			added++
		}
		// Cut short by the kill, it says so wherever it is listed.
		if !bytes.HasSuffix(output.Bytes(), []byte("300000\r\n")) {
			if why := fmt.Sprint(w.captureRecord(id)["interrupted"]); !strings.Contains(why, "was killed") {
				t.Fatalf("%s was cut by the kill of its recorder but is sealed as %q", id, why)
			}
		}
	}
	t.Logf("%d sessions sealed, %d of them hold output the terminal had not been given yet", len(sealed), added)
	if out, _, code := w.run(nil, "verify"); code != 0 {
		t.Fatalf("verify: %s", out)
	}
	w.stopAgent()
	w.checkStore()
}

// TestTUIKilledLeavesTheStoreWhole SIGKILLs the TUI at random moments while
// it saves a selection: every capture that was sealed holds exactly the
// selection, every copy verifies, and the store passes bbolt's check.
func TestTUIKilledLeavesTheStoreWhole(t *testing.T) {
	t.Parallel()
	slow(t)
	w := newWorld(t)
	w.ok(nil, "incident", "new", "tui kills")
	// Big enough that saving it takes long enough for kills to land mid-save.
	full := strings.Repeat(mongoTranscript, 20_000)
	w.ok([]byte(full), "tee", "-q", "mongo find")
	tm := newTmux(t)
	tm.start("PS1='ready> ' bash --norc --noprofile")
	r := faultRand(t)
	order := r.Perm(faultRuns())
	for run := range faultRuns() {
		// Only a fresh prompt on screen, and no history: what an earlier
		// round left ("? keys", "ObjectId") must not satisfy this round's
		// waits, or keys go out before this round's TUI reads them.
		deadline := time.Now().Add(10 * time.Second)
		for strings.TrimSpace(tm.run("capture-pane", "-p", "-t", "t")) != "ready>" {
			if time.Now().After(deadline) {
				t.Fatalf("the shell never came back to a clear prompt; the pane shows:\n%s", tm.run("capture-pane", "-p", "-t", "t"))
			}
			time.Sleep(50 * time.Millisecond)
		}
		tm.run("clear-history", "-t", "t")
		tm.typeText(w.envPrefix() + calmBin + " ui")
		tm.press("Enter")
		tm.waitFor("? keys", 10*time.Second) // the TUI is up (titles may wrap in its lists)
		// The newest item opens first; select from the original capture.
		tm.press("1", "Home", "Enter")
		tm.waitFor("ObjectId", 10*time.Second)
		tm.press("g", "v", "G", "s")
		time.Sleep(time.Duration(spread(r, order, run, 0, 200)) * time.Millisecond)
		w.killTUIs()
		// A killed TUI leaves the terminal raw and on the alternate screen.
		tm.typeText("stty sane; tput rmcup; clear")
		tm.press("Enter")
	}
	time.Sleep(time.Second) // a save whose client died has nothing more coming
	sealed := 0
	for i := 2; i <= faultRuns()+1; i++ {
		got, _, code := w.run(nil, "show", "--raw", fmt.Sprintf("c%d", i))
		if code != 0 {
			continue
		}
		// A selection is whole lines from the top (as far as the viewer had
		// loaded); a save cut short by the kill is a prefix of one.
		if !strings.HasPrefix(full, got) {
			k := 0
			for k < len(got) && got[k] == full[k] {
				k++
			}
			t.Fatalf("c%d (%d bytes) is not a prefix of the capture it was selected from: differs at %d: %q vs %q", i, len(got), k, got[max(k-20, 0):min(k+20, len(got))], full[max(k-20, 0):min(k+20, len(full))])
		}
		if strings.HasSuffix(got, "\n") && len(got) > len(mongoTranscript) {
			sealed++
		}
	}
	if out, errs, code := w.run(nil, "verify"); code != 0 {
		t.Fatalf("verify after TUI kills: %s %s", out, errs)
	}
	t.Logf("%d of %d saves were sealed before the kill", sealed, faultRuns())
	w.stopAgent()
	w.checkStore()
}

// TestSearchWhileAgentsComeAndGo races searches against tees, sessions and an agent
// that is SIGKILLed, stopped or left to exit idle, round after round: the
// report this answers ("chunk 0: unknown encoding 116" right after an agent
// restart) would show as a search that says the store is damaged. Every
// search must either answer or fail for want of an agent, and at the end
// every capture searches to grep's count and verifies.
func TestSearchWhileAgentsComeAndGo(t *testing.T) {
	t.Parallel() // long and mostly waiting; isolated (own store, socket, tmux server)
	slow(t)
	w := newWorld(t)
	w.extra = append(w.extra, "CALM_AGENT_IDLE=300ms")
	w.ok(nil, "incident", "new", "agents come and go")
	r := faultRand(t)
	var text strings.Builder
	for i := range 60_000 {
		fmt.Fprintf(&text, "line %d token-%d\n", i, i%97)
	}
	data := []byte(text.String())
	want := strings.Count(text.String(), "token-42\n")
	tees := 0
	for round := range faultRuns() {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(data, "tee", "-q", fmt.Sprintf("round %d", round))
		}()
		wg.Add(1)
		go func() { // a session too: its text is derived by the agent
			defer wg.Done()
			w.run(nil, "shell", "--", "sh", "-c", "seq 1 20000")
		}()
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs, code := w.run(nil, "search", "-F", "token-42")
				if code != 0 && (strings.Contains(errs, "damaged") || strings.Contains(errs, "encoding") || strings.Contains(errs, "decode")) {
					t.Errorf("round %d: search says the store is damaged: %s", round, errs)
				}
			}()
		}
		time.Sleep(time.Duration(r.Intn(150)) * time.Millisecond)
		// Each way an agent goes in turn: killed, stopped, left to idle out.
		switch pid := w.agentPID(); round % 3 {
		case 0:
			if pid > 0 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		case 1:
			if pid > 0 {
				syscall.Kill(pid, syscall.SIGTERM)
			}
		default: // left to exit once idle
		}
		wg.Wait()
		tees++
	}
	// Every tee's capture is whole; a search finds grep's count in each,
	// and the last line of every session's derived text.
	out := w.ok(nil, "search", "-F", "token-42")
	if got := strings.Count(out, "token-42"); got != want*tees {
		t.Fatalf("search found %d lines in %d captures of %d lines each", got, tees, want)
	}
	deadline := time.Now().Add(60 * time.Second)
	for status := w.ok(nil, "status"); strings.Contains(status, "recording") || strings.Contains(status, "being stored"); status = w.ok(nil, "status") {
		if time.Now().After(deadline) {
			t.Fatalf("sessions still open:\n%s", status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out := w.ok(nil, "search", "^19999$"); strings.Count(out, "\n") != tees {
		t.Fatalf("search found the last line in %d of %d sessions:\n%s", strings.Count(out, "\n"), tees, out)
	}
	if out, errs, code := w.run(nil, "verify"); code != 0 {
		t.Fatalf("verify: %s %s", out, errs)
	}
	w.stopAgent()
	w.checkStore()
}

// killTUIs SIGKILLs this world's calm ui processes only: other tests run
// theirs at the same time. A process is this world's if its environment
// names the world's home.
func (w *world) killTUIs() {
	out, _ := exec.Command("pgrep", "-f", calmBin+" ui$").Output()
	for _, pid := range strings.Fields(string(out)) {
		environ, err := os.ReadFile("/proc/" + pid + "/environ")
		if err != nil || !bytes.Contains(environ, []byte("CALM_HOME="+w.home+"\x00")) {
			continue
		}
		if n, err := strconv.Atoi(pid); err == nil {
			syscall.Kill(n, syscall.SIGKILL)
		}
	}
}

// TestEndlessStreamWithNoOneReadingStopsBeforeTheDiskFills: tee goes on
// saving after the command after it quit (| head), for a person who quit a
// pager; yes | calm tee x | head filled a disk at 200 MB/s. It stops while
// the store's disk keeps a tenth free, and seals what it kept.
func TestEndlessStreamWithNoOneReadingStopsBeforeTheDiskFills(t *testing.T) {
	t.Parallel()
	slow(t)
	disk := smallDisk(t, "64m")
	w := newWorld(t)
	w.home = filepath.Join(disk, "home")
	w.ok(nil, "incident", "new", "endless")
	tm := newTmux(t)
	tm.start(w.envPrefix() + "sh")
	tm.typeText(fmt.Sprintf("yes | %s tee endless | head -n 1; echo \"st\"\"atus=$?\"\n", calmBin))
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(tm.screen(), "status=") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	screen := tm.screen()
	if !strings.Contains(screen, "stopped saving after") || !strings.Contains(screen, "partial") {
		t.Fatalf("tee did not stop before the disk filled: the pane shows\n%s", lastLines(screen, 10))
	}
	rec := w.captureRecord("c1")
	if rec["state"] != "sealed" || !strings.Contains(fmt.Sprint(rec["interrupted"]), "disk") {
		t.Fatalf("c1 is %v, interrupted %v: want sealed, saying the disk ran low", rec["state"], rec["interrupted"])
	}
	var st syscall.Statfs_t
	syscall.Statfs(disk, &st)
	if free := int64(st.Bavail) * st.Bsize; free < 3<<20 {
		t.Fatalf("the disk has %d bytes free: tee filled it", free)
	}
	got := w.ok(nil, "show", "--raw", "c1")
	if len(got) < 32<<20 || strings.Trim(got, "y\n") != "" || !strings.HasSuffix(got, "y\n") && !strings.HasSuffix(got, "y") {
		t.Fatalf("c1 holds %d bytes, %q…: want many lines of yes", len(got), got[:min(len(got), 20)])
	}
}

// smallDisk mounts a tmpfs of size at a new temp folder, unmounted when
// the test ends, and returns the folder; the test is skipped where that
// needs root it does not have.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root (CI runs as root)")
	}
	disk := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", disk).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", disk).Run() })
	return disk
}

// TestDoctorOnAStoreNeverWritten: a first tee on a disk already full left
// an empty store file; doctor called it damaged and sent the person to
// salvage it, and did not name the output tee had kept beside it.
func TestDoctorOnAStoreNeverWritten(t *testing.T) {
	t.Parallel()
	w, disk := emptyStoreOnAFullDisk(t, func(home string) {
		os.WriteFile(filepath.Join(home, "journal", "tee-20261203T133019Z-999999.txt"), []byte("what tee read\n"), 0o600)
	})
	kept := filepath.Join(w.home, "journal", "tee-20261203T133019Z-999999.txt")
	out, errs, code := w.run(nil, "doctor")
	if code != 1 || !strings.Contains(out, "the file is empty (0 bytes): the store was never written") || !strings.Contains(out, kept+" holds output the store never took") ||
		!strings.Contains(errs, "the store file is empty: make room on its disk") || strings.Contains(errs, "salvage") {
		t.Fatalf("doctor on an empty store on a full disk: exit %d\n%s%s", code, out, errs)
	}
	// With an evidence folder beside it, a fresh store would lose what the
	// evidence holds: salvage rebuilds from it.
	os.Remove(filepath.Join(disk, "filler"))
	os.MkdirAll(filepath.Join(w.home, "evidence", "20261203-kz39"), 0o700)
	os.WriteFile(filepath.Join(w.home, "evidence", "20261203-kz39", "timeline.jsonl"), []byte("{}\n"), 0o600)
	os.WriteFile(filepath.Join(disk, "filler"), make([]byte, 2<<20), 0o600)
	if _, errs, code := w.run(nil, "doctor"); code != 1 || !strings.Contains(errs, "its evidence folder holds 1 incident") || !strings.Contains(errs, "calm doctor --salvage NEW.db") {
		t.Fatalf("doctor on an empty store beside evidence: exit %d, %q", code, errs)
	}
}

// TestTeeWithNoRoomAnywhereSaysNothingWasKept: the store cannot start on a
// full disk, tee says every byte goes into a file named at the end, and the
// file cannot take a byte either: the end said nothing at all.
func TestTeeWithNoRoomAnywhereSaysNothingWasKept(t *testing.T) {
	t.Parallel()
	w, _ := emptyStoreOnAFullDisk(t, func(string) {})
	out, errs, code := w.run([]byte("the only copy\n"), "tee", "x")
	if out != "the only copy\n" || code != 1 || !strings.Contains(errs, "no file could keep it either (no space left on device): it went on to stdout only") {
		t.Fatalf("tee with no room anywhere: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

// emptyStoreOnAFullDisk is a world whose store file is empty (never
// written) on a 1 MiB disk that a filler then fills; more puts files in
// the store's folder first.
func emptyStoreOnAFullDisk(t *testing.T, more func(home string)) (*world, string) {
	disk := smallDisk(t, "1m")
	w := newWorld(t)
	w.home = filepath.Join(disk, "home")
	os.MkdirAll(filepath.Join(w.home, "journal"), 0o700)
	os.WriteFile(filepath.Join(w.home, "calm.db"), nil, 0o600)
	more(w.home)
	os.WriteFile(filepath.Join(disk, "filler"), make([]byte, 2<<20), 0o600) // more than the disk holds
	return w, disk
}

// TestBriefFullDiskCostsTeeNothing fills the disk of the store and of tee's
// spool while tee runs, then makes room: what came meanwhile waited in
// memory, so the capture holds every byte, sealed whole, and tee said
// both what happened and that nothing was lost. It used to stop its spool
// for good at the first failed write, and store only what came before.
func TestBriefFullDiskCostsTeeNothing(t *testing.T) {
	t.Parallel()
	disk := smallDisk(t, "24m")
	w := newWorld(t)
	w.home = filepath.Join(disk, "home")
	w.ok(nil, "incident", "new", "full disk")
	cmd := w.cmd("tee", "-q", "brief")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	var stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var input []byte
	send := func(b []byte) {
		input = append(input, b...)
		if _, err := stdin.Write(b); err != nil {
			t.Fatalf("write tee's stdin: %v", err)
		}
	}
	send(shellText(1<<20, 1))
	time.Sleep(500 * time.Millisecond) // in the store before the disk fills
	filler := filepath.Join(disk, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	for block := make([]byte, 64<<10); err == nil; {
		_, err = f.Write(block)
	}
	f.Close()
	for i := range int64(32) {
		send(shellText(64<<10, i+2))
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	os.Remove(filler)
	send(shellText(1<<20, 1000))
	stdin.Close()
	err = cmd.Wait()
	errs := stderr.String()
	if err != nil || !bytes.Equal(stdout.Bytes(), input) {
		t.Fatalf("tee through a brief full disk: %v, stdout %d of %d bytes, stderr %q", err, stdout.Len(), len(input), errs)
	}
	t.Logf("tee said: %s", errs)
	if !strings.Contains(errs, "is full") || !strings.Contains(errs, "room again") || !strings.Contains(errs, "nothing lost") || strings.Contains(errs, "NOT saved:") {
		t.Fatalf("tee did not say what the full disk did: %q", errs)
	}
	w.waitIdle()
	if stored := w.ok(nil, "show", "--raw", "c1"); stored != string(input) {
		t.Fatalf("stored %d of %d bytes after a brief full disk; tee said %q", len(stored), len(input), errs)
	}
	rec := w.captureRecord("c1")
	if rec["interrupted"] != nil && rec["interrupted"] != "" || strings.Count(fmt.Sprint(rec["copies"]), "state:verified") != 2 {
		t.Fatalf("the capture after a brief full disk: interrupted %v, copies %v; tee said %q", rec["interrupted"], rec["copies"], errs)
	}
	w.stopAgent()
	w.checkStore()
}

// withoutHolding drops the lines in which tee says it holds what comes in
// memory while its spool's disk is full, waits for room, and gave up.
func withoutHolding(errs string) string {
	var kept []string
	for _, l := range strings.SplitAfter(errs, "\n") {
		if !strings.Contains(l, " in memory") && !strings.HasSuffix(l, "the spool's disk stayed full\n") {
			kept = append(kept, l)
		}
	}
	return strings.Join(kept, "")
}

// TestSpoolHoldsWhatComesOnAFullDiskUpToItsBound: on a full disk the spool
// holds what comes in memory, hands the store none of it until it is in
// the file, cuts what never reached stdout from what it holds, and stops,
// saying why, once more than its bound waits.
func TestSpoolHoldsWhatComesOnAFullDiskUpToItsBound(t *testing.T) {
	t.Parallel()
	disk := smallDisk(t, "1m")
	sp, err := createSpool(filepath.Join(disk, "journal", "x.spool"))
	if err != nil {
		t.Fatal(err)
	}
	defer sp.remove()
	var said lockedBuffer
	sp.stderr, sp.heldMax = &said, 256<<10
	os.WriteFile(filepath.Join(disk, "filler"), make([]byte, 2<<20), 0o600) // more than the disk holds
	first := bytes.Repeat([]byte("held\n"), 20<<10)
	if n := sp.write(first); n != len(first) || sp.holding() != len(first) || sp.err() != nil {
		t.Fatalf("the spool took %d of %d bytes on a full disk, holds %d, err %v", n, len(first), sp.holding(), sp.err())
	}
	sp.publish(len(first) - 5)
	if sp.written.Load() != 0 || !strings.Contains(said.String(), "is full") {
		t.Fatalf("the store may take %d bytes the file does not hold; tee said %q", sp.written.Load(), said.String())
	}
	sp.cut()
	if sp.holding() != len(first)-5 {
		t.Fatalf("cut left %d bytes held, not the %d published", sp.holding(), len(first)-5)
	}
	if n := sp.write(make([]byte, 200<<10)); n != 0 || sp.holding() != 0 || sp.err() == nil || !strings.Contains(sp.err().Error(), "stayed full while") {
		t.Fatalf("past its bound the spool took %d bytes, holds %d, err %v", n, sp.holding(), sp.err())
	}
}
