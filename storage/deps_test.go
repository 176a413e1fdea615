package storage

import (
	"os/exec"
	"strings"
	"testing"
)

// The store reaches S3 through the Remote interface: the S3 client is built only by
// storage/s3 and what makes buckets (the command line).
func TestStorageDoesNotBuildTheS3Client(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.Contains(p, "smithy-go") || p == "calm/storage/s3" {
			t.Errorf("storage depends on %s", p)
		}
	}
}
