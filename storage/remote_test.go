package storage

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"calm/storage/s3"
)

// s3Server is a real S3 server on loopback: versitygw with its POSIX
// backend, which .ci/run installs.
type s3Server struct {
	t    *testing.T
	addr string
	root string
	cmd  *exec.Cmd
}

func versitygw(t *testing.T) string {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	out, _ := exec.Command("go", "env", "GOPATH").Output()
	p := filepath.Join(strings.TrimSpace(string(out)), "bin", "versitygw")
	if _, err := os.Stat(p); err != nil {
		t.Fatal("versitygw is missing: go install github.com/versity/versitygw/cmd/versitygw@v1.8.0 (.ci/run does)")
	}
	return p
}

func startS3(t *testing.T) *s3Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s := &s3Server{t: t, addr: addr, root: t.TempDir()}
	t.Setenv("AWS_ACCESS_KEY_ID", "calmtest")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "calmtestsecret")
	// versitygw takes us-east-1 only: a region in the environment is not the test's.
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	s.start()
	t.Cleanup(s.stop)
	c := s.client()
	if err := c.MakeBucket(context.Background(), "calm", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *s3Server) start() {
	s.cmd = exec.Command(versitygw(s.t), "--port", s.addr, "posix", s.root)
	s.cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY=calmtest", "ROOT_SECRET_KEY=calmtestsecret")
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	for range 100 {
		if c, err := net.Dial("tcp", s.addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatal("versitygw did not start")
}

func (s *s3Server) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
}

func (s *s3Server) client() *minio.Client {
	c, err := minio.New(s.addr, &minio.Options{Creds: credentials.NewStaticV4("calmtest", "calmtestsecret", "")})
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

// get reads an object through the second client, minio-go.
func (s *s3Server) get(t *testing.T, object string) []byte {
	t.Helper()
	o, err := s.client().GetObject(context.Background(), "calm", object, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	data, err := io.ReadAll(o)
	if err != nil {
		t.Fatalf("read %s: %v", object, err)
	}
	return data
}

func remoteCopy(c Capture) Copy {
	for _, cp := range c.Copies {
		if cp.Kind == CopyRemote {
			return cp
		}
	}
	return Copy{}
}

// waitRemote waits until the capture's remote copy reaches state.
func waitRemote(t *testing.T, db *DB, ref, state string) Capture {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := db.Capture(ref)
		if err != nil {
			t.Fatal(err)
		}
		if remoteCopy(c).State == state {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s remote copy stayed %+v, want %s", ref, remoteCopy(c), state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRemoteCopiesAreVerifiedPendingWhileDownAndCheckedByVerify(t *testing.T) {
	srv := startS3(t)
	r, err := s3.New("s3://calm/team/incidents", s3.Options{Endpoint: "http://" + srv.addr})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "calm.db")
	db, err := Open(Options{Path: path, Remotes: []Remote{r}, StrictMode: true})
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("{ _id: ObjectId(\"65f1\") }\n"), 100_000)
	c := save(t, db, "before", data)
	ref := c.Incident + "/" + c.ID
	if remoteCopy(c).State != CopyPending {
		t.Fatalf("a fresh capture's remote copy is %+v, want pending", remoteCopy(c))
	}
	c = waitRemote(t, db, ref, CopyVerified)
	if cp := remoteCopy(c); cp.SHA256 != c.SHA256 || cp.Location != "s3://calm/team/incidents/"+c.Incident+"/c1.txt" {
		t.Fatalf("remote copy %+v", cp)
	}
	if rep, err := db.Verify(context.Background(), ""); err != nil || len(rep.Problems) != 0 || rep.Copies != 3 {
		t.Fatalf("verify: %+v %v", rep, err)
	}

	// An object changed on the server: verify fails and names it.
	other := []byte("tampered")
	srv.client().PutObject(context.Background(), "calm", "team/incidents/"+c.Incident+"/c1.txt", bytes.NewReader(other), int64(len(other)), minio.PutObjectOptions{})
	rep, _ := db.Verify(context.Background(), "")
	if len(rep.Problems) != 1 || rep.Problems[0].Copy.Kind != CopyRemote || rep.Problems[0].Copy.State != CopyMismatch || !strings.HasPrefix(rep.Problems[0].Copy.Location, "s3://calm/") {
		t.Fatalf("verify after tampering: %+v", rep)
	}
	// The repair puts it up again; so it does an object deleted by hand.
	object := "team/incidents/" + c.Incident + "/c1.txt"
	for _, damage := range []string{"tampered", "deleted"} {
		if damage == "deleted" {
			srv.client().RemoveObject(context.Background(), "calm", object, minio.RemoveObjectOptions{})
			if rep, _ := db.Verify(context.Background(), ""); len(rep.Problems) != 1 {
				t.Fatalf("verify after the object was deleted: %+v", rep)
			}
		}
		done, err := db.RepairCopies("")
		if err != nil || len(done) != 1 || done[0].Copy.Kind != CopyRemote || done[0].Copy.State != CopyVerified {
			t.Fatalf("repair of the %s object: %+v, %v", damage, done, err)
		}
		if got := srv.get(t, object); !bytes.Equal(got, data) {
			t.Fatalf("the %s object after repair holds %d bytes, want the capture's %d", damage, len(got), len(data))
		}
		if rep, _ := db.Verify(context.Background(), ""); len(rep.Problems) != 0 {
			t.Fatalf("verify after repairing the %s object: %+v", damage, rep)
		}
	}

	// The server stops mid-incident: captures still save at once, their
	// remote copies wait, pending; when it is back they complete.
	srv.stop()
	start := time.Now()
	c2 := save(t, db, "while down", []byte("saved while the bucket is away\n"))
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("saving waited %s for the network", d)
	}
	deadline := time.Now().Add(20 * time.Second)
	for remoteCopy(c2).Error == "" && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		c2, _ = db.Capture(c2.Incident + "/" + c2.ID)
	}
	if cp := remoteCopy(c2); cp.State != CopyPending || cp.Error == "" || c2.VerifiedCopies() != 2 {
		t.Fatalf("while down: %+v", c2.Copies)
	}
	// Both the copy not uploaded and the one uploaded before (not readable
	// now) are pending, and verify says why: the bucket's error.
	if rep, _ := db.Verify(context.Background(), c2.Incident); rep.Pending != 2 || len(rep.PendingWhy) == 0 || !strings.Contains(strings.Join(rep.PendingWhy, "; "), srv.addr) {
		t.Fatalf("verify while the bucket is down: %+v", rep)
	}
	srv.start()
	c2 = waitRemote(t, db, c2.Incident+"/"+c2.ID, CopyVerified)
	if c2.VerifiedCopies() != 3 {
		t.Fatalf("after the server came back: %+v", c2.Copies)
	}

	// An agent without the bucket (its endpoint mistyped) reads none of its
	// objects back, and counts none of them as read.
	db.Close()
	db, err = Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rep, err = db.Verify(context.Background(), "")
	if err != nil || rep.Copies != 4 || len(rep.Forgotten) != 1 || !strings.Contains(rep.Forgotten[0], "2 copies uploaded there before were not read back") {
		t.Fatalf("verify without the bucket: %+v, %v", rep, err)
	}
}

