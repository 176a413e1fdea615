package capture

import (
	"errors"
	"fmt"
	mrand "math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"calm/storage"
	"calm/terminal"
)

// FuzzCastReader writes fuzzed output through a Journal and reads the file
// back in fuzzed pieces: the output must come back whole (as valid UTF-8),
// and random bytes fed to the reader must never panic.
func FuzzCastReader(f *testing.F) {
	f.Add([]byte("hello\r\n\x1b[31mred\x1b[0m caf\xc3\xa9"), uint8(3))
	f.Add([]byte("\xff\xfe\x00\"\\"), uint8(1))
	f.Fuzz(func(t *testing.T, out []byte, piece uint8) {
		path := filepath.Join(t.TempDir(), "s.cast")
		start := time.Now()
		j, err := CreateJournal(path, terminal.Header{Width: 80, Height: 24}, start)
		if err != nil {
			t.Fatal(err)
		}
		half := len(out) / 2
		j.Output(out[:half], start.Add(time.Second))
		j.Output(out[half:], start.Add(2*time.Second))
		j.Close()
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var got strings.Builder
		var header terminal.Header
		r := terminal.CastReader{Header: func(h terminal.Header) { header = h }, Event: func(_ float64, kind, data string) {
			if kind == "o" {
				got.WriteString(data)
			}
		}}
		step := int(piece%16) + 1
		for p := raw; len(p) > 0; p = p[min(step, len(p)):] {
			r.Write(p[:min(step, len(p))])
		}
		r.Close()
		if header.Width != 80 {
			t.Fatalf("header %+v", header)
		}
		if want := strings.ToValidUTF8(string(out), "\uFFFD"); got.String() != want && utf8.ValidString(string(out)) {
			t.Fatalf("read back %q, want %q", got.String(), want)
		}
		// Any bytes at all: never a panic.
		var junk terminal.CastReader
		junk.Event = func(float64, string, string) {}
		junk.Write(out)
		junk.Close()
	})
}

// The journal's writer, where it writes with pwrite(2), gives way to the
// shell: its thread runs at nice 19 and, on kernels that take a custom slice
// (Linux 6.12 and later), with a 0.1 ms one.
func TestJournalWriterGivesWayToTheShell(t *testing.T) {
	writeThroughRing = false
	defer func() { writeThroughRing = true }()
	j, err := CreateJournal(filepath.Join(t.TempDir(), "s.cast"), terminal.Header{Width: 80, Height: 24}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	j.Output([]byte("wakes the writer\r\n"), time.Now())
	var uts unix.Utsname
	unix.Uname(&uts)
	var major, minor int
	fmt.Sscanf(unix.ByteSliceToString(uts.Release[:]), "%d.%d", &major, &minor)
	customSlices := major > 6 || major == 6 && minor >= 12
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		tasks, _ := filepath.Glob("/proc/self/task/*")
		for _, task := range tasks {
			stat, err := os.ReadFile(task + "/stat")
			if err != nil {
				continue
			}
			// The fields after the command's closing parenthesis; nice is
			// the 19th field of the line.
			fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
			if len(fields) < 17 || fields[16] != "19" {
				continue
			}
			sched, err := os.ReadFile(task + "/sched")
			if !customSlices || err != nil || !strings.Contains(string(sched), "se.slice") {
				t.Logf("the writer runs at nice 19; this kernel (%d.%d) shows no custom slice", major, minor)
				return
			}
			for _, line := range strings.Split(string(sched), "\n") {
				if f := strings.Fields(line); len(f) == 3 && f[0] == "se.slice" {
					if f[2] != strconv.FormatInt(writerSlice.Nanoseconds(), 10) {
						t.Fatalf("the writer's slice is %s ns, want %d", f[2], writerSlice.Nanoseconds())
					}
					return
				}
			}
			t.Fatalf("no se.slice in %s/sched", task)
		}
	}
	t.Fatal("no thread of this process runs at nice 19: the journal writer did not lower its priority")
}

