package cli

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"calm/model"
	"calm/storage"
)

// versity is versitygw (POSIX backend) on loopback with a "calm" bucket, as
// the S3 server the team's mirror would be; a test may stop it and start it
// again on the same address and folder, as a bucket that goes away a while.
type versity struct {
	t    *testing.T
	bin  string
	addr string
	root string
	cmd  *exec.Cmd
}

func newVersity(t *testing.T) *versity {
	t.Helper()
	bin, err := exec.LookPath("versitygw")
	if err != nil {
		out, _ := exec.Command("go", "env", "GOPATH").Output()
		bin = filepath.Join(strings.TrimSpace(string(out)), "bin", "versitygw")
		if _, err := os.Stat(bin); err != nil {
			t.Fatal("versitygw is missing: go install github.com/versity/versitygw/cmd/versitygw@v1.8.0 (.ci/run does)")
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	v := &versity{t: t, bin: bin, addr: l.Addr().String(), root: t.TempDir()}
	l.Close()
	os.Mkdir(filepath.Join(v.root, "calm"), 0o700) // the bucket
	t.Cleanup(v.stop)
	v.start()
	return v
}

func (v *versity) endpoint() string { return "http://" + v.addr }

func (v *versity) start() {
	v.t.Helper()
	v.cmd = exec.Command(v.bin, "--port", v.addr, "posix", v.root)
	v.cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY=calmtest", "ROOT_SECRET_KEY=calmtestsecret")
	if err := v.cmd.Start(); err != nil {
		v.t.Fatal(err)
	}
	for range 100 {
		if c, err := net.Dial("tcp", v.addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	v.t.Fatal("versitygw did not start")
}

func (v *versity) stop() {
	if v.cmd != nil {
		v.cmd.Process.Kill()
		v.cmd.Wait()
		v.cmd = nil
	}
}

// startVersity runs versitygw for the whole test.
func startVersity(t *testing.T) (endpoint, root string) {
	v := newVersity(t)
	return v.endpoint(), v.root
}

func s3World(t *testing.T, endpoint string) *world {
	w := newWorld(t)
	w.extra = append(w.extra, "AWS_ACCESS_KEY_ID=calmtest", "AWS_SECRET_ACCESS_KEY=calmtestsecret", "AWS_REGION=", "AWS_DEFAULT_REGION=", "CALM_S3_ENDPOINT="+endpoint)
	os.MkdirAll(filepath.Join(w.config, "calm"), 0o700)
	os.WriteFile(filepath.Join(w.config, "calm", "config.toml"), []byte("mirrors = [\"s3://calm/team\"]\n"), 0o600)
	return w
}

// TestS3MirrorPushPullAndReview: a capture's copy in the bucket is verified,
// `calm verify` checks it, and an incident pushed from one machine is
// pulled on another byte for byte and opens in review.
func TestS3MirrorPushPullAndReview(t *testing.T) {
	t.Parallel()
	endpoint, root := startVersity(t)
	w := s3World(t, endpoint)
	w.ok(nil, "incident", "new", "orders overwritten")
	doc := []byte("{ \"_id\": ObjectId(\"65f1a2\"), \"total\": NumberLong(1234) }\n")
	w.ok(doc, "tee", "-q", "before")
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, _, code := w.run(nil, "verify")
		if code == 0 && strings.Contains(out, "ok: 3 copies") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the S3 copy never verified: %s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	inc := strings.Fields(w.ok(nil, "incident", "list"))[1]
	if object, err := os.ReadFile(filepath.Join(root, "calm", "team", inc, "c1.txt")); err != nil || !bytes.Equal(object, doc) {
		t.Fatalf("the bucket holds %q (%v)", object, err)
	}
	// The object changed on the server: verify names it.
	os.WriteFile(filepath.Join(root, "calm", "team", inc, "c1.txt"), []byte("tampered\n"), 0o600)
	out, _, code := w.run(nil, "verify")
	if code != 1 || !strings.Contains(out, "FAIL "+inc+"/c1 remote copy s3://calm/team/"+inc+"/c1.txt: mismatch") {
		t.Fatalf("verify after the object changed: %d %s", code, out)
	}

	out = w.ok(nil, "push", inc)
	if !strings.Contains(out, "pushed s3://calm/team/bundles/"+inc+".tar.gz") {
		t.Fatalf("push: %s", out)
	}
	// Another responder's machine: its own store, the same bucket.
	other := s3World(t, endpoint)
	out = other.ok(nil, "pull", "s3://calm/team/bundles/"+inc+".tar.gz")
	if !strings.Contains(out, "every file matches its SHA256SUMS") {
		t.Fatalf("pull: %s", out)
	}
	pulled := filepath.Join(other.home, "pulled", inc+".tar.gz")
	sent, _ := os.ReadFile(filepath.Join(root, "calm", "team", "bundles", inc+".tar.gz"))
	got, _ := os.ReadFile(pulled)
	if len(sent) == 0 || !bytes.Equal(sent, got) {
		t.Fatalf("pulled %d bytes, pushed %d: not the same bundle", len(got), len(sent))
	}
	if v := other.ok(nil, "verify", pulled); !strings.Contains(v, "ok: 4 files") {
		t.Fatalf("verify pulled: %s", v)
	}
	tm := newTmux(t)
	tm.start(other.envPrefix() + calmBin + " review " + inc)
	tm.waitFor("review (read-only)", 10*time.Second)
	tm.waitFor(`ObjectId("65f1a2")`, 10*time.Second)
	tm.waitFor("orders overwritten", 5*time.Second)
}

// verifiedEverywhere waits until verify passes with no S3 copy pending.
func verifiedEverywhere(t *testing.T, w *world, args ...string) string {
	t.Helper()
	var out string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		o, _, code := w.run(nil, args...)
		out = o
		if code == 0 && !strings.Contains(out, "pending") {
			return out
		}
	}
	t.Fatalf("the copies never all verified:\n%s", out)
	return ""
}

// TestMoveTakesItsS3CopiesAlongOrNothing: calm move takes a capture and a
// session that have verified S3 copies into another incident: the record,
// the evidence and mirror files and the bucket's objects all end up under
// the new incident and verify there, and the old names are gone. With the
// S3 server down, the move fails in one line that names the copy and what
// to do, and the capture stays where it was, whole: its files, its object,
// no new names, and the ID it would have taken still free. A capture whose
// S3 copy is not uploaded yet moves, and is uploaded under its new name.
func TestMoveTakesItsS3CopiesAlongOrNothing(t *testing.T) {
	t.Parallel() // its own S3 server, on a port of its own
	v := newVersity(t)
	w := s3World(t, v.endpoint())
	mirror := t.TempDir()
	m := []string{"--mirror", mirror}
	calm := func(args ...string) string { return w.ok(nil, append(m, args...)...) }
	to := strings.Fields(calm("incident", "new", "the right one"))[0]
	w.ok([]byte("already here\n"), append(m, "tee", "-q", "first")...)
	from := strings.Fields(calm("incident", "new", "the wrong one"))[0]
	data := []byte("rows that belong elsewhere\n")
	w.ok(data, append(m, "tee", "-q", "misplaced")...)
	calm("shell", "--wait", "--", "sh", "-c", "echo session-$((6*7))")
	verifiedEverywhere(t, w, append(m, "verify")...)
	bucket := filepath.Join(v.root, "calm", "team")
	object := func(inc, name string) []byte {
		b, err := os.ReadFile(filepath.Join(bucket, inc, name))
		if err != nil {
			return nil
		}
		return b
	}
	roots := []string{mirror, filepath.Join(w.home, "evidence")}
	if !bytes.Equal(object(from, "c1.txt"), data) {
		t.Fatalf("the bucket does not hold %s/c1 before the move", from)
	}

	// The bucket goes away: the move cannot take the S3 copy, so it
	// takes nothing.
	v.stop()
	_, errs, code := w.run(nil, append(m, "move", from+"/c1", to)...)
	if code == 0 || strings.Count(strings.TrimSpace(errs), "\n") != 0 ||
		!strings.Contains(errs, "S3 copy could not be made at s3://calm/team/"+to+"/c2.txt") ||
		!strings.Contains(errs, from+"/c1 stays where it was, whole") || !strings.HasSuffix(strings.TrimSpace(errs), "then move again") {
		t.Fatalf("a move with the bucket down: exit %d, %q", code, errs)
	}
	if got := w.ok(nil, "show", "--raw", from+"/c1"); got != string(data) {
		t.Fatalf("after the failed move %s/c1 holds %q", from, got)
	}
	for _, root := range roots {
		if got, err := os.ReadFile(filepath.Join(root, from, "c1.txt")); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("the failed move took the copy under %s: %v", root, err)
		}
		if _, err := os.Stat(filepath.Join(root, to, "c2.txt")); err == nil {
			t.Fatalf("the failed move left a new copy under %s", root)
		}
	}
	if !bytes.Equal(object(from, "c1.txt"), data) || object(to, "c2.txt") != nil {
		t.Fatalf("the failed move changed the bucket")
	}

	// A capture made while the bucket is down has its S3 copy pending:
	// it moves, and goes up under its new name later.
	late := []byte("saved while the bucket was away\n")
	w.ok(late, append(m, "tee", "-q", "late")...)
	if out := calm("move", from+"/c2", to); !strings.Contains(out, to+"/c2") {
		t.Fatalf("move of the capture not uploaded yet: %q", out)
	}

	v.start()
	if out := calm("move", from+"/c1", to); !strings.Contains(out, to+"/c3") {
		t.Fatalf("move c1 once the bucket is back: %q", out)
	}
	if out := calm("move", from+"/s1", to); !strings.Contains(out, to+"/s1") {
		t.Fatalf("move s1: %q", out)
	}
	verifiedEverywhere(t, w, append(m, "verify")...)
	verifiedEverywhere(t, w, append(m, "verify", to)...)
	moved := map[string][]byte{"c2.txt": late, "c3.txt": data}
	for name, want := range moved {
		if got := object(to, name); !bytes.Equal(got, want) {
			t.Errorf("the bucket holds %q as %s/%s, want %q", got, to, name, want)
		}
		for _, root := range roots {
			if got, _ := os.ReadFile(filepath.Join(root, to, name)); !bytes.Equal(got, want) {
				t.Errorf("%s holds %q as %s/%s, want %q", root, got, to, name, want)
			}
		}
	}
	cast := object(to, "s1.cast")
	if !bytes.Contains(cast, []byte("session-42")) {
		t.Errorf("the bucket's %s/s1.cast holds %q", to, cast)
	}
	for _, old := range []string{"c1.txt", "c2.txt", "s1.cast"} {
		if object(from, old) != nil {
			t.Errorf("the bucket still holds %s/%s", from, old)
		}
		for _, root := range roots {
			for _, name := range []string{old, strings.TrimSuffix(old, filepath.Ext(old)) + ".meta.json"} {
				if _, err := os.Stat(filepath.Join(root, from, name)); err == nil {
					t.Errorf("%s still holds %s/%s", root, from, name)
				}
			}
		}
	}
	for _, root := range roots {
		sums := exec.Command("sha256sum", "-c", "SHA256SUMS")
		sums.Dir = filepath.Join(root, to)
		if out, err := sums.CombinedOutput(); err != nil || !strings.Contains(string(out), "c3.txt: OK") || !strings.Contains(string(out), "s1.cast: OK") {
			t.Fatalf("sha256sum -c in %s: %v\n%s", sums.Dir, err, out)
		}
	}
	if out, _, _ := w.run(nil, append(m, "doctor")...); !strings.Contains(out, "ok   the store and its evidence folder hold the same incidents") {
		t.Errorf("doctor after the moves:\n%s", out)
	}
	var export struct{ Captures []model.Capture }
	if err := json.Unmarshal([]byte(w.ok(nil, "export", to, "--format", "json")), &export); err != nil {
		t.Fatal(err)
	}
	remote := 0
	for _, c := range export.Captures {
		for _, cp := range c.Copies {
			if cp.Kind == model.CopyRemote {
				remote++
				if want := "s3://calm/team/" + to + "/" + storage.FileName(c.ID); cp.Location != want || cp.State != model.CopyVerified {
					t.Errorf("%s's S3 copy is %s, %s; want %s, verified", c.ID, cp.Location, cp.State, want)
				}
			}
		}
	}
	if remote != 4 {
		t.Errorf("%s has %d S3 copies, want one for each of its 4 items", to, remote)
	}
}

// A secret fixed in the shell does not reach an agent started with the
// old one: doctor and agent status say so, and how to give it the new one;
// commands are not refused for it (another shell may have none set).
func TestDoctorSaysTheAgentUploadsWithOtherCredentials(t *testing.T) {
	t.Parallel()
	endpoint, _ := startVersity(t)
	w := s3World(t, endpoint)
	w.ok(nil, "incident", "new", "creds")
	if out, _, _ := w.run(nil, "doctor"); strings.Contains(out, "other than this shell's") {
		t.Fatalf("doctor with the agent's own credentials: %s", out)
	}
	w.extra = append(w.extra, "AWS_SECRET_ACCESS_KEY=fixed-secret")
	out, _, _ := w.run(nil, "doctor")
	if !strings.Contains(out, "uploads with AWS credentials other than this shell's") || !strings.Contains(out, "'calm agent restart' from here gives it these") {
		t.Fatalf("doctor after the secret changed in the shell: %s", out)
	}
	if st := w.ok(nil, "agent", "status"); !strings.Contains(st, "other than this shell's") {
		t.Fatalf("agent status: %s", st)
	}
	w.ok([]byte("still recorded\n"), "tee", "-q", "after") // not refused
	w.ok(nil, "agent", "restart")
	if out, _, _ := w.run(nil, "doctor"); strings.Contains(out, "other than this shell's") {
		t.Fatalf("doctor after agent restart: %s", out)
	}
}

// A bucket's endpoint mistyped in the config does not stop the store: a
// capture is stored with its local copies, and says why none goes to the
// bucket and what to fix.
func TestAMistypedEndpointDoesNotStopCapture(t *testing.T) {
	t.Parallel()
	w := s3World(t, "htp://127.0.0.1:7070")
	out, errs, code := w.run([]byte("kept anyway\n"), "tee", "typo")
	if code != 0 || out != "kept anyway\n" {
		t.Fatalf("tee with a mistyped endpoint exited %d: %s", code, errs)
	}
	if !strings.Contains(errs, "WARNING: ") || !strings.Contains(errs, `"htp://127.0.0.1:7070" is neither http:// nor https://`) || !strings.Contains(errs, "fix it in the config file") {
		t.Fatalf("tee's warning: %s", errs)
	}
	if got := w.ok(nil, "show", "--raw", "c1"); got != "kept anyway\n" {
		t.Fatalf("stored %q", got)
	}
}

// With a bucket configured and its copies pending, verify does not advise
// adding a mirror: it says the bucket's copies are what is missing.
func TestVerifyWithPendingBucketCopiesDoesNotAdviseAMirror(t *testing.T) {
	t.Parallel()
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "http://" + l.Addr().String()
	l.Close()
	w := s3World(t, closed)
	w.ok([]byte("waits for its bucket\n"), "tee", "-q", "t")
	out := w.ok(nil, "verify")
	if !strings.Contains(out, "note: every verified copy is on one device until the pending ones below are in their bucket") || strings.Contains(out, "add a mirror") || !strings.Contains(out, "pending: 1 S3 copy") {
		t.Fatalf("verify with the bucket down:\n%s", out)
	}
	plain := newWorld(t)
	plain.ok([]byte("no mirror\n"), "tee", "-q", "t")
	if out := plain.ok(nil, "verify"); !strings.Contains(out, "add a mirror on another disk") {
		t.Fatalf("verify with no mirror:\n%s", out)
	}
}
