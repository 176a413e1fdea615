package capture

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"calm/storage"
	"calm/terminal"
)

// castOutputOf is the output a cast file holds, as calm show reads it.
func castOutputOf(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	c := terminal.CastOutput{W: &out}
	c.Write(data)
	c.Close()
	return out.Bytes()
}

// killedAt copies a journal and its shown file as a SIGKILL would leave
// them: the files as they are, nothing more written.
func killedAt(t *testing.T, j *Journal, dir string) string {
	t.Helper()
	// Wait until the writer is between batches, as a test cannot stop it
	// mid-write; cuts inside a batch are made by hand below.
	for {
		j.mu.Lock()
		idle := len(j.encoded) == 0 && j.rawWritten.Load() == j.rawEncoded
		j.mu.Unlock()
		if idle {
			break
		}
		time.Sleep(time.Millisecond)
	}
	journal := filepath.Join(dir, "killed.cast")
	for _, pair := range [][2]string{{j.Path(), journal}, {storage.ShownPath(j.Path()), storage.ShownPath(journal)}} {
		data, err := os.ReadFile(pair[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(pair[1], data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return journal
}

// TestShownOutputIsRecoveredAfterAKill: output the terminal was given but
// the journal never got (the recorder killed between the two) is added to
// the journal by RecoverShown, whole and in order: a character cut between
// two reads, bytes that are not UTF-8, and a last event cut in the middle
// of an escape by a kill between two writes.
func TestShownOutputIsRecoveredAfterAKill(t *testing.T) {
	for _, tc := range []struct {
		name     string
		journald []string // shown and journaled
		lost     []string // shown only
		cut      string   // the start of an event line the writer got out
	}{
		{name: "plain", journald: []string{"one\r\n", "two\r\n"}, lost: []string{"three\r\n", "four"}},
		{name: "a character cut between reads", journald: []string{"caf\xc3"}, lost: []string{"\xa9 au lait\r\n"}},
		{name: "not UTF-8", journald: []string{"ok\r\n"}, lost: []string{"\xff\xfe raw \x00\x1b[31m"}},
		{name: "nothing lost", journald: []string{"all\r\n", "of it"}},
		{name: "an event cut by the kill", journald: []string{"before\r\n"}, lost: []string{"a\x1b[1mbold"}, cut: `[9.5, "o", "a\u00`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			start := time.Now()
			j, err := CreateShownJournal(filepath.Join(dir, "s.cast"), terminal.Header{Width: 80, Height: 24}, start)
			if err != nil || j.ShownErr() != nil {
				t.Fatal(err, j.ShownErr())
			}
			defer j.Close()
			var shown []byte
			for _, p := range tc.journald {
				j.Shown([]byte(p), time.Now())
				j.Output([]byte(p), time.Now())
				shown = append(shown, p...)
			}
			for _, p := range tc.lost {
				j.Shown([]byte(p), time.Now())
				shown = append(shown, p...)
			}
			journal := killedAt(t, j, dir)
			if tc.cut != "" {
				f, _ := os.OpenFile(journal, os.O_APPEND|os.O_WRONLY, 0)
				f.WriteString(tc.cut)
				f.Close()
			}
			before := castOutputOf(t, journal)
			n, err := storage.RecoverShown(journal)
			if err != nil {
				t.Fatal(err)
			}
			got := castOutputOf(t, journal)
			if !bytes.Equal(got, shown) {
				t.Fatalf("the journal holds %q after recovery (%q before, %d bytes added); the terminal showed %q", got, before, n, shown)
			}
			if tc.lost == nil && n != 0 {
				t.Fatalf("%d bytes added to a journal that held everything", n)
			}
			if _, err := os.Stat(storage.ShownPath(journal)); !os.IsNotExist(err) {
				t.Fatalf("the shown file is still there after recovery: %v", err)
			}
			// Done once: a second agent finds nothing to add.
			if n, err := storage.RecoverShown(journal); n != 0 || err != nil {
				t.Fatalf("second recovery: %d bytes, %v", n, err)
			}
			r := terminal.CastReader{}
			data, _ := os.ReadFile(journal)
			r.Write(data)
			r.Close()
			if r.Skipped != 0 {
				t.Fatalf("the recovered journal has %d lines a player cannot read", r.Skipped)
			}
		})
	}
}

// TestShownFileGoesWithACleanClose: a journal closed by its recorder holds
// everything, and its shown file is removed; one that could not be made
// says why and the journal works without it.
func TestShownFileGoesWithACleanClose(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.cast")
	j, err := CreateShownJournal(path, terminal.Header{Width: 80, Height: 24}, time.Now())
	if err != nil || j.ShownErr() != nil {
		t.Fatal(err, j.ShownErr())
	}
	if info, err := os.Stat(storage.ShownPath(path)); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("shown file: %v %v", info, err)
	}
	j.Shown([]byte("x"), time.Now())
	j.Output([]byte("x"), time.Now())
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(storage.ShownPath(path)); !os.IsNotExist(err) {
		t.Fatalf("shown file left after a clean close: %v", err)
	}
	// A shown file in the way (another recorder's): no copy, a reason.
	other := filepath.Join(dir, "t.cast")
	os.WriteFile(storage.ShownPath(other), nil, 0o600)
	j, err = CreateShownJournal(other, terminal.Header{Width: 80, Height: 24}, time.Now())
	if err != nil || j.ShownErr() == nil {
		t.Fatalf("journal %v, shown error %v", err, j.ShownErr())
	}
	j.Shown([]byte("y"), time.Now())
	j.Output([]byte("y"), time.Now())
	j.Close()
	if got := castOutputOf(t, other); string(got) != "y" {
		t.Fatalf("journal without a shown file holds %q", got)
	}
}