// TestBucketAddedLaterGetsTheOlderCaptures: a capture sealed before the
// store had a bucket has no copy there; verify names it pending and the
// uploader then puts it up and reads it back.
func TestBucketAddedLaterGetsTheOlderCaptures(t *testing.T) {
	srv := startS3(t)
	path := filepath.Join(t.TempDir(), "calm.db")
	db, err := Open(Options{Path: path, StrictMode: true})
	if err != nil {
		t.Fatal(err)
	}
	c := save(t, db, "before the bucket", []byte("{ _id: ObjectId(\"65f1\") }\n"))
	db.Close()

	r, err := s3.New("s3://calm/team/incidents", s3.Options{Endpoint: "http://" + srv.addr})
	if err != nil {
		t.Fatal(err)
	}
	db, err = Open(Options{Path: path, Remotes: []Remote{r}, StrictMode: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rep, err := db.Verify(context.Background(), "")
	if err != nil || rep.Pending != 1 || len(rep.Problems) != 0 {
		t.Fatalf("verify with a bucket added later: %+v, %v; want its copy pending", rep, err)
	}
	ref := c.Incident + "/" + c.ID
	c = waitRemote(t, db, ref, CopyVerified)
	if cp := remoteCopy(c); cp.SHA256 != c.SHA256 || cp.Location != "s3://calm/team/incidents/"+c.Incident+"/"+c.ID+".txt" {
		t.Fatalf("remote copy %+v", cp)
	}
	obj, err := srv.client().GetObject(context.Background(), "calm", "team/incidents/"+c.Incident+"/"+c.ID+".txt", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(obj); err != nil || string(got) != "{ _id: ObjectId(\"65f1\") }\n" {
		t.Fatalf("the bucket holds %q, %v", got, err)
	}
}

// A bucket taken out of the configuration leaves its copies pending that
// no one will upload: verify says so once, and does not count them as
// pending ("the agent retries") for ever.
func TestPendingCopiesOfABucketNoLongerConfiguredAreNamedNotPending(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close() // nothing answers there
	r, err := s3.New("s3://typo-bucket/calm", s3.Options{Endpoint: "http://" + addr})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "calm.db")
	db, err := Open(Options{Path: path, Remotes: []Remote{r}})
	if err != nil {
		t.Fatal(err)
	}
	save(t, db, "one", []byte("one\n"))
	save(t, db, "two", []byte("two\n"))
	if rep, _ := db.Verify(context.Background(), ""); rep.Pending != 2 || len(rep.Forgotten) != 0 {
		t.Fatalf("with the bucket configured: %+v", rep)
	}
	db.Close()
	db, err = Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { db.Close() }()
	rep, err := db.Verify(context.Background(), "")
	if err != nil || rep.Pending != 0 || rep.Copies != 4 || len(rep.Forgotten) != 1 || !strings.HasPrefix(rep.Forgotten[0], "s3://typo-bucket is not one of the agent's buckets now (not configured, or its endpoint not valid), so 2 copies never uploaded there will not be") {
		t.Fatalf("with the bucket taken out: %+v, %v", rep, err)
	}
	caps, _ := db.Captures("")
	for _, c := range caps {
		if len(c.Copies) != 2 {
			t.Fatalf("%s keeps the copies it will never have: %+v", c.ID, c.Copies)
		}
	}
	// Configured again, the bucket gets them back, pending.
	db.Close()
	db, err = Open(Options{Path: path, Remotes: []Remote{r}})
	if err != nil {
		t.Fatal(err)
	}
	if rep, _ := db.Verify(context.Background(), ""); rep.Pending != 2 || rep.Copies != 6 {
		t.Fatalf("with the bucket configured again: %+v", rep)
	}
}
