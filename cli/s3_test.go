package cli

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startVersity runs versitygw (POSIX backend) on loopback with a "calm"
// bucket, as the S3 server the team's mirror would be.
func startVersity(t *testing.T) (endpoint, root string) {
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
	addr := l.Addr().String()
	l.Close()
	root = t.TempDir()
	os.Mkdir(filepath.Join(root, "calm"), 0o700) // the bucket
	cmd := exec.Command(bin, "--port", addr, "posix", root)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY=calmtest", "ROOT_SECRET_KEY=calmtestsecret")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for range 100 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "http://" + addr, root
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("versitygw did not start")
	return "", ""
}

func s3World(t *testing.T, endpoint string) *world {
	w := newWorld(t)
	w.extra = append(w.extra, "AWS_ACCESS_KEY_ID=calmtest", "AWS_SECRET_ACCESS_KEY=calmtestsecret", "CALM_S3_ENDPOINT="+endpoint)
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
