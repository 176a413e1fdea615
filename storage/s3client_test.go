package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"calm/storage/s3"
)

// TestS3ClientAgainstARealServer: calm's own S3 calls, checked through
// minio-go (another client) on a real server: a file past the size for one
// PUT goes up in parts whole, keys with spaces, '+', '%' and non-ASCII
// letters are where they should be, copies and removals act on the right
// object, a missing object reads as not there, and credentials come from a
// profile file.
func TestS3ClientAgainstARealServer(t *testing.T) {
	srv := startS3(t)
	ctx := context.Background()
	oracle := srv.client()
	b, err := s3.New("s3://calm/p", s3.Options{Endpoint: "http://" + srv.addr, PartsOver: 5 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Reachable(ctx); err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	object := func(key string) ([]byte, minio.ObjectInfo) {
		t.Helper()
		o, err := oracle.GetObject(ctx, "calm", key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		data, err := io.ReadAll(o)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		info, _ := o.Stat()
		return data, info
	}

	// 12 MiB in parts of 5 MiB: three parts, the last a short one.
	big := make([]byte, 12<<20+12345)
	for i := range big {
		big[i] = byte(i*7 + i>>13)
	}
	sum := sha256.Sum256(big)
	key := b.Key("20261202-abcd", "c1.txt")
	if err := b.Put(ctx, key, write("big", big), hex.EncodeToString(sum[:])); err != nil {
		t.Fatal(err)
	}
	got, info := object(key)
	if !bytes.Equal(got, big) {
		t.Fatalf("the bucket holds %d bytes for %s, want the %d put in parts", len(got), key, len(big))
	}
	if m := info.UserMetadata["Calm-Sha256"]; m != hex.EncodeToString(sum[:]) {
		t.Errorf("the object's calm-sha256 is %q, want %x (metadata: %v)", m, sum, info.UserMetadata)
	}
	h, n, err := b.Hash(ctx, key)
	if err != nil || h != hex.EncodeToString(sum[:]) || n != int64(len(big)) {
		t.Errorf("Hash = %s, %d, %v; want %x, %d", h, n, err, sum, len(big))
	}

	// Keys as a user's incident names may make them, and an empty file.
	for _, name := range []string{"a b+c%d.txt", "café/ünï~x.txt", "empty.txt"} {
		data := []byte("output of " + name)
		if name == "empty.txt" {
			data = nil
		}
		k := b.Key("inc 1", name)
		if err := b.Put(ctx, k, write("f", data), "x"); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if got, _ := object(k); !bytes.Equal(got, data) {
			t.Errorf("%s holds %q, want %q", k, got, data)
		}
		to := k + ".copy"
		if err := b.CopyObject(ctx, k, to); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := b.Get(ctx, to, &out); err != nil || !bytes.Equal(out.Bytes(), data) {
			t.Errorf("the copy %s reads %q, %v; want %q", to, out.Bytes(), err, data)
		}
		if err := b.Remove(ctx, k); err != nil {
			t.Fatal(err)
		}
		if _, err := oracle.StatObject(ctx, "calm", k, minio.StatObjectOptions{}); err == nil {
			t.Errorf("%s is still there after Remove", k)
		}
		if _, err := oracle.StatObject(ctx, "calm", to, minio.StatObjectOptions{}); err != nil {
			t.Errorf("removing %s took its copy %s too: %v", k, to, err)
		}
	}
	if err := b.Remove(ctx, "p/not-there"); err != nil {
		t.Errorf("removing an object that is not there: %v, want nil", err)
	}
	if _, _, err := b.Hash(ctx, "p/not-there"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Hash of an object that is not there: %v, want fs.ErrNotExist", err)
	}

	missing, _ := s3.New("s3://no-such-bucket/p", s3.Options{Endpoint: "http://" + srv.addr})
	if err := missing.Reachable(ctx); err == nil || !strings.Contains(err.Error(), "the bucket does not exist") {
		t.Errorf("a bucket that is not there: %v", err)
	}

	// Credentials from a profile of the shared file, none in the
	// environment; a wrong secret is refused with S3's words.
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	creds := write("credentials", []byte("[default]\naws_access_key_id = nobody\naws_secret_access_key = wrong\n\n# the team's\n[calm]\naws_access_key_id = calmtest\naws_secret_access_key = calmtestsecret\n"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", creds)
	t.Setenv("AWS_PROFILE", "calm")
	if err := b.Put(ctx, "p/from-profile", write("f", []byte("x")), "x"); err != nil {
		t.Errorf("with the profile's credentials: %v", err)
	}
	t.Setenv("AWS_PROFILE", "")
	err = b.Put(ctx, "p/refused", write("f", []byte("x")), "x")
	if err == nil || !strings.Contains(err.Error(), "upload to s3://calm/p/refused") || strings.Contains(err.Error(), "\n") {
		t.Errorf("with the default profile's wrong credentials: %v, want one line naming the upload", err)
	}
}