// writeJournal records the same pseudo-random output (escapes, quotes, a
// three-byte rune cut between events, bursts of 1 byte to 40 KiB, with
// typed input and a resize between) to a new journal and returns its path.
func writeJournal(t *testing.T, dir string) string {
	t.Helper()
	start := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	path := filepath.Join(dir, "s.cast")
	j, err := CreateJournal(path, terminal.Header{Width: 80, Height: 24}, start)
	if err != nil {
		t.Fatal(err)
	}
	if j.direct != nil && writeThroughRing && j.ring == nil {
		if r, err := newRing(); err == nil {
			r.close()
			t.Fatal("io_uring is there, but the journal makes its direct writes without it")
		}
	}
	r := mrand.New(mrand.NewSource(7))
	line := []byte("\x1b[31mERROR\x1b[0m { _id: \"65f1\", path: \"C:\\\\tmp\" } caf\xc3\xa9 \u2714 done\r\n")
	at := start
	for written := 0; written < 12<<20; {
		burst := make([]byte, 1+r.Intn(40<<10))
		for i := range burst {
			burst[i] = line[(written+i)%len(line)]
		}
		at = at.Add(time.Duration(r.Intn(3000)) * time.Microsecond)
		if err := j.Output(burst, at); err != nil {
			t.Fatal(err)
		}
		written += len(burst)
		if r.Intn(50) == 0 {
			j.Input([]byte("ls\r"), at)
			j.Resize(100+r.Intn(50), 30, at)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// The journal written with direct I/O holds exactly the bytes of one
// written wholly through the cache, and its bulk never entered the cache:
// only the bytes around each run of whole blocks did.
func TestJournalWritesWholeBlocksPastTheCache(t *testing.T) {
	dir := t.TempDir()
	if f, err := os.OpenFile(filepath.Join(dir, "probe"), os.O_CREATE|os.O_WRONLY|unix.O_DIRECT, 0o600); err != nil {
		t.Skipf("%s has no direct I/O (%v): the journal goes through the cache there", dir, err)
	} else {
		f.Close()
	}
	direct := writeJournal(t, dir) // through the ring, where there is one
	writeThroughRing = false
	defer func() { writeThroughRing = true }()
	pwritten := writeJournal(t, t.TempDir())
	writeDirectly = false
	defer func() { writeDirectly = true }()
	cached := writeJournal(t, t.TempDir())

	// Before reading them, which fills the cache.
	inDirect, err1 := storage.CachedShare(direct)
	inCached, err2 := storage.CachedShare(cached)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(direct)
	want, _ := os.ReadFile(cached)
	if len(got) < 12<<20 || string(got) != string(want) {
		t.Fatalf("the direct journal (%d bytes) differs from the cached one (%d bytes)", len(got), len(want))
	}
	if got, _ := os.ReadFile(pwritten); string(got) != string(want) {
		t.Fatalf("the journal written with pwrite (%d bytes) differs from the cached one (%d bytes)", len(got), len(want))
	}
	t.Logf("in the page cache: %.1f%% of the direct journal, %.1f%% of the cached one", inDirect*100, inCached*100)
	if inCached < 0.25 {
		t.Fatalf("only %.0f%% of the cached journal is in the page cache: this test cannot tell the two apart", inCached*100)
	}
	if inDirect > 0.05 {
		t.Fatalf("%.0f%% of the direct journal is in the page cache", inDirect*100)
	}
}

// The journal with direct I/O as a recorder writes it: every write ends at
// the end of an event, so a recorder killed between two writes leaves a
// journal of whole lines.
func TestJournalDirectWritesEndAtEvents(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.cast")
	start := time.Now()
	j, err := CreateJournal(path, terminal.Header{Width: 80, Height: 24}, start)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	out := []byte(strings.Repeat("0123456789abcdef\r\n", 5000))
	for i := range 40 {
		j.Output(out[:len(out)-i*977], start.Add(time.Duration(i)*time.Millisecond))
		deadline := time.Now().Add(10 * time.Second)
		for {
			raw, _ := os.ReadFile(path)
			if strings.Count(string(raw), "\n") == i+2 { // the header and i+1 events
				if raw[len(raw)-1] != '\n' {
					t.Fatalf("after event %d the journal ends inside a line", i)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("event %d never reached the file", i)
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// TestDeletedJournalIsPutBack: someone freeing disk space removes the
// store's folder while a shell records. The recorder still held the
// journal open, but the store finds it by its name: what was recorded
// before and after went with the last descriptor. The journal is put back
// at its name, whole, and written there from then on; the recorder says so.
func TestDeletedJournalIsPutBack(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	path := filepath.Join(home, "journal", "s.cast")
	start := time.Now()
	j, err := CreateJournal(path, terminal.Header{Width: 80, Height: 24}, start)
	if err != nil {
		t.Fatal(err)
	}
	before := strings.Repeat("before the rm -rf\r\n", 2000) // whole direct blocks too
	j.Output([]byte(before), start.Add(time.Second))
	time.Sleep(50 * time.Millisecond)
	if err := os.RemoveAll(home); err != nil {
		t.Fatal(err)
	}
	time.Sleep(journalCheckEvery + 100*time.Millisecond)
	j.Output([]byte("after it, while recording\r\n"), start.Add(2*time.Second))
	time.Sleep(100 * time.Millisecond)
	if notice := j.Notice(); !strings.Contains(notice, "was deleted; put back") {
		t.Fatalf("the recorder was told %q", notice)
	}
	j.Output([]byte("and at the end\r\n"), start.Add(3*time.Second))
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("the journal's folder: %v %v", fi, err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	r := terminal.CastReader{Header: func(terminal.Header) {}, Event: func(_ float64, kind, data string) { got.WriteString(data) }}
	r.Write(raw)
	r.Close()
	if want := before + "after it, while recording\r\nand at the end\r\n"; got.String() != want {
		t.Fatalf("the journal put back holds %d bytes of output, want %d", got.Len(), len(want))
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 || j.Size() != fi.Size() {
		t.Fatalf("the journal put back: mode %v, %d bytes, the journal says %d", fi.Mode(), fi.Size(), j.Size())
	}
}
