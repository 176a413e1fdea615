package report

import (
	"os/exec"
	"strings"
	"testing"
)

// Exports read through the Store interface, and a bundle is read without a
// store: building report must not build the store, bbolt or the S3 client.
func TestReportDoesNotBuildTheStore(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.Contains(p, "bbolt") || strings.Contains(p, "smithy-go") || p == "calm/storage" {
			t.Errorf("report depends on %s", p)
		}
	}
}
